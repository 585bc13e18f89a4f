package node

import (
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
	"github.com/mutual-aid/mutual/node/p2p"
)

// followed records what a catch-up session told of the groups this node
// follows: a refusal and its reason (shown by `mutual groups` and the
// API), a group served (the refusal is gone), and the peers that offered
// a followed group (they hold it: the node offers it to them from then
// on, as to the peers its follow code named).
func (l *Local) followed(remote crdt.PublicKey, st catchup.Stats) {
	for g, reason := range st.Refused {
		l.Replica.SetRefused(g, reason)
	}
	for _, g := range st.Answered {
		l.Replica.SetRefused(g, "")
	}
	for _, g := range st.Synced {
		l.Replica.SetRefused(g, "")
		l.Replica.AddSource(g, remote)
	}
}

// PeerKeys returns the keys of the peers that addresses with a /p2p/
// suffix name (a follow code's): the node offers a group it follows to
// them. Addresses without one, or unreadable, are skipped.
func PeerKeys(addrs []string) []crdt.PublicKey {
	var out []crdt.PublicKey
	for _, a := range addrs {
		ai, err := peer.AddrInfoFromString(a)
		if err != nil {
			continue
		}
		if k, err := p2p.KeyOf(ai.ID); err == nil && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}
