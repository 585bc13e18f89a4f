package protocol

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

func fixtureSummary() *Summary {
	p := func(b byte) (x Prefix) {
		for i := range x {
			x[i] = b + byte(i)
		}
		return x
	}
	s := &Summary{Groups: []GroupSummary{
		{Group: p(0x10), Authors: []AuthorSeq{{p(0x20), 1}, {p(0x30), 300}, {p(0x40), 70000}}},
		{Group: p(0x50), Authors: []AuthorSeq{{p(0x60), 12}}, Evidence: []Prefix{p(0x70), p(0x80)}},
	}}
	s.Sort()
	return s
}

func fixtureReceipt() (*Receipt, ed25519.PrivateKey) {
	key := testKey(9)
	rc := &Receipt{Time: 1_796_000_000_000, Summary: *fixtureSummary(), Cut: "the file ends inside frame 3 (it is cut short)"}
	copy(rc.Node[:], key.Public().(ed25519.PublicKey))
	var g, op crdt.ID
	g[0], op[0] = 1, 2
	var author crdt.PublicKey
	author[0] = 3
	rc.Groups = []GroupReceipt{{Group: g, Name: "Eastgate", New: 25, Had: 3, Waiting: 1, Refused: 2, Refusals: []Refusal{
		{Frame: 3, Index: 2, Op: op, Author: author, Seq: 17, Reason: "bad signature"},
		{Frame: 4, Index: 0, Reason: "malformed: array of 2, want 9"},
	}}}
	return rc, key
}

func TestGoldenSummaryAndReceipt(t *testing.T) {
	s := fixtureSummary()
	enc, err := EncodeSummary(s)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "summary", "a summary of two groups (three authors; one author and two evidence prefixes)", nil, enc)
	got, err := DecodeSummary(enc)
	if err != nil || !reflect.DeepEqual(got, s) {
		t.Fatalf("summary round trip: %+v %v", got, err)
	}
	text, err := SummaryText(s)
	if err != nil {
		t.Fatal(err)
	}
	// A code copied from a terminal may wrap.
	if got, err := ParseSummaryText(" " + text[:20] + "\n" + text[20:] + "\n"); err != nil || !reflect.DeepEqual(got, s) {
		t.Fatalf("summary text round trip: %+v %v", got, err)
	}

	rc, key := fixtureReceipt()
	b, err := EncodeReceipt(rc, key)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "receipt", "a receipt (key testKey(9)) of one group with two refused ops and a cut", nil, b)
	back, err := DecodeReceipt(b)
	if err != nil || !reflect.DeepEqual(back, rc) {
		t.Fatalf("receipt round trip:\n%+v\n%+v\n%v", back, rc, err)
	}
	if _, err := EncodeReceipt(rc, testKey(8)); err == nil {
		t.Fatal("a receipt signed with another node's key")
	}
}

// TestSummaryRefusesWhatIsNotCanonical: repeated or unsorted entries, an
// author at seq 0, an empty evidence list, prefixes of the wrong length,
// authors and seqs that do not pair up, and too many of anything.
func TestSummaryRefusesWhatIsNotCanonical(t *testing.T) {
	bad := map[string][]byte{}
	enc := func(f func(w *writer)) []byte {
		w := newWriter()
		f(w)
		return bytes.Clone(w.bytes())
	}
	g := func(w *writer, group byte, keys []byte, seqs []uint64, ev []byte) {
		if ev != nil {
			w.array(4)
		} else {
			w.array(3)
		}
		w.bin(bytes.Repeat([]byte{group}, 8))
		w.bin(keys)
		w.array(len(seqs))
		for _, s := range seqs {
			w.uint(s)
		}
		if ev != nil {
			w.bin(ev)
		}
	}
	k := func(bs ...byte) []byte {
		var out []byte
		for _, b := range bs {
			out = append(out, bytes.Repeat([]byte{b}, 8)...)
		}
		return out
	}
	bad["groups out of order"] = enc(func(w *writer) { w.array(2); g(w, 2, k(1), []uint64{1}, nil); g(w, 1, k(1), []uint64{1}, nil) })
	bad["group twice"] = enc(func(w *writer) { w.array(2); g(w, 1, k(1), []uint64{1}, nil); g(w, 1, k(2), []uint64{1}, nil) })
	bad["authors out of order"] = enc(func(w *writer) { w.array(1); g(w, 1, k(2, 1), []uint64{1, 1}, nil) })
	bad["seq 0"] = enc(func(w *writer) { w.array(1); g(w, 1, k(1), []uint64{0}, nil) })
	bad["empty evidence"] = enc(func(w *writer) { w.array(1); g(w, 1, k(1), []uint64{1}, []byte{}) })
	bad["short prefix"] = enc(func(w *writer) { w.array(1); g(w, 1, []byte{1, 2, 3}, []uint64{1}, nil) })
	bad["more seqs than authors"] = enc(func(w *writer) { w.array(1); g(w, 1, k(1), []uint64{1, 2}, nil) })
	bad["too many groups"] = enc(func(w *writer) { w.array(MaxSummaryGroups + 1) })
	bad["trailing"] = append(enc(func(w *writer) { w.array(0) }), 0)
	for name, b := range bad {
		if _, err := DecodeSummary(b); err == nil || !decodeErr(err) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := ParseSummaryText("mutual1-AAAA"); err == nil {
		t.Error("an invite code read as a summary")
	}
}

func FuzzDecodeSummary(f *testing.F) {
	for _, seed := range summarySeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSummary(b)
		if err != nil {
			if !decodeErr(err) {
				t.Fatalf("unnamed error %v", err)
			}
			return
		}
		again, err := EncodeSummary(s)
		if err != nil {
			t.Fatalf("an accepted summary does not encode: %v", err)
		}
		if back, err := DecodeSummary(again); err != nil || !reflect.DeepEqual(back, s) {
			t.Fatalf("an accepted summary changes when encoded again: %v", err)
		}
		text, _ := SummaryText(s)
		if back, err := ParseSummaryText(text); err != nil || !reflect.DeepEqual(back, s) {
			t.Fatalf("text round trip: %v", err)
		}
	})
}

func FuzzDecodeReceipt(f *testing.F) {
	for _, seed := range receiptSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rc, err := DecodeReceipt(b)
		if err != nil {
			if !decodeErr(err) {
				t.Fatalf("unnamed error %v", err)
			}
			return
		}
		// Only a signed receipt is accepted, and it reads back the same.
		signed := b[:len(b)-ed25519.SignatureSize]
		var sig crdt.Signature
		copy(sig[:], b[len(b)-ed25519.SignatureSize:])
		if !verifySig(rc.Node, signed, &sig) {
			t.Fatal("accepted a receipt whose signature is not valid")
		}
	})
}

func summarySeeds(tb testing.TB) map[string][]byte {
	enc, err := EncodeSummary(fixtureSummary())
	if err != nil {
		tb.Fatal(err)
	}
	empty, _ := EncodeSummary(&Summary{})
	out := map[string][]byte{"summary": enc, "empty": empty, "half": enc[:len(enc)/2]}
	for i, bm := range bombs() {
		out[fmt.Sprintf("bomb_%02d", i)] = bm.b
	}
	return out
}

func receiptSeeds(tb testing.TB) map[string][]byte {
	rc, key := fixtureReceipt()
	b, err := EncodeReceipt(rc, key)
	if err != nil {
		tb.Fatal(err)
	}
	bare, err := EncodeReceipt(&Receipt{Node: rc.Node}, key)
	if err != nil {
		tb.Fatal(err)
	}
	altered := bytes.Clone(b)
	altered[len(ReceiptMagic)+40] ^= 1
	out := map[string][]byte{"receipt": b, "bare": bare, "altered": altered, "cut": b[:len(b)-10], "magic": []byte(ReceiptMagic)}
	for i, bm := range bombs() {
		out[fmt.Sprintf("bomb_%02d", i)] = append([]byte(ReceiptMagic), append(bm.b, make([]byte, 64)...)...)
	}
	return out
}

// TestGoldenSummaryFuzzCorpus writes (with -update) or checks the seed
// corpora of FuzzDecodeSummary and FuzzDecodeReceipt.
func TestGoldenSummaryFuzzCorpus(t *testing.T) {
	for target, seeds := range map[string]map[string][]byte{"FuzzDecodeSummary": summarySeeds(t), "FuzzDecodeReceipt": receiptSeeds(t)} {
		dir := filepath.Join("testdata", "fuzz", target)
		for name, b := range seeds {
			path := filepath.Join(dir, sanitize(name))
			content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			if *update {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if got, err := os.ReadFile(path); err != nil || string(got) != content {
				t.Errorf("%s is missing or stale (run go test -run Golden -update): %v", path, err)
			}
		}
	}
}

// TestSummaryTextFitsAQRCode: one group of 30 authors fits a QR code
// that a phone reads easily (under 500 characters).
func TestSummaryTextFitsAQRCode(t *testing.T) {
	var g GroupSummary
	for i := range 30 {
		g.Authors = append(g.Authors, AuthorSeq{Prefix{byte(i), 1, 2, 3, 4, 5, 6, 7}, uint64(100 + i)})
	}
	text, err := SummaryText(&Summary{Groups: []GroupSummary{g}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("one group of 30 authors: %d characters", len(text))
	if len(text) > 500 || !strings.HasPrefix(text, SummaryPrefix) {
		t.Fatalf("%d characters: %s", len(text), text)
	}
}
