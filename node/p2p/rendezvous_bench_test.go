package p2p

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
)

// BenchmarkDHTQueryBytes measures what one rendezvous query costs on
// the wire in mutual's DHT of n nodes on loopback (3 and 20), all in
// server mode, joined through the first: an advertisement (Provide) and
// a lookup (FindProviders, providersPerLookup asked for) of a group key
// that nobody else advertises, from a node taking turns. It reports
// the bytes sent over all the nodes' streams per query (every byte
// counted once, on the sender; identify and the rest included), which
// is what the rendezvous budget is sized on: with every node spending
// R queries a minute, each node sends and receives 2·R·B a minute.
//
//	go test -run '^$' -bench BenchmarkDHTQueryBytes -benchtime 200x ./node/p2p/
func BenchmarkDHTQueryBytes(b *testing.B) {
	for _, n := range []int{3, 20} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			hs := dhtNet(b, n)
			for _, kind := range []string{"provide", "lookup"} {
				b.Run(kind, func(b *testing.B) {
					sent := func() int64 {
						var s int64
						for _, h := range hs {
							t := h.Traffic()
							s += t.GossipOut + t.SyncOut + t.OtherOut
						}
						return s
					}
					b.ResetTimer()
					s0 := sent()
					for i := range b.N {
						h := hs[i%len(hs)]
						var g crdt.ID
						rand.Read(g[:])
						ctx, cancel := context.WithTimeout(context.Background(), dhtQueryTimeout)
						if kind == "provide" {
							if err := h.rv.dhts[0].Provide(ctx, RendezvousKey(g), true); err != nil {
								b.Fatal(err)
							}
						} else {
							for range h.rv.dhts[0].FindProvidersAsync(ctx, RendezvousKey(g), providersPerLookup) {
							}
						}
						cancel()
					}
					b.ReportMetric(float64(sent()-s0)/float64(b.N), "wire-B/query")
				})
			}
		})
	}
}

// dhtNet starts n hosts with the DHT, in no group, all bootstrapped
// through the first, and waits until each has the others in its routing
// table (or 20 of them) and one lookup each has run.
func dhtNet(tb testing.TB, n int) []*Host {
	var hs []*Host
	for i := range n {
		m := newMember(tb)
		cfg := withDHT(loopbackConfig(tb, m))
		if i > 0 {
			cfg.Bootstrap = []string{hs[0].Addrs()[0]}
		}
		hs = append(hs, start(tb, cfg, catchup.NewMemoryReplica(m.pub, nowMillis)))
	}
	for _, h := range hs[1:] {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := h.rv.dhts[0].Bootstrap(ctx); err != nil {
			tb.Fatal(err)
		}
		cancel()
	}
	for _, h := range hs {
		var g crdt.ID
		rand.Read(g[:])
		ctx, cancel := context.WithTimeout(context.Background(), dhtQueryTimeout)
		for range h.rv.dhts[0].FindProvidersAsync(ctx, RendezvousKey(g), providersPerLookup) {
		}
		cancel()
	}
	want := min(n-1, 20)
	waitFor(tb, 60*time.Second, "every routing table to fill", func() bool {
		for _, h := range hs {
			if h.rv.dhts[0].RoutingTable().Size() < want {
				return false
			}
		}
		return true
	})
	return hs
}
