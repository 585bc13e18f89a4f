package p2p

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	libp2pproto "github.com/libp2p/go-libp2p/core/protocol"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
	"github.com/mutual-aid/mutual/protocol"
)

// A node that advertises under a group's rendezvous key without holding
// the group (a stranger who learned the key: its replica has no such
// group, it calls the DHT's Provide itself) is asked for a proof of
// holding by a follower of the bare ID, answers no, and is never offered
// the group: nothing the follower sends it holds the group ID. The
// member, found under the same key, proves and serves the board.
func TestFollowByIDNotOfferedToStranger(t *testing.T) {
	fastRendezvous(t)
	tg := newTestGroup(t)
	ra := tg.replica(t, tg.a)
	ingest(t, ra, [][]byte{tg.a.post(t, tg.id, "coats at A")})
	want := len(tg.setup) + 1

	sk := newMember(t)
	s := start(t, withDHT(loopbackConfig(t, sk)), catchup.NewMemoryReplica(sk.pub, nowMillis))
	heard := tapInbound(s, protocol.SyncProtocol, protocol.PexProtocol, protocol.HoldsProtocol)

	cfgA := withDHT(loopbackConfig(t, tg.a))
	cfgA.Bootstrap = []string{s.Addrs()[0]}
	a := start(t, cfgA, ra)
	waitFor(t, 30*time.Second, "the stranger to advertise the group's key", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return s.rv.dhts[0].RoutingTable().Size() > 0 && s.rv.dhts[0].Provide(ctx, RendezvousKey(tg.id), true) == nil
	})

	fk := newMember(t)
	rf := catchup.NewMemoryReplica(fk.pub, nowMillis)
	rf.Follow(tg.id) // the bare ID: no source
	cfgF := withDHT(loopbackConfig(t, fk))
	cfgF.Bootstrap = []string{s.Addrs()[0]}
	f := start(t, cfgF, rf)

	waitFor(t, 30*time.Second, "the follower to get the board and ask the stranger", func() bool {
		return converged(tg.id, want, ra, rf) && s.holds.served.Load() > 0 && f.holds.decided.Load() >= 2
	})
	if f.holds.refused.Load() == 0 {
		t.Error("the stranger's answer was not refused")
	}
	if a.holds.served.Load() == 0 || f.holds.proven.Load() == 0 {
		t.Error("the member did not prove it holds the group")
	}
	got := heard()
	digest := protocol.RendezvousDigest(tg.id)
	if !bytes.Contains(got, digest[:]) {
		t.Fatalf("the tap did not hear the follower's ask (%d bytes heard)", len(got))
	}
	if bytes.Contains(got, tg.id[:]) {
		t.Error("the follower told the group ID to a node that does not hold the group")
	}
}

// tapInbound makes h's handlers of protos keep a copy of every byte its
// peers send on them, and returns what they sent so far.
func tapInbound(h *Host, protos ...string) func() []byte {
	var mu sync.Mutex
	var buf bytes.Buffer
	handlers := map[string]network.StreamHandler{
		protocol.SyncProtocol:  h.handleSync,
		protocol.PexProtocol:   h.handlePex,
		protocol.HoldsProtocol: h.handleHolds,
	}
	for _, p := range protos {
		handle := handlers[p]
		h.host.SetStreamHandler(libp2pproto.ID(p), func(s network.Stream) {
			handle(&tappedStream{Stream: s, mu: &mu, buf: &buf})
		})
	}
	return func() []byte {
		mu.Lock()
		defer mu.Unlock()
		return bytes.Clone(buf.Bytes())
	}
}

type tappedStream struct {
	network.Stream
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (s *tappedStream) Read(b []byte) (int, error) {
	n, err := s.Stream.Read(b)
	s.mu.Lock()
	s.buf.Write(b[:n])
	s.mu.Unlock()
	return n, err
}

// A peer may ask holdsBurst times in a row, then once per holdsRefill:
// a stranger cannot make a node compute proofs without end.
func TestHoldsTurnLimitsAsks(t *testing.T) {
	m := newMember(t)
	h := start(t, loopbackConfig(t, m), catchup.NewMemoryReplica(m.pub, nowMillis))
	p, q := newMember(t), newMember(t)
	pid, _ := PeerIDOf(p.pub)
	qid, _ := PeerIDOf(q.pub)
	for i := range holdsBurst {
		if !h.holdsTurn(pid) {
			t.Fatalf("ask %d of a burst of %d refused", i+1, holdsBurst)
		}
	}
	if h.holdsTurn(pid) {
		t.Error("an ask past the burst answered")
	}
	if !h.holdsTurn(qid) {
		t.Error("another peer's first ask refused")
	}
	// A budget refills with time: one ask per holdsRefill.
	h.holds.mu.Lock()
	h.holds.in[pid].at = h.holds.in[pid].at.Add(-holdsRefill)
	h.holds.mu.Unlock()
	if !h.holdsTurn(pid) {
		t.Error("no ask after holdsRefill")
	}
	if h.holdsTurn(pid) {
		t.Error("two asks after one holdsRefill")
	}
}

// BenchmarkHoldsAnswer: what one ask costs the answerer (the digests of
// its groups, one HMAC), in 10, 100 and 1,000 groups, the group asked
// about last.
func BenchmarkHoldsAnswer(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprint(n, "groups"), func(b *testing.B) {
			m := newMember(b)
			r := catchup.NewMemoryReplica(m.pub, nowMillis)
			var last crdt.ID
			for i := range n {
				last = crdt.ID(sha256.Sum256([]byte(fmt.Sprint(i))))
				r.AddGroup(last)
			}
			h := start(b, loopbackConfig(b, m), r)
			ask := protocol.HoldsAsk{Digest: protocol.RendezvousDigest(last)}
			for b.Loop() {
				if !h.holdsAnswer(ask, m.pub, m.pub).Holds {
					b.Fatal("no")
				}
			}
		})
	}
}
