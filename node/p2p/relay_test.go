package p2p

import (
	"context"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// TestRelayForwardsOpHeldAlready: B and C are connected only through A,
// the topology `mutual join` makes (each member dials the inviter). A
// already holds C's op when C's gossip copy reaches it, as when a
// catch-up session between A and C brought it a moment earlier. A must
// still forward it to B by gossip: ignored, it would reach B only at the
// next catch-up session between A and B.
//
// The waits are on conditions, with deadlines a loaded machine passes
// (the mesh once took over 10 s at load 20): B's replica reports an op
// only when it arrives by gossip (IngestOne), never by a catch-up
// session (Ingest), so a slow machine cannot pass the test by catch-up,
// only fail it if a session brought the op first.
func TestRelayForwardsOpHeldAlready(t *testing.T) {
	tg := newTestGroup(t)
	ra, rc := tg.replica(t, tg.a), tg.replica(t, tg.c)
	rb := &notifyingReplica{MemoryReplica: tg.replica(t, tg.b), waiting: map[crdt.ID]chan struct{}{}}
	a := start(t, loopbackConfig(t, tg.a), ra)
	b := start(t, loopbackConfig(t, tg.b), rb)
	c := start(t, loopbackConfig(t, tg.c), rc)
	connect(t, b, a)
	connect(t, c, a)
	topic := protocol.Topic(tg.id, tg.id)
	waitFor(t, 60*time.Second, "the star mesh (A: B and C; B: A; C: A)", func() bool {
		return len(a.mesh.meshPeers(topic)) == 2 && len(b.mesh.meshPeers(topic)) == 1 && len(c.mesh.meshPeers(topic)) == 1
	})

	// An op of C that A holds already: it reaches B by gossip, through A.
	op, raw := tg.c.sign(t, tg.id, crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: "held by A"}})
	if v, err := ra.IngestOne(context.Background(), raw); v != crdt.Accept {
		t.Fatalf("A: %v %v", v, err)
	}
	gossiped := rb.expect(op.ID)
	publish(t, c, tg.id, raw)
	select {
	case <-gossiped:
	case <-time.After(gossipWait):
		t.Fatalf("C's op, held by A already, did not reach B by gossip within %v", gossipWait)
	}

	// A fresh op of C: the ordinary relay, for comparison.
	op, raw = tg.c.sign(t, tg.id, crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: "new to A"}})
	gossiped = rb.expect(op.ID)
	publish(t, c, tg.id, raw)
	select {
	case <-gossiped:
	case <-time.After(gossipWait):
		t.Fatalf("C's op did not reach B by gossip within %v", gossipWait)
	}
}

// gossipWait bounds a wait for an op that must arrive by gossip: about a
// millisecond on a quiet machine; the bound is for a loaded one.
const gossipWait = 30 * time.Second

// TestConnectEachAddressOnce: connecting to every address of an invite,
// TCP and QUIC, one after the other or at once (node.onGroup), makes one
// connection. Two would put GossipSub at risk of forgetting the peer's
// subscription when one of them closes (see dialDirect).
func TestConnectEachAddressOnce(t *testing.T) {
	tg := newTestGroup(t)
	a := start(t, loopbackConfig(t, tg.a), tg.replica(t, tg.a))
	addrs := a.Addrs()
	if len(addrs) < 2 {
		t.Fatalf("A listens on %v; want TCP and QUIC", addrs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	b := start(t, loopbackConfig(t, tg.b), tg.replica(t, tg.b))
	for _, addr := range addrs {
		if err := b.Connect(ctx, addr); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(b.host.Network().ConnsToPeer(a.ID())); n != 1 {
		t.Errorf("one after the other: %d connections from B to A, want 1", n)
	}

	// At once: two dials racing made two connections about once in 20
	// tries here, and nearly every time in node.Serve's join.
	for i := range 10 {
		c := start(t, loopbackConfig(t, tg.c), tg.replica(t, tg.c))
		errs := make(chan error, len(addrs))
		for _, addr := range addrs {
			go func() { errs <- c.Connect(ctx, addr) }()
		}
		for range addrs {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if n := len(c.host.Network().ConnsToPeer(a.ID())); n != 1 {
			t.Errorf("at once, try %d: %d connections from C to A, want 1", i, n)
		}
		c.Close()
	}
}
