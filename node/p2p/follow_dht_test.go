package p2p

import (
	"testing"
	"time"

	"github.com/mutual-aid/mutual/node/catchup"
)

// Following a group by its bare ID (`mutual follow ID`: no code, so no
// address and no peer to offer the group to): the follower's node knows
// only a bootstrap node and the group ID. The DHT rendezvous finds a
// node that advertises the group's key; once that node proves it holds
// the group (holds.go), it becomes one the follower expects to hold the
// group (a source), so the follower offers it the group and is served
// the board. Twice: the bootstrap node is
// the member itself (the rendezvous finds a peer it is connected to
// already), or a third node in no group (it dials the member).
func TestFollowByIDThroughDHT(t *testing.T) {
	fastRendezvous(t)
	t.Run("bootstrap is the member", func(t *testing.T) { testFollowByIDThroughDHT(t, false) })
	t.Run("bootstrap is a third node", func(t *testing.T) { testFollowByIDThroughDHT(t, true) })
}

func testFollowByIDThroughDHT(t *testing.T, third bool) {
	tg := newTestGroup(t)
	ra := tg.replica(t, tg.a)
	ingest(t, ra, [][]byte{tg.a.post(t, tg.id, "coats at A")})
	want := len(tg.setup) + 1

	var boot string
	cfgA := withDHT(loopbackConfig(t, tg.a))
	if third {
		bk := newMember(t)
		c := start(t, withDHT(loopbackConfig(t, bk)), catchup.NewMemoryReplica(bk.pub, nowMillis))
		boot = c.Addrs()[0]
		cfgA.Bootstrap = []string{boot}
	}
	a := start(t, cfgA, ra)
	if !third {
		boot = a.Addrs()[0]
	}

	fk := newMember(t)
	rf := catchup.NewMemoryReplica(fk.pub, nowMillis)
	rf.Follow(tg.id) // the bare ID: no source
	cfgF := withDHT(loopbackConfig(t, fk))
	cfgF.Bootstrap = []string{boot}
	f := start(t, cfgF, rf)

	waitFor(t, 30*time.Second, "the follower to get the group's board", func() bool { return converged(tg.id, want, ra, rf) })
	if f.rvFound.Load() == 0 || f.holdersFound.Load() == 0 {
		t.Error("the follower got the board, but not from a holder found by DHT rendezvous")
	}
	if f.holds.proven.Load() == 0 || a.holds.served.Load() == 0 {
		t.Error("the follower took the member for a holder without its proof")
	}
	if !connectedTo(f, a) {
		t.Error("the follower holds the board and is not connected to the member")
	}
	// A new post reaches it too: the member pushes to its follower.
	ingest(t, ra, [][]byte{tg.a.post(t, tg.id, "soup at A")})
	a.pushFollowers(tg.id)
	waitFor(t, 20*time.Second, "the follower to get a new post", func() bool { return converged(tg.id, want+1, ra, rf) })
}
