package protocol

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"reflect"
	"strings"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

// PostCreate.By and Respond.By (who acted through the author's node, a
// phone at a meeting) are an optional last element of their arrays: left
// out when empty, so every op signed before they existed keeps its bytes
// and its ID (the golden ops without by prove that), and present when
// not empty, as these golden ops show.

// byFixtures returns ops that carry by, continuing the authors' chains of
// fixtures: a post made through Alice's node by Sam, and a response made
// through Alice's node too, by Léa (Bob has left the group by then).
func byFixtures(tb testing.TB) []fixture {
	tb.Helper()
	fs := fixtures(tb)
	last := map[crdt.PublicKey]crdt.Op{}
	for _, f := range fs {
		last[f.op.Author] = f.op
	}
	group := fs[0].op.ID
	var out []fixture
	add := func(name string, key ed25519.PrivateKey, at crdt.HLC, body crdt.Body) crdt.Op {
		prev := last[pub(key)]
		op := crdt.Op{Group: group, Seq: prev.Seq + 1, Prev: prev.ID, Time: at, Body: body}
		b, err := SignOp(&op, key)
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		last[op.Author] = op
		out = append(out, fixture{name: name, op: op, enc: b})
		return op
	}
	post := add("post_create_by", aliceKey, crdt.HLC{Wall: t0 + 7000}, crdt.PostCreate{
		PostKind: crdt.Need, Fields: crdt.Fields{Title: "Nappies, size 4", Quantity: 2}, By: "Sam",
	})
	add("respond_by", aliceKey, crdt.HLC{Wall: t0 + 8000}, crdt.Respond{Post: post.ID, Quantity: 1, Note: "one pack", By: "Léa"})
	return out
}

func TestGoldenOpsWithBy(t *testing.T) {
	for _, f := range byFixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			id := crdt.ID(sha256.Sum256(f.enc))
			checkGolden(t, "op_"+f.name, f.op.Body.Kind().String()+" op with by (a 4-element body), signed with ed25519.NewKeyFromSeed of a repeated byte", &id, f.enc)
			if *update {
				return
			}
			_, golden := readGolden(t, "op_"+f.name)
			op, err := DecodeOp(golden)
			if err != nil {
				t.Fatalf("golden bytes do not decode: %v", err)
			}
			if !reflect.DeepEqual(op, f.op) {
				t.Fatalf("golden bytes decode to\n%+v\nwant\n%+v", op, f.op)
			}
		})
	}
}

// The post record keeps the post's by and each response's, and leaves
// them out when empty: the golden record without by is unchanged.
func TestGoldenPostRecordWithBy(t *testing.T) {
	b, _ := fixtureBoard(t)
	fs := byFixtures(t)
	for _, f := range fs {
		if v, err, _ := b.Apply(f.op, t0+10_000); v != crdt.Accept {
			t.Fatalf("%s: %v %v", f.name, v, err)
		}
	}
	b.Refresh()
	p := b.Posts[fs[0].op.ID]
	if p == nil || p.By != "Sam" || len(p.Responses) != 1 || p.Responses[0].By != "Léa" {
		t.Fatalf("post %+v", p)
	}
	rec := EncodePost(p)
	h := crdt.PostHash(p)
	checkGolden(t, "post_record_by", "the disk record of post_create_by with respond_by; id line is crdt.PostHash", &h, rec)
	back, err := DecodePost(rec)
	if err != nil {
		t.Fatal(err)
	}
	if crdt.PostHash(back) != h || back.By != "Sam" || back.Responses[0].By != "Léa" {
		t.Fatalf("record decodes to %+v", back)
	}
	// Without by, the record has its old shape.
	p.By, p.Responses[0].By = "", ""
	if enc := EncodePost(p); enc[0] != 0xdc || enc[2] != postFields || bytes.Contains(enc, []byte("Léa")) {
		t.Errorf("record without by starts %x", enc[:3])
	}
}

func TestByLimits(t *testing.T) {
	c := fixtureNamed(t, "post_create")
	r := fixtureNamed(t, "respond")
	for _, f := range []fixture{c, r} {
		// An empty by written out is a second encoding of the same op.
		withEmpty := bytes.Clone(f.enc)
		body := bodyOffset(t, f)
		if withEmpty[body] != 0x93 {
			t.Fatalf("%s: body array header %#x, want fixarray 3", f.name, withEmpty[body])
		}
		withEmpty[body] = 0x94
		sig := len(withEmpty) - 66
		withEmpty = append(append(withEmpty[:sig:sig], 0xa0), f.enc[sig:]...)
		_, err := DecodeStoredOp(withEmpty)
		wantErr(t, f.name+" with an empty by", err, ErrNotCanonical)

		// Too long or not UTF-8: the encoder refuses, so nothing is signed
		// that peers would refuse; and the decoder refuses.
		for _, by := range []string{strings.Repeat("x", MaxName+1), "Sa\xffm"} {
			op := f.op
			switch b := op.Body.(type) {
			case crdt.PostCreate:
				b.By = by
				op.Body = b
			case crdt.Respond:
				b.By = by
				op.Body = b
			}
			_, err := SignOp(&op, aliceKey)
			if err == nil {
				t.Errorf("%s: SignOp with by %q succeeded", f.name, by[:3])
			}
		}
		long := bytes.Clone(f.enc)
		long[body] = 0x94
		long = append(append(long[:sig:sig], str8(strings.Repeat("x", MaxName+1))...), f.enc[sig:]...)
		_, err = DecodeStoredOp(long)
		wantErr(t, f.name+" with a long by", err, ErrFieldTooLong)
	}
	// At the limit is fine.
	op := c.op
	b := op.Body.(crdt.PostCreate)
	b.By = strings.Repeat("é", MaxName/2)
	op.Body = b
	enc, err := SignOp(&op, aliceKey)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeOp(enc); err != nil || got.Body.(crdt.PostCreate).By != b.By {
		t.Fatalf("by at the limit: %v", err)
	}
}

// bodyOffset returns where an op's body array starts in its encoding: the
// body is the op's last element but the signature, so it is found by
// encoding the op's header alone.
func bodyOffset(t *testing.T, f fixture) int {
	t.Helper()
	op := f.op
	op.Body = crdt.Unrespond{} // [bin32, bin32]: 69 bytes
	enc, err := EncodeOp(&op)
	if err != nil {
		t.Fatal(err)
	}
	return len(enc) - 66 - 69
}
