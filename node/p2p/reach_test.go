package p2p

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
	"github.com/mutual-aid/mutual/protocol"
)

// fastRendezvous shortens the rendezvous rounds for a test.
func fastRendezvous(t *testing.T) {
	first, lo := rendezvousFirst, rendezvousMin
	rendezvousFirst, rendezvousMin = 100*time.Millisecond, 300*time.Millisecond
	t.Cleanup(func() { rendezvousFirst, rendezvousMin = first, lo })
}

// bigPosts signs n posts of about 1 KiB each by m.
func bigPosts(t *testing.T, m *member, g crdt.ID, n int) [][]byte {
	var out [][]byte
	for i := range n {
		_, raw := m.sign(t, g, crdt.PostCreate{PostKind: crdt.Offer, Fields: crdt.Fields{
			Title: fmt.Sprintf("post %d", i), Details: strings.Repeat("winter coats, size L. ", 45)}})
		out = append(out, raw)
	}
	return out
}

func opBytes(raws [][]byte) int {
	n := 0
	for _, r := range raws {
		n += len(r)
	}
	return n
}

func ingest(t *testing.T, r *catchup.MemoryReplica, raws [][]byte) {
	t.Helper()
	if _, err := r.Ingest(context.Background(), raws); err != nil {
		t.Fatal(err)
	}
}

func connectedTo(a, b *Host) bool {
	return len(a.host.Network().ConnsToPeer(b.ID())) > 0
}

// Two hosts that know only a third, which is in none of their groups,
// find each other through the DHT rendezvous of the group they share,
// and sync. With many groups: B also holds 300 groups whose other
// member, C, is connected to it, and the rendezvous budget is small
// (advertising those 300 would take about an hour at it): B advertises
// the lonely group first, so A still finds B under the group's key at
// once, by its own lookups; A and B refuse each other until then, so
// that the DHT's own traffic does not connect them first.
func TestDHTRendezvous(t *testing.T) {
	t.Run("one group", func(t *testing.T) { testDHTRendezvous(t, 0) })
	t.Run("300 groups read elsewhere, small budget", func(t *testing.T) { testDHTRendezvous(t, 300) })
}

func testDHTRendezvous(t *testing.T, extra int) {
	fastRendezvous(t)
	if extra > 0 {
		rate, burst, reserve := rvRate, rvBurst, rvReserve
		rvRate, rvBurst, rvReserve = 2<<10, 8<<10, 4<<10
		t.Cleanup(func() { rvRate, rvBurst, rvReserve = rate, burst, reserve })
	}
	tg := newTestGroup(t)
	boot := newMember(t)
	c := start(t, withDHT(loopbackConfig(t, boot)), catchup.NewMemoryReplica(boot.pub, nowMillis))
	ra, rb := tg.replica(t, tg.a), tg.replica(t, tg.b)
	ingest(t, rb, [][]byte{tg.b.post(t, tg.id, "coats at B")})
	cfgA, cfgB := withDHT(loopbackConfig(t, tg.a)), withDHT(loopbackConfig(t, tg.b))
	cfgA.Bootstrap, cfgB.Bootstrap = []string{c.Addrs()[0]}, []string{c.Addrs()[0]}
	var apart atomic.Bool
	if extra > 0 {
		// C founds the groups, B joins them; C is connected to B from
		// B's start (a kept peer), with no DHT.
		other := newMember(t)
		rc := catchup.NewMemoryReplica(other.pub, nowMillis)
		sharedGroups(t, extra, other, tg.b, rc, rb)
		hc := start(t, loopbackConfig(t, other), rc)
		cfgB.Peers = []string{hc.Addrs()[0]}
		apart.Store(true)
		ida, idb := peerIDOf(t, tg.a), peerIDOf(t, tg.b)
		cfgA.refuse = func(p peer.ID, _ ma.Multiaddr) bool { return apart.Load() && p == idb }
		cfgB.refuse = func(p peer.ID, _ ma.Multiaddr) bool { return apart.Load() && p == ida }
	}
	a := start(t, cfgA, ra)
	b := start(t, cfgB, rb)

	if extra > 0 {
		waitFor(t, 30*time.Second, "A's own lookups to find B under the group's rendezvous key", func() bool {
			return a.rvFound.Load() > 0
		})
		t.Logf("B made %d DHT queries (%d bytes) by then", b.rv.queries.Load(), b.rv.spent.Load())
		apart.Store(false)
	}
	waitFor(t, 30*time.Second, "A and B to find each other and sync", func() bool {
		return connectedTo(a, b) && converged(tg.id, len(tg.setup)+1, ra, rb)
	})
	// The DHT's own traffic may have connected them first (A's queries
	// reach B through C): whichever way, each is found under the group's
	// rendezvous key, which is what a node the DHT does not happen to
	// connect relies on.
	waitFor(t, 10*time.Second, "A to find B under the group's rendezvous key", func() bool {
		before := a.rvFound.Load()
		a.lookup(a.rv, tg.id)
		return a.rvFound.Load() > before
	})
	// The bootstrap node, in no group, learns nothing of the group.
	if n := c.r.(*catchup.MemoryReplica).Len(tg.id); n != 0 {
		t.Fatalf("the bootstrap node holds %d ops of the group", n)
	}
	for _, p := range a.Peers() {
		if p.ID == b.ID() && p.Via != ViaLAN {
			t.Errorf("B is reached %q, want %q (loopback)", p.Via, ViaLAN)
		}
	}
}

func peerIDOf(t *testing.T, m *member) peer.ID {
	id, err := PeerIDOf(m.pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// sharedGroups makes n groups founded by founder and joined by joiner
// (each with its own seqs, the same keys), held by every replica given.
func sharedGroups(t *testing.T, n int, founder, joiner *member, rs ...*catchup.MemoryReplica) []crdt.ID {
	var groups []crdt.ID
	for i := range n {
		f, j := &member{key: founder.key, pub: founder.pub}, &member{key: joiner.key, pub: joiner.pub}
		gen, graw := f.sign(t, crdt.ID{}, crdt.Genesis{Name: fmt.Sprint("group ", i), AuthorName: "f"})
		inv, secret, err := protocol.NewInvite(crdt.Invite{Group: gen.ID, Role: crdt.RoleMember, Expires: nowMillis() + time.Hour.Milliseconds()}, founder.key)
		if err != nil {
			t.Fatal(err)
		}
		join, jraw := j.sign(t, gen.ID, crdt.Join{Invite: inv, Name: "j", Proof: protocol.ProveJoin(&inv, secret, joiner.pub)})
		_, admit := f.sign(t, gen.ID, crdt.Admit{Join: join.ID})
		for _, r := range rs {
			r.AddGroup(gen.ID)
			ingest(t, r, [][]byte{graw, jraw, admit})
		}
		groups = append(groups, gen.ID)
	}
	return groups
}

func withDHT(cfg Config) Config {
	cfg.DHT = true
	return cfg
}

// A host that can reach another only through a relay (its gater refuses
// every direct connection between them) syncs a board several times the
// relay's data limit, across several relayed connections: each session
// stores the batches that arrived before the relay cut it, and the next
// one resumes.
func TestRelayOnlyPathSyncs(t *testing.T) {
	batch := limitedBatch
	limitedBatch = 4 << 10
	t.Cleanup(func() { limitedBatch = batch })

	tg := newTestGroup(t)
	relayKey := newMember(t)
	cfgR := loopbackConfig(t, relayKey)
	cfgR.Relay = true
	const relayData = 32 << 10
	cfgR.relayLimit = &relayv2.RelayLimit{Duration: 2 * time.Minute, Data: relayData}
	r := start(t, cfgR, catchup.NewMemoryReplica(relayKey.pub, nowMillis))

	ra, rb := tg.replica(t, tg.a), tg.replica(t, tg.b)
	posts := bigPosts(t, tg.b, tg.id, 120) // ~137 KiB: over four times the limit
	ingest(t, rb, posts)
	want := len(tg.setup) + len(posts)

	aID, _ := PeerIDOf(tg.a.pub)
	bID, _ := PeerIDOf(tg.b.pub)
	direct := func(other peer.ID) func(peer.ID, ma.Multiaddr) bool {
		return func(p peer.ID, a ma.Multiaddr) bool { return p == other && !isRelayed(a) }
	}
	cfgB := loopbackConfig(t, tg.b)
	cfgB.forcePrivate = true // behind NAT: reserve a slot at the relay
	cfgB.Peers = []string{r.Addrs()[0]}
	cfgB.refuse = direct(aID)
	b := start(t, cfgB, rb)
	// AutoRelay advertises circuit addresses only through relays with a
	// public address; on loopback, A is given the circuit address by hand
	// (its dialler retries until B's reservation is in place).
	waitFor(t, 10*time.Second, "B connected to the relay", func() bool { return connectedTo(b, r) })
	circuit := r.Addrs()[0] + "/p2p-circuit/p2p/" + bID.String()

	cfgA := loopbackConfig(t, tg.a)
	cfgA.Peers = []string{circuit}
	cfgA.refuse = direct(bID)
	t0 := time.Now()
	a := start(t, cfgA, ra)
	waitFor(t, 60*time.Second, "A to hold B's board", func() bool { return converged(tg.id, want, ra, rb) })
	t.Logf("%d ops (%d KiB) over %d relayed connections in %v", len(posts), opBytes(posts)>>10, a.limitedConns.Load(), time.Since(t0).Round(time.Millisecond))

	// Each relayed connection carries at most the data limit from B to
	// A, framing included, so the ops alone need this many at least.
	if n, need := a.limitedConns.Load(), int64((opBytes(posts)+relayData-1)/relayData); n < need {
		t.Errorf("the board (%d KiB of ops) came over %d relayed connections; with a %d KiB limit it needs at least %d", opBytes(posts)>>10, n, relayData>>10, need)
	}
	for _, c := range a.host.Network().ConnsToPeer(bID) {
		if !c.Stat().Limited {
			t.Fatalf("a direct connection from A to B: %s", c.RemoteMultiaddr())
		}
	}
	// GossipSub does not use a relayed connection.
	if slices.Contains(a.ps.ListPeers(""), bID) {
		t.Error("A's pubsub counts B, reached only through the relay")
	}
	if via := peerVia(a, bID); via != ViaRelayed && via != "" {
		t.Errorf("B is reached %q, want %q", via, ViaRelayed)
	}
	// The relay, in no group, holds nothing of it.
	if n := r.r.(*catchup.MemoryReplica).Len(tg.id); n != 0 {
		t.Fatalf("the relay holds %d ops of the group", n)
	}
	// A new post of B reaches A at once, pushed by catch-up (gossip does
	// not cross the relay; the periodic session is a minute away).
	waitFor(t, 10*time.Second, "A reached through the relay again", func() bool { return b.onlyLimited(aID) })
	post := tg.b.post(t, tg.id, "one more coat")
	ingest(t, rb, [][]byte{post})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.PublishStored(ctx, tg.id, [][]byte{post}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "A to get B's new post", func() bool { return converged(tg.id, want+1, ra, rb) })
	waitFor(t, 10*time.Second, "B's push session to end", func() bool { return b.pushes.Load() > 0 })
}

// A peer first reached through a relay is dialled directly once it
// announces a direct address (over the relayed connection, by identify):
// gossip and catch-up move to the direct connection.
func TestRelayedPeerUpgradesToDirect(t *testing.T) {
	after := upgradeAfter
	upgradeAfter = 300 * time.Millisecond
	t.Cleanup(func() { upgradeAfter = after })
	tg := newTestGroup(t)
	relayKey := newMember(t)
	cfgR := loopbackConfig(t, relayKey)
	cfgR.Relay = true
	r := start(t, cfgR, catchup.NewMemoryReplica(relayKey.pub, nowMillis))
	ra, rb := tg.replica(t, tg.a), tg.replica(t, tg.b)
	ingest(t, rb, [][]byte{tg.b.post(t, tg.id, "coats at B")})
	bID, _ := PeerIDOf(tg.b.pub)
	cfgB := loopbackConfig(t, tg.b)
	cfgB.forcePrivate = true
	cfgB.Peers = []string{r.Addrs()[0]}
	b := start(t, cfgB, rb)
	waitFor(t, 10*time.Second, "B connected to the relay", func() bool { return connectedTo(b, r) })
	cfgA := loopbackConfig(t, tg.a)
	cfgA.Peers = []string{r.Addrs()[0] + "/p2p-circuit/p2p/" + bID.String()}
	a := start(t, cfgA, ra)
	waitFor(t, 20*time.Second, "a direct connection from A to B", func() bool {
		for _, c := range a.host.Network().ConnsToPeer(bID) {
			if !c.Stat().Limited {
				return true
			}
		}
		return false
	})
	if a.limitedConns.Load() == 0 {
		t.Fatal("A reached B directly without going through the relay first")
	}
	waitMesh(t, tg.id, a, b)
	waitFor(t, 10*time.Second, "A to hold B's post", func() bool { return converged(tg.id, len(tg.setup)+1, ra, rb) })
	if via := peerVia(a, bID); via != ViaLAN {
		t.Errorf("B is reached %q, want %q", via, ViaLAN)
	}
}

func peerVia(h *Host, p peer.ID) string {
	for _, pi := range h.Peers() {
		if pi.ID == p {
			return pi.Via
		}
	}
	return ""
}

// Peer exchange: A knows B, C knows B, all three in a group. B tells each
// where the other is, and they connect; a stranger connected to B is
// told nothing.
func TestPeerExchange(t *testing.T) {
	tg := newTestGroup(t)
	ra, rb, rc := tg.replica(t, tg.a), tg.replica(t, tg.b), tg.replica(t, tg.c)
	b := start(t, loopbackConfig(t, tg.b), rb)
	cfgA, cfgC := loopbackConfig(t, tg.a), loopbackConfig(t, tg.c)
	cfgA.Peers, cfgC.Peers = []string{b.Addrs()[0]}, []string{b.Addrs()[0]}
	a := start(t, cfgA, ra)
	c := start(t, cfgC, rc)
	stranger := newMember(t)
	cfgS := loopbackConfig(t, stranger)
	cfgS.Peers = []string{b.Addrs()[0]}
	s := start(t, cfgS, catchup.NewMemoryReplica(stranger.pub, nowMillis))

	waitFor(t, 30*time.Second, "A and C connected", func() bool { return connectedTo(a, c) })
	if a.pexDials.Load()+c.pexDials.Load() == 0 {
		t.Fatal("A and C connected, but not by peer exchange")
	}
	// Let B's sessions with the stranger run (one at connect, another
	// after the mesh), then check it learned nothing.
	waitFor(t, 10*time.Second, "B to sync with the stranger", func() bool {
		for _, p := range b.Peers() {
			if p.ID == s.ID() && !p.LastSynced.IsZero() {
				return true
			}
		}
		return false
	})
	if pp := b.pexFor(s.ID(), stranger.pub); len(pp) != 0 {
		t.Fatalf("B would tell a stranger about %d peers", len(pp))
	}
	if connectedTo(s, a) || connectedTo(s, c) || s.pexDials.Load() != 0 {
		t.Fatal("the stranger reached A or C")
	}
}

// With no reachable peer at all — bootstrap and kept addresses that
// refuse — a node starts at once, serves its board to a node that dials
// it, logs a bounded number of lines, uses little CPU and closes at
// once. With the public IPFS DHT too (Config.PublicDHT, `serve
// --public-dht`), whose bootstrap nodes are then out of reach: a name
// that does not resolve, an address that refuses and one that never
// answers (TEST-NET-3; MUTUAL_TEST_PUBLIC_DHT=real uses libp2p's real
// list instead, for a machine known to be offline). Its 3 s cover the
// start only: cmd/mutual/meshtest's TestMeshNoInternet watches whole
// nodes with no route out past their retry periods (minutes).
func TestNoInternet(t *testing.T) {
	t.Run("own DHT", func(t *testing.T) { testNoInternet(t, false) })
	t.Run("public DHT too", func(t *testing.T) { testNoInternet(t, true) })
}

func testNoInternet(t *testing.T, public bool) {
	fastRendezvous(t)
	tg := newTestGroup(t)
	ra, rb := tg.replica(t, tg.a), tg.replica(t, tg.b)
	ingest(t, ra, [][]byte{tg.a.post(t, tg.id, "coats at A")})
	refusing := refusingAddrs(t, 4)
	if public && os.Getenv("MUTUAL_TEST_PUBLIC_DHT") != "real" {
		pub := publicBootstrap
		publicBootstrap = func() []peer.AddrInfo {
			var out []peer.AddrInfo
			for _, a := range []string{
				"/dnsaddr/bootstrap.invalid/p2p/" + peerIDOf(t, newMember(t)).String(),
				refusing[3],
				"/ip4/203.0.113.1/tcp/4001/p2p/" + peerIDOf(t, newMember(t)).String(),
			} {
				ai, err := peer.AddrInfoFromString(a)
				if err != nil {
					t.Error(err)
					continue
				}
				out = append(out, *ai)
			}
			return out
		}
		t.Cleanup(func() { publicBootstrap = pub })
	}
	lines := &countingHandler{}
	cfg := withDHT(loopbackConfig(t, tg.a))
	cfg.Bootstrap = refusing[:2]
	cfg.Peers = refusing[2:3]
	cfg.PublicDHT = public
	cfg.Logger = slog.New(lines)
	var ru0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	t0 := time.Now()
	var a *Host
	within(t, 30*time.Second, "Start", func() {
		var err error
		if a, err = Start(cfg, ra); err != nil {
			t.Error(err)
		}
	})
	if a == nil {
		t.FailNow()
	}
	t.Cleanup(func() { a.Close() })
	if want := map[bool]int{false: 1, true: 2}[public]; len(a.rv.dhts) != want {
		t.Fatalf("%d DHTs, want %d", len(a.rv.dhts), want)
	}
	started := time.Since(t0)
	time.Sleep(noInternetWindow)
	var ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	wall := time.Since(t0)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
	t.Logf("no internet, public DHT %v: started in %v; in %v: %d log lines at info or above, %v of CPU", public,
		started.Round(time.Millisecond), wall.Round(time.Millisecond), lines.n.Load(), cpu.Round(time.Millisecond))
	t.Logf("the lines: %q", lines.all())
	if n := lines.n.Load(); n > 3 {
		t.Errorf("%d log lines at info or above in %v with nothing reachable:\n%s", n, wall, strings.Join(lines.all(), "\n"))
	}
	if cpu > wall/4 {
		t.Errorf("%v of CPU in %v with nothing reachable", cpu, wall)
	}
	// It serves its board all the same.
	b := start(t, loopbackConfig(t, tg.b), rb)
	connect(t, b, a)
	waitFor(t, 10*time.Second, "B to get A's board", func() bool { return converged(tg.id, len(tg.setup)+1, ra, rb) })
	// Its rendezvous made no query, having no DHT to ask: the loop only
	// looked at the routing tables.
	if n := a.rv.queries.Load(); n != 0 {
		t.Errorf("%d DHT queries with nothing reachable", n)
	}
	within(t, 30*time.Second, "Close", func() {
		if err := a.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

// noInternetWindow is how long TestNoInternet watches (a variable, to
// watch longer by hand).
var noInternetWindow = 3 * time.Second

// refusingAddrs returns n multiaddrs of loopback ports where nothing
// listens (dials are refused), each with a peer ID.
func refusingAddrs(t *testing.T, n int) []string {
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close() // nothing listens there now: dials are refused
		host, port, _ := net.SplitHostPort(addr)
		out = append(out, fmt.Sprintf("/ip4/%s/tcp/%s/p2p/%s", host, port, peerIDOf(t, newMember(t))))
	}
	return out
}

// within runs fn, failing the test if it has not returned after d (a
// hang, not a slow machine: d is many times what fn takes).
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s has not returned after %v", what, d)
	}
}

// countingHandler counts records at Info and above.
type countingHandler struct {
	n     atomic.Int64
	mu    sync.Mutex
	lines []string
}

func (c *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (c *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelInfo {
		c.n.Add(1)
		c.mu.Lock()
		c.lines = append(c.lines, r.Time.Format("15:04:05.000")+" "+r.Level.String()+" "+r.Message)
		c.mu.Unlock()
	}
	return nil
}
func (c *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *countingHandler) WithGroup(string) slog.Handler      { return c }
func (c *countingHandler) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.lines)
}
