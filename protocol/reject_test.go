package protocol

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

// Offsets in an encoded op (see docs/protocol.md): 0 array header,
// 1 version, 2 kind, 3 group (c4 20 + 32), 37 author, 71 seq.
const (
	offVersion = 1
	offKind    = 2
	offSeq     = 71
)

// replaceOnce replaces the single occurrence of old in b.
func replaceOnce(t *testing.T, b, old, new []byte) []byte {
	t.Helper()
	if bytes.Count(b, old) != 1 {
		t.Fatalf("%x occurs %d times", old, bytes.Count(b, old))
	}
	return bytes.Replace(b, old, new, 1)
}

func fixstr(s string) []byte { return append([]byte{0xa0 | byte(len(s))}, s...) }

func str8(s string) []byte { return append([]byte{0xd9, byte(len(s))}, s...) }

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

// Every byte of every fixture op, altered, is refused: the signature no
// longer matches, or the bytes no longer parse. (The version and kind
// bytes may instead say ErrUnsupported.) Nothing altered is ever
// accepted.
func TestTamperedByteRejected(t *testing.T) {
	for _, f := range fixtures(t) {
		for i := range f.enc {
			for _, x := range []byte{0x01, 0x80, 0xff} {
				b := bytes.Clone(f.enc)
				b[i] ^= x
				_, err := DecodeOp(b)
				switch {
				case err == nil:
					t.Fatalf("%s: byte %d ^ %#x accepted", f.name, i, x)
				case errors.Is(err, ErrBadSignature), errors.Is(err, ErrMalformed):
				case errors.Is(err, ErrUnsupported) && (i == offVersion || i == offKind):
				default:
					t.Fatalf("%s: byte %d ^ %#x: unexpected error %v", f.name, i, x, err)
				}
			}
		}
	}
}

func TestTrailingBytesRejected(t *testing.T) {
	f := fixtureNamed(t, "post_create")
	for _, extra := range [][]byte{{0x00}, {0xc0}, f.enc} {
		_, err := DecodeOp(append(bytes.Clone(f.enc), extra...))
		wantErr(t, "trailing", err, ErrTrailing)
	}
	_, err := DecodePost(append(EncodePost(crdt.NewPost(crdt.ID{}, crdt.ID{})), 0))
	wantErr(t, "post record", err, ErrTrailing)
}

// One op has one encoding: an op written with a larger msgpack form than
// the smallest is refused (it would have a second ID).
func TestNonCanonicalRejected(t *testing.T) {
	f := fixtureNamed(t, "post_create")
	if f.enc[offSeq] != 0x02 {
		t.Fatalf("seq at %d is %#x", offSeq, f.enc[offSeq])
	}
	cases := map[string][]byte{}
	// seq 2 as a 9-byte uint64.
	cases["seq as uint64"] = append(append(bytes.Clone(f.enc[:offSeq]), 0xcf, 0, 0, 0, 0, 0, 0, 0, 2), f.enc[offSeq+1:]...)
	// seq 2 as uint8 and as a signed int8.
	cases["seq as uint8"] = append(append(bytes.Clone(f.enc[:offSeq]), 0xcc, 2), f.enc[offSeq+1:]...)
	cases["seq as int8"] = append(append(bytes.Clone(f.enc[:offSeq]), 0xd0, 2), f.enc[offSeq+1:]...)
	// version 1 as uint16.
	cases["version as uint16"] = append(append(bytes.Clone(f.enc[:offVersion]), 0xcd, 0, 1), f.enc[offVersion+1:]...)
	// a short string as str8.
	title := f.op.Body.(crdt.PostCreate).Fields.Title
	cases["title as str8"] = replaceOnce(t, f.enc, fixstr(title), str8(title))
	// a string as bin, and bin as string.
	cases["title as bin"] = replaceOnce(t, f.enc, fixstr(title), append([]byte{0xc4, byte(len(title))}, title...))
	cases["group as str8"] = append(append(bytes.Clone(f.enc[:3]), 0xd9, 0x20), f.enc[5:]...)
	// nil where a zero is due.
	cases["nil for a zero"] = fixtureNil(t)
	// the array header as array16.
	cases["array16 header"] = append([]byte{0xdc, 0, 10}, f.enc[1:]...)
	for name, b := range cases {
		_, err := DecodeOp(b)
		wantErr(t, name, err, ErrNotCanonical)
		_, err = DecodeStoredOp(b)
		wantErr(t, name+" (stored)", err, ErrNotCanonical)
	}
}

// fixtureNil writes nil where the post_create op has logical = 0.
func fixtureNil(t *testing.T) []byte {
	f := fixtureNamed(t, "post_create")
	// seq(1) prev(34) wall(9: cf + 8) logical(1)
	off := offSeq + 1 + 34 + 9
	if f.enc[off] != 0x00 {
		t.Fatalf("logical at %d is %#x", off, f.enc[off])
	}
	b := bytes.Clone(f.enc)
	b[off] = 0xc0
	return b
}

func TestUnsupportedVersionAndKind(t *testing.T) {
	f := fixtureNamed(t, "post_status")
	for _, v := range []byte{0x00, 0x02, 0x7f} {
		b := bytes.Clone(f.enc)
		b[offVersion] = v
		_, err := DecodeOp(b)
		wantErr(t, "version", err, ErrUnsupported)
	}
	// Unassigned and reserved kinds: group keys (8–15), federation
	// (32–47), and beyond.
	for _, k := range []byte{0, 8, 15, 21, 32, 47, 0x7f} {
		b := bytes.Clone(f.enc)
		b[offKind] = k
		_, err := DecodeOp(b)
		wantErr(t, "kind", err, ErrUnsupported)
	}
	// Kinds 3–7 are known now: a status body under their numbers is
	// malformed, not unsupported.
	for k := byte(crdt.KindInvite); k <= byte(crdt.KindLeave); k++ {
		b := bytes.Clone(f.enc)
		b[offKind] = k
		_, err := DecodeOp(b)
		wantErr(t, fmt.Sprintf("status body as kind %d", k), err, ErrMalformed)
	}
	// A kind too large for a byte is malformed, not merely unknown.
	b := append(append(bytes.Clone(f.enc[:offKind]), 0xcd, 1, 0), f.enc[offKind+1:]...)
	_, err := DecodeOp(b)
	wantErr(t, "kind 256", err, ErrMalformed)
	// A post record of another version.
	rec := EncodePost(crdt.NewPost(crdt.ID{}, crdt.ID{}))
	if rec[0] != 0xdc || rec[3] != postVersion { // array16 header, then the version
		t.Fatalf("record starts %x", rec[:4])
	}
	for _, v := range []byte{1, 3} { // 1: before the Withdrawn register
		rec[3] = v
		_, err = DecodePost(rec)
		wantErr(t, fmt.Sprintf("post record version %d", v), err, ErrUnsupported)
	}
}

// Over-long fields and invalid UTF-8 are refused before the signature is
// even checked, with the named error.
func TestFieldLimits(t *testing.T) {
	g := fixtureNamed(t, "genesis")
	c := fixtureNamed(t, "post_create")
	r := fixtureNamed(t, "respond")
	j := fixtureNamed(t, "join_member")
	long := func(n int) string { return strings.Repeat("x", n) }
	strN := func(s string) []byte {
		if len(s) <= 0xff {
			return str8(s)
		}
		return append([]byte{0xda, byte(len(s) >> 8), byte(len(s))}, s...)
	}
	title := c.op.Body.(crdt.PostCreate).Fields.Title
	note := r.op.Body.(crdt.Respond).Note
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"group name", replaceOnce(t, g.enc, fixstr("Food bank"), strN(long(MaxName+1))), ErrFieldTooLong},
		{"author name", replaceOnce(t, g.enc, fixstr("Alice"), strN(long(MaxName+1))), ErrFieldTooLong},
		{"title", replaceOnce(t, c.enc, fixstr(title), strN(long(MaxTitle+1))), ErrFieldTooLong},
		{"ref", replaceOnce(t, c.enc, fixstr("sheet:row-17"), strN(long(MaxRef+1))), ErrFieldTooLong},
		{"note", replaceOnce(t, r.enc, fixstr(note), strN(long(MaxNote+1))), ErrFieldTooLong},
		{"details", replaceOnce(t, c.enc, fixstr("clothing"), strN(long(MaxCategory+1))), ErrFieldTooLong},
		{"bad utf-8 name", replaceOnce(t, g.enc, fixstr("Food bank"), fixstr("Food\xffbank")), ErrBadUTF8},
		{"bad utf-8 title", replaceOnce(t, c.enc, fixstr(title), fixstr("Winter\xc3(oats")), ErrBadUTF8},
		{"surrogate in note", replaceOnce(t, r.enc, fixstr(note), fixstr("\xed\xa0\x80")), ErrBadUTF8},
		{"join name", replaceOnce(t, j.enc, fixstr("Bob"), strN(long(MaxName+1))), ErrFieldTooLong},
		{"bad utf-8 join name", replaceOnce(t, j.enc, fixstr("Bob"), fixstr("B\xc0b")), ErrBadUTF8},
	}
	for _, tc := range cases {
		_, err := DecodeOp(tc.b)
		wantErr(t, tc.name, err, tc.want)
	}
	// At the limit is fine for the decoder's limits (and the encoder's).
	op := c.op
	body := op.Body.(crdt.PostCreate)
	body.Fields.Title, body.Fields.Details = long(MaxTitle), long(MaxDetails)
	body.Fields.Location, body.Fields.Contact = long(MaxLocation), long(MaxContact)
	body.Fields.Category, body.Ref = long(MaxCategory), long(MaxRef)
	op.Body = body
	b, err := SignOp(&op, aliceKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeOp(b); err != nil {
		t.Fatalf("op at every limit: %v", err)
	}
	// Over a limit the encoder refuses too, so nothing is signed that
	// peers would refuse.
	body.Fields.Title = long(MaxTitle + 1)
	op.Body = body
	_, err = SignOp(&op, aliceKey)
	wantErr(t, "SignOp with a long title", err, ErrFieldTooLong)
	body.Fields.Title = "\xff"
	op.Body = body
	_, err = EncodeOp(&op)
	wantErr(t, "EncodeOp with bad UTF-8", err, ErrBadUTF8)
	_, err = EncodeInviteCode(&InviteCode{GroupName: long(MaxName + 1)})
	wantErr(t, "invite code group name", err, ErrFieldTooLong)
	_, err = EncodeInviteCode(&InviteCode{Addrs: []string{long(MaxAddrLen + 1)}})
	wantErr(t, "invite code address", err, ErrFieldTooLong)
}

func TestTooLarge(t *testing.T) {
	f := fixtureNamed(t, "post_create")
	b := append(bytes.Clone(f.enc), make([]byte, MaxOpBytes+1-len(f.enc))...)
	_, err := DecodeOp(b)
	wantErr(t, "MaxOpBytes+1", err, ErrTooLarge)
	_, err = DecodeOp(make([]byte, 1<<20))
	wantErr(t, "1 MiB", err, ErrTooLarge)
	// Exactly MaxOpBytes is not "too large" (it is trailing garbage here).
	_, err = DecodeOp(b[:MaxOpBytes])
	if errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxOpBytes: %v", err)
	}
	_, err = DecodeInviteCode(invitePrefix + strings.Repeat("A", MaxInviteCodeLen))
	wantErr(t, "long invite code", err, ErrTooLarge)
}

// A join carries the admin's invite; a forged or altered invite fails
// DecodeOp even when the joiner's own signature is good.
func TestForgedInviteInJoin(t *testing.T) {
	j := fixtureNamed(t, "join_member")
	body := j.op.Body.(crdt.Join)

	forged := body
	SignInvite(&forged.Invite, malKey)   // signed by Mallory...
	forged.Invite.Issuer = pub(aliceKey) // ...claiming to be Alice
	op := j.op
	op.Body = forged
	b, err := SignOp(&op, bobKey)
	if err != nil {
		t.Fatal(err)
	}
	_, err = DecodeOp(b)
	wantErr(t, "forged invite", err, ErrBadSignature)

	altered := body
	altered.Invite.Role = crdt.RoleAdmin // Bob promotes himself
	op.Body = altered
	if b, err = SignOp(&op, bobKey); err != nil {
		t.Fatal(err)
	}
	_, err = DecodeOp(b)
	wantErr(t, "altered invite", err, ErrBadSignature)

	expired := body
	expired.Invite.Expires += 1000 // Bob extends his invite
	op.Body = expired
	if b, err = SignOp(&op, bobKey); err != nil {
		t.Fatal(err)
	}
	_, err = DecodeOp(b)
	wantErr(t, "extended invite", err, ErrBadSignature)

	// An op signature by the wrong key.
	op = j.op
	if _, err := SignOp(&op, malKey); err != nil {
		t.Fatal(err)
	}
	op.Author = pub(bobKey)
	if b, err = EncodeOp(&op); err != nil {
		t.Fatal(err)
	}
	_, err = DecodeOp(b)
	wantErr(t, "op signed by another key", err, ErrBadSignature)
}

func TestInviteCodes(t *testing.T) {
	code, err := EncodeInviteCode(fixtureInviteCode())
	if err != nil {
		t.Fatal(err)
	}
	if c, err := DecodeInviteCode("  " + code + "\n"); err != nil || c.GroupName != "Food bank" || len(c.Addrs) != 2 {
		t.Fatalf("valid code with spaces around: %+v, %v", c, err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(code, invitePrefix))
	if err != nil {
		t.Fatal(err)
	}
	enc := func(b []byte) string { return invitePrefix + base64.RawURLEncoding.EncodeToString(b) }

	// Altered: any byte of the signed invite (group, role, expiry, uses,
	// key, issuer, signature) or of the secret changed.
	inviteEnd := 1 + 1 + 34 + 1 + 9 + 1 + 34 + 34 + 66 + 34 // [4 [7 group role expires uses key issuer sig] secret
	if payload[inviteEnd] != fixstr("Food bank")[0] {
		t.Fatalf("payload %x: the group name is not at %d", payload, inviteEnd)
	}
	for i := 2; i < inviteEnd; i++ {
		b := bytes.Clone(payload)
		b[i] ^= 0x01
		_, err := DecodeInviteCode(enc(b))
		if !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("altered byte %d: %v", i, err)
		}
	}
	// Altered in the text: a character of the invite part replaced.
	for i := len(invitePrefix); i < len(invitePrefix)+inviteEnd*4/3-1; i++ {
		alt := []byte(code)
		if alt[i] == 'A' {
			alt[i] = 'B'
		} else {
			alt[i] = 'A'
		}
		if _, err := DecodeInviteCode(string(alt)); err == nil {
			t.Fatalf("code altered at %d accepted", i)
		}
	}
	// Forged: signed by someone else in Alice's name.
	forged := fixtureInviteCode()
	SignInvite(&forged.Invite, malKey)
	forged.Invite.Issuer = pub(aliceKey)
	fc, err := EncodeInviteCode(forged)
	if err != nil {
		t.Fatal(err)
	}
	_, err = DecodeInviteCode(fc)
	wantErr(t, "forged", err, ErrBadSignature)
	// A role the protocol does not know, even if properly signed.
	odd := fixtureInviteCode()
	odd.Invite.Role = 3
	SignInvite(&odd.Invite, aliceKey)
	oc, err := EncodeInviteCode(odd)
	if err != nil {
		t.Fatal(err) // else "" would be refused as malformed for the wrong reason
	}
	_, err = DecodeInviteCode(oc)
	wantErr(t, "role 3", err, ErrMalformed)
	// Truncated anywhere.
	for n := 0; n < len(code); n++ {
		_, err := DecodeInviteCode(code[:n])
		if err == nil || !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	// Wrong prefix, padding, other alphabets.
	rest := strings.TrimPrefix(code, invitePrefix)
	for name, bad := range map[string]string{
		"no prefix":       rest,
		"version 2":       "mutual2-" + rest,
		"capitalised":     "Mutual1-" + rest,
		"no dash":         "mutual1" + rest,
		"padded":          code + "==",
		"std base64":      invitePrefix + base64.RawStdEncoding.EncodeToString(payload) + "+/",
		"space inside":    code[:20] + " " + code[20:],
		"empty":           "",
		"only the prefix": invitePrefix,
	} {
		_, err := DecodeInviteCode(bad)
		wantErr(t, name, err, ErrMalformed)
	}
	// Too many addresses are refused when decoding (and dropped when
	// encoding).
	many := fixtureInviteCode()
	for len(many.Addrs) <= MaxInviteAddrs {
		many.Addrs = append(many.Addrs, "/ip4/10.0.0.1/tcp/4001")
	}
	mc, err := EncodeInviteCode(many)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := DecodeInviteCode(mc); err != nil || len(c.Addrs) != MaxInviteAddrs {
		t.Fatalf("encoder kept %d addresses: %v", len(c.Addrs), err)
	}
	w := newWriter()
	w.array(4)
	writeInvite(w, &many.Invite, true)
	w.bin(many.Secret[:])
	w.str(many.GroupName)
	w.strs(many.Addrs)
	_, err = DecodeInviteCode(enc(w.bytes()))
	wantErr(t, "9 addresses", err, ErrMalformed)
}

