package node_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node"
	"github.com/mutual-aid/mutual/node/catchup"
	"github.com/mutual-aid/mutual/node/replica"
)

// TestJoinsBeyond256Admitted: B joins 300 of A's groups offline (more
// than a round offers: 256) and meets A once. Every join reaches A's
// node, which witnesses it, and the witness comes back: B is a member
// of all 300 on both nodes after one session (real replicas over
// Badger, catch-up over a pipe). Before, the joins of the groups past
// the first 256 by ID never reached the admin.
func TestJoinsBeyond256Admitted(t *testing.T) {
	const n = 300
	root := t.TempDir()
	ctx := context.Background()
	var ls []*node.Local
	for _, name := range []string{"a", "b"} {
		l, err := node.OpenLocal(filepath.Join(root, name), quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		ls = append(ls, l)
	}
	a, b := ls[0].Replica, ls[1].Replica
	ids := make([]crdt.ID, n)
	parallel(t, n, func(i int) error {
		g, err := a.CreateGroup(ctx, fmt.Sprint("group ", i))
		if err != nil {
			return err
		}
		ids[i] = g
		code, _, err := a.Invite(ctx, g, replica.InviteOptions{Role: crdt.RoleMember, TTL: time.Hour})
		if err != nil {
			return err
		}
		_, err = b.Join(ctx, code)
		return err
	})
	c1, c2 := net.Pipe()
	var wg sync.WaitGroup
	var stA, stB catchup.Stats
	var errA, errB error
	wg.Add(2)
	go func() {
		defer wg.Done()
		stB, errB = catchup.Run(ctx, c1, b.Sync(), a.Self(), true)
		c1.Close()
	}()
	go func() {
		defer wg.Done()
		stA, errA = catchup.Run(ctx, c2, a.Sync(), b.Self(), false)
		c2.Close()
	}()
	wg.Wait()
	if errA != nil || errB != nil {
		t.Fatalf("%v / %v", errA, errB)
	}
	for i, g := range ids {
		if !a.IsMember(g, b.Self()) {
			t.Fatalf("group %d of %d (%s): A does not count B's join", i, n, g.Short())
		}
		if !b.IsMember(g, b.Self()) {
			t.Fatalf("group %d of %d (%s): B does not know it was admitted", i, n, g.Short())
		}
	}
	t.Logf("one session, %d rounds; A stored %d ops, B %d", stA.Rounds, stA.NewOps, stB.NewOps)
}
