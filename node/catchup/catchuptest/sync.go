package catchuptest

import (
	"bytes"
	"context"
	"maps"
	"net"
	"slices"
	"sync"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
)

// RunSync runs catch-up sessions (catchup.Run over net.Pipe) between
// replicas that a and b open, which may be of different kinds, and
// checks that they converge: the same version vectors, the same ops
// served, the same state hash.
func RunSync(t *testing.T, a, b Factory) {
	t.Run("DisjointOps", func(t *testing.T) { testSyncDisjoint(t, a, b) })
	t.Run("GapOneDirection", func(t *testing.T) { testSyncGap(t, a, b) })
	t.Run("Newcomer", func(t *testing.T) { testSyncNewcomer(t, a, b) })
}

// Session is one side's outcome of a session.
type Session struct {
	Stats catchup.Stats
	Err   error
}

// Sync runs one session between x (the initiator, key kx) and y (key
// ky) over net.Pipe and returns both sides' outcomes.
func Sync(x catchup.Replica, kx crdt.PublicKey, y catchup.Replica, ky crdt.PublicKey) (sx, sy Session) {
	c1, c2 := net.Pipe()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		sx.Stats, sx.Err = catchup.Run(context.Background(), c1, x, ky, true)
		c1.Close()
	}()
	go func() {
		defer wg.Done()
		sy.Stats, sy.Err = catchup.Run(context.Background(), c2, y, kx, false)
		c2.Close()
	}()
	wg.Wait()
	return sx, sy
}

func mustSync(t *testing.T, x Node, kx crdt.PublicKey, y Node, ky crdt.PublicKey) (sx, sy Session) {
	t.Helper()
	sx, sy = Sync(x, kx, y, ky)
	if sx.Err != nil || sy.Err != nil {
		t.Fatalf("session: initiator %v, responder %v", sx.Err, sy.Err)
	}
	return sx, sy
}

// Converged fails t unless the nodes hold the same ops of group and
// compute the same state.
func Converged(t *testing.T, group crdt.ID, nodes ...Node) {
	t.Helper()
	v0 := vector(t, nodes[0], group)
	h0, err := nodes[0].StateHash(group)
	if err != nil {
		t.Fatalf("node 0: state hash: %v", err)
	}
	for i, n := range nodes[1:] {
		v := vector(t, n, group)
		if !maps.Equal(v, v0) {
			t.Fatalf("node %d: version vector %s; node 0: %s", i+1, fmtVector(v), fmtVector(v0))
		}
		for a := range v0 {
			if !slices.EqualFunc(opsAfter(t, n, group, a, 0), opsAfter(t, nodes[0], group, a, 0), bytes.Equal) {
				t.Fatalf("node %d serves other ops of %x than node 0", i+1, a[:3])
			}
		}
		h, err := n.StateHash(group)
		if err != nil {
			t.Fatalf("node %d: state hash: %v", i+1, err)
		}
		if h != h0 {
			t.Fatalf("node %d: state hash %s; node 0: %s", i+1, h.Short(), h0.Short())
		}
	}
}

// founderAndMember returns the founder's replica (of kind a) and the
// member's (of kind b), both holding the genesis and the member's join.
func founderAndMember(t *testing.T, a, b Factory) (fx *fixture, rf, rm Node) {
	fx = newFixture()
	rf = a.Follow(t, fx.f.Key, fx.gen)
	rm = b.Follow(t, fx.m.Key, fx.gen)
	ingest(t, rf, fx.mJoin)
	ingest(t, rm, fx.mJoin)
	return fx, rf, rm
}

func testSyncDisjoint(t *testing.T, a, b Factory) {
	fx, rf, rm := founderAndMember(t, a, b)
	ingest(t, rf, fx.f.Posts(fx.group, 20)...)
	ingest(t, rm, fx.m.Posts(fx.group, 20)...)
	hf, _ := rf.StateHash(fx.group)
	hm, _ := rm.StateHash(fx.group)
	if hf == hm {
		t.Fatal("the boards are equal before the session")
	}
	sf, sm := mustSync(t, rf, fx.f.Pub, rm, fx.m.Pub)
	Converged(t, fx.group, rf, rm)
	wantVector(t, rf, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 21, fx.m.Pub: 21}, "after the session")
	for _, s := range []catchup.Stats{sf.Stats, sm.Stats} {
		if s.OpsSent != 20 || s.OpsReceived != 20 || s.NewOps != 20 {
			t.Fatalf("stats %+v: want 20 ops sent, received and new on each side", s)
		}
	}
	sf, sm = mustSync(t, rm, fx.m.Pub, rf, fx.f.Pub)
	if n := sf.Stats.OpsSent + sm.Stats.OpsSent; n != 0 {
		t.Fatalf("a second session sent %d ops, want 0", n)
	}
}

func testSyncGap(t *testing.T, a, b Factory) {
	fx, rf, rm := founderAndMember(t, a, b)
	ingest(t, rf, fx.f.Posts(fx.group, 700)...)
	// The one behind initiates.
	sm, sf := mustSync(t, rm, fx.m.Pub, rf, fx.f.Pub)
	Converged(t, fx.group, rf, rm)
	if sm.Stats.NewOps != 700 || sf.Stats.OpsSent != 700 || sm.Stats.OpsSent != 0 || sf.Stats.NewOps != 0 {
		t.Fatalf("behind %+v, ahead %+v", sm.Stats, sf.Stats)
	}
}

// A newcomer (of kind b) who joined with the founder's invite meets a
// member who does not know it, then the founder (both of kind a), then
// the member again.
func testSyncNewcomer(t *testing.T, a, b Factory) {
	fx, rf, rm := founderAndMember(t, a, b)
	rm2 := a.Follow(t, fx.m.Key, fx.gen)
	ingest(t, rm2, fx.mJoin)
	ingest(t, rf, fx.f.Posts(fx.group, 15)...)
	ingest(t, rm2, fx.m.Posts(fx.group, 15)...)
	mustSync(t, rf, fx.f.Pub, rm2, fx.m.Pub)
	Converged(t, fx.group, rf, rm2)

	n := NewAuthor(5)
	rn := b.Newcomer(t, n.Key, fx.f.Invite(fx.group, crdt.RoleMember))
	if rf.MayRead(fx.group, n.Pub) {
		t.Fatal("the founder trusts a newcomer it has not met")
	}
	sm, sn := mustSync(t, rm2, fx.m.Pub, rn, n.Pub)
	if k := sm.Stats.OpsSent + sn.Stats.OpsSent; k != 0 {
		t.Fatalf("a member and a newcomer who do not know each other exchanged %d ops", k)
	}
	mustSync(t, rn, n.Pub, rf, fx.f.Pub)
	Converged(t, fx.group, rf, rn)
	wantVector(t, rn, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 16, fx.m.Pub: 16, n.Pub: 1}, "the newcomer after meeting its inviter")
	if !rf.MayRead(fx.group, n.Pub) || !rn.MayRead(fx.group, fx.m.Pub) {
		t.Fatal("the founder and the newcomer did not learn each other's members")
	}
	mustSync(t, rm2, fx.m.Pub, rn, n.Pub)
	mustSync(t, rm, fx.m.Pub, rn, n.Pub) // the member's replica of kind b
	Converged(t, fx.group, rf, rn, rm2, rm)
}
