package p2p

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// meshTracer follows GossipSub's meshes (who this host forwards each
// topic to) and counts the messages pubsub drops because a queue was
// full, which it otherwise does silently.
type meshTracer struct {
	log *slog.Logger

	mu   sync.Mutex
	mesh map[string]map[peer.ID]struct{}

	subs subsTracker // the topics each peer announced (see repair.go)

	dropped atomic.Int64
}

var _ pubsub.RawTracer = (*meshTracer)(nil)

func newMeshTracer(log *slog.Logger) *meshTracer {
	return &meshTracer{log: log, mesh: map[string]map[peer.ID]struct{}{}}
}

// meshPeers returns the peers in a topic's mesh.
func (t *meshTracer) meshPeers(topic string) []peer.ID {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]peer.ID, 0, len(t.mesh[topic]))
	for p := range t.mesh[topic] {
		out = append(out, p)
	}
	return out
}

func (t *meshTracer) Graft(p peer.ID, topic string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mesh[topic] == nil {
		t.mesh[topic] = map[peer.ID]struct{}{}
	}
	t.mesh[topic][p] = struct{}{}
}

func (t *meshTracer) Prune(p peer.ID, topic string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.mesh[topic], p)
}

func (t *meshTracer) Leave(topic string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.mesh, topic)
}

// RemovePeer drops a peer from every mesh (the host calls it on
// disconnection too).
func (t *meshTracer) RemovePeer(p peer.ID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, m := range t.mesh {
		delete(m, p)
	}
}

// RecvRPC records the subscriptions a peer announces.
func (t *meshTracer) RecvRPC(rpc *pubsub.RPC) { t.subs.recv(rpc) }

// OnClosedOutboundStream drops p from every mesh: GossipSub's router
// does so (OnClosedOutboundStream) without tracing a Prune, when its
// stream to p dies, connected or not (see repair.go).
func (t *meshTracer) OnClosedOutboundStream(p peer.ID) { t.RemovePeer(p) }

// DropRPC counts an RPC dropped because the peer's outbound queue was
// full, and warns: catch-up will deliver the ops, late. It runs for every
// RPC dropped, thousands a second under load; the node's logger writes
// the warning at most once a minute per peer, with a count.
func (t *meshTracer) DropRPC(rpc *pubsub.RPC, p peer.ID) {
	n := t.dropped.Add(1)
	t.log.Warn("gossip queue full: messages dropped; catch-up will deliver them later", "remote", p, "dropped_total", n)
}

// UndeliverableMessage would concern a subscription; the host has none.
func (t *meshTracer) UndeliverableMessage(*pubsub.Message) {}

func (t *meshTracer) OnNewOutboundStream(peer.ID, protocol.ID)             {}
func (t *meshTracer) Join(string)                                          {}
func (t *meshTracer) ValidateMessage(*pubsub.Message)                      {}
func (t *meshTracer) DeliverMessage(*pubsub.Message)                       {}
func (t *meshTracer) RejectMessage(*pubsub.Message, string)                {}
func (t *meshTracer) DuplicateMessage(*pubsub.Message)                     {}
func (t *meshTracer) ThrottlePeer(peer.ID)                                 {}
func (t *meshTracer) SendRPC(*pubsub.RPC, peer.ID)                         {}
func (t *meshTracer) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}
