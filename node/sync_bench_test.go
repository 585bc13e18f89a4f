package node_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node"
	"github.com/mutual-aid/mutual/node/catchup"
	"github.com/mutual-aid/mutual/node/p2p"
	"github.com/mutual-aid/mutual/node/replica"
)

// BenchmarkLiveLatency: three nodes of one group served in this process
// (node.Serve: Badger with fsynced commits, libp2p on loopback, the HTTP
// API), mesh formed. Each iteration posts on A through its HTTP API and
// waits for the post's SSE event on B's API: the time from the POST to
// the event, which includes A's fsync, gossip, B's verification and
// fsync, and both HTTP layers.
func BenchmarkLiveLatency(b *testing.B) {
	na := serveNode(b, "A", b.TempDir())
	nb := serveNode(b, "B", b.TempDir())
	nc := serveNode(b, "C", b.TempDir())
	formGroup(b, na, nb, nc)
	meshed(b, na, nb, nc)
	ev := subscribe(b, nb)
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		p, err := na.post(ctx, fmt.Sprint("coats ", i))
		if err != nil {
			b.Fatal(err)
		}
		at, err := ev.wait(p.ID, 30*time.Second)
		if err != nil {
			b.Fatalf("post %d: %v", i, err)
		}
		lat = append(lat, at.Sub(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}

// catchupFixture is a group of two nodes on disk: A, the admin, holding
// n posts that B, a member who has synced once (B holds the genesis and
// its join, A holds B's join), lacks.
type catchupFixture struct {
	dirA, dirB string // B's dir is a template: copy it before use
	group      crdt.ID
	authorA    crdt.PublicKey
	idA        peer.ID
	fromSeq    uint64 // B holds A's ops up to this seq
	toSeq      uint64 // A's last seq
	opBytes    int64  // bytes of the ops B lacks (sum of len(raw))
}

// newCatchupFixture builds the fixture. B's peer ID is below A's, so B is
// the side that starts catch-up sessions with A.
func newCatchupFixture(tb testing.TB, root string, n int) *catchupFixture {
	tb.Helper()
	f := &catchupFixture{dirA: filepath.Join(root, "a"), dirB: filepath.Join(root, "b")}
	la, err := node.OpenLocal(f.dirA, quietLogger())
	if err != nil {
		tb.Fatal(err)
	}
	defer la.Close()
	f.idA = la.ID.PeerID
	var lb *node.Local
	for i := 0; ; i++ {
		dir := filepath.Join(root, fmt.Sprint("b", i))
		if lb, err = node.OpenLocal(dir, quietLogger()); err != nil {
			tb.Fatal(err)
		}
		if lb.ID.PeerID < la.ID.PeerID {
			f.dirB = dir
			break
		}
		lb.Close()
	}
	ctx := context.Background()
	if f.group, err = la.Replica.CreateGroup(ctx, "Eastgate Aid"); err != nil {
		tb.Fatal(err)
	}
	f.authorA = la.Replica.Self()
	code, _, err := la.Replica.Invite(context.Background(), f.group, replica.InviteOptions{Role: crdt.RoleMember, TTL: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := lb.Replica.Join(ctx, code); err != nil {
		lb.Close()
		tb.Fatal(err)
	}
	// The one sync B had before going offline: each side gets the other's
	// ops, through the same Ingest that catch-up uses.
	exchange := func(from, to *node.Local) {
		var raws [][]byte
		err := from.Replica.Sync().OpsAfter(f.group, from.Replica.Self(), 0, func(raw []byte) error {
			raws = append(raws, slices.Clone(raw))
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := to.Replica.Sync().Ingest(ctx, raws); err != nil {
			tb.Fatal(err)
		}
	}
	exchange(la, lb)
	exchange(lb, la)
	exchange(la, lb) // A's witness of B's join, made as the join arrived
	if !la.Replica.IsMember(f.group, lb.Replica.Self()) || !lb.Replica.IsMember(f.group, lb.Replica.Self()) {
		lb.Close()
		tb.Fatal("B's join did not take")
	}
	if err := lb.Close(); err != nil {
		tb.Fatal(err)
	}
	vv, _ := la.Replica.Sync().VersionVector(f.group)
	f.fromSeq = vv[f.authorA]

	// A's posts while B is offline: 32 writers, so the replica's group
	// commit batches them.
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				_, _, err := la.Replica.CreatePost(ctx, f.group, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{
					Title:    fmt.Sprintf("Post %d: winter coats, size L", i),
					Details:  "For a family of four; any colour is fine. Drop-off at the hall.",
					Category: fmt.Sprintf("cat%02d", i%20), Location: "Eastgate", Contact: "555-0100", Quantity: 4}})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	vv, _ = la.Replica.Sync().VersionVector(f.group)
	f.toSeq = vv[f.authorA]
	if f.toSeq != f.fromSeq+uint64(n) {
		tb.Fatalf("A's seq %d, want %d", f.toSeq, f.fromSeq+uint64(n))
	}
	err = la.Replica.Sync().OpsAfter(f.group, f.authorA, f.fromSeq, func(raw []byte) error {
		f.opBytes += int64(len(raw))
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// gatedReplica hides every group until open is set: a node whose host is
// up and connected, but that syncs nothing yet. It lets the benchmark
// connect the hosts and let the automatic sessions (on connect, after
// mesh) pass with nothing to do, then time exactly one SyncNow session.
type gatedReplica struct {
	catchup.Replica
	open atomic.Bool
}

func (g *gatedReplica) Groups() []crdt.ID {
	if !g.open.Load() {
		return nil
	}
	return g.Replica.Groups()
}

func (g *gatedReplica) MayRead(group crdt.ID, p crdt.PublicKey) bool {
	return g.open.Load() && g.Replica.MayRead(group, p)
}

func startHost(tb testing.TB, l *node.Local, r catchup.Replica) *p2p.Host {
	tb.Helper()
	h, err := p2p.Start(p2p.Config{
		Key:       l.ID.LibP2PKey(),
		Listen:    loopback,
		SyncEvery: time.Hour, // only the sessions the benchmark runs, and the automatic ones on connect
		Logger:    quietLogger(),
	}, r)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// copyDir copies a closed Badger data dir.
func copyDir(tb testing.TB, from, to string) {
	tb.Helper()
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		tb.Fatalf("cp: %v %s", err, out)
	}
}

// BenchmarkCatchup10k: B was offline while A made 10,000 posts; B's host
// connects to A's (real libp2p on loopback, TCP or QUIC) and one catch-up
// session (Host.SyncNow) brings B all 10,000, verified, stored and
// fsynced. Reports the session's seconds and its bytes on the stream (both
// directions, framing included; below libp2p's Noise and yamux framing)
// over the bytes of the missing ops.
func BenchmarkCatchup10k(b *testing.B) {
	const n = 10_000
	f := newCatchupFixture(b, b.TempDir(), n)
	la, err := node.OpenLocal(f.dirA, quietLogger())
	if err != nil {
		b.Fatal(err)
	}
	defer la.Close()
	ha := startHost(b, la, la.Replica.Sync())
	defer ha.Close()
	var secs, ratio float64
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), fmt.Sprint("b", i))
		copyDir(b, f.dirB, dir)
		lb, err := node.OpenLocal(dir, quietLogger())
		if err != nil {
			b.Fatal(err)
		}
		gr := &gatedReplica{Replica: lb.Replica.Sync()}
		hb := startHost(b, lb, gr)
		ctx := context.Background()
		if err := hb.Connect(ctx, ha.Addrs()[0]); err != nil {
			b.Fatal(err)
		}
		// Let the sessions on connect and "after mesh" (3 s ± 25%) run,
		// with nothing to sync.
		time.Sleep(4 * time.Second)
		gr.open.Store(true)
		b.StartTimer()
		t0 := time.Now()
		st, err := hb.SyncNow(ctx, f.idA)
		d := time.Since(t0)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		vv, _ := lb.Replica.Sync().VersionVector(f.group)
		if vv[f.authorA] != f.toSeq || st.NewOps != n {
			b.Fatalf("B holds A's ops to %d, want %d; session %+v", vv[f.authorA], f.toSeq, st)
		}
		secs += d.Seconds()
		ratio = float64(st.BytesSent+st.BytesReceived) / float64(f.opBytes)
		b.Logf("session %v: %+v; missing ops %d B (%.0f B/op); wire/ops %.4f", d.Round(time.Millisecond), st, f.opBytes, float64(f.opBytes)/n, ratio)
		hb.Close()
		lb.Close()
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(secs/float64(b.N), "s/catchup")
	b.ReportMetric(ratio, "wire/ops")
	b.ReportMetric(float64(n)*float64(b.N)/secs, "ops/s")
}

// TestCatchupRSS: B, offline while A made 100,000 posts, catches up in a
// process of its own, which then reports its peak resident set (VmHWM).
// The parent builds the data dirs and serves A; the child (this test run
// again with MUTUAL_RSS_CHILD=1) opens B, dials A and waits until it
// holds every op. Run it with MUTUAL_BENCH_RSS=1 (it takes a minute or
// more); MUTUAL_RSS_OPS overrides the 100,000.
func TestCatchupRSS(t *testing.T) {
	if os.Getenv("MUTUAL_RSS_CHILD") == "1" {
		catchupRSSChild(t)
		return
	}
	if os.Getenv("MUTUAL_BENCH_RSS") != "1" {
		t.Skip("a benchmark of a minute or more: set MUTUAL_BENCH_RSS=1 to run it")
	}
	n := 100_000
	if s := os.Getenv("MUTUAL_RSS_OPS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now()
	f := newCatchupFixture(t, t.TempDir(), n)
	t.Logf("fixture: %d posts on A in %v; missing ops %d B", n, time.Since(t0).Round(time.Millisecond), f.opBytes)
	la, err := node.OpenLocal(f.dirA, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer la.Close()
	ha := startHost(t, la, la.Replica.Sync())
	defer ha.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestCatchupRSS$", "-test.v", "-test.timeout=10m")
	cmd.Env = append(os.Environ(), "MUTUAL_RSS_CHILD=1",
		"MUTUAL_RSS_DIR="+f.dirB, "MUTUAL_RSS_PEER="+ha.Addrs()[0],
		"MUTUAL_RSS_GROUP="+f.group.String(), "MUTUAL_RSS_AUTHOR="+f.authorA.String(),
		"MUTUAL_RSS_SEQ="+fmt.Sprint(f.toSeq))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var hwm, secs, result string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "RSS_RESULT "); i >= 0 {
			result = line[i+len("RSS_RESULT "):]
			for _, kv := range strings.Fields(line[i+len("RSS_RESULT "):]) {
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "vmhwm_kb":
					hwm = v
				case "seconds":
					secs = v
				}
			}
		}
	}
	if hwm == "" {
		t.Fatalf("child reported no VmHWM:\n%s", out)
	}
	kb, _ := strconv.Atoi(hwm)
	t.Logf("child caught up on %d ops (%.1f MB of ops) in %s s; peak RSS (VmHWM) %.1f MB", n, float64(f.opBytes)/1e6, secs, float64(kb)/1024)
	t.Logf("child: %s", result)
	if kb > 300*1024 {
		t.Errorf("peak RSS %.1f MB, target < 300 MB", float64(kb)/1024)
	}
}

func catchupRSSChild(t *testing.T) {
	dir := os.Getenv("MUTUAL_RSS_DIR")
	want, _ := strconv.ParseUint(os.Getenv("MUTUAL_RSS_SEQ"), 10, 64)
	l, err := node.OpenLocal(dir, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var g crdt.ID
	var author crdt.PublicKey
	for _, gi := range l.Replica.Groups() {
		if gi.ID.String() == os.Getenv("MUTUAL_RSS_GROUP") {
			g = gi.ID
		}
		for _, m := range gi.Members {
			if m.Key.String() == os.Getenv("MUTUAL_RSS_AUTHOR") {
				author = m.Key
			}
		}
	}
	if g.IsZero() || author == (crdt.PublicKey{}) {
		t.Fatal("child: group or author not found in B's data dir")
	}
	h := startHost(t, l, l.Replica.Sync())
	defer h.Close()
	rssBefore := procStatus("VmRSS:")
	// Sample the Go heap while catching up, to tell Go's memory from
	// Badger's mmaps and the runtime's overhead.
	var peakHeap, peakSys atomic.Uint64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakHeap.Load() {
				peakHeap.Store(ms.HeapInuse)
			}
			if ms.Sys > peakSys.Load() {
				peakSys.Store(ms.Sys)
			}
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
		}
	}()
	t0 := time.Now()
	ctx := context.Background()
	// Connecting starts a catch-up session (B starts them: its peer ID is
	// the smaller); if one ends early, the next SyncNow resumes.
	if err := h.Connect(ctx, os.Getenv("MUTUAL_RSS_PEER")); err != nil {
		t.Fatal(err)
	}
	ai, err := peer.AddrInfoFromString(os.Getenv("MUTUAL_RSS_PEER"))
	if err != nil {
		t.Fatal(err)
	}
	for {
		vv, _ := l.Replica.Sync().VersionVector(g)
		if vv[author] >= want {
			break
		}
		if time.Since(t0) > 5*time.Minute {
			t.Fatalf("child: holds %d of %d after 5 min", vv[author], want)
		}
		if _, err := h.SyncNow(ctx, ai.ID); err != nil {
			t.Logf("child: session: %v", err)
			time.Sleep(100 * time.Millisecond)
		}
	}
	d := time.Since(t0)
	if prof := os.Getenv("MUTUAL_RSS_HEAPPROFILE"); prof != "" {
		if fh, err := os.Create(prof); err == nil {
			pprof.Lookup("heap").WriteTo(fh, 0)
			fh.Close()
		}
	}
	close(stopSampling)
	<-sampled
	fmt.Printf("RSS_RESULT vmhwm_kb=%s seconds=%.2f rss_before_kb=%s peak_heap_inuse_kb=%d peak_go_sys_kb=%d\n",
		procStatus("VmHWM:"), d.Seconds(), rssBefore, peakHeap.Load()>>10, peakSys.Load()>>10)
}

// procStatus returns a field of /proc/self/status, in kB.
func procStatus(field string) string {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			return strings.TrimSuffix(strings.TrimSpace(v), " kB")
		}
	}
	return "?"
}
