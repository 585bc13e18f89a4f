package p2p

import (
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mutual-aid/mutual/crdt"
)

// pushUntopical runs a session soon with every connected peer, for ops
// this node wrote in a group whose topic it cannot derive: a visitor's
// visit and responses in a group it follows (docs/design.md, "Help
// across boards"). Gossip cannot carry them; the session hands them to
// the group's members among the peers (catchup.Limit.Own). Such writes
// are rare (a person answering a post), so a session per connected peer
// costs little; calls while a push is pending join it.
func (h *Host) pushUntopical(group crdt.ID) {
	h.mu.Lock()
	if h.untopical {
		h.mu.Unlock()
		return
	}
	h.untopical = true
	h.mu.Unlock()
	h.spawn(func() {
		h.mu.Lock()
		h.untopical = false
		var to []peer.ID
		for p, rec := range h.peers {
			if rec.connected {
				to = append(to, p)
			}
		}
		h.mu.Unlock()
		for _, p := range to {
			h.spawn(func() { h.pushTo(p) })
		}
	})
}
