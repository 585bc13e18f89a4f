package node_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/protocol"
)

func openLocal(tb testing.TB, dir string) *node.Local {
	tb.Helper()
	l, err := node.OpenLocal(dir, quietLogger())
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

func localPost(l *node.Local, g crdt.ID, title string) (*crdt.Post, error) {
	p, _, err := l.Replica.CreatePost(context.Background(), g, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: title}})
	return p, err
}

// ownOps returns the node's own ops in g, by ID.
func ownOps(tb testing.TB, r *replica.Replica, g crdt.ID) map[string]crdt.Op {
	tb.Helper()
	out := map[string]crdt.Op{}
	err := r.Sync().OpsAfter(g, r.Self(), 0, func(raw []byte) error {
		op, err := protocol.DecodeOp(raw)
		out[op.ID.String()] = op
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// An ordinary restart, or moving the data dir within its filesystem, is
// not a copy: the node signs at once. After a copy it does not, and the
// refusal lasts across restarts until the operator's override, which
// lasts too; `mutual repair` counts as a copy.
func TestRestartIsNoCopyButACopyIs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	l := openLocal(t, dir)
	g, err := l.Replica.CreateGroup(context.Background(), "Eastgate")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := localPost(l, g, "coats"); err != nil {
		t.Fatal(err)
	}
	l.Close()
	moved := dir + "-moved"
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	l = openLocal(t, moved)
	if u := l.Replica.Unconfirmed(); len(u) > 0 {
		t.Errorf("unconfirmed after a restart: %v", u)
	}
	if _, err := localPost(l, g, "after a restart"); err != nil {
		t.Fatalf("a restart needs no confirmation: %v", err)
	}
	l.Close()

	copied := filepath.Join(t.TempDir(), "copy")
	copyDir(t, moved, copied)
	for range 2 { // it lasts across a restart
		l = openLocal(t, copied)
		if _, err := localPost(l, g, "in the copy"); !errors.Is(err, replica.ErrUnconfirmed) {
			t.Fatalf("a post in a copy: %v, want ErrUnconfirmed", err)
		}
		l.Close()
	}
	l = openLocal(t, copied)
	if err := l.Confirm(l.Replica.Unconfirmed()...); err != nil { // what --restored-ok does
		t.Fatal(err)
	}
	l.Close()
	l = openLocal(t, copied)
	if _, err := localPost(l, g, "after the override"); err != nil {
		t.Fatalf("after the override: %v", err)
	}
	l.Close()

	if _, err := node.Repair(context.Background(), moved, quietLogger()); err != nil {
		t.Fatal(err)
	}
	l = openLocal(t, moved)
	defer l.Close()
	if _, err := localPost(l, g, "after a repair"); !errors.Is(err, replica.ErrUnconfirmed) {
		t.Fatalf("a post after a repair: %v, want ErrUnconfirmed", err)
	}
}

// The reviewer's scenario: A posts; its data dir is copied (the backup);
// A posts more and syncs with B; the backup is restored and A started
// from it. A post on A run as a command (no network) is refused and
// stores nothing; a post on A served with B reachable waits for the
// catch-up session with B, which brings A's later ops back, and follows
// them: no fork on A or on B.
func TestRestoredNodeNeverForks(t *testing.T) {
	dA := filepath.Join(t.TempDir(), "a")
	a := serveNode(t, "A", dA)
	b := serveNode(t, "B", t.TempDir())
	gs := formGroup(t, a, b)
	g := groupID(t, a, gs)
	p1 := a.mustPost(t, "before the backup")
	waitUntil(t, 10*time.Second, "B has A's first post", func() error { return hasAll(t, b, p1.ID) })
	a.stop()
	backup := filepath.Join(t.TempDir(), "backup")
	copyDir(t, dA, backup)

	a = serveNode(t, "A", dA, b.n.Host.Addrs()...)
	p2, p3 := a.mustPost(t, "after the backup"), a.mustPost(t, "after the backup, 2")
	last := ownOps(t, a.n.Local.Replica, g)[p3.ID].Seq
	waitUntil(t, 10*time.Second, "B has A's later posts", func() error { return hasAll(t, b, p2.ID, p3.ID) })
	a.stop()
	if err := os.RemoveAll(dA); err != nil {
		t.Fatal(err)
	}
	copyDir(t, backup, dA)

	l := openLocal(t, dA)
	held := len(ownOps(t, l.Replica, g)) // the genesis, the invite, the witness of B's join, p1
	_, err := localPost(l, g, "too soon")
	if !errors.Is(err, replica.ErrUnconfirmed) || !strings.Contains(err.Error(), `"Eastgate Aid"`) {
		t.Fatalf("a post in the restored data dir with no network: %v", err)
	}
	if n := len(ownOps(t, l.Replica, g)); n != held {
		t.Fatalf("the refused post stored something: %d own ops, want %d", n, held)
	}
	l.Close()

	a = serveNode(t, "A", dA, b.n.Host.Addrs()...)
	t0 := time.Now()
	p4, err := a.post(context.Background(), "after the restore")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the first post after the restore waited %v", time.Since(t0).Round(time.Millisecond))
	op, ok := ownOps(t, a.n.Local.Replica, g)[p4.ID]
	if !ok || op.Seq != last+1 {
		t.Fatalf("the post after the restore is at seq %d (held: %v), want %d", op.Seq, ok, last+1)
	}
	waitUntil(t, 10*time.Second, "B has A's post made after the restore", func() error { return hasAll(t, b, p4.ID) })
	for _, s := range []*served{a, b} {
		if forks, err := s.n.Local.Replica.Forks(g); err != nil || len(forks) > 0 {
			t.Errorf("%s holds %d forks: %v", s.name, len(forks), err)
		}
	}
	if u := a.n.Local.Replica.Unconfirmed(); len(u) > 0 {
		t.Errorf("A is still unconfirmed in %v", u)
	}
}
