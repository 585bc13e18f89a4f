package replica_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
)

// A replica opened on a data dir that looks like a copy signs nothing in
// a group where it has signed ops until a peer has confirmed it: without
// a wait it refuses at once, storing nothing; with one it waits, and
// follows the ops the peer brought back.
func TestRestoredReplicaWaitsForConfirmation(t *testing.T) {
	ctx := context.Background()
	_, key, _ := ed25519.GenerateKey(nil)
	dir := t.TempDir()
	a := open(t, dir, key, replica.Config{})
	g := newGroup(t, a, "Eastgate")
	post(t, a, g, need("coats"))
	a.close()
	old := backup(t, dir)
	a = open(t, dir, key, replica.Config{})
	defer a.close()
	post(t, a, g, need("blankets")) // seq 4

	b := open(t, old, key, replica.Config{Restored: true})
	if u := b.r.Unconfirmed(); len(u) != 1 || u[0] != g {
		t.Fatalf("unconfirmed %v, want the group", u)
	}
	_, _, err := b.r.CreatePost(ctx, g, need("too soon"))
	if !errors.Is(err, replica.ErrUnconfirmed) || !strings.Contains(err.Error(), `"Eastgate"`) || !strings.Contains(err.Error(), "--restored-ok") {
		t.Fatalf("a post before any peer was heard from: %v", err)
	}
	if n := len(ownLog(t, b, g)); n != 3 {
		t.Fatalf("the refused post stored something: %d own ops, want 3", n)
	}
	b.close()

	// Restored is for this open only; an earlier one's unconfirmed groups
	// come in Unconfirmed.
	b = open(t, old, key, replica.Config{Unconfirmed: []crdt.ID{g}, ConfirmWait: time.Minute})
	defer b.close()
	done := make(chan error, 1)
	var p *crdt.Post
	go func() {
		var err error
		p, _, err = b.r.CreatePost(ctx, g, need("after the sync"))
		done <- err
	}()
	exchange(t, a, b, g) // what a catch-up session brings
	select {
	case err := <-done:
		t.Fatalf("the post went ahead before the group was confirmed: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if !b.r.Confirm(g) || b.r.Confirm(g) {
		t.Error("Confirm should report a change once")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := seqOf(t, b, g, p); s != 5 {
		t.Errorf("the post has seq %d, want 5", s)
	}
	exchange(t, b, a, g)
	noForks(t, g, a, b)
	if u := b.r.Unconfirmed(); len(u) != 0 {
		t.Errorf("still unconfirmed: %v", u)
	}
}

// A copy does not hold up groups in which the node never signed.
func TestRestoredReplicaSignsAtOnceWhereItNeverDid(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	dir := t.TempDir()
	n := open(t, dir, key, replica.Config{})
	n.close()
	n = open(t, dir, key, replica.Config{Restored: true})
	defer n.close()
	if u := n.r.Unconfirmed(); len(u) != 0 {
		t.Fatalf("unconfirmed %v in a store without own ops", u)
	}
	g := newGroup(t, n, "new")
	post(t, n, g, need("coats"))
}
