package protocol

import (
	"crypto/ed25519"
	"testing"
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
