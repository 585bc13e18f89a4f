package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

// fixtureOps returns the fixture ops of a version (0: the current one),
// with their blobs attached, and their encodings with the blobs after.
func fixtureOps(tb testing.TB, version uint8) (ops []crdt.Op, raws [][]byte) {
	for _, f := range fixturesIn(tb, version) {
		op := f.op
		op.Blob = f.blob
		ops = append(ops, op)
		raws = append(raws, JoinBlob(f.enc, f.blob))
	}
	return ops, raws
}

// byAuthor sorts ops by author, then seq (stably): how a sender puts
// each author's ops together to get the most from a frame.
func byAuthor(ops []crdt.Op) []crdt.Op {
	out := append([]crdt.Op(nil), ops...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && (out[j].Author.Compare(out[j-1].Author) < 0 ||
			out[j].Author == out[j-1].Author && out[j].Seq < out[j-1].Seq); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// Every fixture op, in fixture order (authors interleaved) and by author
// (runs chained), in either version or both, travels in a frame and
// comes back equal, with its ID and blob; the frame is the one the spec
// encoder builds; SplitFrame gives each op's own encoding.
func TestOpFrameRoundTrip(t *testing.T) {
	v2, raws2 := fixtureOps(t, 0)
	v1, raws1 := fixtureOps(t, 1)
	group := v2[0].ID
	if v1[0].ID == group {
		t.Fatal("a v1 genesis with the ID of a v2 one")
	}
	mixed := append(append([]crdt.Op(nil), v2[:5]...), v1[3:6]...) // v1 ops of the v1 group: refused below
	for name, c := range map[string]struct {
		ops  []crdt.Op
		raws [][]byte
	}{
		"v2 in order":  {v2, raws2},
		"v2 by author": {byAuthor(v2), nil},
		"v1 in order":  {v1, raws1},
	} {
		t.Run(name, func(t *testing.T) {
			g := c.ops[0].GroupID()
			if c.ops[0].Body.Kind() != crdt.KindGenesis {
				g = c.ops[0].Group
			}
			fr, err := EncodeFrame(g, c.ops)
			if err != nil {
				t.Fatal(err)
			}
			if want := specFrame(t, c.ops); !bytes.Equal(fr, want) {
				t.Fatalf("frame\n got %x\nspec %x", fr, want)
			}
			got, err := DecodeFrame(g, fr)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.ops) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", got, c.ops)
			}
			split, err := SplitFrame(g, fr)
			if err != nil {
				t.Fatal(err)
			}
			for i := range split {
				op, err := DecodeOp(split[i])
				if err != nil || !reflect.DeepEqual(op, c.ops[i]) {
					t.Fatalf("op %d split from the frame: %v", i, err)
				}
				if c.raws != nil && !bytes.Equal(split[i], c.raws[i]) {
					t.Fatalf("op %d: split %x, its encoding %x", i, split[i], c.raws[i])
				}
			}
			for i, err := range VerifyOps(got) {
				if err != nil {
					t.Fatalf("op %d from the frame: %v", i, err)
				}
			}
		})
	}
	if _, err := EncodeFrame(group, mixed); !errors.Is(err, ErrWrongGroup) {
		t.Fatalf("ops of another group framed: %v", err)
	}
	// A v1 op of the group travels whole inside a frame of v2 ops.
	mixedOK := append(append([]crdt.Op(nil), v2[:3]...), v2[3:]...)
	mixedOK[4] = v1Twin(t, mixedOK[4])
	fr, err := EncodeFrame(group, mixedOK)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeFrame(group, fr)
	if err != nil || !reflect.DeepEqual(got, mixedOK) || got[4].Version != 1 {
		t.Fatalf("mixed frame: %v", err)
	}
	if !bytes.Equal(fr, specFrame(t, mixedOK)) {
		t.Fatal("mixed frame is not the spec's")
	}
}

// v1Twin re-signs op in version 1 (same fields, a different ID).
func v1Twin(t *testing.T, op crdt.Op) crdt.Op {
	op.Version, op.ID = 1, crdt.ID{}
	key := fixtureKeys[fixtureNameOf(t, op.Author)]
	if _, err := SignOp(&op, key); err != nil {
		t.Fatal(err)
	}
	return op
}

func fixtureNameOf(t *testing.T, a crdt.PublicKey) string {
	for name, k := range fixtureKeys {
		if pub(k) == a {
			return name
		}
	}
	t.Fatal("no fixture key")
	return ""
}

// A frame decoded under another group rebuilds ops its authors never
// signed: their signatures fail (the group is signed though not sent),
// and a genesis op, whose ID is its group's, is refused outright.
func TestOpFrameWrongGroup(t *testing.T) {
	ops, _ := fixtureOps(t, 0)
	group := ops[0].ID
	fr, err := EncodeFrame(group, ops[1:])
	if err != nil {
		t.Fatal(err)
	}
	other := group
	other[0] ^= 1
	got, err := DecodeFrame(other, fr)
	if err != nil {
		t.Fatal(err)
	}
	for i, err := range VerifyOps(got) {
		if !errors.Is(err, ErrBadSignature) {
			t.Fatalf("op %d under another group: %v", i, err)
		}
	}
	fr, err = EncodeFrame(group, ops[:1])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeFrame(other, fr); !errors.Is(err, ErrWrongGroup) {
		t.Fatalf("genesis under another group: %v", err)
	}
}

// Frames are canonical, and every limit holds: a frame that says more
// ops than its bytes can hold is refused before anything is allocated;
// every truncation and every single-byte change is refused or decodes to
// ops whose signatures fail (never a panic).
func TestOpFrameRefused(t *testing.T) {
	ops, _ := fixtureOps(t, 0)
	group := ops[0].ID
	chain := byAuthor(ops)
	fr, err := EncodeFrame(group, chain)
	if err != nil {
		t.Fatal(err)
	}
	// Truncations and flips of a frame of 5: a run of 4 (one with a
	// blob) and an op of another author.
	full := fr
	chain = append(append([]crdt.Op(nil), chain[:4]...), chain[len(chain)-1])
	if chain[0].Author != chain[3].Author || chain[3].Author == chain[4].Author {
		t.Fatal("not a run and another author")
	}
	if fr, err = EncodeFrame(group, chain); err != nil {
		t.Fatal(err)
	}
	for n := range len(fr) {
		if _, err := DecodeFrame(group, fr[:n]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	for i := range fr {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			b := bytes.Clone(fr)
			b[i] ^= x
			got, err := DecodeFrame(group, b)
			if err != nil {
				if !decodeErr(err) {
					t.Fatalf("byte %d ^ %#x: unnamed error %v", i, x, err)
				}
				continue
			}
			// Other bytes, other ops: at least one op differs (an op's ID
			// covers all it signs), and each that differs fails its
			// signature check.
			changed := len(got) != len(chain)
			for j := range got {
				if j < len(chain) && got[j].ID == chain[j].ID && bytes.Equal(got[j].Blob, chain[j].Blob) {
					continue
				}
				changed = true
				if err := VerifyOp(&got[j]); err == nil {
					t.Fatalf("byte %d ^ %#x: op %d changed and still verifies", i, x, j)
				}
			}
			if !changed {
				t.Fatalf("byte %d ^ %#x: the same ops from other bytes", i, x)
			}
		}
	}
	var tmp []byte
	cases := map[string][]byte{
		"empty":            {},
		"magic only":       {frameMagic},
		"zero ops":         {frameMagic, 0},
		"other magic":      append([]byte{0xf3}, fr[1:]...),
		"4096 ops claimed": append(binary.AppendUvarint([]byte{frameMagic}, MaxFrameOps), fr[2:]...),
		"2^63 ops claimed": append(binary.AppendUvarint([]byte{frameMagic}, 1<<63), fr[2:]...),
		"trailing byte":    append(bytes.Clone(full), 0),
		"count too long":   append([]byte{frameMagic, 0x80 | byte(len(chain)), 0}, fr[2:]...),
		"too large":        append(bytes.Clone(fr), make([]byte, MaxFrameBytes)...),
	}
	// The first op without its author, or chained.
	tmp = bytes.Clone(fr)
	tmp[2] &^= flagAuthor
	cases["first op without author"] = tmp
	tmp = bytes.Clone(fr)
	tmp[2] |= flagChained
	cases["first op chained"] = tmp
	tmp = bytes.Clone(fr)
	tmp[2] |= 0x10
	cases["unknown flag"] = tmp
	for name, b := range cases {
		if _, err := DecodeFrame(group, b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Not canonical: the author written again for the same author, an
	// op not chained that could be.
	a := chain[:3]
	if a[0].Author != a[1].Author || a[1].Seq != a[0].Seq+1 {
		t.Fatal("fixture chain is not a run")
	}
	fr3, err := EncodeFrame(group, a)
	if err != nil {
		t.Fatal(err)
	}
	long := frameByHand(t, group, a, true, false)
	if _, err := DecodeFrame(group, long); !errors.Is(err, ErrNotCanonical) {
		t.Errorf("author repeated: %v", err)
	}
	long = frameByHand(t, group, a, false, true)
	if _, err := DecodeFrame(group, long); !errors.Is(err, ErrNotCanonical) {
		t.Errorf("not chained: %v", err)
	}
	if !bytes.Equal(frameByHand(t, group, a, false, false), fr3) {
		t.Fatal("frameByHand does not build the canonical frame")
	}
	// The encoder refuses what the decoder would: a blob the op does not
	// name.
	odd := append([]crdt.Op(nil), chain...)
	odd[1].Blob = []byte("not the blob")
	if _, err := EncodeFrame(group, odd); !errors.Is(err, ErrBlobMismatch) {
		t.Errorf("a blob the op does not name: %v", err)
	}
	// Limits on the encoder.
	if _, err := EncodeFrame(group, nil); !errors.Is(err, ErrTooLarge) {
		t.Errorf("no ops: %v", err)
	}
	many := make([]crdt.Op, MaxFrameOps+1)
	if _, err := EncodeFrame(group, many); !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxFrameOps+1: %v", err)
	}
}

// frameByHand builds a frame of a run of one author's ops, with the
// author written for every op (author) or none of them chained (unchained).
func frameByHand(t *testing.T, group crdt.ID, ops []crdt.Op, author, unchained bool) []byte {
	w := newWriter()
	w.raw([]byte{frameMagic, byte(len(ops))})
	var wall int64
	for i := range ops {
		op := &ops[i]
		flags := byte(0)
		if i == 0 || author {
			flags |= flagAuthor
		}
		if i > 0 && !unchained && !author {
			flags |= flagChained
		}
		if op.Blob != nil {
			flags |= flagBlob
		}
		w.raw([]byte{flags, tag2 | byte(op.Body.Kind())})
		if flags&flagAuthor != 0 {
			w.raw(op.Author[:])
		}
		if flags&flagChained == 0 {
			w.raw(binary.AppendUvarint(nil, op.Seq))
			if op.Seq >= 2 {
				w.raw(op.Prev[:])
			}
		}
		writeTime(w, op.Time.Wall-wall, op.Time.Logical)
		wall = op.Time.Wall
		if err := writeBody2(w, op.Body); err != nil {
			t.Fatal(err)
		}
		w.raw(op.Sig[:])
		if op.Blob != nil {
			w.raw(binary.AppendUvarint(nil, uint64(len(op.Blob))))
			w.raw(op.Blob)
		}
	}
	return bytes.Clone(w.bytes())
}

// frameSeeds are the fuzz seeds of FuzzDecodeFrame: the fixture frames,
// and bombs.
func frameSeeds(tb testing.TB) map[string][]byte {
	ops, _ := fixtureOps(tb, 0)
	group := ops[0].ID
	out := map[string][]byte{}
	for name, set := range map[string][]crdt.Op{"all": ops, "by_author": byAuthor(ops), "one": ops[3:4], "genesis": ops[:1]} {
		fr, err := EncodeFrame(group, set)
		if err != nil {
			tb.Fatal(err)
		}
		out["frame_"+name] = fr
	}
	v1, _ := fixtureOps(tb, 1)
	fr, err := EncodeFrame(v1[0].ID, v1[:4])
	if err != nil {
		tb.Fatal(err)
	}
	out["frame_v1"] = fr
	out["bomb_count"] = binary.AppendUvarint([]byte{frameMagic}, 1<<62)
	out["bomb_v1_length"] = append(binary.AppendUvarint([]byte{frameMagic, 1, flagV1}, 1<<40), 0x9a)
	out["bomb_blob_length"] = append(bytes.Clone(out["frame_one"][:len(out["frame_one"])-1]), 0xff, 0xff, 0xff, 0xff, 0x0f)
	out["bomb_deep_body"] = append([]byte{frameMagic, 1, flagAuthor, tag2 | 16}, append(make([]byte, 32+2+2), bytes.Repeat([]byte{0x91}, 64)...)...)
	out["bomb_array32_body"] = append([]byte{frameMagic, 1, flagAuthor, tag2 | 16}, append(make([]byte, 32+2+2), 0xdd, 0xff, 0xff, 0xff, 0xff)...)
	return out
}

func FuzzDecodeFrame(f *testing.F) {
	seeds := frameSeeds(f)
	for _, b := range seeds {
		f.Add(b)
	}
	ops, _ := fixtureOps(f, 0)
	group := ops[0].ID
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := DecodeFrame(group, b)
		if err != nil {
			if !decodeErr(err) {
				t.Fatalf("unnamed error %v", err)
			}
			return
		}
		// What decodes re-encodes to the same frame, and each op to its
		// own encoding.
		again, err := EncodeFrame(group, got)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("decoded frame re-encodes differently (%v)", err)
		}
		split, err := SplitFrame(group, b)
		if err != nil {
			t.Fatal(err)
		}
		for i := range split {
			op, err := DecodeStoredOp(split[i])
			if err != nil || op.ID != got[i].ID {
				t.Fatalf("op %d: %v", i, err)
			}
		}
	})
}

// The overhead of an op: its bytes beyond the post's title and details,
// for a ~300-byte post (a 40-byte title, 260 bytes of details, no
// private fields), stand-alone in version 1 and 2 and per op in frames of
// 1, 4 and 16 posts of one author. The figures are docs/protocol.md's.
func TestOpOverhead(t *testing.T) {
	ops := overheadOps(t, 16)
	content := len(ops[0].Body.(crdt.PostCreate).Fields.Title) + len(ops[0].Body.(crdt.PostCreate).Fields.Details)
	v1 := ops[0]
	v1.Version = 1
	enc1, err := EncodeOp(&v1)
	if err != nil {
		t.Fatal(err)
	}
	enc2, err := EncodeOp(&ops[0])
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	lines = append(lines, fmt.Sprintf("v1 op: %d", len(enc1)-content), fmt.Sprintf("v2 op: %d", len(enc2)-content))
	per, gossip := map[int]int{}, map[int]int{}
	for _, n := range []int{1, 4, 16} {
		fr, err := EncodeFrame(ops[0].Group, ops[:n])
		if err != nil {
			t.Fatal(err)
		}
		per[n] = (len(fr) - n*content + n - 1) / n
		lines = append(lines, fmt.Sprintf("frame of %d: %d per op", n, per[n]))
	}
	for _, n := range []int{1, 4, 16} {
		fr, err := EncodeGossipFrame(ops[0].Group, ops[:n])
		if err != nil {
			t.Fatal(err)
		}
		gossip[n] = (len(fr) - n*content + n - 1) / n
		lines = append(lines, fmt.Sprintf("gossip frame of %d: %d per op", n, gossip[n]))
	}
	t.Log(strings.Join(lines, "; "))
	// Issue 12's target: a lone op, as gossip sends it, under 120.
	if gossip[1] >= 120 || gossip[4] >= per[4] || gossip[16] > per[16] {
		t.Errorf("overhead per op in gossip frames: %v", gossip)
	}
	// Guards against a regression, at today's figures.
	if len(enc1)-content != 197 || len(enc2)-content > 176 {
		t.Errorf("v1 overhead %d, v2 %d", len(enc1)-content, len(enc2)-content)
	}
	if per[1] > 147 || per[4] >= 100 || per[16] >= 85 {
		t.Errorf("overhead per op in frames: %v", per)
	}
}

// overheadOps signs n ~300-byte posts of one author at seq 5 on, in a
// chain, at a 2026 wall clock, a few milliseconds apart.
func overheadOps(t *testing.T, n int) []crdt.Op {
	g := fixtureNamed(t, "genesis").op.ID
	ops := make([]crdt.Op, n)
	prev := crdt.ID{7}
	for i := range ops {
		ops[i] = crdt.Op{Group: g, Seq: uint64(5 + i), Prev: prev, Time: crdt.HLC{Wall: t0 + 3_600_000 + int64(7*i)},
			Body: crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{
				Title:   fmt.Sprintf("Nappies, size 4, for the twins %04d", i)[:35] + ".....",
				Details: strings.Repeat("Two packs a week until March, please. ", 7)[:260],
			}}}
		if _, err := SignOp(&ops[i], bobKey); err != nil {
			t.Fatal(err)
		}
		prev = ops[i].ID
	}
	return ops
}
