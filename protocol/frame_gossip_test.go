package protocol

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

// logOf is a receiver's log for PrevLookup: the IDs of ops by position.
type logOf map[authorSeq]crdt.ID

func logHolding(ops ...crdt.Op) logOf {
	l := logOf{}
	for _, op := range ops {
		l[authorSeq{op.Author, op.Seq}] = op.ID
	}
	return l
}

func (l logOf) lookup(a crdt.PublicKey, seq uint64) (crdt.ID, bool) {
	id, ok := l[authorSeq{a, seq}]
	return id, ok
}

// Gossip frames of the fixture ops (authors interleaved, by author, one
// op alone, a run from the middle) come back equal through
// DecodeFrameWith, given a receiver holding the ops before them; the
// frame is the spec's; only the ops not chained and at seq >= 2 take
// prev from the receiver, and SplitFrameWith gives each op's own
// encoding.
func TestGossipFrameRoundTrip(t *testing.T) {
	v2, raws2 := fixtureOps(t, 0)
	group := v2[0].ID
	held := logHolding(v2...)
	chain := byAuthor(v2)
	for name, c := range map[string]struct {
		ops  []crdt.Op
		raws [][]byte
	}{
		"in order":  {v2, raws2},
		"by author": {chain, nil},
		"one":       {v2[5:6], raws2[5:6]},
		"a run":     {chain[2:5], nil},
	} {
		t.Run(name, func(t *testing.T) {
			fr, err := EncodeGossipFrame(group, c.ops)
			if err != nil {
				t.Fatal(err)
			}
			if want := specGossipFrame(t, c.ops); !bytes.Equal(fr, want) {
				t.Fatalf("frame\n got %x\nspec %x", fr, want)
			}
			plain, err := EncodeFrame(group, c.ops)
			if err != nil {
				t.Fatal(err)
			}
			got, looked, err := DecodeFrameWith(group, fr, held.lookup)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.ops) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", got, c.ops)
			}
			saved := 0
			inFrame := logOf{}
			for i, op := range c.ops {
				_, before := inFrame[authorSeq{op.Author, op.Seq - 1}]
				chained := i > 0 && c.ops[i-1].Author == op.Author && c.ops[i-1].Seq+1 == op.Seq
				if want := op.Seq >= 2 && !chained && !before; looked[i] != want {
					t.Errorf("op %d (seq %d): looked up %v, want %v", i, op.Seq, looked[i], want)
				}
				if op.Seq >= 2 && !chained {
					saved += keySize
				}
				inFrame[authorSeq{op.Author, op.Seq}] = op.ID
			}
			if len(plain)-len(fr) != saved {
				t.Errorf("gossip frame %d bytes, plain %d: saved %d, want %d", len(fr), len(plain), len(plain)-len(fr), saved)
			}
			split, looked2, err := SplitFrameWith(group, fr, held.lookup)
			if err != nil || !reflect.DeepEqual(looked, looked2) {
				t.Fatalf("split: %v", err)
			}
			for i := range split {
				if c.raws != nil && !bytes.Equal(split[i], c.raws[i]) {
					t.Fatalf("op %d: split %x, its encoding %x", i, split[i], c.raws[i])
				}
			}
			for i, err := range VerifyOps(got) {
				if err != nil {
					t.Fatalf("op %d: %v", i, err)
				}
			}
			// A plain frame (no prev left out) decodes the same with a
			// lookup, which it never asks.
			got, looked, err = DecodeFrameWith(group, plain, logOf{}.lookup)
			if err != nil || !reflect.DeepEqual(got, c.ops) || slicesAny(looked) {
				t.Fatalf("plain frame with a lookup: %v", err)
			}
		})
	}
}

func slicesAny(b []bool) bool {
	for _, x := range b {
		if x {
			return true
		}
	}
	return false
}

// Version 1 ops ride gossip frames whole (their prev written inside),
// and a v2 op after a v1 op of its author takes the v1 op's ID from the
// frame.
func TestGossipFrameVersion1(t *testing.T) {
	v1, raws1 := fixtureOps(t, 1)
	group := v1[0].ID
	fr, err := EncodeGossipFrame(group, v1)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := EncodeFrame(group, v1)
	if err != nil || !bytes.Equal(fr, plain) {
		t.Fatalf("a gossip frame of v1 ops is not their plain frame (%v)", err)
	}
	split, _, err := SplitFrameWith(group, fr, logOf{}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	for i := range split {
		if !bytes.Equal(split[i], raws1[i]) {
			t.Fatalf("op %d differs", i)
		}
	}
	// A v2 op of a v1 author, after its v1 op at seq-1 in the frame.
	byA := byAuthor(v1)
	i := 0
	for i+1 < len(byA) && (byA[i].Author != byA[i+1].Author || byA[i].Seq+1 != byA[i+1].Seq || byA[i].Seq < 2) {
		i++
	}
	if i+1 >= len(byA) {
		t.Fatal("no run of v1 ops")
	}
	pair := []crdt.Op{byA[i], byA[i+1]}
	pair[1].Version, pair[1].ID = 0, crdt.ID{} // 0: the current version, as frames decode it
	if _, err := SignOp(&pair[1], fixtureKeys[fixtureNameOf(t, pair[1].Author)]); err != nil {
		t.Fatal(err)
	}
	fr, err = EncodeGossipFrame(group, pair)
	if err != nil {
		t.Fatal(err)
	}
	got, looked, err := DecodeFrameWith(group, fr, logOf{}.lookup)
	if err != nil || !reflect.DeepEqual(got, pair) || looked[1] {
		t.Fatalf("v1 then v2: %v %v", err, looked)
	}
	if !bytes.Equal(fr, specGossipFrame(t, pair)) {
		t.Fatal("not the spec's")
	}
}

// Nothing but gossip carries a prev left out: DecodeFrame and
// SplitFrame (catch-up, bundles) refuse the flag as malformed.
func TestGossipFrameRefusedOffGossip(t *testing.T) {
	ops, _ := fixtureOps(t, 0)
	group := ops[0].ID
	fr, err := EncodeGossipFrame(group, ops[5:6])
	if err != nil {
		t.Fatal(err)
	}
	if fr[2]&flagPrevOut == 0 {
		t.Fatalf("flags %#x: prev not left out", fr[2])
	}
	if _, err := DecodeFrame(group, fr); !errors.Is(err, ErrMalformed) {
		t.Errorf("DecodeFrame: %v", err)
	}
	if _, err := SplitFrame(group, fr); !errors.Is(err, ErrMalformed) {
		t.Errorf("SplitFrame: %v", err)
	}
	if _, err := SplitFrameLenient(group, fr); !errors.Is(err, ErrMalformed) {
		t.Errorf("SplitFrameLenient (catch-up's Frame message): %v", err)
	}
	if _, _, err := DecodeFrameWith(group, fr, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("DecodeFrameWith without a lookup: %v", err)
	}
}

// A receiver that lacks the prev gets ErrNeedPrev (not ErrMalformed),
// naming the op; one whose log holds another op at seq-1 (a fork, or a
// forged frame) rebuilds an op whose signature fails and whose ID is not
// the author's op's. A frame that is malformed besides is malformed.
func TestGossipFrameNeedPrev(t *testing.T) {
	ops := overheadOps(t, 3)
	group := ops[0].Group
	fr, err := EncodeGossipFrame(group, ops)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = DecodeFrameWith(group, fr, logOf{}.lookup)
	var need *NeedPrevError
	if !errors.Is(err, ErrNeedPrev) || errors.Is(err, ErrMalformed) || !errors.As(err, &need) {
		t.Fatalf("lookup missed: %v", err)
	}
	if need.Author != ops[0].Author || need.Seq != ops[0].Seq {
		t.Fatalf("NeedPrevError names %x at %d", need.Author[:4], need.Seq)
	}
	for name, b := range map[string][]byte{
		"trailing byte": append(bytes.Clone(fr), 0),
		"truncated":     fr[:len(fr)-1],
		"unknown flag":  append(append([]byte{}, fr[:2]...), append([]byte{fr[2] | 0x20}, fr[3:]...)...),
	} {
		if _, _, err := DecodeFrameWith(group, b, logOf{}.lookup); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The wrong prev: every op rebuilt differs, and fails its signature.
	wrong := logOf{{ops[0].Author, ops[0].Seq - 1}: {8}}
	got, looked, err := DecodeFrameWith(group, fr, wrong.lookup)
	if err != nil || !looked[0] {
		t.Fatal(err)
	}
	for i, err := range VerifyOps(got) {
		if !errors.Is(err, ErrBadSignature) {
			t.Errorf("op %d with a wrong prev: %v", i, err)
		}
		if got[i].ID == ops[i].ID {
			t.Errorf("op %d with a wrong prev has the author's op's ID", i)
		}
	}
	// The right one: all verify.
	right := logOf{{ops[0].Author, ops[0].Seq - 1}: ops[0].Prev}
	got, _, err = DecodeFrameWith(group, fr, right.lookup)
	if err != nil || !reflect.DeepEqual(got, ops) {
		t.Fatal(err)
	}
}

// The flag where it cannot be: at seq 1, on a chained op, on a v1 op;
// a prev left out that the frame's op before would give (it must be
// chained); and one written out where the frame gives it are all
// refused, so that one set of ops and prevs left out has one frame.
func TestGossipFrameCanonical(t *testing.T) {
	ops := overheadOps(t, 3)
	group := ops[0].Group
	held := logHolding(crdt.Op{Author: ops[0].Author, Seq: ops[0].Seq - 1, ID: ops[0].Prev})
	fr, err := EncodeGossipFrame(group, ops)
	if err != nil {
		t.Fatal(err)
	}
	// op 1's flags byte: after magic, count, op 0 (flags, tag, author,
	// seq, time, body, sig).
	one, err := EncodeGossipFrame(group, ops[:1])
	if err != nil {
		t.Fatal(err)
	}
	at1 := len(one)
	if fr[at1] != flagChained {
		t.Fatalf("op 1 flags %#x", fr[at1])
	}
	chainedOut := bytes.Clone(fr)
	chainedOut[at1] |= flagPrevOut
	if _, _, err := DecodeFrameWith(group, chainedOut, held.lookup); !errors.Is(err, ErrMalformed) {
		t.Errorf("chained with prev left out: %v", err)
	}
	// Op 2 alone after op 0: not chained, its prev (op 1) is in no
	// frame op; written out, it is a plain frame's op: accepted.
	gap := []crdt.Op{ops[0], ops[2]}
	g1, err := EncodeGossipFrame(group, gap)
	if err != nil {
		t.Fatal(err)
	}
	held[authorSeq{ops[1].Author, ops[1].Seq}] = ops[1].ID
	got, looked, err := DecodeFrameWith(group, g1, held.lookup)
	if err != nil || !reflect.DeepEqual(got, gap) || !looked[0] || !looked[1] {
		t.Fatalf("a gap in the frame: %v %v", err, looked)
	}
	// Seq 1 with the flag.
	v2, _ := fixtureOps(t, 0)
	join := v2[0]
	for _, op := range v2 {
		if op.Seq == 1 && op.Body.Kind() == crdt.KindJoin {
			join = op
		}
	}
	j, err := EncodeGossipFrame(group, []crdt.Op{join})
	if err != nil {
		t.Fatal(err)
	}
	if j[2]&flagPrevOut != 0 {
		t.Fatal("prev left out at seq 1")
	}
	j[2] |= flagPrevOut
	if _, _, err := DecodeFrameWith(v2[0].ID, j, held.lookup); !errors.Is(err, ErrMalformed) {
		t.Errorf("seq 1 with the flag: %v", err)
	}
	// A v1 op with the flag.
	v1, _ := fixtureOps(t, 1)
	f1, err := EncodeGossipFrame(v1[0].ID, v1[3:4])
	if err != nil {
		t.Fatal(err)
	}
	f1[2] |= flagPrevOut
	if _, _, err := DecodeFrameWith(v1[0].ID, f1, held.lookup); !errors.Is(err, ErrMalformed) {
		t.Errorf("v1 with the flag: %v", err)
	}
}

// Golden gossip frames: a lone post, and a run of three (the first takes
// prev from the receiver, the others are chained).
func TestGossipFrameGolden(t *testing.T) {
	ops := overheadOps(t, 3)
	group := ops[0].Group
	held := logHolding(crdt.Op{Author: ops[0].Author, Seq: ops[0].Seq - 1, ID: ops[0].Prev})
	for name, set := range map[string][]crdt.Op{"gossip_frame_one": ops[:1], "gossip_frame_run": ops} {
		fr, err := EncodeGossipFrame(group, set)
		if err != nil {
			t.Fatal(err)
		}
		checkGolden(t, name, "a gossip frame (docs/protocol.md 2.6) of ~300-byte posts at seq 5 on, prev left out", nil, fr)
		_, want := readGolden(t, name)
		got, _, err := DecodeFrameWith(group, want, held.lookup)
		if err != nil || !reflect.DeepEqual(got, set) {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

// gossipSeeds are the fuzz seeds of FuzzDecodeFrameWith.
func gossipSeeds(tb testing.TB) map[string][]byte {
	ops, _ := fixtureOps(tb, 0)
	group := ops[0].ID
	out := map[string][]byte{}
	for name, set := range map[string][]crdt.Op{"all": ops, "by_author": byAuthor(ops), "one": ops[5:6], "run": byAuthor(ops)[2:5]} {
		fr, err := EncodeGossipFrame(group, set)
		if err != nil {
			tb.Fatal(err)
		}
		out["gossip_"+name] = fr
	}
	for name, fr := range frameSeeds(tb) {
		out[name] = fr
	}
	return out
}

// FuzzDecodeFrameWith: any bytes give ops or a named error, never a
// panic; what decodes splits into ops with the same IDs, a frame without
// the flag decodes as DecodeFrame does, and a frame built from what
// decoded by EncodeGossipFrame decodes to the same ops.
func FuzzDecodeFrameWith(f *testing.F) {
	for _, b := range gossipSeeds(f) {
		f.Add(b)
	}
	ops, _ := fixtureOps(f, 0)
	group := ops[0].ID
	held := logHolding(ops[:len(ops)/2]...) // a receiver that holds half
	f.Fuzz(func(t *testing.T, b []byte) {
		got, _, err := DecodeFrameWith(group, b, held.lookup)
		if err != nil {
			if !decodeErr(err) && !errors.Is(err, ErrNeedPrev) {
				t.Fatalf("unnamed error %v", err)
			}
			if plain, perr := DecodeFrame(group, b); perr == nil {
				t.Fatalf("DecodeFrame takes %d ops that DecodeFrameWith refuses: %v", len(plain), err)
			}
			return
		}
		if plain, err := DecodeFrame(group, b); err == nil && !reflect.DeepEqual(plain, got) {
			t.Fatal("DecodeFrame and DecodeFrameWith disagree")
		}
		split, _, err := SplitFrameWith(group, b, held.lookup)
		if err != nil {
			t.Fatal(err)
		}
		for i := range split {
			op, err := DecodeStoredOp(split[i])
			if err != nil || op.ID != got[i].ID {
				t.Fatalf("op %d: %v", i, err)
			}
		}
		// Re-encoded as a gossip frame, to a receiver that holds each
		// op's prev, it comes back the same.
		prevs := logOf{}
		for _, op := range got {
			k := authorSeq{op.Author, op.Seq - 1}
			if id, ok := prevs[k]; ok && id != op.Prev {
				return // two ops at one seq: no one log holds both prevs
			}
			prevs[k] = op.Prev
		}
		again, err := EncodeGossipFrame(group, got)
		if err != nil {
			t.Fatal(err)
		}
		back, _, err := DecodeFrameWith(group, again, prevs.lookup)
		if err != nil || !reflect.DeepEqual(back, got) {
			t.Fatalf("re-encoded gossip frame: %v", err)
		}
	})
}

// SplitFrameLenientWith, which gossip falls back to for a frame with an
// op of a kind the node does not know, fills the prevs a gossip frame
// leaves out as SplitFrameWith does (from the frame, else the receiver's
// log), passes the unknown op through in its full form for Ingest to
// skip, and fails with ErrNeedPrev when the log lacks a prev.
func TestGossipFrameLenient(t *testing.T) {
	v2, _ := fixtureOps(t, 0)
	group := v2[0].ID
	held := logHolding(v2...)
	for name, ops := range map[string][]crdt.Op{"in order": v2, "by author": byAuthor(v2)} {
		fr, err := EncodeGossipFrame(group, ops)
		if err != nil {
			t.Fatal(err)
		}
		strict, looked, err := SplitFrameWith(group, fr, held.lookup)
		if err != nil {
			t.Fatal(err)
		}
		lenient, looked2, err := SplitFrameLenientWith(group, fr, held.lookup)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(lenient, strict) || !reflect.DeepEqual(looked2, looked) {
			t.Fatalf("%s: the lenient split differs from the strict one (looked %v, want %v)", name, looked2, looked)
		}
		if _, err := SplitFrameLenient(group, fr); err == nil && slices.Contains(looked, true) {
			t.Fatalf("%s: catch-up's lenient split took a frame that leaves prevs out", name)
		}
	}

	var op crdt.Op
	for _, o := range v2 {
		if o.Seq >= 2 && o.Blob == nil && o.Version != 1 {
			op = o
			break
		}
	}
	fr, err := EncodeGossipFrame(group, []crdt.Op{op})
	if err != nil {
		t.Fatal(err)
	}
	known, _, err := SplitFrameWith(group, fr, held.lookup)
	if err != nil {
		t.Fatal(err)
	}
	newer := bytes.Clone(fr)
	newer[3] = tag2 | 60 // magic, count, flags, then the op's tag: a kind from the future
	if _, _, err := SplitFrameWith(group, newer, held.lookup); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("the strict split of a frame with an unknown kind: %v; want ErrUnsupported", err)
	}
	got, looked, err := SplitFrameLenientWith(group, newer, held.lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(known[0])
	want[0] = tag2 | 60
	if len(got) != 1 || !bytes.Equal(got[0], want) || !looked[0] {
		t.Fatalf("the unknown op with its prev from the log: %x (looked %v)\nwant %x", got, looked, want)
	}
	if _, err := DecodeOp(got[0]); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("the unknown op decodes as %v; want ErrUnsupported", err)
	}
	if _, _, err := SplitFrameLenientWith(group, newer, logOf{}.lookup); !errors.Is(err, ErrNeedPrev) {
		t.Fatalf("a prev the log lacks: %v; want ErrNeedPrev", err)
	}
}
