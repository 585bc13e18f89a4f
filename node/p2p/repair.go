package p2p

import (
	"context"
	"slices"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Repair of forgotten subscriptions: what goes wrong, and what this
// file does about it.
//
// GossipSub v0.19.0 forgets a peer's subscriptions whenever its own
// outbound stream to the peer dies while the peer stays connected
// (handleDeadPeers: a duplicate connection closed, or a write that timed
// out). It reopens its own stream, announcing its own topics, but the
// peer has no reason to announce its topics again: its stream to this
// host is fine. From then on this host sends the peer nothing on those
// topics (no mesh, no IHAVE) until they reconnect, and the peer gets this
// host's ops only by catch-up. One dial per peer (Host.dialDirect) makes
// that rarer; two nodes dialling each other at once (mDNS at a meeting)
// can still make two connections.
//
// The repair, once a second (repairLoop):
//  1. facts (Host.forgottenPeers): the connected peers that announced a
//     group topic (subsTracker, from the RPCs pubsub traces) and that
//     pubsub no longer lists for it;
//  2. decision (repairState.next, which only computes): a peer forgotten
//     for repairGrace is repaired; the first time by resetting both
//     pubsub streams with it, so that each side declares the other dead,
//     reopens its stream and sends its subscriptions again on the same
//     connection; if it needs repair again within repairReset, by
//     reconnecting, because pubsub allows only a few such reopenings per
//     peer in ten minutes (MaxBackoffAttempts; past them it drops the
//     peer altogether) while a new connection starts pubsub afresh on
//     both sides;
//  3. action (Host.checkTopicPeers): the resets and reconnections, and
//     a catch-up session once the mesh has formed again, for the ops
//     gossip did not bring meanwhile.
const (
	repairEvery = time.Second
	repairGrace = 2 * time.Second
	repairReset = 10 * time.Minute // pubsub's backoff TimeToLive
)

// subsTracker records which topics each peer told this host it
// subscribes to, from the RPCs received (pubsub's RawTracer.RecvRPC).
type subsTracker struct {
	mu   sync.Mutex
	subs map[peer.ID]map[string]bool
}

func (s *subsTracker) recv(rpc *pubsub.RPC) {
	opts := rpc.GetSubscriptions()
	if len(opts) == 0 {
		return
	}
	from := rpc.From()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.subs == nil {
		s.subs = map[peer.ID]map[string]bool{}
	}
	for _, o := range opts {
		if o.GetSubscribe() {
			if s.subs[from] == nil {
				s.subs[from] = map[string]bool{}
			}
			s.subs[from][o.GetTopicid()] = true
		} else {
			delete(s.subs[from], o.GetTopicid())
		}
	}
}

// count returns how many topics p announced.
func (s *subsTracker) count(p peer.ID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs[p])
}

func (s *subsTracker) forget(p peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.subs, p)
}

// first returns a topic p announced that ok accepts, if any.
func (s *subsTracker) first(p peer.ID, ok func(topic string) bool) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.subs[p] {
		if ok(t) {
			return t, true
		}
	}
	return "", false
}

// repairState is repairLoop's memory.
type repairState struct {
	missing  map[peer.ID]time.Time // since when a peer is missing from a topic it announced
	repaired map[peer.ID]time.Time // last stream reset of a peer
}

func newRepairState() *repairState {
	return &repairState{missing: map[peer.ID]time.Time{}, repaired: map[peer.ID]time.Time{}}
}

// next takes the peers pubsub has forgotten now and returns those to
// repair by a stream reset and those to repair by reconnecting.
func (st *repairState) next(forgotten map[peer.ID]bool, now time.Time) (reset, reconnect []peer.ID) {
	for p := range st.missing {
		if !forgotten[p] {
			delete(st.missing, p) // listed again
		}
	}
	for p, at := range st.repaired {
		if now.Sub(at) > repairReset {
			delete(st.repaired, p)
		}
	}
	for p := range forgotten {
		since, ok := st.missing[p]
		if !ok {
			st.missing[p] = now
			continue
		}
		if now.Sub(since) < repairGrace {
			continue
		}
		delete(st.missing, p)
		if _, again := st.repaired[p]; again {
			reconnect = append(reconnect, p)
			continue
		}
		st.repaired[p] = now
		reset = append(reset, p)
	}
	return reset, reconnect
}

func (h *Host) repairLoop() {
	st := newRepairState()
	t := time.NewTicker(repairEvery)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
			h.checkTopicPeers(st, time.Now())
		}
	}
}

// forgottenPeers returns the connected peers that announced one of the
// host's group topics and that pubsub does not list for it. Pubsub
// forgets all of a peer's subscriptions at once (handleDeadPeers), so one
// topic per peer tells: a node in a thousand groups asks pubsub about a
// few topics a second, not a thousand (each ListPeers is a round trip
// through pubsub's event loop).
func (h *Host) forgottenPeers() map[peer.ID]bool {
	forgotten := map[peer.ID]bool{}
	listed := map[string][]peer.ID{}
	for _, p := range h.host.Network().Peers() {
		name, ok := h.mesh.subs.first(p, func(topic string) bool {
			_, joined := h.topicGroup(topic)
			return joined && h.peerFilter(p, topic)
		})
		if !ok {
			continue
		}
		l, ok := listed[name]
		if !ok {
			l = h.ps.ListPeers(name)
			listed[name] = l
		}
		if !slices.Contains(l, p) {
			forgotten[p] = true
		}
	}
	return forgotten
}

// checkTopicPeers repairs the peers pubsub forgot for repairGrace.
func (h *Host) checkTopicPeers(st *repairState, now time.Time) {
	reset, reconnect := st.next(h.forgottenPeers(), now)
	for _, p := range reset {
		if h.host.Network().Connectedness(p) != network.Connected {
			continue
		}
		h.log.Info("gossip forgot a connected member's topics; resetting its pubsub streams", "remote", p)
		h.resetPubsubStreams(p)
		h.spawn(func() { h.syncAfterMesh(p, "pubsub repair") })
	}
	for _, p := range reconnect {
		if h.host.Network().Connectedness(p) != network.Connected {
			continue
		}
		h.log.Info("gossip forgot a connected member's topics again; reconnecting", "remote", p)
		h.spawn(func() { h.reconnect(p) })
	}
}

// resetPubsubStreams resets every GossipSub stream with p, both ways.
func (h *Host) resetPubsubStreams(p peer.ID) {
	for _, c := range h.host.Network().ConnsToPeer(p) {
		for _, s := range c.GetStreams() {
			if slices.Contains(gossipProtocols, s.Protocol()) {
				_ = s.Reset()
			}
		}
	}
}

// reconnect closes every connection to p and dials it again; the peer,
// if it keeps this host, dials too.
func (h *Host) reconnect(p peer.ID) {
	_ = h.host.Network().ClosePeer(p)
	ctx, cancel := context.WithTimeout(h.ctx, dialTimeout)
	defer cancel()
	if err := h.dialDirect(ctx, peer.AddrInfo{ID: p}, "pubsub repair"); err != nil {
		h.log.Debug("redial after pubsub repair failed", "remote", p, "err", err)
	}
}

// syncAfterMesh runs a catch-up session with p once the mesh has formed
// again: ops published before then went to no one by gossip.
func (h *Host) syncAfterMesh(p peer.ID, why string) {
	t := time.NewTimer(jitter(afterMesh))
	defer t.Stop()
	select {
	case <-h.ctx.Done():
	case <-t.C:
		h.syncBackground(p, why)
	}
}
