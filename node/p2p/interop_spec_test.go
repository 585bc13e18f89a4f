package p2p

import (
	"bytes"
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"

	"github.com/mutual-aid/mutual/protocol"
)

// A peer built from docs/protocol.md section 12 alone — the member's
// ed25519 key as its libp2p identity, one transport (TCP), one security
// protocol (Noise), yamux, and GossipSub with the settings the section
// lists — exchanges ops with a node by gossip in both directions. It
// speaks no catch-up protocol, so gossip is the only way either op can
// travel. The messages the node sends carry no author, seqno, key or
// signature, and their ID is the SHA-256 of the data.
func TestSpecGossipInterop(t *testing.T) {
	tg := newTestGroup(t)
	ra := tg.replica(t, tg.a)
	a := start(t, loopbackConfig(t, tg.a), ra)

	mh, err := libp2p.New(
		libp2p.Identity(tg.b.libp2pKey(t)),
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
	)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); mh.Close() })
	ps, err := pubsub.NewGossipSub(ctx, mh,
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithNoAuthor(),
		pubsub.WithMessageIdFn(func(m *pb.Message) string { id := sha256.Sum256(m.Data); return string(id[:]) }),
		pubsub.WithFloodPublish(false),
	)
	if err != nil {
		t.Fatal(err)
	}
	topic := protocol.Topic(tg.id, tg.id) // the replica twin names topics with the group ID in the place of the first key
	tp, err := ps.Join(topic)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := tp.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Cancel)
	if err := mh.Connect(ctx, peer.AddrInfo{ID: a.ID(), Addrs: a.host.Addrs()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the peer in the node's mesh", func() bool {
		for _, p := range a.mesh.meshPeers(topic) {
			if p == mh.ID() {
				return len(tp.ListPeers()) == 1
			}
		}
		return false
	})

	// Node to peer.
	fromNode := tg.a.post(t, tg.id, "from the node")
	publish(t, a, tg.id, fromNode)
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	for {
		m, err := sub.Next(rctx)
		if err != nil {
			t.Fatalf("the node's op never arrived: %v", err)
		}
		if !bytes.Equal(m.Data, gossipFrameOf(t, tg.id, [][]byte{fromNode})) {
			continue // the node sends an op as a gossip frame of one (12.4), its prev left out (2.6)
		}
		if got, _, err := protocol.SplitFrameWith(tg.id, m.Data, heldLookup(t, tg.setup...)); err != nil || !bytes.Equal(got[0], fromNode) {
			t.Fatalf("the peer, holding the op before, does not get the node's op from its frame: %v", err)
		}
		if m.From != nil || m.Seqno != nil || m.Key != nil || m.Signature != nil {
			t.Fatalf("message carries author info: from %x seqno %x key %x sig %x", m.From, m.Seqno, m.Key, m.Signature)
		}
		if id := sha256.Sum256(m.Data); m.ID != string(id[:]) {
			t.Fatalf("message ID %x, want the SHA-256 of the message", m.ID)
		}
		break
	}

	// Peer to node.
	before := ra.Len(tg.id)
	if err := tp.Publish(ctx, frameOf(t, tg.id, [][]byte{tg.b.post(t, tg.id, "from the peer")})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the peer's op stored by the node", func() bool { return ra.Len(tg.id) == before+1 })
}
