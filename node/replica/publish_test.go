package replica_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/protocol"
)

// TestOnLocalOpsPerCommit: the ops a commit writes reach OnLocalOps in
// one call per group, in the order written: a post made with a status
// (two ops, one commit) comes as one call of two, and concurrent posts
// come in calls whose ops follow each other seq by seq.
func TestOnLocalOpsPerCommit(t *testing.T) {
	type call struct {
		g    crdt.ID
		raws [][]byte
	}
	var mu sync.Mutex
	var calls []call
	_, key, _ := ed25519.GenerateKey(nil)
	n := open(t, t.TempDir(), key, replica.Config{OnLocalOps: func(g crdt.ID, raws [][]byte) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, call{g, raws})
	}})
	defer n.close()
	ctx := context.Background()
	g := newGroup(t, n, "coats")
	if _, _, err := n.r.CreatePost(ctx, g, replica.PostInput{Kind: crdt.Offer, Fields: crdt.Fields{Title: "van"}, Status: crdt.Claimed}); err != nil {
		t.Fatal(err)
	}
	// The post and its status in one call, whatever came before (the
	// founding ops may take one commit or two). Checked on a copy: a
	// failure with mu held would block the writer, and Close with it.
	mu.Lock()
	first := slices.Clone(calls)
	mu.Unlock()
	kinds := func(c call) (ks []crdt.Kind) {
		for _, raw := range c.raws {
			op, err := protocol.DecodeOp(raw)
			if err != nil {
				t.Fatal(err)
			}
			ks = append(ks, op.Body.Kind())
		}
		return ks
	}
	if len(first) == 0 || !slices.Equal(kinds(first[len(first)-1]), []crdt.Kind{crdt.KindPostCreate, crdt.KindPostStatus}) {
		t.Fatalf("calls of %v ops; want the last to be the post with its status, 2 ops", lens(first, func(c call) int { return len(c.raws) }))
	}
	founding := uint64(0) // the genesis and the group's first key
	for _, c := range first[:len(first)-1] {
		founding += uint64(len(c.raws))
	}

	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := n.r.CreatePost(ctx, g, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: fmt.Sprint("coat ", i)}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	all := slices.Clone(calls)
	mu.Unlock()
	seq := uint64(0)
	for _, c := range all {
		if c.g != g {
			t.Fatalf("a call for group %s; want %s", c.g.Short(), g.Short())
		}
		for _, raw := range c.raws {
			op, err := protocol.DecodeOp(raw)
			if err != nil {
				t.Fatal(err)
			}
			if op.Seq != seq+1 {
				t.Fatalf("op of seq %d after %d", op.Seq, seq)
			}
			seq = op.Seq
		}
	}
	if want := founding + 42; seq != want {
		t.Fatalf("the calls carried ops up to seq %d; want %d (the founding ops, post, status, 40 posts)", seq, want)
	}
}

func lens[T any](xs []T, f func(T) int) []int {
	var out []int
	for _, x := range xs {
		out = append(out, f(x))
	}
	return out
}
