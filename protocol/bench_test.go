package protocol

import (
	"crypto/ed25519"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
)

// Benchmarks for the live path. Receiving an op should cost about one
// ed25519 verification (docs: field notes); compare BenchmarkDecodeOp
// with BenchmarkVerifyOnly in the same run, never absolute times across
// machines.

func BenchmarkSignOp(b *testing.B) {
	f := fixtureNamed(b, "post_create")
	op := f.op
	b.SetBytes(int64(len(f.enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SignOp(&op, aliceKey); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeOp(b *testing.B) {
	f := fixtureNamed(b, "post_create")
	b.SetBytes(int64(len(f.enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeOp(f.enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeStoredOp is DecodeOp without the signature check: the
// cost of the canonical decode alone.
func BenchmarkDecodeStoredOp(b *testing.B) {
	f := fixtureNamed(b, "post_create")
	b.SetBytes(int64(len(f.enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeStoredOp(f.enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyOnly is the bare ed25519.Verify of the same op: the
// floor under BenchmarkDecodeOp.
func BenchmarkVerifyOnly(b *testing.B) {
	f := fixtureNamed(b, "post_create")
	msg, err := SigningBytes(&f.op)
	if err != nil {
		b.Fatal(err)
	}
	key := ed25519.PublicKey(f.op.Author[:])
	b.SetBytes(int64(len(f.enc)))
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(key, msg, f.op.Sig[:]) {
			b.Fatal("bad signature")
		}
	}
}

func BenchmarkEncodePost(b *testing.B) {
	board, id := fixtureBoard(b)
	p := board.Posts[id]
	b.SetBytes(int64(len(EncodePost(p))))
	b.ReportAllocs()
	for b.Loop() {
		EncodePost(p)
	}
}

func BenchmarkDecodePost(b *testing.B) {
	board, id := fixtureBoard(b)
	rec := EncodePost(board.Posts[id])
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodePost(rec, board.Posts[id].Group, id); err != nil {
			b.Fatal(err)
		}
	}
}

// benchOps signs n posts of one author in a chain.
func benchOps(b *testing.B, n int) []crdt.Op {
	b.Helper()
	g := fixtureNamed(b, "genesis").op.ID
	ops := make([]crdt.Op, n)
	var prev crdt.ID
	for i := range ops {
		ops[i] = crdt.Op{Group: g, Seq: uint64(i + 2), Prev: prev, Time: crdt.HLC{Wall: t0 + int64(i)},
			Body: crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: fmt.Sprintf("Post %d", i), Details: strings.Repeat("d", 250)}}}
		if i == 0 {
			ops[i].Prev = fixtureNamed(b, "genesis").op.ID
		}
		if _, err := SignOp(&ops[i], aliceKey); err != nil {
			b.Fatal(err)
		}
		prev = ops[i].ID
	}
	return ops
}

// BenchmarkVerifyOps is the one signature rule (ZIP-215) on one core:
// one by one (single), and in batches of 64 as ingest checks them
// (batch). Its ns/sig compares with BenchmarkVerifyOnly's ns/op
// (crypto/ed25519, which is not the rule) in the same run.
func BenchmarkVerifyOps(b *testing.B) {
	ops := benchOps(b, 64)
	msgs := make([][]byte, len(ops))
	for i := range ops {
		msgs[i], _ = SigningBytes(&ops[i])
	}
	run := func(name string, verify func()) {
		b.Run(name, func(b *testing.B) {
			cpu := cpuTime()
			for b.Loop() {
				verify()
			}
			n := float64(b.N * len(ops))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/sig")
			b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/n, "cpu-ns/sig")
		})
	}
	run("crypto-ed25519", func() {
		for i := range ops {
			if !ed25519.Verify(ops[i].Author[:], msgs[i], ops[i].Sig[:]) {
				b.Fatal("bad signature")
			}
		}
	})
	run("single", func() {
		for i := range ops {
			if err := VerifyOp(&ops[i]); err != nil {
				b.Fatal(err)
			}
		}
	})
	run("batch", func() {
		for _, err := range VerifyOps(ops) {
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	// The same ops signed by 8 authors in turn (a catch-up of a busy
	// group): batchOK has a term per key, so fewer authors cost less.
	mixed := slices.Clone(ops)
	for i := range mixed {
		if _, err := SignOp(&mixed[i], testKey(byte(0x70+i%8))); err != nil {
			b.Fatal(err)
		}
	}
	run("batch-8-authors", func() {
		for _, err := range VerifyOps(mixed) {
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// cpuTime is the CPU time this process has used, user and system: on a
// machine shared with other work, CPU time per signature says more than
// the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFrame encodes and decodes frames of 16 posts.
func BenchmarkFrame(b *testing.B) {
	ops := benchOps(b, 16)
	g := ops[0].Group
	fr, err := EncodeFrame(g, ops)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			if _, err := EncodeFrame(g, ops); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, err := DecodeFrame(g, fr); err != nil {
				b.Fatal(err)
			}
		}
	})
}
