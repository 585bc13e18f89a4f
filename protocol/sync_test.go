package protocol

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/mutual-aid/mutual/crdt"
)

func syncTestOps(t testing.TB, n int) (crdt.ID, [][]byte) {
	_, key, _ := ed25519.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	g := crdt.Op{Seq: 1, Time: crdt.HLC{Wall: 1000}, Body: crdt.Genesis{Name: "g", AuthorName: "a"}}
	raw, err := SignOp(&g, key)
	if err != nil {
		t.Fatal(err)
	}
	ops := [][]byte{raw}
	prev := g.ID
	for i := 2; i <= n; i++ {
		p := crdt.Op{Group: g.ID, Seq: uint64(i), Prev: prev, Time: crdt.HLC{Wall: int64(1000 + i)},
			Body: crdt.PostCreate{PostKind: crdt.Offer, Fields: crdt.Fields{Title: "20 hot meals Friday", Details: string(bytes.Repeat([]byte{'x'}, i%300))}}}
		raw, err := SignOp(&p, key)
		if err != nil {
			t.Fatal(err)
		}
		ops, prev = append(ops, raw), p.ID
	}
	return g.ID, ops
}

func sampleFrames(t testing.TB) []*Frame {
	g, ops := syncTestOps(t, 3)
	return []*Frame{
		{Type: MsgHello, Version: SyncVersion, Round: 1, Initiator: true},
		{Type: MsgHello, Version: SyncVersion, Round: 4},
		{Type: MsgHave, Group: g, Vector: []VectorEntry{{Author: crdt.PublicKey{1}, Seq: 3}, {Author: crdt.PublicKey{2}, Seq: 1 << 40}}},
		{Type: MsgHave, Group: g},
		{Type: MsgWant, Group: g, Vector: []VectorEntry{{Author: crdt.PublicKey{9}, Seq: 0}}},
		{Type: MsgOps, Group: g, Ops: ops},
		{Type: MsgFrame, Group: g, Ops: ops},
		{Type: MsgDigest, Total: Digest{1, 2}},
		{Type: MsgDigest, Total: Digest{1, 2}, Digests: []GroupDigest{{Group: g, Sum: Digest{3}}, {Group: crdt.ID{4}, Sum: Digest{5}}}},
		{Type: MsgEnd},
		{Type: MsgNext, More: true},
		{Type: MsgNext},
		{Type: MsgRefused, Group: g, Reason: "this group accepts followers from its allies only"},
	}
}

func TestFrameRoundTrip(t *testing.T) {
	var stream []byte
	frames := sampleFrames(t)
	for _, f := range frames {
		var err error
		if stream, err = AppendFrame(stream, f); err != nil {
			t.Fatal(err)
		}
	}
	r := bufio.NewReader(bytes.NewReader(stream))
	for i, want := range frames {
		got, err := ReadFrame(r)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("frame %d: got %+v, want %+v", i, got, want)
		}
	}
	if _, err := ReadFrame(r); err != io.EOF {
		t.Fatalf("after the last frame: %v, want io.EOF", err)
	}
}

// TestFrameGolden pins the encoding: a change here is a wire change.
func TestFrameGolden(t *testing.T) {
	for _, c := range []struct {
		f    Frame
		want string
	}{
		{Frame{Type: MsgHello, Version: 1, Round: 2, Initiator: true}, "0594010102c3"},
		{Frame{Type: MsgHave, Group: crdt.ID{0xaa}, Vector: []VectorEntry{{Author: crdt.PublicKey{0xbb}, Seq: 300}}}, "4b" + "9302c420aa" + zeros(31) + "91" + "92c420bb" + zeros(31) + "cd012c"},
		{Frame{Type: MsgOps, Group: crdt.ID{0xaa}, Ops: [][]byte{{0x01, 0x02}}}, "29" + "9304c420aa" + zeros(31) + "91c4020102"},
		{Frame{Type: MsgEnd}, "029105"},
		{Frame{Type: MsgDigest, Total: Digest{0xcc}, Digests: []GroupDigest{{Group: crdt.ID{0xaa}, Sum: Digest{0xdd}}}}, "4a" + "9309c410cc" + zeros(15) + "91" + "92c420aa" + zeros(31) + "c410dd" + zeros(15)},
		{Frame{Type: MsgNext, More: false}, "039206c2"},
		{Frame{Type: MsgRefused, Group: crdt.ID{0xaa}, Reason: "no"}, "27" + "9308c420aa" + zeros(31) + "a26e6f"},
	} {
		b, err := AppendFrame(nil, &c.f)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(b); got != c.want {
			t.Errorf("%s: got %s, want %s", c.f.Type, got, c.want)
		}
	}
}

func zeros(n int) string { return hex.EncodeToString(make([]byte, n)) }

func TestOversizeFrameRefusedBeforeAllocation(t *testing.T) {
	for _, n := range []uint64{MaxFrame + 1, 1 << 31, 1 << 62} {
		in := binary.AppendUvarint(nil, n)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := ReadFrame(bufio.NewReaderSize(bytes.NewReader(in), 16))
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("length %d: %v, want ErrTooLarge", n, err)
		}
		if d := after.TotalAlloc - before.TotalAlloc; d > 64<<10 {
			t.Fatalf("length %d: allocated %d bytes before refusing", n, d)
		}
	}
	// An 11-byte uvarint overflows.
	if _, err := ReadFrame(bufio.NewReader(bytes.NewReader(bytes.Repeat([]byte{0xff}, 11)))); !errors.Is(err, ErrMalformed) {
		t.Fatalf("overflow: %v", err)
	}
}

func TestFrameRefusesHostileBodies(t *testing.T) {
	g := "c420" + zeros(32)
	for name, body := range map[string]string{
		"bin32 op claims 4 GiB":  "9304" + g + "91c6ffffffff00",
		"array32 of 2^32 ops":    "9304" + g + "ddffffffff",
		"op above MaxOpBytes":    "9304" + g + "91c5ffff" + zeros(0xffff),
		"ops not bin":            "9304" + g + "91a3616263",
		"vector of 2^32":         "9302" + g + "ddffffffff",
		"vector chunk too long":  "9302" + g + "dc4001" + strings.Repeat("c0", 0x4001),
		"unknown type":           "9107",
		"wrong arity":            "920501",
		"trailing":               "910500",
		"map instead of array":   "8105c0",
		"group too short":        "9302c41f" + zeros(31) + "90",
		"hello version not uint": "9401a13101c3",
	} {
		b, _ := hex.DecodeString(body)
		if _, err := DecodeSyncFrame(b); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Nested deeper than the limit, yet complete and well-formed: only the
	// depth limit refuses it (eleven arrays of one element, around a 0).
	deep := append(bytes.Repeat([]byte{0x91}, 11), 0x00)
	var v any
	if err := msgpack.Unmarshal(deep, &v); err != nil {
		t.Fatalf("the deep input is not well-formed msgpack: %v", err)
	}
	if _, err := DecodeSyncFrame(deep); !errors.Is(err, ErrTooDeep) {
		t.Errorf("nested too deep: %v, want ErrTooDeep", err)
	}
	// The limit is exact: maxDepth levels below the outermost value pass
	// the pre-scan, one more does not.
	for arrays, want := range map[int]error{maxDepth: nil, maxDepth + 1: ErrTooDeep} {
		b := append(bytes.Repeat([]byte{0x91}, arrays), 0x00)
		if n, err := scan(b, 0); !errors.Is(err, want) || (err == nil && n != len(b)) {
			t.Errorf("%d nested arrays: scanned %d of %d bytes, %v, want %v", arrays, n, len(b), err, want)
		}
	}
	// A truncated frame is io.ErrUnexpectedEOF, not a malformed one.
	b, _ := AppendFrame(nil, &Frame{Type: MsgEnd})
	if _, err := ReadFrame(bufio.NewReader(bytes.NewReader(b[:2]))); err != io.ErrUnexpectedEOF {
		t.Fatalf("truncated: %v", err)
	}
}

func TestOpsWriterBatches(t *testing.T) {
	g, ops := syncTestOps(t, 3000)
	var buf bytes.Buffer
	w := NewOpsWriter(&buf, g)
	total := 0
	for _, op := range ops {
		total += len(op)
		if err := w.Add(op); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if w.Ops != len(ops) || w.Frames < 2 {
		t.Fatalf("%d ops in %d frames", w.Ops, w.Frames)
	}
	r := bufio.NewReader(&buf)
	var got [][]byte
	for range w.Frames {
		f, err := ReadFrame(r)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, op := range f.Ops {
			n += len(op)
		}
		if f.Type != MsgOps || f.Group != g || n > MaxBatchBytes || len(f.Ops) > MaxBatchOps {
			t.Fatalf("frame: %s, %d ops, %d bytes", f.Type, len(f.Ops), n)
		}
		got = append(got, f.Ops...)
	}
	if !reflect.DeepEqual(got, ops) {
		t.Fatal("ops changed on the way")
	}
	if buf.Len() != 0 {
		t.Fatal("bytes after the frames")
	}
}

// MaxBytes ends frames earlier (a session over a relayed connection).
func TestOpsWriterMaxBytes(t *testing.T) {
	g, ops := syncTestOps(t, 200)
	var buf bytes.Buffer
	w := NewOpsWriter(&buf, g)
	w.MaxBytes = 4 << 10
	for _, op := range ops {
		if err := w.Add(op); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(&buf)
	n := 0
	for range w.Frames {
		f, err := ReadFrame(r)
		if err != nil {
			t.Fatal(err)
		}
		size := 0
		for _, op := range f.Ops {
			size += len(op)
		}
		if size > w.MaxBytes {
			t.Fatalf("a frame of %d op bytes, MaxBytes %d", size, w.MaxBytes)
		}
		n += len(f.Ops)
	}
	if n != len(ops) || w.Frames < 3 {
		t.Fatalf("%d ops in %d frames", n, w.Frames)
	}
}

func TestPeekOp(t *testing.T) {
	g, ops := syncTestOps(t, 2)
	for i, raw := range ops {
		ref, err := PeekOp(raw)
		if err != nil {
			t.Fatal(err)
		}
		op, err := DecodeOp(raw)
		if err != nil {
			t.Fatal(err)
		}
		if ref.Group != g || ref.Author != op.Author || ref.Seq != uint64(i+1) {
			t.Fatalf("op %d: %+v", i, ref)
		}
	}
	if _, err := PeekOp([]byte{0x91, 0x01}); err == nil {
		t.Fatal("peeked junk")
	}
}

func FuzzReadFrame(f *testing.F) {
	for _, fr := range sampleFrames(f) {
		b, err := AppendFrame(nil, fr)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x0b, 0x93, 0x04, 0xc4, 0x20, 0xc6, 0xff, 0xff, 0xff, 0xff})
	f.Add(binary.AppendUvarint(nil, MaxFrame+1))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		for {
			fr, err := ReadFrame(r)
			if err != nil {
				return
			}
			// Whatever decodes re-encodes and decodes to the same frame.
			b, err := AppendFrame(nil, fr)
			if err != nil {
				t.Fatalf("decoded frame does not encode: %v", err)
			}
			again, err := ReadFrame(bufio.NewReader(bytes.NewReader(b)))
			if err != nil || !reflect.DeepEqual(again, fr) {
				t.Fatalf("round trip: %v\n%+v\n%+v", err, fr, again)
			}
		}
	})
}
