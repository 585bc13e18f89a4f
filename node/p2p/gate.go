package p2p

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// denyList is the connection gater: it refuses peers blocked for sending
// invalid ops, until their block expires. Everything else is let
// through; which groups a peer may read is decided per group, in the
// catch-up protocol and the gossip peer filter.
type denyList struct {
	now func() time.Time
	// refuse, if set, refuses connections to some peers at some
	// addresses too (tests: a direct path that is not there).
	refuse func(peer.ID, ma.Multiaddr) bool

	mu    sync.Mutex
	until map[peer.ID]time.Time
}

func newDenyList(now func() time.Time) *denyList {
	return &denyList{now: now, until: map[peer.ID]time.Time{}}
}

// block refuses p for d. The list holds at most maxBlocked peers: when
// it is full, expired blocks are dropped, then the one that ends soonest.
func (g *denyList) block(p peer.ID, d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if _, ok := g.until[p]; !ok && len(g.until) >= maxBlocked {
		var first peer.ID
		var firstT time.Time
		for q, t := range g.until {
			if now.After(t) {
				delete(g.until, q)
			} else if first == "" || t.Before(firstT) {
				first, firstT = q, t
			}
		}
		if len(g.until) >= maxBlocked {
			delete(g.until, first)
		}
	}
	g.until[p] = now.Add(d)
}

// len returns how many peers the list holds.
func (g *denyList) len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.until)
}

// unblock lifts a block.
func (g *denyList) unblock(p peer.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.until, p)
}

// blocked reports whether p is refused now.
func (g *denyList) blocked(p peer.ID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	t, ok := g.until[p]
	if !ok {
		return false
	}
	if g.now().After(t) {
		delete(g.until, p)
		return false
	}
	return true
}

func (g *denyList) InterceptPeerDial(p peer.ID) bool { return !g.blocked(p) }

func (g *denyList) InterceptAddrDial(p peer.ID, a ma.Multiaddr) bool {
	return !g.blocked(p) && (g.refuse == nil || !g.refuse(p, a))
}

func (g *denyList) InterceptAccept(network.ConnMultiaddrs) bool { return true }

func (g *denyList) InterceptSecured(_ network.Direction, p peer.ID, c network.ConnMultiaddrs) bool {
	return !g.blocked(p) && (g.refuse == nil || !g.refuse(p, c.RemoteMultiaddr()))
}

func (g *denyList) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
