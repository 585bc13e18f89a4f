package protocol

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

// Kind 11, Rename [name str], exists in version 2 only: its body is the
// golden one, a malformed body is refused by the decoder before any
// signature is checked, an over-long name is refused by the encoder
// too, and a version 1 op of kind 11 is an unknown kind (ignored, not
// punished), as it is on nodes that predate the kind.
func TestRenameBody(t *testing.T) {
	f := fixtureNamed(t, "rename")
	body := []byte{0x91, 0xac}
	body = append(body, "Alice (hall)"...)
	start := len(f.enc) - sigSize - len(body)
	if f.enc[0] != tag2|byte(crdt.KindRename) || !bytes.Equal(f.enc[start:start+len(body)], body) {
		t.Fatalf("rename op %x: want tag %#x and body %x before the signature", f.enc, tag2|byte(crdt.KindRename), body)
	}
	with := func(b []byte) []byte {
		return append(append(bytes.Clone(f.enc[:start]), b...), f.enc[start+len(body):]...)
	}
	str8 := append([]byte{0xd9, 3}, "Bob"...)
	long := append([]byte{0xd9, MaxName + 1}, strings.Repeat("a", MaxName+1)...)
	for _, tc := range []struct {
		name string
		body []byte
		want error
	}{
		{"of 0", []byte{0x90}, ErrMalformed},
		{"of 2", append([]byte{0x92, 0xa1, 'a'}, 0xa1, 'b'), ErrMalformed},
		{"name as bin", []byte{0x91, 0xc4, 1, 'a'}, ErrMalformed},
		{"name nil", []byte{0x91, 0xc0}, ErrMalformed},
		{"name as uint", []byte{0x91, 0x01}, ErrMalformed},
		{"as a bare str", []byte{0xa1, 'a'}, ErrMalformed},
		{"as a map", []byte{0x81, 0xa1, 'a', 0xa1, 'b'}, ErrMalformed},
		{"name over the limit", append([]byte{0x91}, long...), ErrFieldTooLong},
		{"name not UTF-8", []byte{0x91, 0xa2, 0xff, 0xfe}, ErrBadUTF8},
		{"name as str8 where a fixstr fits", append([]byte{0x91}, str8...), ErrNotCanonical},
		{"array16 of 1", []byte{0xdc, 0, 1, 0xa1, 'a'}, ErrNotCanonical},
		{"str32 of 4 GiB", []byte{0x91, 0xdb, 0xff, 0xff, 0xff, 0xff}, ErrMalformed},
	} {
		_, err := DecodeOp(with(tc.body))
		wantErr(t, tc.name, err, tc.want)
		_, err = DecodeStoredOp(with(tc.body))
		wantErr(t, tc.name+" (stored)", err, tc.want)
	}
	// A blank or control-character name decodes (the crdt rejects it,
	// section 8): it fails at the signature, which covers the old name.
	for _, name := range []string{"", " ", "a\nb"} {
		b := with(append([]byte{0x91, 0xa0 | byte(len(name))}, name...))
		if _, err := DecodeOp(b); !errors.Is(err, ErrBadSignature) {
			t.Errorf("rename to %q: %v, want a decoded body and a bad signature", name, err)
		}
	}

	op := crdt.Op{Group: crdt.ID{1}, Seq: 2, Prev: crdt.ID{2}, Time: crdt.HLC{Wall: t0}, Body: crdt.Rename{Name: strings.Repeat("a", MaxName+1)}}
	if _, err := SignOp(&op, bobKey); !errors.Is(err, ErrFieldTooLong) {
		t.Fatalf("signing a rename over the limit: %v", err)
	}
	op.Body, op.Version = crdt.Rename{Name: "Bob"}, 1
	if _, err := SignOp(&op, bobKey); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("signing a version 1 rename: %v", err)
	}
	v1 := withBody(t, fixtureNamedV1(t, "leave"), crdt.KindRename, append([]byte{0x91, 0xa3}, "Bob"...))
	_, err := DecodeOp(v1)
	wantErr(t, "version 1 rename", err, ErrUnsupported)
}
