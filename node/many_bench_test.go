package node_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node"
	"github.com/mutual-aid/mutual/node/catchup"
	"github.com/mutual-aid/mutual/node/p2p"
	"github.com/mutual-aid/mutual/node/replica"
)

// BenchmarkThousandGroups: three whole nodes (node.Serve: Badger, libp2p
// on loopback, the HTTP API) sharing G groups (1,000 by default;
// MUTUAL_BENCH_GROUPS), all three members of each. Set up offline: A
// founds the groups and invites B and C, who join; catch-up sessions
// over pipes make the three equal; then each node, offline, posts once
// in every group. The timed part starts the three (B dials A, C dials
// A and B) and waits until every group's digest is the same on all
// three. It reports:
//
//   - start-ms: A's time from Serve to ready (nothing else running);
//
//   - start-busy-ms: the longest of the three, B and C starting while
//     the others sync;
//
//   - converge-s: from the first start until all three hold all;
//
//   - first-cpu-% and first-KB/min: as idle-cpu-% and idle-KB/min
//     below, over the first MUTUAL_BENCH_FIRST seconds (default 180; 0
//     leaves it out) right after convergence: a node that was just
//     started, has converged and has nothing to do, while the DHT
//     rendezvous advertises its groups within its budget;
//
//   - idle-cpu-%: CPU per node while idle, in % of one core (the three
//     run in this process: its CPU time over the window, over three),
//     after a further pause of MUTUAL_BENCH_SETTLE (default 5 s), over
//     MUTUAL_BENCH_IDLE (default 65 s: two periodic sessions per pair
//     at least);
//
//   - idle-KB/min: bytes per node on its libp2p streams both ways
//     (gossip, catch-up, identify, the DHT; above Noise and yamux) per
//     minute over the same window.
//
//     go test -run '^$' -bench BenchmarkThousandGroups -benchtime 1x ./node/
func BenchmarkThousandGroups(b *testing.B) {
	groups := envInt(b, "MUTUAL_BENCH_GROUPS", 1000)
	idle := time.Duration(envInt(b, "MUTUAL_BENCH_IDLE", 65)) * time.Second
	first := time.Duration(envInt(b, "MUTUAL_BENCH_FIRST", 180)) * time.Second
	for range b.N {
		b.StopTimer()
		root := b.TempDir()
		dirs := []string{filepath.Join(root, "a"), filepath.Join(root, "b"), filepath.Join(root, "c")}
		t0 := time.Now()
		ids := thousandGroupsFixture(b, dirs, groups)
		b.Logf("set up %d groups on three nodes in %v", groups, time.Since(t0).Round(time.Second))

		b.StartTimer()
		start := time.Now()
		var nodes []*served
		var peers []string
		var startA, startMax time.Duration
		for i, dir := range dirs {
			t := time.Now()
			s := serveNode(b, string(rune('A'+i)), dir, peers...)
			startMax = max(startMax, time.Since(t))
			if i == 0 {
				startA = startMax
			}
			peers = append(peers, s.n.Host.Addrs()...)
			nodes = append(nodes, s)
		}
		waitConverged(b, ids, nodes, 10*time.Minute)
		converge := time.Since(start)
		b.StopTimer()

		// The first minutes after convergence, measured on their own: the
		// DHT rendezvous spends its budget then (issue 10 item 5: a node
		// just started that has converged is idle too).
		if first > 0 {
			cpu0, traffic0 := cpuTime(b), trafficOf(nodes)
			kinds0 := nodes[0].n.Host.Traffic()
			t1 := time.Now()
			time.Sleep(first)
			window := time.Since(t1)
			logKinds(b, "first", window, kinds0, nodes[0].n.Host.Traffic())
			cpu, traffic := cpuTime(b)-cpu0, trafficOf(nodes)-traffic0
			b.ReportMetric(100*cpu.Seconds()/window.Seconds()/3, "first-cpu-%")
			b.ReportMetric(float64(traffic)/1024/3/window.Minutes(), "first-KB/min")
		}
		// A settling pause: MUTUAL_BENCH_SETTLE seconds (default 5).
		time.Sleep(time.Duration(envInt(b, "MUTUAL_BENCH_SETTLE", 5)) * time.Second)
		if path := os.Getenv("MUTUAL_BENCH_IDLE_PROFILE"); path != "" {
			stop := cpuProfile(b, path)
			defer stop()
		}
		cpu0, traffic0 := cpuTime(b), trafficOf(nodes)
		kinds0 := nodes[0].n.Host.Traffic()
		t1 := time.Now()
		time.Sleep(idle)
		window := time.Since(t1)
		logKinds(b, "idle", window, kinds0, nodes[0].n.Host.Traffic())
		cpu, traffic := cpuTime(b)-cpu0, trafficOf(nodes)-traffic0
		b.ReportMetric(float64(startA.Milliseconds()), "start-ms")
		b.ReportMetric(float64(startMax.Milliseconds()), "start-busy-ms")
		b.ReportMetric(converge.Seconds(), "converge-s")
		b.ReportMetric(100*cpu.Seconds()/window.Seconds()/3, "idle-cpu-%")
		b.ReportMetric(float64(traffic)/1024/3/window.Minutes(), "idle-KB/min")
		for _, s := range nodes {
			s.stop()
		}
	}
}

// logKinds logs A's bytes in a window by kind (other: the DHT, identify
// and the rest).
func logKinds(b *testing.B, what string, window time.Duration, k0, k p2p.Traffic) {
	b.Logf("A's %s bytes in %v: gossip %d in %d out, catch-up %d in %d out, other %d in %d out", what, window.Round(time.Second),
		k.GossipIn-k0.GossipIn, k.GossipOut-k0.GossipOut, k.SyncIn-k0.SyncIn, k.SyncOut-k0.SyncOut,
		k.OtherIn-k0.OtherIn, k.OtherOut-k0.OtherOut)
}

// thousandGroupsFixture makes three data dirs sharing n groups (A
// founds them; B and C join with A's invites), equal, then one post per
// node per group made offline. It returns the groups.
func thousandGroupsFixture(tb testing.TB, dirs []string, n int) []crdt.ID {
	tb.Helper()
	ctx := context.Background()
	ls := make([]*node.Local, 3)
	for i, dir := range dirs {
		l, err := node.OpenLocal(dir, quietLogger())
		if err != nil {
			tb.Fatal(err)
		}
		defer l.Close()
		ls[i] = l
	}
	a := ls[0].Replica
	ids := make([]crdt.ID, n)
	parallel(tb, n, func(i int) error {
		g, err := a.CreateGroup(ctx, fmt.Sprint("group ", i))
		if err != nil {
			return err
		}
		ids[i] = g
		code, _, err := a.Invite(ctx, g, replica.InviteOptions{Role: crdt.RoleMember, TTL: time.Hour})
		if err != nil {
			return err
		}
		for _, l := range ls[1:] {
			if _, err := l.Replica.Join(ctx, code); err != nil {
				return err
			}
		}
		return nil
	})
	// Sessions over pipes until the three hold the same: the joins reach
	// A, which witnesses them, and the witnesses reach B and C.
	for _, pair := range [][2]int{{0, 1}, {0, 2}, {1, 2}, {0, 1}, {0, 2}} {
		x, y := ls[pair[0]], ls[pair[1]]
		c1, c2 := net.Pipe()
		var wg sync.WaitGroup
		var errX, errY error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, errX = catchup.Run(ctx, c1, x.Replica.Sync(), y.Replica.Self(), true)
			c1.Close()
		}()
		go func() {
			defer wg.Done()
			_, errY = catchup.Run(ctx, c2, y.Replica.Sync(), x.Replica.Self(), false)
			c2.Close()
		}()
		wg.Wait()
		if errX != nil || errY != nil {
			tb.Fatalf("setup session: %v / %v", errX, errY)
		}
	}
	for _, g := range ids {
		for _, l := range ls {
			if !l.Replica.IsMember(g, ls[1].Replica.Self()) || !l.Replica.IsMember(g, ls[2].Replica.Self()) {
				tb.Fatalf("group %s: B or C is not a member on every node", g.Short())
			}
		}
	}
	for i, l := range ls {
		parallel(tb, n, func(j int) error {
			_, _, err := l.Replica.CreatePost(ctx, ids[j], replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{
				Title: fmt.Sprintf("winter coats from node %d", i), Details: "for a family of four; pick-up at the hall on Saturday",
				Category: "clothing", Quantity: 4}})
			return err
		})
	}
	return ids
}

// parallel runs fn(0..n-1) on 32 goroutines, so that group commit
// batches the writes.
func parallel(tb testing.TB, n int, fn func(int) error) {
	tb.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var first atomic.Pointer[error]
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || first.Load() != nil {
					return
				}
				if err := fn(i); err != nil {
					first.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := first.Load(); err != nil {
		tb.Fatal(*err)
	}
}

// waitConverged waits until every group's digest is the same on every
// node.
func waitConverged(tb testing.TB, ids []crdt.ID, nodes []*served, within time.Duration) {
	tb.Helper()
	waitUntil(tb, within, "every group is the same on the three nodes", func() error {
		for _, g := range ids {
			d0, err := nodes[0].n.Local.Replica.Sync().Digest(g)
			if err != nil {
				return err
			}
			for _, s := range nodes[1:] {
				if d, _ := s.n.Local.Replica.Sync().Digest(g); d != d0 {
					return fmt.Errorf("group %s differs on %s", g.Short(), s.name)
				}
			}
		}
		return nil
	})
}

// cpuProfile writes a CPU profile to path until stop is called.
func cpuProfile(tb testing.TB, path string) (stop func()) {
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		tb.Fatal(err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// cpuTime is the process's user and system CPU time.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// trafficOf sums the bytes of the nodes' libp2p streams, both ways.
func trafficOf(nodes []*served) int64 {
	var n int64
	for _, s := range nodes {
		t := s.n.Host.Traffic()
		n += t.GossipIn + t.GossipOut + t.SyncIn + t.SyncOut + t.OtherIn + t.OtherOut
	}
	return n
}

// BenchmarkStartManyGroups: the time from node.Serve to ready of one
// node in G groups (300 by default; MUTUAL_BENCH_GROUPS), its data dir
// made once (thousandGroupsFixture's A), or kept in MUTUAL_BENCH_DIR.
//
//	go test -run '^$' -bench BenchmarkStartManyGroups ./node/
func BenchmarkStartManyGroups(b *testing.B) {
	groups := envInt(b, "MUTUAL_BENCH_GROUPS", 300)
	root := os.Getenv("MUTUAL_BENCH_DIR") // kept, to compare builds on one data dir
	if root == "" {
		root = b.TempDir()
	}
	dirs := []string{filepath.Join(root, "a"), filepath.Join(root, "b"), filepath.Join(root, "c")}
	if _, err := os.Stat(dirs[2]); err != nil {
		thousandGroupsFixture(b, dirs, groups)
	}
	b.ResetTimer()
	for range b.N {
		s := serveNode(b, "A", dirs[0])
		b.StopTimer()
		s.stop()
		b.StartTimer()
	}
}
