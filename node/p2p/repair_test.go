package p2p

import (
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// TestRepairForgottenSubscription: A's own GossipSub stream to B dies
// while B stays connected, which is what happens to one side when one of
// two connections between them closes (pubsub v0.19.0, handleDeadPeers).
// A then forgets that B reads the group and sends it nothing by gossip.
// go-libp2p v0.51.0 has no option to force a second connection to a
// connected peer (DialPeer returns the existing one), so the test kills
// the stream itself. The repair must bring B back into A's topic peers
// and mesh, and A's next op must reach B by gossip (IngestOne; catch-up
// sessions use Ingest and run only at connect here).
func TestRepairForgottenSubscription(t *testing.T) {
	tg := newTestGroup(t)
	rb := &notifyingReplica{MemoryReplica: tg.replica(t, tg.b), waiting: map[crdt.ID]chan struct{}{}}
	a := start(t, loopbackConfig(t, tg.a), tg.replica(t, tg.a))
	b := start(t, loopbackConfig(t, tg.b), rb)
	connect(t, b, a)
	topic := protocol.Topic(tg.id, tg.id)
	listed := func(h, p *Host) bool { return slices.Contains(h.ps.ListPeers(topic), p.ID()) }
	waitFor(t, 10*time.Second, "A and B in each other's topic peers and mesh", func() bool {
		return listed(a, b) && listed(b, a) && slices.Contains(a.mesh.meshPeers(topic), b.ID())
	})

	// Kill A's outbound pubsub stream to B, as the close of its connection
	// would; the connection stays.
	killed := 0
	for _, c := range a.host.Network().ConnsToPeer(b.ID()) {
		for _, s := range c.GetStreams() {
			if s.Stat().Direction == network.DirOutbound && slices.Contains(gossipProtocols, s.Protocol()) {
				s.Reset()
				killed++
			}
		}
	}
	if killed != 1 {
		t.Fatalf("%d outbound pubsub streams from A to B, want 1", killed)
	}
	waitFor(t, 5*time.Second, "A to forget B's subscription", func() bool { return !listed(a, b) })
	if a.host.Network().Connectedness(b.ID()) != network.Connected {
		t.Fatal("A and B disconnected")
	}

	// The repair: B is back in A's topic peers and mesh.
	waitFor(t, 10*time.Second, "the repair (B in A's topic peers and mesh again)", func() bool {
		return listed(a, b) && listed(b, a) && slices.Contains(a.mesh.meshPeers(topic), b.ID())
	})
	op, raw := tg.a.sign(t, tg.id, crdt.PostCreate{PostKind: crdt.Offer, Fields: crdt.Fields{Title: "after repair"}})
	gossiped := rb.expect(op.ID)
	publish(t, a, tg.id, raw)
	select {
	case <-gossiped:
	case <-time.After(2 * time.Second):
		t.Fatal("A's op did not reach B by gossip within 2 s of the repair")
	}
}

// TestRepairDecisions walks repairState.next through a peer's story:
// forgotten, repaired by a reset after repairGrace, forgotten again
// within repairReset (reconnected), and again long after (a reset).
func TestRepairDecisions(t *testing.T) {
	st := newRepairState()
	p, q := peer.ID("p"), peer.ID("q")
	t0 := time.Unix(1e9, 0)
	step := func(at time.Duration, forgotten []peer.ID, wantReset, wantReconnect []peer.ID) {
		t.Helper()
		f := map[peer.ID]bool{}
		for _, x := range forgotten {
			f[x] = true
		}
		reset, reconnect := st.next(f, t0.Add(at))
		if !slices.Equal(reset, wantReset) || !slices.Equal(reconnect, wantReconnect) {
			t.Fatalf("at %v: reset %v reconnect %v; want %v and %v", at, reset, reconnect, wantReset, wantReconnect)
		}
	}
	step(0, []peer.ID{p, q}, nil, nil)                             // first seen missing
	step(time.Second, []peer.ID{p}, nil, nil)                      // q listed again: forgotten
	step(repairGrace, []peer.ID{p, q}, []peer.ID{p}, nil)          // p past the grace; q starts again
	step(repairGrace+time.Second, nil, nil, nil)                   // both listed
	step(time.Minute, []peer.ID{p}, nil, nil)                      // p forgotten again
	step(time.Minute+repairGrace, []peer.ID{p}, nil, []peer.ID{p}) // within repairReset: reconnect
	step(time.Hour, []peer.ID{p}, nil, nil)
	step(time.Hour+repairGrace, []peer.ID{p}, []peer.ID{p}, nil) // long after: a reset again
}
