package p2p

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// Proof of holding (protocol.HoldsProtocol, docs/protocol.md 12.8): a
// node that follows a group and finds a node under the group's
// rendezvous key asks it, before naming the group to it, for a proof
// that it knows the group's ID (an HMAC keyed by the ID over a fresh
// nonce and both nodes' keys). The question carries the rendezvous
// digest, which the DHT already shows to anyone; the answer shows
// nothing of the ID. A node answers about any group it holds, as a
// member or a follower, to any peer, at most holdsBurst times in a row
// and then once per holdsRefill: a stranger cannot make it hash without
// end.

// Tuning. Variables for tests.
var (
	holdsTimeout = 10 * time.Second // the dial, the ask and the answer, together
	holdsAgain   = 10 * time.Minute // the least time before a peer is asked about a group again
	holdsRefill  = 2 * time.Second  // an answerer's per-peer budget refills one ask per holdsRefill
	holdsBurst   = 8                // asks a peer may make in a row
	holdsAsks    = 4                // asks this node runs at once
	holdsTracked = 4096             // entries per map before old ones are dropped
)

// holds is the state of the proof of holding, both ends; its zero value
// is not ready: newHolds.
type holds struct {
	sem chan struct{} // asks running

	mu    sync.Mutex
	asked map[holdsKey]time.Time   // when this node last asked a peer about a group
	in    map[peer.ID]*holdsBudget // what each asking peer may still ask

	proven  atomic.Int64 // holders proven, for tests
	refused atomic.Int64 // peers that answered no or a wrong proof, for tests
	decided atomic.Int64 // asks finished, and the session a proof led to, for tests
	served  atomic.Int64 // asks answered, for tests
}

type holdsKey struct {
	p peer.ID
	g crdt.ID
}

type holdsBudget struct {
	left float64   // asks left
	at   time.Time // when left was counted
}

func newHolds() *holds {
	return &holds{
		sem:   make(chan struct{}, holdsAsks),
		asked: map[holdsKey]time.Time{},
		in:    map[peer.ID]*holdsBudget{},
	}
}

// Errors of an ask. errNotHolder: the peer answered no, or a proof that
// does not verify (it does not know the group ID, or relays another
// node's proof).
var (
	errNotHolder = errors.New("the peer proved no holding of the group")
	errHoldsSelf = errors.New("no key of this node")
)

// askHolds starts, unless one ran lately (holdsAgain), an ask of p
// (found at ai) about g. If p proves it holds g, then found(p) runs, in
// the ask's goroutine; decided counts it done once found returns.
func (h *Host) askHolds(g crdt.ID, ai peer.AddrInfo, key crdt.PublicKey, found func()) {
	hs := h.holds
	k := holdsKey{ai.ID, g}
	now := time.Now()
	hs.mu.Lock()
	if t, ok := hs.asked[k]; ok && now.Sub(t) < holdsAgain {
		hs.mu.Unlock()
		return
	}
	if len(hs.asked) >= holdsTracked {
		for k, t := range hs.asked {
			if now.Sub(t) >= holdsAgain {
				delete(hs.asked, k)
			}
		}
		if len(hs.asked) >= holdsTracked {
			hs.mu.Unlock()
			return
		}
	}
	hs.asked[k] = now
	hs.mu.Unlock()
	h.spawn(func() {
		defer hs.decided.Add(1)
		select {
		case hs.sem <- struct{}{}:
		case <-h.ctx.Done():
			return
		}
		err := h.proveHolder(g, ai, key)
		<-hs.sem
		switch {
		case err == nil:
			hs.proven.Add(1)
			found()
		case errors.Is(err, errNotHolder):
			hs.refused.Add(1)
			h.log.Debug("DHT: a node found under a followed group's key does not prove it holds the group", "group", g.Short(), "remote", ai.ID)
		default:
			// No answer (unreachable, reset, timed out): the next lookup
			// that finds it asks again.
			hs.mu.Lock()
			delete(hs.asked, k)
			hs.mu.Unlock()
			h.log.Debug("DHT: a node found under a followed group's key did not answer", "group", g.Short(), "remote", ai.ID, "err", err)
		}
	})
}

// proveHolder dials p if needed and asks it to prove it holds g; nil if
// it did.
func (h *Host) proveHolder(g crdt.ID, ai peer.AddrInfo, key crdt.PublicKey) error {
	self, err := KeyOf(h.host.ID())
	if err != nil {
		return errHoldsSelf
	}
	ctx, cancel := context.WithTimeout(h.ctx, holdsTimeout)
	defer cancel()
	if h.host.Network().Connectedness(ai.ID) != network.Connected {
		if err := h.dialDirect(ctx, ai, "DHT rendezvous"); err != nil {
			return err
		}
	}
	ask := protocol.HoldsAsk{Digest: protocol.RendezvousDigest(g)}
	if _, err := rand.Read(ask.Nonce[:]); err != nil {
		return err
	}
	ctx = network.WithNoDial(network.WithAllowLimitedConn(ctx, "proof of holding"), "proof of holding")
	s, err := h.host.NewStream(ctx, ai.ID, protocol.HoldsProtocol)
	if err != nil {
		return err
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	if _, err := s.Write(protocol.AppendHoldsAsk(nil, ask)); err != nil {
		_ = s.Reset()
		return err
	}
	_ = s.CloseWrite()
	ans, err := protocol.ReadHoldsAnswer(bufio.NewReader(io.LimitReader(s, protocol.MaxHolds+16)))
	if err != nil {
		_ = s.Reset()
		if errors.Is(err, protocol.ErrMalformed) {
			h.punish(ai.ID, "bad proof of holding", err)
			return fmt.Errorf("%w: %v", errNotHolder, err)
		}
		return err
	}
	if !ans.Holds || !protocol.VerifyHolds(g, ask.Nonce, key, self, ans.Proof) {
		return errNotHolder
	}
	return nil
}

// handleHolds answers a peer's ask: a proof if this node holds the
// group of that rendezvous digest, else no.
func (h *Host) handleHolds(s network.Stream) {
	if !h.enter() {
		_ = s.Reset()
		return
	}
	defer h.wg.Done()
	p := s.Conn().RemotePeer()
	asker, err := keyOfPub(s.Conn().RemotePublicKey())
	if err != nil || !h.holdsTurn(p) {
		_ = s.Reset()
		return
	}
	self, err := KeyOf(h.host.ID())
	if err != nil {
		_ = s.Reset()
		return
	}
	_ = s.SetDeadline(time.Now().Add(holdsTimeout))
	ask, err := protocol.ReadHoldsAsk(bufio.NewReader(io.LimitReader(s, protocol.MaxHolds+16)))
	if err != nil {
		_ = s.Reset()
		switch {
		case errors.Is(err, protocol.ErrUnsupported):
		case errors.Is(err, protocol.ErrMalformed):
			h.punish(p, "bad proof of holding ask", err)
		default:
			h.log.Debug("proof of holding: ask not read", "remote", p, "err", err)
		}
		return
	}
	ans := h.holdsAnswer(ask, self, asker)
	h.holds.served.Add(1)
	if _, err := s.Write(protocol.AppendHoldsAnswer(nil, ans)); err != nil {
		_ = s.Reset()
		return
	}
	_ = s.Close()
}

// holdsAnswer answers ask, from this node (key self) to asker: a proof
// if it replicates the group of that digest, else no.
func (h *Host) holdsAnswer(ask protocol.HoldsAsk, self, asker crdt.PublicKey) protocol.HoldsAnswer {
	for _, g := range h.r.Groups() {
		if protocol.RendezvousDigest(g) == ask.Digest {
			return protocol.HoldsAnswer{Holds: true, Proof: protocol.HoldsProof(g, ask.Nonce, self, asker)}
		}
	}
	return protocol.HoldsAnswer{}
}

// holdsTurn reports whether p may ask now, and counts the ask: a
// budget of holdsBurst asks, refilled at one per holdsRefill.
func (h *Host) holdsTurn(p peer.ID) bool {
	hs := h.holds
	hs.mu.Lock()
	defer hs.mu.Unlock()
	now := time.Now()
	b := hs.in[p]
	if b == nil {
		if len(hs.in) >= holdsTracked {
			for q, old := range hs.in {
				// A budget refilled is as good as none.
				if now.Sub(old.at) >= time.Duration(holdsBurst)*holdsRefill {
					delete(hs.in, q)
				}
			}
			if len(hs.in) >= holdsTracked {
				return false
			}
		}
		b = &holdsBudget{left: float64(holdsBurst), at: now}
		hs.in[p] = b
	}
	b.left = min(float64(holdsBurst), b.left+float64(now.Sub(b.at))/float64(holdsRefill))
	b.at = now
	if b.left < 1 {
		return false
	}
	b.left--
	return true
}
