package p2p

import (
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
// or not, the follower would get nothing. A node found under the
// group's rendezvous key advertised that it holds the group, so it is
// taken as a source too: the follower offers it the group, and is
// served the board.
//
// What that trusts: anyone who knows the rendezvous key (the nodes that
// store its provider records, anyone who saw a lookup for it) can
// advertise under it, and a follower that finds it offers it the group,
// whose ID it then learns. A bare-ID follower thus tells the group ID to
// whoever advertises under its key; a follow code's holders and members
// (MayRead) need no such trust.

// sourceAdder is implemented by replicas that follow groups
// (replica.Replica's sync view, catchup.MemoryReplica): AddSource
// records that peer holds group, if the replica follows it, and reports
// whether it does.
type sourceAdder interface {
	AddSource(group crdt.ID, peer crdt.PublicKey) bool
}

// foundHolder is called for each node p found under g's rendezvous key
// (lookup), before it is dialled. If this node follows g, p becomes a
// source of g; if p is connected already (the DHT's own traffic, a
// bootstrap peer that is also a holder), a session runs now, since the
// one at connect time did not offer g to it.
func (h *Host) foundHolder(g crdt.ID, p peer.ID) {
	sa, ok := h.r.(sourceAdder)
	if !ok || h.gate.blocked(p) {
		return
	}
	key, err := KeyOf(p)
	if err != nil || !sa.AddSource(g, key) {
		return
	}
	h.holdersFound.Add(1)
	if h.host.Network().Connectedness(p) == network.Connected {
		h.spawn(func() { h.syncBackground(p, "holder found by DHT rendezvous") })
	}
}
