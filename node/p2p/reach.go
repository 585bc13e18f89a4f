package p2p

import (
	"context"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/proto"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"github.com/mutual-aid/mutual/crdt"
)

// Reaching peers beyond the local network: relayed connections, their
// upgrade to direct ones, and how each peer is reached.
//
// A connection through a circuit relay v2 is "limited": the relay resets
// it after 2 minutes or 128 KiB each way (its defaults). GossipSub and
// the DHT never use one (pubsub admits only peers with a full
// connection). Catch-up does, where that is sound: a session stores
// every batch as it arrives, so a session cut by the relay loses only the
// batch in flight, and the next one, on the next relayed connection or
// the direct one, resumes from what is stored. Over a limited connection
// a session sends batches of at most limitedBatch op bytes, well under
// the relay's limit, so that each connection carries some whole batches.
// Meanwhile hole punching (DCUtR, on both sides) and a direct dial now
// and then try for a direct connection, which takes over once it exists.

// How a peer is reached (PeerInfo.Via).
const (
	ViaDirect  = "direct"  // a direct connection to a public address
	ViaLAN     = "lan"     // a direct connection to a private, link-local or loopback address (mDNS, a mesh)
	ViaRelayed = "relayed" // only through a relay
)

// Tuning of relays and direct upgrades.
const (
	// relayBootDelay, relayBackoff and relayMinInterval are AutoRelay's
	// settings: how long it waits for more relay candidates before it
	// takes the one it has, how long it leaves a relay that refused a
	// reservation, and how often at most it asks for candidates.
	relayBootDelay   = 20 * time.Second
	relayBackoff     = 5 * time.Minute
	relayMinInterval = 30 * time.Second
	// upgradeMax bounds the back-off of direct dials to a peer reached
	// only through a relay (upgradeAfter).
	upgradeMax = 10 * time.Minute
	// maxBootstrap bounds the bootstrap list (AddBootstrap).
	maxBootstrap = 64
)

// upgradeAfter is how long a peer reached only through a relay is left
// to hole punching before this node tries a direct dial itself; the
// tries back off to upgradeMax. A variable for tests.
var upgradeAfter = 5 * time.Second

// limitedBatch bounds the op bytes in each Ops frame of a catch-up
// session over a limited connection: a quarter of the relay's default
// data limit. A variable for tests.
var limitedBatch = 32 << 10

// viaOf says how p is reached now: "" if it is not connected.
func (h *Host) viaOf(p peer.ID) string {
	via := ""
	for _, c := range h.host.Network().ConnsToPeer(p) {
		switch {
		case c.Stat().Limited:
			if via == "" {
				via = ViaRelayed
			}
		case isLAN(c.RemoteMultiaddr()):
			if via != ViaDirect {
				via = ViaLAN
			}
		default:
			via = ViaDirect
		}
	}
	return via
}

func isLAN(a ma.Multiaddr) bool {
	return manet.IsPrivateAddr(a) || manet.IsIPLoopback(a) || manet.IsIP6LinkLocal(a)
}

func isRelayed(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

// onlyLimited reports whether every connection to p is limited (and
// there is one).
func (h *Host) onlyLimited(p peer.ID) bool {
	return h.host.Network().Connectedness(p) == network.Limited
}

// dialledLimited reports whether this node dialled a limited connection
// to p: it wanted that peer, and starts the catch-up sessions on it.
func (h *Host) dialledLimited(p peer.ID) bool {
	for _, c := range h.host.Network().ConnsToPeer(p) {
		if st := c.Stat(); st.Limited && st.Direction == network.DirOutbound {
			return true
		}
	}
	return false
}

// leads reports whether this host starts the automatic catch-up sessions
// with p: on a full connection the side with the smaller peer ID; on a
// relayed one the side that dialled it, so that both sides do not spend
// the relay's budget on the same session.
func (h *Host) leads(p peer.ID) bool {
	if h.onlyLimited(p) {
		return h.dialledLimited(p)
	}
	return h.initiates(p)
}

// limitedOK reports whether a catch-up session with p may run over a
// limited connection: this node dialled it (a kept peer, a peer found
// for one of our groups), or p reads one of our groups. A stranger
// reached through a relay gets nothing from us anyway; its sessions
// would only spend the relay's budget.
func (h *Host) limitedOK(p peer.ID) bool {
	return h.dialledLimited(p) || !h.stranger(p)
}

// relayedReader reports whether p (record rec) is reached only through
// a relay and may read g: gossip does not reach it, so new ops of g are
// pushed to it by catch-up, as to a follower (pushFollowers).
func (h *Host) relayedReader(p peer.ID, rec *peerRecord, g crdt.ID) bool {
	return rec.via == ViaRelayed && h.onlyLimited(p) && h.r.MayRead(g, rec.key)
}

// limited follows a peer reached (now) only through a relay.
func (h *Host) limited(p peer.ID) {
	key, err := KeyOf(p)
	if err != nil {
		return
	}
	h.mu.Lock()
	rec := h.record(p, key)
	rec.connected, rec.lastSeen, rec.via = true, time.Now(), ViaRelayed
	kept := h.dialled[p]
	h.pexGen++
	h.mu.Unlock()
	h.log.Debug("peer reached through a relay", "remote", p)
	if h.leads(p) && h.limitedOK(p) {
		h.spawn(func() { h.syncBackground(p, "relayed") })
	}
	if !kept { // a kept peer's dialler tries for a direct connection itself
		h.spawn(func() {
			if h.sleep(jitter(upgradeAfter)) && h.onlyLimited(p) {
				h.upgrade(p)
			}
		})
	}
}

// upgrade tries once for a direct connection to p, which is reached
// only through a relay, at the addresses p announced.
func (h *Host) upgrade(p peer.ID) error {
	if h.gate.blocked(p) {
		return nil
	}
	ctx, cancel := context.WithTimeout(h.ctx, dialTimeout)
	defer cancel()
	err := h.dial(ctx, peer.AddrInfo{ID: p}, "direct upgrade", false)
	if err != nil {
		h.log.Debug("no direct connection to a peer reached through a relay; staying on the relay", "remote", p, "err", err)
	} else if !h.onlyLimited(p) {
		h.log.Info("direct connection to a peer reached through a relay", "remote", p)
	}
	return err
}

// hasRelayAddr reports whether ai or the peerstore has an address of
// ai.ID through a relay.
func (h *Host) hasRelayAddr(ai peer.AddrInfo) bool {
	return slices.ContainsFunc(ai.Addrs, isRelayed) || slices.ContainsFunc(h.host.Peerstore().Addrs(ai.ID), isRelayed)
}

// relayCandidates is AutoRelay's peer source: connected peers that offer
// the relay service, then the bootstrap list. AutoRelay calls it only
// while AutoNAT finds this node unreachable from outside.
func (h *Host) relayCandidates(ctx context.Context, num int) <-chan peer.AddrInfo {
	out := make(chan peer.AddrInfo, max(num, 0))
	go func() {
		defer close(out)
		select {
		case <-h.ready: // libp2p may ask before Start has its host
		case <-ctx.Done():
			return
		}
		if h.host == nil {
			return
		}
		seen := map[peer.ID]bool{h.host.ID(): true}
		add := func(ai peer.AddrInfo) {
			if len(out) < num && !seen[ai.ID] && !h.gate.blocked(ai.ID) {
				seen[ai.ID] = true
				out <- ai
			}
		}
		ps := h.host.Peerstore()
		for _, p := range h.host.Network().Peers() {
			if ok, _ := ps.SupportsProtocols(p, proto.ProtoIDv2Hop); len(ok) > 0 {
				add(peer.AddrInfo{ID: p, Addrs: ps.Addrs(p)})
			}
		}
		for _, ai := range h.bootstrapPeers() {
			add(ai)
		}
	}()
	return out
}

// bootstrapPeers returns the peers to join the DHT through and to ask
// for relay service: Config.Bootstrap, the kept peers (Config.Peers and
// the peer file) and those added with AddBootstrap.
func (h *Host) bootstrapPeers() []peer.AddrInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.boot)
}

// BootstrapAddrs returns the bootstrap list as multiaddrs with a /p2p/ID
// suffix, one per peer: for a follow code's bootstrap peers.
func (h *Host) BootstrapAddrs() []string {
	var out []string
	for _, ai := range h.bootstrapPeers() {
		if len(ai.Addrs) > 0 {
			out = append(out, ai.Addrs[0].String()+"/p2p/"+ai.ID.String())
		}
	}
	return out
}

// AddBootstrap adds peers (multiaddrs with a /p2p/ID suffix, as in an
// invite or follow code) to the bootstrap list, and dials them if the
// DHT has no peer yet. Malformed addresses are skipped.
func (h *Host) AddBootstrap(addrs ...string) {
	var added []peer.AddrInfo
	for _, a := range addrs {
		ai, err := peer.AddrInfoFromString(a)
		if err != nil || ai.ID == h.host.ID() {
			continue
		}
		if h.addBoot(*ai) {
			added = append(added, *ai)
		}
	}
	if len(added) == 0 || h.rv == nil || !h.dhtEmpty() {
		return // no DHT to join, or joined already
	}
	for _, ai := range added {
		h.host.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.TempAddrTTL)
		h.spawn(func() {
			ctx, cancel := context.WithTimeout(h.ctx, dialTimeout)
			defer cancel()
			if err := h.dialDirect(ctx, ai, "bootstrap"); err != nil {
				h.log.Debug("bootstrap peer unreachable", "remote", ai.ID, "err", err)
			}
		})
	}
}

// addBoot adds ai to the bootstrap list, merging the addresses of a peer
// listed already; it reports whether ai is new.
func (h *Host) addBoot(ai peer.AddrInfo) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, b := range h.boot {
		if b.ID == ai.ID {
			for _, a := range ai.Addrs {
				if !slices.ContainsFunc(b.Addrs, a.Equal) {
					h.boot[i].Addrs = append(h.boot[i].Addrs, a)
				}
			}
			return false
		}
	}
	if len(h.boot) >= maxBootstrap {
		return false
	}
	h.boot = append(h.boot, ai)
	return true
}
