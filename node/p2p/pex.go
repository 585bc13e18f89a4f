package p2p

import (
	"bufio"
	"context"
	"errors"
	"io"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// Peer exchange (protocol.PexProtocol): after a catch-up session with a
// peer, a node tells it where the other nodes of the groups it may read
// are — connected ones first, then remembered ones — so that on a routed
// mesh, where mDNS sees only its own segment, members who know one node
// come to know them all. A node names only peers that may read a group,
// and only to a peer that may read it too (MayRead, in its own view);
// the receiver takes an entry only for a group it replicates and the
// sender may read (in the receiver's view), and dials what it learns
// only while the group has fewer than pexWant connected readers.
// Addresses learned are dialled, nothing more: a node is trusted with a
// group only once its key proves it may read it.

const (
	// pexWant is how many connected readers of a group a node seeks
	// through peer exchange (GossipSub's mesh degree).
	pexWant = 6
	// pexDials bounds the dials one message can cause.
	pexDials = 8
	// pexTimeout bounds sending or reading a message.
	pexTimeout = 10 * time.Second
	// pexMinGap is how often at most a peer's message is read; one
	// sooner is reset.
	pexMinGap = 5 * time.Second
	// pexAddrTTL is how long learned addresses stay in the peerstore.
	pexAddrTTL = 30 * time.Minute
)

// sendPex tells p (whose key is key) where the other readers of its
// groups are, unless nothing connected or left since p was last told.
func (h *Host) sendPex(p peer.ID, key crdt.PublicKey) {
	h.mu.Lock()
	gen := h.pexGen
	sent, told := h.pexSent[p]
	h.mu.Unlock()
	if told && sent == gen {
		return
	}
	peers := h.pexFor(p, key)
	h.mu.Lock()
	h.pexSent[p] = gen
	h.mu.Unlock()
	if len(peers) == 0 {
		return
	}
	msg, err := protocol.AppendPex(nil, peers)
	if err != nil {
		h.log.Warn("peer exchange: message not sent", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(h.ctx, pexTimeout)
	defer cancel()
	ctx = network.WithNoDial(network.WithAllowLimitedConn(ctx, "peer exchange"), "peer exchange")
	s, err := h.host.NewStream(ctx, p, protocol.PexProtocol)
	if err != nil {
		h.log.Debug("peer exchange: no stream", "remote", p, "err", err)
		return
	}
	_ = s.SetDeadline(time.Now().Add(pexTimeout))
	if _, err := s.Write(msg); err != nil {
		_ = s.Reset()
		return
	}
	_ = s.Close()
}

// pexFor lists, for the peer p with key to, the other peers that may
// read a group that to may read, with their addresses and those groups.
func (h *Host) pexFor(p peer.ID, to crdt.PublicKey) []protocol.PexPeer {
	var shared []crdt.ID
	for _, g := range h.r.Groups() {
		if h.r.MayRead(g, to) {
			shared = append(shared, g)
		}
	}
	if len(shared) == 0 {
		return nil
	}
	// Connected peers first, then the remembered ones, most recently seen
	// first.
	cands := slices.DeleteFunc(h.host.Network().Peers(), func(q peer.ID) bool { return q == p })
	for _, pi := range h.rememberedByRecency() {
		if pi != p && !slices.Contains(cands, pi) {
			cands = append(cands, pi)
		}
	}
	var out []protocol.PexPeer
	size := 16
	for _, q := range cands {
		if len(out) == protocol.MaxPexPeers {
			break
		}
		kq, err := KeyOf(q)
		if err != nil {
			continue
		}
		var groups []crdt.ID
		for _, g := range shared {
			if h.r.MayRead(g, kq) {
				groups = append(groups, g)
				if len(groups) == protocol.MaxPexGroups {
					break
				}
			}
		}
		if len(groups) == 0 {
			continue
		}
		pp := protocol.PexPeer{Key: kq, Groups: groups, Addrs: h.pexAddrs(q)}
		if len(pp.Addrs) == 0 {
			continue
		}
		if size += protocol.PexSize(pp); size > protocol.MaxPex {
			break
		}
		out = append(out, pp)
	}
	return out
}

// pexAddrs returns q's addresses to tell others, in binary form: those
// it was reached at and announced (dialableAddrs), or remembered, other
// than loopback ones unless there is nothing else.
func (h *Host) pexAddrs(q peer.ID) [][]byte {
	addrs := h.dialableAddrs(q)
	if len(addrs) == 0 {
		h.mu.Lock()
		if rec := h.peers[q]; rec != nil {
			addrs = slices.Clone(rec.addrs)
		}
		h.mu.Unlock()
	}
	var out, loop [][]byte
	for _, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			continue
		}
		a, _ = ma.SplitFunc(a, func(c ma.Component) bool { return c.Protocol().Code == ma.P_P2P && !isRelayed(a) })
		b := a.Bytes()
		if len(b) == 0 || len(b) > protocol.MaxPexAddrBytes {
			continue
		}
		if manet.IsIPLoopback(a) {
			loop = append(loop, b)
		} else {
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		out = loop
	}
	if len(out) > protocol.MaxPexAddrs {
		out = out[:protocol.MaxPexAddrs]
	}
	return out
}

// rememberedByRecency returns the remembered peers, most recently seen
// first.
func (h *Host) rememberedByRecency() []peer.ID {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []peer.ID
	for id, rec := range h.peers {
		if rec.remember {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, func(a, b peer.ID) int { return h.peers[b].lastSeen.Compare(h.peers[a].lastSeen) })
	return out
}

// handlePex reads a peer's message and dials what it teaches.
func (h *Host) handlePex(s network.Stream) {
	if !h.enter() {
		_ = s.Reset()
		return
	}
	defer h.wg.Done()
	p := s.Conn().RemotePeer()
	key, err := keyOfPub(s.Conn().RemotePublicKey())
	if err != nil || !h.pexTurn(p) {
		_ = s.Reset()
		return
	}
	_ = s.SetDeadline(time.Now().Add(pexTimeout))
	peers, err := protocol.ReadPex(bufio.NewReader(io.LimitReader(s, protocol.MaxPex+16)))
	if err != nil {
		_ = s.Reset()
		switch {
		case errors.Is(err, protocol.ErrUnsupported):
		case errors.Is(err, protocol.ErrMalformed):
			h.punish(p, "bad peer exchange message", err)
		default:
			h.log.Debug("peer exchange: message not read", "remote", p, "err", err)
		}
		return
	}
	_ = s.Close()
	h.learn(p, key, peers)
}

// pexTurn reports whether a message from p may be read now (pexMinGap).
func (h *Host) pexTurn(p peer.ID) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	if t, ok := h.pexIn[p]; ok && now.Sub(t) < pexMinGap {
		return false
	}
	h.pexIn[p] = now
	return true
}

// learn takes what from (key fromKey) told about other peers: their
// addresses go to the peerstore, and those of groups short of readers
// are dialled.
func (h *Host) learn(from peer.ID, fromKey crdt.PublicKey, peers []protocol.PexPeer) {
	mine := map[crdt.ID]bool{}
	for _, g := range h.r.Groups() {
		if h.r.MayRead(g, fromKey) {
			mine[g] = true // a group the sender may vouch for
		}
	}
	var dial []peer.AddrInfo
	for _, pp := range peers {
		id, err := PeerIDOf(pp.Key)
		if err != nil || id == h.host.ID() || id == from || h.gate.blocked(id) {
			continue
		}
		var groups []crdt.ID
		for _, g := range pp.Groups {
			if mine[g] {
				groups = append(groups, g)
			}
		}
		if len(groups) == 0 {
			continue
		}
		var addrs []ma.Multiaddr
		for _, b := range pp.Addrs {
			if a, err := ma.NewMultiaddrBytes(b); err == nil {
				addrs = append(addrs, a)
			}
		}
		if len(addrs) == 0 {
			continue
		}
		h.host.Peerstore().AddAddrs(id, addrs, pexAddrTTL)
		if h.host.Network().Connectedness(id) == network.Connected {
			continue
		}
		if slices.ContainsFunc(groups, func(g crdt.ID) bool { return h.readersOf(g) < pexWant }) && len(dial) < pexDials {
			dial = append(dial, peer.AddrInfo{ID: id, Addrs: addrs})
		}
	}
	for _, ai := range dial {
		h.spawn(func() {
			// Both ends may learn of each other at once: as with mDNS, the
			// side with the smaller peer ID dials first, the other later
			// if still needed (two connections are not harmless, see
			// dialDirect).
			if !h.initiates(ai.ID) {
				if !h.sleep(jitter(mdnsDefer)) || h.host.Network().Connectedness(ai.ID) == network.Connected {
					return
				}
			}
			ctx, cancel := context.WithTimeout(h.ctx, dialTimeout)
			defer cancel()
			h.pexDials.Add(1)
			if err := h.dialDirect(ctx, ai, "peer exchange"); err != nil {
				h.log.Debug("peer exchange: peer unreachable", "remote", ai.ID, "err", err)
				return
			}
			h.log.Info("connected to a peer learned by peer exchange", "remote", ai.ID, "from", from, "via", h.viaOf(ai.ID))
		})
	}
}
