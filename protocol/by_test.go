package protocol

import (
	"bytes"
	"crypto/ed25519"
	"reflect"
	"strings"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

// PostCreate.By and Respond.By (who acted through the author's node, a
// phone at a meeting). Respond's is an optional last element of its
// array: left out when empty, so every response signed before it existed
// keeps its bytes and its ID. PostCreate's is always written since the
// sealed op format (issue 9) changed its array anyway: [kind, fields,
// ref, by, private].

// byFixtures returns ops that carry by, continuing the authors' chains of
// fixtures: a post made through Alice's node by Sam, and a response made
// through Alice's node too, by Léa (Bob has left the group by then).
func byFixtures(tb testing.TB) []fixture {
	tb.Helper()
	fs := fixtures(tb)
	last := map[crdt.PublicKey]crdt.Op{}
	for _, f := range fs {
		if f.name == "visit" {
			break // the help-across-boards fixtures came after these
		}
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
			id := specOpID(f.enc)
			checkGolden(t, "op_"+f.name, f.op.Body.Kind().String()+" op with by, signed with ed25519.NewKeyFromSeed of a repeated byte", &id, f.enc)
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
	back, err := DecodePost(rec, p.Group, p.ID)
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
	c := fixtureNamedV1(t, "post_create")
	r := fixtureNamedV1(t, "respond")
	// A response's empty by written out is a second encoding of the same
	// op; a post's is always written, and leaving it out is malformed.
	withEmpty := bytes.Clone(r.enc)
	body := bodyOffset(t, r)
	if withEmpty[body] != 0x93 {
		t.Fatalf("respond: body array header %#x, want fixarray 3", withEmpty[body])
	}
	withEmpty[body] = 0x94
	sig := len(withEmpty) - 66
	withEmpty = append(append(withEmpty[:sig:sig], 0xa0), r.enc[sig:]...)
	_, err := DecodeStoredOp(withEmpty)
	wantErr(t, "respond with an empty by", err, ErrNotCanonical)
	cb := c.op.Body.(crdt.PostCreate)
	if cb.By != "" {
		t.Fatal("the post_create fixture has a by")
	}
	var noBy []byte
	for _, p := range []crdt.ID{{}, cb.Private} { // [..., ref, "", nil] and [..., ref, "", bin32]
		op := c.op
		b := cb
		b.Private = p
		op.Body = b
		enc, err := SignOp(&op, aliceKey)
		if err != nil {
			t.Fatal(err)
		}
		at := bodyOffset(t, fixture{op: op, enc: enc})
		if enc[at] != 0x95 {
			t.Fatalf("post_create: body array header %#x, want fixarray 5", enc[at])
		}
		tail := (&spec{}).str(b.Ref).str("").optBin(p[:]).b
		end := len(enc) - 66
		if !bytes.Equal(enc[end-len(tail):end], tail) {
			t.Fatalf("post_create body ends %x, want %x", enc[end-len(tail):end], tail)
		}
		// by left out: an array of 4 (ref, private) is malformed
		noBy = cat3(enc[:end-len(tail)], (&spec{}).str(b.Ref).optBin(p[:]).b, enc[end:])
		noBy[at] = 0x94
		_, err = DecodeStoredOp(noBy)
		wantErr(t, "post_create without by", err, ErrMalformed)
	}

	for _, f := range []fixture{c, r} {
		body := bodyOffset(t, f)
		sig := len(f.enc) - 66

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
		var long []byte
		if f.name == "respond" {
			long = bytes.Clone(f.enc)
			long[body] = 0x94
			long = append(append(long[:sig:sig], str8(strings.Repeat("x", MaxName+1))...), f.enc[sig:]...)
		} else { // the empty by, then the private hash (32 bytes + 2), before the signature
			at := sig - 34 - 1
			if f.enc[at] != 0xa0 {
				t.Fatalf("post_create: by at %d is %#x", at, f.enc[at])
			}
			long = cat3(f.enc[:at], str8(strings.Repeat("x", MaxName+1)), f.enc[at+1:])
		}
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
