package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

// Stored ops framed byte by byte make the frame EncodeFrame makes of the
// decoded ops, and the lenient splitter gives back each op's stored
// bytes (blob included), for every fixture set: in order, by author
// (chained runs), one op, the genesis alone, version 1.
func TestOpsFrameIsEncodeFrame(t *testing.T) {
	v2, raws2 := fixtureOps(t, 0)
	v1, raws1 := fixtureOps(t, 1)
	byA := byAuthor(v2)
	rawsByA := make([][]byte, len(byA))
	for i := range byA {
		enc, err := EncodeOp(&byA[i])
		if err != nil {
			t.Fatal(err)
		}
		rawsByA[i] = JoinBlob(enc, byA[i].Blob)
	}
	for name, c := range map[string]struct {
		group crdt.ID
		ops   []crdt.Op
		raws  [][]byte
	}{
		"in order":  {v2[0].ID, v2, raws2},
		"by author": {v2[0].ID, byA, rawsByA},
		"one":       {v2[0].ID, v2[3:4], raws2[3:4]},
		"genesis":   {v2[0].ID, v2[:1], raws2[:1]},
		"v1":        {v1[0].ID, v1[:4], raws1[:4]},
	} {
		t.Run(name, func(t *testing.T) {
			want, err := EncodeFrame(c.group, c.ops)
			if err != nil {
				t.Fatal(err)
			}
			got, err := AppendOpsFrame(nil, c.group, c.raws)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("frame\n got %x\nwant %x", got, want)
			}
			split, err := SplitFrameLenient(c.group, got)
			if err != nil {
				t.Fatal(err)
			}
			if len(split) != len(c.raws) {
				t.Fatalf("%d ops back, want %d", len(split), len(c.raws))
			}
			for i := range split {
				if !bytes.Equal(split[i], c.raws[i]) {
					t.Fatalf("op %d: got %x, want %x", i, split[i], c.raws[i])
				}
			}
		})
	}
	if _, err := AppendOpsFrame(nil, crdt.ID{1}, raws2[1:3]); !errors.Is(err, ErrWrongGroup) {
		t.Fatalf("ops framed in another group: %v", err)
	}
	fr, err := AppendOpsFrame(nil, v2[0].ID, raws2[1:3])
	if err != nil {
		t.Fatal(err)
	}
	// Under another group, the ops rebuilt are ones their authors never
	// signed (the group is signed though not sent): Ingest refuses them.
	split, err := SplitFrameLenient(crdt.ID{1}, fr)
	if err != nil {
		t.Fatal(err)
	}
	for i := range split {
		if _, err := DecodeOp(split[i]); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("op %d split under another group: %v", i, err)
		}
	}
	if _, err := SplitFrameLenient(crdt.ID{1}, mustFrame(t, v2[0].ID, raws2[:1])); !errors.Is(err, ErrWrongGroup) {
		t.Fatalf("a genesis split under another group: %v", err)
	}
}

// An op of a kind this node does not know is passed on by the lenient
// splitter (Ingest skips it, as it skips one in an Ops message), where
// the strict decoder refuses the whole frame.
func TestFrameUnknownKindPassesThrough(t *testing.T) {
	ops, raws := fixtureOps(t, 0)
	group := ops[0].ID
	var unknown []byte
	for i := range raws {
		if ops[i].Blob == nil && ops[i].Body.Kind() != crdt.KindGenesis {
			unknown = bytes.Clone(raws[i])
			break
		}
	}
	unknown[0] = tag2 | 60 // a kind from the future, same body bytes
	set := [][]byte{raws[0], unknown, raws[2]}
	fr, err := AppendOpsFrame(nil, group, set)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeFrame(group, fr); err == nil {
		t.Fatal("the strict decoder took a frame with an unknown kind")
	}
	split, err := SplitFrameLenient(group, fr)
	if err != nil {
		t.Fatal(err)
	}
	if len(split) != 3 || !bytes.Equal(split[1], unknown) {
		t.Fatalf("the unknown op did not come through: %d ops", len(split))
	}
	if _, err := DecodeOp(split[1]); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("the unknown op decodes as %v, want ErrUnsupported (Ingest skips it)", err)
	}
	for _, i := range []int{0, 2} {
		if _, err := DecodeOp(split[i]); err != nil {
			t.Fatalf("op %d beside it: %v", i, err)
		}
	}
}

// A Frame message on the wire: its golden bytes, and the ops back.
func TestFrameMessageGolden(t *testing.T) {
	ops, raws := fixtureOps(t, 0)
	group := ops[0].ID
	b, err := AppendFrame(nil, &Frame{Type: MsgFrame, Group: group, Ops: raws[:1]})
	if err != nil {
		t.Fatal(err)
	}
	fr, err := EncodeFrame(group, ops[:1])
	if err != nil {
		t.Fatal(err)
	}
	body := append([]byte{0x93, 0x07, 0xc4, 0x20}, group[:]...)
	body = append(append(body, 0xc4, byte(len(fr))), fr...)
	want := append(binary.AppendUvarint(nil, uint64(len(body))), body...)
	if !bytes.Equal(b, want) {
		t.Fatalf("got %x\nwant %x", b, want)
	}
}

// The digests are part of the protocol: another implementation must
// compute the same bytes, or its idle sessions never settle.
func TestDigestGolden(t *testing.T) {
	a, b := crdt.PublicKey{0xaa}, crdt.PublicKey{0xbb}
	ev := []crdt.ID{{2}, {1}}
	d := GroupDigestOf(map[crdt.PublicKey]uint64{b: 3, a: 300, {0xcc}: 0}, []VectorEntry{{b, 9}, {b, 5}}, []VectorEntry{{a, 7}}, ev)
	same := GroupDigestOf(map[crdt.PublicKey]uint64{a: 300, b: 3}, []VectorEntry{{b, 5}, {b, 9}}, []VectorEntry{{a, 7}}, []crdt.ID{{1}, {2}})
	if d != same {
		t.Fatal("the digest depends on order or on zero entries")
	}
	for name, other := range map[string]Digest{
		"an op held past the vector": GroupDigestOf(map[crdt.PublicKey]uint64{a: 300, b: 3}, []VectorEntry{{b, 5}}, []VectorEntry{{a, 7}}, ev),
		"a break":                    GroupDigestOf(map[crdt.PublicKey]uint64{a: 300, b: 3}, []VectorEntry{{b, 5}, {b, 9}}, nil, ev),
		"an op of evidence":          GroupDigestOf(map[crdt.PublicKey]uint64{a: 300, b: 3}, []VectorEntry{{b, 5}, {b, 9}}, []VectorEntry{{a, 7}}, ev[:1]),
		"a seq":                      GroupDigestOf(map[crdt.PublicKey]uint64{a: 301, b: 3}, []VectorEntry{{b, 5}, {b, 9}}, []VectorEntry{{a, 7}}, ev),
	} {
		if other == d {
			t.Errorf("%s does not change the digest", name)
		}
	}
	const wantGroup = "f6a7445c5b96e6648315c15d0c00bda5"
	if got := hex.EncodeToString(d[:]); got != wantGroup {
		t.Errorf("group digest %s, want %s", got, wantGroup)
	}
	total := TotalDigest([]GroupDigest{{crdt.ID{2}, d}, {crdt.ID{1}, Digest{}}})
	if TotalDigest([]GroupDigest{{crdt.ID{1}, Digest{}}, {crdt.ID{2}, d}}) != total {
		t.Fatal("the total depends on order")
	}
	const wantTotal = "a66f1a95ada2a62fc3ce8a5d28e38413"
	if got := hex.EncodeToString(total[:]); got != wantTotal {
		t.Errorf("total digest %s, want %s", got, wantTotal)
	}
}

// FuzzSplitFrame: the lenient splitter never panics, names its errors,
// and what it accepts frames again into a frame that splits to the same
// ops.
func FuzzSplitFrame(f *testing.F) {
	for _, b := range frameSeeds(f) {
		f.Add(b)
	}
	ops, _ := fixtureOps(f, 0)
	group := ops[0].ID
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := SplitFrameLenient(group, b)
		if err != nil {
			if !decodeErr(err) {
				t.Fatalf("unnamed error %v", err)
			}
			return
		}
		again, err := AppendOpsFrame(nil, group, got)
		if err != nil {
			t.Fatalf("split ops do not frame again: %v", err)
		}
		back, err := SplitFrameLenient(group, again)
		if err != nil || len(back) != len(got) {
			t.Fatalf("reframed ops do not split: %v", err)
		}
		for i := range back {
			if !bytes.Equal(back[i], got[i]) {
				t.Fatalf("op %d changed in a round trip", i)
			}
		}
	})
}

func mustFrame(t *testing.T, group crdt.ID, raws [][]byte) []byte {
	t.Helper()
	fr, err := AppendOpsFrame(nil, group, raws)
	if err != nil {
		t.Fatal(err)
	}
	return fr
}
