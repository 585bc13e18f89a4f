package p2p

import (
	"slices"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mutual-aid/mutual/crdt"
)

// Holders of followed groups found by DHT rendezvous.
//
// A node that follows a group offers it (in catch-up) only to peers it
// expects to hold it: the peers its follow code named, and those that
// offered it the group (docs/protocol-catchup.md, "Followers"). A node
// that follows a group by its bare ID (`mutual follow ID`) has none of
// them, and a member never offers a group to a non-member: connected
// or not, the follower would get nothing. So a node found under the
// group's rendezvous key is taken as a source too, once it proves it
// holds the group (holds.go): then the follower offers it the group and
// is served the board.
//
// Anyone who knows the rendezvous key (the nodes that store its
// provider records, anyone who saw a lookup for it) can advertise under
// it; the key does not give the group ID away, and neither does the
// question (the key's digest and a nonce). A node that cannot prove it
// knows the ID is not offered the group: it learns nothing from the
// follower that the DHT did not show it. A node the follower's board
// lists as a member (MayRead) needs no proof.

// sourceAdder is implemented by replicas that follow groups
// (replica.Replica's sync view, catchup.MemoryReplica): AddSource
// records that peer holds group, if the replica follows it, and reports
// whether it does.
type sourceAdder interface {
	AddSource(group crdt.ID, peer crdt.PublicKey) bool
}

// foundHolder is called for each node ai found under g's rendezvous key
// (lookup). If this node follows g and ai proves it holds g (or is a
// member of it on this node's board), ai becomes a source of g, and a
// session runs with it once connected: the one at connect time did not
// offer g to it.
func (h *Host) foundHolder(g crdt.ID, ai peer.AddrInfo) {
	sa, ok := h.r.(sourceAdder)
	if !ok || h.gate.blocked(ai.ID) || !slices.Contains(h.r.Groups(), g) {
		return
	}
	key, err := KeyOf(ai.ID)
	if err != nil {
		return
	}
	if self, err := KeyOf(h.host.ID()); err != nil || h.r.MayRead(g, self) {
		return // a member's node needs no sources: it asks no proof
	}
	found := func() {
		if !sa.AddSource(g, key) {
			return // a group this node is a member of: nothing to add
		}
		h.holdersFound.Add(1)
		if h.host.Network().Connectedness(ai.ID) != network.Connected {
			return // the session at connect time offers g
		}
		// After the session running now, if any: it may have started
		// before ai was a source.
		if _, err := h.syncWith(h.ctx, ai.ID, true); err != nil && h.ctx.Err() == nil {
			h.log.Debug("catch-up with a holder found by DHT rendezvous failed", "group", g.Short(), "remote", ai.ID, "err", err)
		}
	}
	if h.r.MayRead(g, key) {
		h.spawn(found)
		return
	}
	h.askHolds(g, ai, key, found)
}
