package p2p

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/mutual-aid/mutual/node/catchup"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/loglimit"
	"github.com/mutual-aid/mutual/node/logtest"
	"github.com/mutual-aid/mutual/protocol"
)

// rawPeer is a libp2p host with GossipSub set as the members' are (no
// signatures, the op ID as message ID) and nothing of this package: a
// peer written by someone else.
type rawPeer struct {
	h  host.Host
	ps *pubsub.PubSub
}

func newRawPeer(t testing.TB, m *member, opts ...pubsub.Option) *rawPeer {
	t.Helper()
	h, err := libp2p.New(libp2p.Identity(m.libp2pKey(t)), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); h.Close() })
	ps, err := pubsub.NewGossipSub(ctx, h, append([]pubsub.Option{pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithNoAuthor(), pubsub.WithMessageIdFn(messageID)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return &rawPeer{h: h, ps: ps}
}

func (p *rawPeer) connect(t testing.TB, to *Host) {
	t.Helper()
	if err := p.h.Connect(context.Background(), peer.AddrInfo{ID: to.ID(), Addrs: to.host.Addrs()}); err != nil {
		t.Fatal(err)
	}
}

// newerOp returns raw as a newer node would send it: an op kind (or, with
// version, an op version) this node does not know.
func newerOp(t testing.TB, raw []byte, version bool) []byte {
	t.Helper()
	out := slices.Clone(raw)
	switch {
	case out[0] == 0x9a && version: // a version 1 op
		out[1] = 0x7e // positive fixint: op version 126
	case out[0] == 0x9a:
		out[2] = 0x63 // op kind 99
	case version: // a version 2 op: its tag byte says version and kind
		out[0] = 0x3e // a tag of a later version
	default:
		out[0] = 0x7f // version 2, kind 63
	}
	if _, err := protocol.DecodeOp(out); !errors.Is(err, protocol.ErrUnsupported) {
		t.Fatalf("newerOp: %v, want ErrUnsupported", err)
	}
	return out
}

// rawMemberOf starts a's node on ra, and b as a raw GossipSub peer on
// the group's topic, connected to it, their topic mesh formed: b then
// publishes whatever bytes a test needs a member to send.
func rawMemberOf(t *testing.T, tg *testGroup, ra catchup.Replica) (*Host, *rawPeer, *pubsub.Topic) {
	t.Helper()
	a := start(t, loopbackConfig(t, tg.a), ra)
	b := newRawPeer(t, tg.b)
	tp, err := b.ps.Join(protocol.Topic(tg.id, tg.id))
	if err != nil {
		t.Fatal(err)
	}
	b.connect(t, a)
	waitFor(t, 5*time.Second, "the topic peers", func() bool { return len(tp.ListPeers()) == 1 })
	return a, b, tp
}

// TestUnknownKindsIgnoredOnGossip: a member a version ahead (a rolling
// upgrade) gossips ops of a kind and a version this node does not know.
// They are ignored: not stored, not forwarded, the sender neither
// disconnected nor blocked nor scored down, and its next op arrives.
func TestUnknownKindsIgnoredOnGossip(t *testing.T) {
	tg := newTestGroup(t)
	ra := tg.replica(t, tg.a)
	a, b, tp := rawMemberOf(t, tg, ra)
	ctx := context.Background()
	for i := range 20 {
		if err := tp.Publish(ctx, newerOp(t, tg.b.post(t, tg.id, "newer"), i%2 == 0)); err != nil {
			t.Fatal(err)
		}
	}
	// The ops above took seqs 1..20 of b's log past its join: the next
	// valid op comes past a gap, and is stored all the same (parked
	// behind the gap is not what this tests: it is stored or not, and
	// the sender is still welcome).
	valid := tg.b.post(t, tg.id, "valid")
	if err := tp.Publish(ctx, valid); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "b's valid op to be judged", func() bool {
		return ra.Len(tg.id) == len(tg.setup)+1 || a.punished.Load() > 0
	})
	time.Sleep(1500 * time.Millisecond) // a score inspection
	if n := a.punished.Load(); n != 0 {
		t.Fatalf("%d peers punished for ops of a newer kind or version", n)
	}
	if a.gate.blocked(b.h.ID()) || a.host.Network().Connectedness(b.h.ID()) != network.Connected {
		t.Fatal("the newer member was blocked or disconnected")
	}
	if s := a.score(b.h.ID()); s < 0 {
		t.Fatalf("the newer member's score is %v", s)
	}
}

// TestUnknownKindInFrameKeepsTheOthers: a frame that holds an op of a
// kind this node does not know (a member a version ahead sent it with
// others' ops) still brings its other ops: they are judged and stored,
// the unknown one is not, the frame is not forwarded, and its sender is
// not punished.
func TestUnknownKindInFrameKeepsTheOthers(t *testing.T) {
	tg := newTestGroup(t)
	ra := tg.replica(t, tg.a)
	a, _, tp := rawMemberOf(t, tg, ra)
	f := frameOf(t, tg.id, [][]byte{tg.b.post(t, tg.id, "newer"), tg.c.post(t, tg.id, "known")})
	f[3] = 0x7f // the first op's tag (after magic, count, flags): version 2, kind 63
	if err := tp.Publish(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "c's op beside the unknown one to be stored", func() bool {
		return ra.Len(tg.id) == len(tg.setup)+1 || a.punished.Load() > 0
	})
	if n := a.punished.Load(); n != 0 {
		t.Fatalf("%d peers punished for a frame with an op of a newer kind", n)
	}
}

// TestInvalidOpCostsScore: a forged op costs its sender GossipSub score,
// besides the block.
func TestInvalidOpCostsScore(t *testing.T) {
	tg := newTestGroup(t)
	a, b, tp := rawMemberOf(t, tg, tg.replica(t, tg.a))
	forged := tg.b.post(t, tg.id, "forged")
	forged[len(forged)-1] ^= 1
	if err := tp.Publish(context.Background(), forged); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the forger's score to drop", func() bool { return a.score(b.h.ID()) < 0 })
	if !a.gate.blocked(b.h.ID()) {
		t.Fatal("forger not blocked")
	}
}

// TestInboundCatchUpLimits: a stranger opens many catch-up streams and
// holds them open without a word. Beyond maxInbound they are reset at
// once; the others when idleTimeout passes. Once it is gone, nothing
// keyed by it is left in the host's maps.
func TestInboundCatchUpLimits(t *testing.T) {
	old := idleTimeout
	idleTimeout = time.Second
	t.Cleanup(func() { idleTimeout = old })
	tg := newTestGroup(t)
	a := start(t, loopbackConfig(t, tg.a), tg.replica(t, tg.a))
	s := newRawPeer(t, newMember(t))
	s.connect(t, a)
	ctx := context.Background()
	const n = 50
	reset := make(chan time.Duration, n)
	for range n {
		st, err := s.h.NewStream(ctx, a.ID(), protocol.SyncProtocol)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		go func() {
			buf := make([]byte, 4096)
			for {
				if _, err := st.Read(buf); err != nil {
					reset <- time.Since(t0)
					st.Reset()
					return
				}
			}
		}()
	}
	for range n {
		<-reset
	}
	if r, i := a.refused.Load(), a.idleResets.Load(); r < n-maxInbound || i < 1 || r+i > n {
		t.Fatalf("%d streams refused, %d reset idle, of %d; want at least %d refused", r, i, n, n-maxInbound)
	}
	s.h.Close()
	waitFor(t, 5*time.Second, "the stranger's entries to go", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		_, rec := a.peers[s.h.ID()]
		return len(a.inbound) == 0 && len(a.sessions) == 0 && len(a.dialling) == 0 && !rec
	})
}

// TestDenyListBounded: the gater's list never holds more than maxBlocked
// peers, and keeps the blocks that end last.
func TestDenyListBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	g := newDenyList(func() time.Time { return now })
	var last peer.ID
	for i := range maxBlocked + 100 {
		last = peer.ID(string(rune(i)) + "peer")
		g.block(last, time.Duration(i+1)*time.Second)
	}
	if n := g.len(); n > maxBlocked {
		t.Fatalf("%d blocked peers held, the cap is %d", n, maxBlocked)
	}
	if !g.blocked(last) {
		t.Fatal("the latest block was dropped")
	}
}

// strangerOp is a post in g at seq 2 signed by a fresh key: well formed,
// validly signed, by an author no group knows.
func strangerOp(t testing.TB, g crdt.ID) []byte {
	s := newMember(t)
	s.seq = 1
	rand.Read(s.prev[:])
	return s.post(t, g, "stranger")
}

// TestStrangerSignedOpsDropped: 12,000 valid ops signed by fresh keys,
// gossiped by a stranger and by a member relaying them, leave nothing
// stored, punish no one, and are logged once per peer by a node's
// limited logger.
func TestStrangerSignedOpsDropped(t *testing.T) {
	var out logtest.Buffer
	// An hour's window, not the node's minute: under load the test can
	// run past a minute, when a second line per kind is right.
	lim := loglimit.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}),
		loglimit.Config{Every: time.Hour, Distinct: []string{"remote", "group"}})
	tg := newTestGroup(t)
	ra := tg.replica(t, tg.a)
	cfg := loopbackConfig(t, tg.a)
	cfg.Logger = slog.New(lim)
	a := start(t, cfg, ra)
	ctx := context.Background()
	var topics []*pubsub.Topic
	for _, m := range []*member{newMember(t), tg.b} {
		p := newRawPeer(t, m, pubsub.WithPeerOutboundQueueSize(1<<14))
		tp, err := p.ps.Join(protocol.Topic(tg.id, tg.id))
		if err != nil {
			t.Fatal(err)
		}
		p.connect(t, a)
		waitFor(t, 5*time.Second, "the topic peers", func() bool { return len(tp.ListPeers()) == 1 })
		topics = append(topics, tp)
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapInuse
	for i := range 12000 {
		if err := topics[i%2].Publish(ctx, strangerOp(t, tg.id)); err != nil {
			t.Fatal(err)
		}
		if i%256 == 255 {
			time.Sleep(5 * time.Millisecond) // within the queues: every op must reach A
		}
	}
	// A's last op, from the member, says when the rest were judged.
	last := tg.b.post(t, tg.id, "last")
	if err := topics[1].Publish(ctx, last); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the member's own op", func() bool { return ra.Len(tg.id) == len(tg.setup)+1 })
	runtime.ReadMemStats(&ms)
	t.Logf("heap in use: %d MB before, %d MB after", before>>20, ms.HeapInuse>>20)
	if n := a.punished.Load(); n != 0 {
		t.Fatalf("%d peers punished for valid ops of unknown authors", n)
	}
	for _, msg := range []string{"gossip of a peer on a topic it may not read dropped", "gossiped op of an unknown author ignored"} {
		if got := out.Lines(msg); len(got) != 1 {
			t.Fatalf("%q written %d times; want once (per peer and group, a window)", msg, len(got))
		}
	}
}

// TestPeerTopicsBounded: a peer announcing thousands of topics is
// remembered for maxPeerTopics of them at most.
func TestPeerTopicsBounded(t *testing.T) {
	tg := newTestGroup(t)
	a := start(t, loopbackConfig(t, tg.a), tg.replica(t, tg.a))
	s := newRawPeer(t, newMember(t))
	s.connect(t, a)
	for i := range maxPeerTopics + 500 {
		tp, err := s.ps.Join(fmt.Sprintf("/junk/%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tp.Relay(); err != nil { // announces the topic
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "the announcements to arrive", func() bool { return a.mesh.subs.count(s.h.ID()) >= maxPeerTopics })
	time.Sleep(500 * time.Millisecond)
	if n := a.mesh.subs.count(s.h.ID()); n != maxPeerTopics {
		t.Fatalf("%d topics of one peer remembered; the cap is %d", n, maxPeerTopics)
	}
}

// TestStrangersLoggedAtDebug: a libp2p node that speaks no mutual
// protocol (any laptop mDNS finds) fails every catch-up; that is not
// worth a line at info level. A member that fails one still is.
func TestStrangersLoggedAtDebug(t *testing.T) {
	var out logtest.Buffer
	tg := newTestGroup(t)
	cfg := loopbackConfig(t, tg.a)
	cfg.Logger = slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo}))
	a := start(t, cfg, tg.replica(t, tg.a))
	s := newRawPeer(t, newMember(t))
	s.connect(t, a)
	time.Sleep(300 * time.Millisecond) // the session at connect, if a runs it, has failed
	a.syncBackground(s.h.ID(), "test")
	if got := out.Lines("catch-up failed"); len(got) != 0 {
		t.Fatalf("a stranger's failed catch-up logged at info: %s", got[0])
	}
	m := newRawPeer(t, tg.b) // a member's key, without the sync protocol
	m.connect(t, a)
	time.Sleep(300 * time.Millisecond)
	a.syncBackground(m.h.ID(), "test")
	waitFor(t, 5*time.Second, "a member's failed catch-up logged at info", func() bool { return len(out.Lines("catch-up failed")) > 0 })
}
