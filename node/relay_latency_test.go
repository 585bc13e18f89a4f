package node_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkRelayLatency measures live latency for every ordered pair of
// three nodes served in this process, in the topology `mutual invite` /
// `mutual join` makes: A founds the group, B and C join with A's invite
// and dial A. Once the gossip mesh has formed (meshed: A's posts reach B
// and C by gossip), each iteration is a round that posts once on A, B and
// C in turn, through the HTTP API, and waits for the post's SSE event on
// the two other nodes. The latency of a pair X→Y is from the POST on X to
// the event on Y: X's fsync, gossip (relayed by A when X and Y are B and
// C), Y's verification and fsync, both HTTP layers.
//
// It logs p50/p99/max per pair and how many posts took over 100 ms (a
// delivery paced by GossipSub's heartbeat, IHAVE/IWANT, or by a catch-up
// session, not by the mesh), and reports p50 and p99 as metrics, over the
// pairs with A ("a-") and over B→C and C→B ("bc-": relayed by A unless
// peer exchange connected B and C, which it does by now: the log shows
// the topology). It fails if a post does not reach every
// node within 45 s (a behaviour, not a timing), and, only if
// MUTUAL_RELAY_P99_MS sets a limit, if a pair's p99 is over it.
//
//	go test ./node -run '^$' -bench '^BenchmarkRelayLatency$' -benchtime 200x -count=1
//
// MUTUAL_RELAY_GAP_MS sets a pause before each post (default 0: each post
// follows the last delivery at once); MUTUAL_RELAY_OUT a file for every
// measurement ("pair latency-µs relay-hop-µs", -1 where there is no relay
// hop). (It was TestRelayLatency until session 8: a measurement that ran
// 600 posts in every test run.)
func BenchmarkRelayLatency(b *testing.B) {
	limit := time.Duration(envInt(b, "MUTUAL_RELAY_P99_MS", 0)) * time.Millisecond // figures are reported, not asserted, unless asked
	gap := time.Duration(envInt(b, "MUTUAL_RELAY_GAP_MS", 0)) * time.Millisecond

	a := serveNode(b, "A", b.TempDir())
	bn := serveNode(b, "B", b.TempDir())
	c := serveNode(b, "C", b.TempDir())
	formGroup(b, a, bn, c)
	meshed(b, a, bn, c)
	nodes := []*served{a, bn, c}

	// The topology: who is connected to whom.
	for _, s := range nodes {
		var conn []string
		for _, p := range s.n.Host.Peers() {
			if !p.Connected {
				continue
			}
			for _, o := range nodes {
				if o.n.Host.ID() == p.ID {
					conn = append(conn, o.name)
				}
			}
		}
		slices.Sort(conn)
		b.Logf("%s (%s) is connected to %v", s.name, s.n.Host.ID(), conn)
	}

	evs := map[string]*events{}
	for _, s := range nodes {
		evs[s.name] = subscribe(b, s)
	}
	lat := map[string][]time.Duration{}
	// hop: for a post on B or C, from its arrival on A to its arrival on
	// the other: the relay hop through A alone.
	hop := map[string][]time.Duration{}
	var raw strings.Builder // pair, latency µs, relay hop µs (-1 if none)
	ctx := context.Background()
	t0 := time.Now()
	b.ResetTimer()
	for i := range b.N {
		for _, from := range nodes {
			time.Sleep(gap)
			start := time.Now()
			p, err := from.post(ctx, fmt.Sprintf("relay %s %d", from.name, i))
			if err != nil {
				b.Fatal(err)
			}
			arrived := map[string]time.Time{}
			for _, to := range nodes {
				if to == from {
					continue
				}
				at, err := evs[to.name].wait(p.ID, 45*time.Second)
				if err != nil {
					b.Fatalf("round %d, %s→%s: %v", i, from.name, to.name, err)
				}
				arrived[to.name] = at
			}
			for _, to := range nodes {
				if to == from {
					continue
				}
				pair := from.name + "→" + to.name
				d := arrived[to.name].Sub(start)
				lat[pair] = append(lat[pair], d)
				h := time.Duration(-1)
				if from != a && to != a {
					h = arrived[to.name].Sub(arrived[a.name])
					hop[pair] = append(hop[pair], h)
				}
				hopUS := int64(-1)
				if h >= 0 {
					hopUS = h.Microseconds()
				}
				fmt.Fprintf(&raw, "%s %d %d\n", pair, d.Microseconds(), hopUS)
				if d > 100*time.Millisecond {
					b.Logf("round %d, %s: %v, relay hop %v (posted %s, %v after the mesh check)", i, pair,
						d.Round(time.Millisecond), h.Round(time.Millisecond), start.Format("15:04:05.000"), start.Sub(t0).Round(time.Millisecond))
				}
			}
		}
	}
	b.StopTimer()
	b.Logf("%d rounds in %v", b.N, time.Since(t0).Round(time.Millisecond))
	if out := os.Getenv("MUTUAL_RELAY_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(raw.String()), 0o644); err != nil {
			b.Error(err)
		}
	}

	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) }
	pct := func(l []time.Duration, p float64) time.Duration { return l[int(p*float64(len(l)-1))] }
	var report strings.Builder
	fmt.Fprintf(&report, "\n%-6s %6s %9s %9s %9s %9s   %s", "pair", "posts", "p50 ms", "p99 ms", "max ms", ">100 ms", "relay hop via A: p50/p99/max ms, >100 ms")
	var over []string
	var withA, bc []time.Duration // the pairs' latencies: with A, and between B and C
	for _, pair := range []string{"A→B", "A→C", "B→A", "B→C", "C→A", "C→B"} {
		l := lat[pair]
		if pair == "B→C" || pair == "C→B" {
			bc = append(bc, l...)
		} else {
			withA = append(withA, l...)
		}
		slices.Sort(l)
		slow := 0
		for _, d := range l {
			if d > 100*time.Millisecond {
				slow++
			}
		}
		fmt.Fprintf(&report, "\n%-6s %6d %9s %9s %9s %9d", pair, len(l), ms(pct(l, 0.5)), ms(pct(l, 0.99)), ms(l[len(l)-1]), slow)
		if h := hop[pair]; len(h) > 0 {
			slices.Sort(h)
			slowHops := 0
			for _, d := range h {
				if d > 100*time.Millisecond {
					slowHops++
				}
			}
			fmt.Fprintf(&report, "   %s/%s/%s, %d", ms(pct(h, 0.5)), ms(pct(h, 0.99)), ms(h[len(h)-1]), slowHops)
		}
		if limit > 0 && pct(l, 0.99) > limit {
			over = append(over, fmt.Sprintf("%s p99 %s ms", pair, ms(pct(l, 0.99))))
		}
	}
	b.Log(report.String())
	slices.Sort(withA)
	slices.Sort(bc)
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	b.ReportMetric(us(pct(withA, 0.5)), "a-p50-µs")
	b.ReportMetric(us(pct(withA, 0.99)), "a-p99-µs")
	b.ReportMetric(us(pct(bc, 0.5)), "bc-p50-µs")
	b.ReportMetric(us(pct(bc, 0.99)), "bc-p99-µs")
	if len(over) > 0 {
		b.Errorf("p99 over %v: %s", limit, strings.Join(over, ", "))
	}
}

func envInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		tb.Fatalf("%s=%q: %v", name, s, err)
	}
	return n
}
