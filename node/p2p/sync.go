package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
	"github.com/mutual-aid/mutual/protocol"
)

// protectTag marks, in the connection manager, connections to peers that
// read one of our groups: they are never trimmed.
const protectTag = "mutual-member"

// errBusy is returned when a session with the peer is already running.
var errBusy = errors.New("p2p: a catch-up session with this peer is already running")

// errNotOverRelay is returned when a peer is reached only through a relay
// and a session with it may not spend the relay's budget (limitedOK).
var errNotOverRelay = errors.New("p2p: the peer is reached only through a relay, and shares no group with this node")

// SyncNow runs one catch-up session with p now, as the initiator,
// waiting for a session already running with p to end first.
func (h *Host) SyncNow(ctx context.Context, p peer.ID) (catchup.Stats, error) {
	return h.syncWith(ctx, p, true)
}

// syncBackground runs a session unless one with p is running already.
func (h *Host) syncBackground(p peer.ID, why string) {
	st, err := h.syncWith(h.ctx, p, false)
	switch {
	case err == nil:
		h.log.Debug("catch-up done", "remote", p, "why", why, "stats", st)
	case errors.Is(err, errBusy) || errors.Is(err, errNotOverRelay) || h.ctx.Err() != nil:
	case h.host.Network().Connectedness(p) != network.Connected:
		// Over a relay, cut at its limit (or the peer is gone): the next
		// session, on the next connection or a direct one, resumes.
		h.log.Debug("catch-up cut short; it resumes on the next connection", "remote", p, "why", why, "err", err)
	case h.stranger(p):
		// Any libp2p node on the network (mDNS finds them) that shares
		// no group with this one: nothing a volunteer needs to read.
		h.log.Debug("catch-up failed", "remote", p, "why", why, "err", err)
	default:
		h.log.Info("catch-up failed", "remote", p, "why", why, "err", err)
	}
}

// stranger reports whether p reads none of this node's groups.
func (h *Host) stranger(p peer.ID) bool {
	key, err := KeyOf(p)
	if err != nil {
		return true
	}
	for _, g := range h.r.Groups() {
		if h.r.MayRead(g, key) {
			return false
		}
	}
	return true
}

func (h *Host) syncWith(ctx context.Context, p peer.ID, wait bool) (catchup.Stats, error) {
	key, err := KeyOf(p)
	if err != nil {
		return catchup.Stats{}, err
	}
	sl := h.take(h.sessions, p)
	defer h.release(h.sessions, p, sl)
	if wait {
		select {
		case sl.sem <- struct{}{}:
		case <-ctx.Done():
			return catchup.Stats{}, ctx.Err()
		}
	} else {
		select {
		case sl.sem <- struct{}{}:
		default:
			return catchup.Stats{}, errBusy
		}
	}
	defer func() { <-sl.sem }()

	ctx, cancel := context.WithTimeout(ctx, sessionTimeout)
	defer cancel()
	defer context.AfterFunc(h.ctx, cancel)() // Close ends the session too
	sctx := ctx
	if h.onlyLimited(p) {
		if !h.limitedOK(p) {
			return catchup.Stats{}, errNotOverRelay
		}
		sctx = network.WithAllowLimitedConn(ctx, "catch-up")
	}
	s, err := h.host.NewStream(sctx, p, protocol.SyncProtocol)
	if err != nil {
		return catchup.Stats{}, err
	}
	return h.session(ctx, s, p, key, true)
}

// handleSync serves a catch-up session a peer started.
func (h *Host) handleSync(s network.Stream) {
	if !h.enter() {
		_ = s.Reset()
		return
	}
	defer h.wg.Done()
	p := s.Conn().RemotePeer()
	key, err := keyOfPub(s.Conn().RemotePublicKey())
	if err != nil {
		_ = s.Reset()
		return
	}
	if !h.enterInbound(p) {
		h.refused.Add(1)
		h.log.Debug("catch-up stream refused: too many open from this peer", "remote", p, "max", maxInbound)
		_ = s.Reset()
		return
	}
	defer h.leaveInbound(p)
	ctx, cancel := context.WithTimeout(h.ctx, sessionTimeout)
	defer cancel()
	if _, err := h.session(ctx, s, p, key, false); err != nil && h.ctx.Err() == nil {
		level := slog.LevelInfo
		if h.stranger(p) {
			level = slog.LevelDebug
		}
		h.log.Log(h.ctx, level, "catch-up served with an error", "remote", p, "err", err)
	}
}

// enterInbound counts an inbound session of p, unless p has maxInbound
// open already. The count's entry goes with p's last session.
func (h *Host) enterInbound(p peer.ID) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.inbound[p] >= maxInbound {
		return false
	}
	h.inbound[p]++
	return true
}

func (h *Host) leaveInbound(p peer.ID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.inbound[p]--; h.inbound[p] <= 0 {
		delete(h.inbound, p)
	}
}

// session runs catch-up on s. A session that shows the peer sent invalid
// ops gets the peer disconnected and blocked. A peer that sends nothing
// for idleTimeout gets the stream reset.
func (h *Host) session(ctx context.Context, s network.Stream, p peer.ID, key crdt.PublicKey, initiator bool) (catchup.Stats, error) {
	defer context.AfterFunc(ctx, func() { _ = s.Reset() })()
	is := &idleStream{Stream: s}
	pr := h.track(p)
	opts := catchup.Options{Progress: pr, Followers: h.followsOf(p)}
	if s.Conn().Stat().Limited {
		opts.MaxBatchBytes = limitedBatch
	}
	st, err := catchup.RunOptions(ctx, is, h.r, key, initiator, opts)
	h.untrack(p, pr)
	if st.NewOps > 0 || st.OpsSent > 0 {
		h.carried(p)
	}
	if is.idle() {
		h.idleResets.Add(1)
		err = fmt.Errorf("p2p: the peer sent nothing for %v: %w", idleTimeout, err)
	}
	if err != nil {
		_ = s.Reset()
		switch {
		case errors.Is(err, protocol.ErrUnsupported):
			// A newer protocol than this node speaks: not punished.
		case errors.Is(err, protocol.ErrMalformed):
			h.punish(p, "bad catch-up frame", err)
		case errors.Is(err, catchup.ErrRejected):
			h.punish(p, "invalid op", err)
		}
		return st, err
	}
	_ = s.Close()
	h.synced(p, key)
	h.noteFollowers(p, key, st.Followers)
	if h.cfg.OnSession != nil {
		h.cfg.OnSession(key, st)
	}
	h.spawn(func() { h.sendPex(p, key) })
	if len(st.Synced) > 0 {
		h.joinPending()
	}
	if h.cfg.OnSynced != nil && len(st.Synced) > 0 {
		h.cfg.OnSynced(key, st.Synced)
	}
	if len(st.Fresh) > 0 {
		h.spread(st.Fresh, p)
	}
	return st, nil
}

// track registers the progress of a session starting with p.
func (h *Host) track(p peer.ID) *catchup.Progress {
	pr := &catchup.Progress{}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.progress[p] = append(h.progress[p], pr)
	return pr
}

// untrack forgets the progress of a session with p that ended.
func (h *Host) untrack(p peer.ID, pr *catchup.Progress) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.progress[p] = slices.DeleteFunc(h.progress[p], func(x *catchup.Progress) bool { return x == pr })
	if len(h.progress[p]) == 0 {
		delete(h.progress, p)
	}
}

// Syncing reports how far the catch-up sessions with p have come
// receiving ops, while any does; nil otherwise.
func (h *Host) Syncing(p peer.ID) *Syncing {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.syncingLocked(p)
}

func (h *Host) syncingLocked(p peer.ID) *Syncing {
	var out *Syncing
	for _, pr := range h.progress[p] {
		if done, total, ok := pr.Receiving(); ok {
			if out == nil {
				out = &Syncing{}
			}
			out.Done += done
			out.Total += total
		}
	}
	return out
}

// Spread syncs with every connected peer shortly (as after a catch-up
// session that brought new ops): the node learned ops some other way,
// from a bundle file, and its peers may lack them.
func (h *Host) Spread() { h.spread(nil, "") }

// spread is called when a session with from brought new ops of groups
// (nil: of any group, from no peer). Catch-up, unlike gossip, does not
// forward what it receives, so the other connected peers may still lack
// those ops: sync shortly with those that share one of the groups
// (catchup.Shares: the node offers it to them, or serves it to them as a
// follower), but from, if all came from it (the session left the two
// alike). Calls within spreadDelay are merged into one round. It ends by
// itself: a session that brings nothing new spreads nothing.
func (h *Host) spread(groups []crdt.ID, from peer.ID) {
	h.mu.Lock()
	if h.spreadGroups == nil {
		h.spreadGroups, h.spreadBy = map[crdt.ID]bool{}, map[peer.ID]bool{}
	}
	h.spreadBy[from] = true
	for _, g := range groups {
		h.spreadGroups[g] = true
	}
	h.spreadAll = h.spreadAll || groups == nil
	if h.spreading {
		h.mu.Unlock()
		return
	}
	h.spreading = true
	h.mu.Unlock()
	h.spawn(func() {
		t := time.NewTimer(spreadDelay)
		defer t.Stop()
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		h.mu.Lock()
		h.spreading = false
		all, fresh, by := h.spreadAll, slices.Collect(maps.Keys(h.spreadGroups)), h.spreadBy
		h.spreadAll, h.spreadGroups, h.spreadBy = false, nil, nil
		h.mu.Unlock()
		for _, p := range h.host.Network().Peers() {
			if !all && (len(by) == 1 && by[p] || !h.shares(p, fresh)) {
				continue
			}
			h.spawn(func() { h.syncBackground(p, "spread") })
		}
	})
}

// shares reports whether a session with p could pass on new ops of
// groups (catchup.Shares).
func (h *Host) shares(p peer.ID, groups []crdt.ID) bool {
	key, err := KeyOf(p)
	if err != nil {
		return false
	}
	return catchup.Shares(h.r, key, groups, h.followsOf(p))
}

// synced records a successful session. A peer that reads one of our
// groups is remembered in the peer file and protected from trimming.
func (h *Host) synced(p peer.ID, key crdt.PublicKey) {
	member := false
	for _, g := range h.r.Groups() {
		if h.r.MayRead(g, key) {
			member = true
			break
		}
	}
	addrs := h.dialableAddrs(p)
	now := time.Now()
	h.mu.Lock()
	if !member && h.peers[p] == nil {
		h.mu.Unlock() // a stranger gone already: nothing to record
		return
	}
	rec := h.record(p, key)
	rec.lastSynced, rec.lastSeen = now, now
	if len(addrs) > 0 {
		rec.addrs = addrs
	}
	save := member && !rec.remember
	rec.remember = rec.remember || member
	h.mu.Unlock()
	if member {
		h.host.ConnManager().Protect(p, protectTag)
	}
	if save {
		// A member met while running (found by mDNS, or dialled in) is
		// redialled whenever the connection drops, as remembered peers
		// are from the start: after a Wi-Fi drop or a pulled cable that
		// closed the connection, mDNS does not report the peer again
		// (its browser reports an entry once per TTL, 53 minutes), and
		// nothing else would reconnect the two (cmd/mutual/meshtest
		// TestMeshLinkDownUp).
		h.keep(peer.AddrInfo{ID: p, Addrs: h.host.Peerstore().Addrs(p)})
	}
	if member || save {
		if err := h.savePeers(); err != nil {
			h.log.Warn("cannot write the peer file", "path", h.cfg.PeerFile, "err", err)
		}
	}
}

// syncLoop runs a catch-up session with every connected peer this host
// initiates with, every SyncEvery ± 25%.
func (h *Host) syncLoop() {
	for {
		t := time.NewTimer(jitter(h.cfg.SyncEvery))
		select {
		case <-h.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		for _, p := range h.host.Network().Peers() {
			if h.leads(p) {
				h.spawn(func() { h.syncBackground(p, "periodic") })
			}
		}
	}
}

// idleStream is a catch-up stream whose every Read must return within
// idleTimeout. catchup.Run unblocks its reads with SetDeadline(past) when
// it ends a session; a Read begun after that must not set a new
// deadline, or it would wait for the peer again.
type idleStream struct {
	network.Stream
	mu      sync.Mutex
	aborted bool
	timeout bool
}

func (s *idleStream) Read(p []byte) (int, error) {
	s.mu.Lock()
	if !s.aborted {
		_ = s.Stream.SetReadDeadline(time.Now().Add(idleTimeout))
	}
	s.mu.Unlock()
	n, err := s.Stream.Read(p)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		s.mu.Lock()
		s.timeout = s.timeout || !s.aborted
		s.mu.Unlock()
	}
	return n, err
}

// SetDeadline is how catchup.Run aborts.
func (s *idleStream) SetDeadline(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aborted = true
	return s.Stream.SetDeadline(t)
}

// idle reports whether a Read ended for want of anything from the peer.
func (s *idleStream) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.timeout
}
