package p2p

import (
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

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
