package protocol

import (
	"bytes"
	"errors"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

// Kind 12, HandOn [post bin32, response bin32, private bin32], exists in
// version 2 only: its body is the golden one, a malformed body is
// refused by the decoder, its blob is a post's (a group-key blob, 14.4)
// named by private, and a version 1 op of kind 12 is an unknown kind.
func TestHandOnBody(t *testing.T) {
	f := fixtureNamed(t, "handon")
	b := f.op.Body.(crdt.HandOn)
	body := append([]byte{0x93, 0xc4, 32}, b.Post[:]...)
	body = append(append(body, 0xc4, 32), b.Response[:]...)
	body = append(append(body, 0xc4, 32), b.Private[:]...)
	start := len(f.enc) - sigSize - len(body)
	if f.enc[0] != tag2|byte(crdt.KindHandOn) || !bytes.Equal(f.enc[start:start+len(body)], body) {
		t.Fatalf("hand-on op %x: want tag %#x and body %x before the signature", f.enc, tag2|byte(crdt.KindHandOn), body)
	}
	with := func(b []byte) []byte {
		return append(append(bytes.Clone(f.enc[:start]), b...), f.enc[start+len(body):]...)
	}
	bin32 := append([]byte{0xc4, 32}, bytes.Repeat([]byte{7}, 32)...)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tc := range []struct {
		name string
		body []byte
		want error
	}{
		{"of 0", []byte{0x90}, ErrMalformed},
		{"of 2", cat([]byte{0x92}, bin32, bin32), ErrMalformed},
		{"of 4", cat([]byte{0x94}, bin32, bin32, bin32, bin32), ErrMalformed},
		{"private nil", cat([]byte{0x93}, bin32, bin32, []byte{0xc0}), ErrMalformed},
		{"response of 31 bytes", cat([]byte{0x93}, bin32, []byte{0xc4, 31}, bytes.Repeat([]byte{7}, 31), bin32), ErrMalformed},
		{"post as str", cat([]byte{0x93, 0xd9, 32}, bytes.Repeat([]byte{'a'}, 32), bin32, bin32), ErrMalformed},
		{"bin32 of 4 GiB", cat([]byte{0x93, 0xc6, 0xff, 0xff, 0xff, 0xff}), ErrMalformed},
		{"array16 of 3", cat([]byte{0xdc, 0, 3}, bin32, bin32, bin32), ErrNotCanonical},
	} {
		_, err := DecodeOp(with(tc.body))
		wantErr(t, tc.name, err, tc.want)
		_, err = DecodeStoredOp(with(tc.body))
		wantErr(t, tc.name+" (stored)", err, tc.want)
	}
	// Its blob: the golden one follows it; another does not.
	withBlob, err := DecodeOp(JoinBlob(f.enc, f.blob))
	if err != nil || !bytes.Equal(withBlob.Blob, f.blob) || withBlob.ID != f.op.ID {
		t.Fatalf("hand-on with its blob: %v", err)
	}
	if p, err := OpenPrivate(f.op.Group, f.blob, fixtureKeyring); err != nil || p.Contact != "dave@riverside.example" || p.Location != "" {
		t.Fatalf("the hand-on's blob opens to %+v, %v", p, err)
	}
	other := bytes.Clone(f.blob)
	other[len(other)-1] ^= 1
	if _, err := DecodeOp(JoinBlob(f.enc, other)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("hand-on with another blob: %v", err)
	}

	op := crdt.Op{Version: 1, Group: crdt.ID{1}, Seq: 2, Prev: crdt.ID{2}, Time: crdt.HLC{Wall: t0}, Body: b}
	if _, err := SignOp(&op, aliceKey); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("signing a version 1 hand-on: %v", err)
	}
	v1 := withBody(t, fixtureNamedV1(t, "leave"), crdt.KindHandOn, body)
	_, err = DecodeOp(v1)
	wantErr(t, "version 1 hand-on", err, ErrUnsupported)
}

// A post record keeps the hand-ons that count; one with none is the
// record it always was.
func TestPostRecordHandOns(t *testing.T) {
	b, id := fixtureBoard(t)
	p := b.Posts[id].Clone()
	before := EncodePost(p)
	p.HandOns = []crdt.HandedOn{
		{Response: crdt.ID{1}, Op: crdt.ID{2}, Author: pub(aliceKey), Time: crdt.HLC{Wall: t0 + 14_000}},
		{Response: crdt.ID{1}, Op: crdt.ID{3}, Author: pub(bobKey), Time: crdt.HLC{Wall: t0 + 14_001, Logical: 2}},
	}
	rec := EncodePost(p)
	back, err := DecodePost(rec, p.Group, p.ID)
	if err != nil || crdt.PostHash(back) != crdt.PostHash(p) || len(back.HandOns) != 2 || back.HandOns[1] != p.HandOns[1] {
		t.Fatalf("record with hand-ons decodes to %+v, %v", back, err)
	}
	p.HandOns = nil
	if !bytes.Equal(EncodePost(p), before) {
		t.Fatal("a post without hand-ons changed its record")
	}
	// An empty list written out is not canonical.
	if before[0] != 0xdc || before[2] != postFields {
		t.Fatalf("record header %x", before[:3])
	}
	empty := append(bytes.Clone(before), 0xa0, 0x90) // by "" and no hand-on
	empty[2] = postFields + 2
	if _, err := DecodePost(empty, p.Group, p.ID); !errors.Is(err, ErrNotCanonical) {
		t.Fatalf("a record with an empty list of hand-ons: %v", err)
	}
}
