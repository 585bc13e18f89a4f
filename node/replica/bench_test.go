package replica_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/protocol"
)

// signedOps returns a genesis op and n signed post ops of one author,
// as a peer would send them; sealed: each with a location and a contact,
// sealed into a blob after the op (as members send them), else with
// neither.
func signedOps(tb testing.TB, key ed25519.PrivateKey, n int, categories int, sealed bool) (crdt.ID, [][]byte) {
	groupKey, _ := protocol.NewGroupKey()
	t0 := time.Now().Add(-time.Hour).UnixMilli()
	g := crdt.Op{Seq: 1, Time: crdt.HLC{Wall: t0}, Body: crdt.Genesis{Name: "bench"}}
	raw, err := protocol.SignOp(&g, key)
	if err != nil {
		tb.Fatal(err)
	}
	raws := [][]byte{raw}
	prev := g.ID
	for i := 0; i < n; i++ {
		kind := crdt.Need
		if i%2 == 1 {
			kind = crdt.Offer
		}
		op := crdt.Op{Group: g.ID, Seq: uint64(i + 2), Prev: prev, Time: crdt.HLC{Wall: t0 + int64(i) + 1},
			Body: crdt.PostCreate{PostKind: kind, Fields: crdt.Fields{
				Title: fmt.Sprintf("Post %d: winter coats, size L", i), Details: "For a family of four; any colour is fine. Drop-off at the hall.",
				Category: fmt.Sprintf("cat%02d", i%categories), Quantity: 4}}}
		var blob []byte
		if sealed {
			var sum crdt.ID
			blob, sum, err = protocol.SealPrivate(g.ID, groupKey, protocol.Private{Location: "Eastgate, 12 Elm St", Contact: "Ana, 555-0100"})
			if err != nil {
				tb.Fatal(err)
			}
			body := op.Body.(crdt.PostCreate)
			body.Private = sum
			op.Body = body
		}
		raw, err := protocol.SignOp(&op, key)
		if err != nil {
			tb.Fatal(err)
		}
		raws = append(raws, protocol.JoinBlob(raw, blob))
		prev = op.ID
	}
	return g.ID, raws
}

// BenchmarkIngest10k measures decode + verify + validate + store (fsynced
// group commits) + apply for 10,000 signed ops, next to bare ed25519
// verification of the same ops (the floor).
func BenchmarkIngest10k(b *testing.B) {
	_, key, _ := ed25519.GenerateKey(nil)
	g, raws := signedOps(b, key, 10000, 20, false)
	sg, sealedRaws := signedOps(b, key, 10000, 20, true)
	ops := make([]crdt.Op, len(raws))
	msgs := make([][]byte, len(raws))
	for i, raw := range raws {
		ops[i], _ = protocol.DecodeOp(raw)
		msgs[i], _ = protocol.SigningBytes(&ops[i])
	}
	b.Run("verify-only", func(b *testing.B) {
		cpu := cpuTime()
		for i := 0; i < b.N; i++ {
			for j := range ops {
				if !ed25519.Verify(ops[j].Author[:], msgs[j], ops[j].Sig[:]) {
					b.Fatal("bad sig")
				}
			}
		}
		b.ReportMetric(float64(b.N*len(ops))/b.Elapsed().Seconds(), "ops/s")
		b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N*len(ops)), "cpu-µs/op")
	})
	ingest := func(b *testing.B, g crdt.ID, raws [][]byte, blobs, per int) {
		var cpu time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			_, k2, _ := ed25519.GenerateKey(nil)
			n := open(b, b.TempDir(), k2, replica.Config{})
			// The node is a member (as after `mutual join`): it keeps blobs.
			if err := addGroup(n, g, raws[0]); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			c0 := cpuTime()
			var res []replica.Result
			for rest := raws[1:]; len(rest) > 0; {
				k := min(per, len(rest))
				r, err := n.r.Ingest(context.Background(), rest[:k])
				if err != nil {
					b.Fatal(err)
				}
				res, rest = append(res, r...), rest[k:]
			}
			cpu += cpuTime() - c0
			b.StopTimer()
			for _, x := range res {
				if x.Outcome != replica.New {
					b.Fatalf("op %s: %s %v", x.ID.Short(), x.Outcome, x.Err)
				}
			}
			if st := n.st.VaultStats(); st.Live != blobs {
				b.Fatalf("%d blobs in the vault, want %d", st.Live, blobs)
			}
			n.close()
			b.StartTimer()
		}
		b.ReportMetric(float64(b.N*(len(raws)-1))/b.Elapsed().Seconds(), "ops/s")
		// CPU time (user and system, all threads) per op: on a machine
		// shared with other work the wall clock says little, this more.
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*(len(raws)-1)), "cpu-µs/op")
	}
	// Posts without private fields, and the same posts with a location
	// and a contact sealed into blobs that go to the vault.
	b.Run("ingest", func(b *testing.B) { ingest(b, g, raws, 0, len(raws)) })
	b.Run("ingest-sealed", func(b *testing.B) { ingest(b, sg, sealedRaws, len(sealedRaws)-1, len(raws)) })
	// As a burst's gossip brings them: a frame of ~15 ops (one group
	// commit of the author's node with 16 API clients) at a time, each
	// its own fsynced commit.
	b.Run("ingest-frames-15", func(b *testing.B) { ingest(b, g, raws, 0, 15) })
}

// addGroup makes a replica hold a group from its genesis op alone.
func addGroup(n *node, g crdt.ID, genesis []byte) error {
	return replica.AddGroupForTest(n.r, g, genesis)
}

// BenchmarkBoard100k stores 100,000 posts in 20 categories, then measures
// listing the open needs of one category; it reports the time to reopen
// the store and replica, the heap in use, and bytes on disk per post.
func BenchmarkBoard100k(b *testing.B) {
	const n = 100000
	_, key, _ := ed25519.GenerateKey(nil)
	g, raws := signedOps(b, key, n, 20, true)
	dir := b.TempDir()
	nd := open(b, dir, key, replica.Config{})
	if err := addGroup(nd, g, raws[0]); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	chunks := make(chan [][]byte)
	for w := 0; w < runtime.NumCPU(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range chunks {
				if _, err := nd.r.Ingest(ctx, c); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for i := 1; i < len(raws); i += 2000 {
		chunks <- raws[i:min(i+2000, len(raws))]
	}
	close(chunks)
	wg.Wait()
	nd.close()

	start := time.Now()
	nd = open(b, dir, key, replica.Config{})
	defer nd.close()
	startup := time.Since(start)
	var ms runtime.MemStats
	b.ResetTimer()
	var got int
	durs := make([]time.Duration, 0, b.N)
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		ps, err := nd.r.Posts(replica.Filter{Group: g, Kind: crdt.Need, OpenOnly: true, Category: "cat04"})
		if err != nil {
			b.Fatal(err)
		}
		durs = append(durs, time.Since(t0))
		got = len(ps)
	}
	b.StopTimer()
	b.ReportMetric(float64(durs[0].Microseconds())/1000, "first-ms")
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)/2].Microseconds())/1000, "p50-ms")
	if got != n/20 {
		b.Fatalf("listed %d posts, want %d", got, n/20)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(startup.Milliseconds()), "startup-ms")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
	b.ReportMetric(float64(dirSize(dir))/n, "disk-B/post")
}

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

var _ = store.Config{}

// BenchmarkRemoval: a member with 5,000 posts is removed with a cut at
// its 2,500th op, on the admin's node: the 2,500 posts past the cut go
// off the board (each rebuilt from its ops, and found to be no post).
func BenchmarkRemoval(b *testing.B) {
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		a, m := newNode(b), newNode(b)
		g := newGroup(b, a, "g")
		code, _, err := a.r.Invite(ctx, g, replica.InviteOptions{Role: crdt.RoleMember, TTL: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := m.r.Join(ctx, code); err != nil {
			b.Fatal(err)
		}
		exchange(b, m, a, g)
		exchange(b, a, m, g)
		for j := range 5000 {
			post(b, m, g, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: fmt.Sprint("p", j)}})
		}
		exchange(b, m, a, g)
		if n, _ := a.r.Posts(replica.Filter{Group: g}); len(n) != 5000 {
			b.Fatalf("%d posts before", len(n))
		}
		vv, _ := a.r.Sync().VersionVector(g)
		cut := vv[m.r.Self()] / 2
		b.StartTimer()
		err = replica.SetRoleAt(ctx, a.r, g, m.r.Self(), crdt.RoleNone, cut)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if n, _ := a.r.Posts(replica.Filter{Group: g}); len(n) >= 5000 {
			b.Fatalf("%d posts after the removal", len(n))
		}
		b.StartTimer()
	}
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
