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
	for _, f := range fixturesV1(t) {
		for i := range f.enc {
			for _, x := range []byte{0x01, 0x80, 0xff} {
				b := bytes.Clone(f.enc)
				b[i] ^= x
				_, err := DecodeOp(b)
				switch {
				case err == nil:
					t.Fatalf("%s: byte %d ^ %#x accepted", f.name, i, x)
				case errors.Is(err, ErrBadSignature), errors.Is(err, ErrMalformed):
				case errors.Is(err, ErrUnsupported) && (i == 0 || i == offVersion || i == offKind): // byte 0: a later version's tag
				default:
					t.Fatalf("%s: byte %d ^ %#x: unexpected error %v", f.name, i, x, err)
				}
			}
		}
	}
}

func TestTrailingBytesRejected(t *testing.T) {
	f := fixtureNamedV1(t, "post_create")
	for _, extra := range [][]byte{{0x00}, {0xc0}, f.enc} {
		_, err := DecodeOp(append(bytes.Clone(f.enc), extra...))
		wantErr(t, "trailing", err, ErrTrailing)
	}
	_, err := DecodePost(append(EncodePost(crdt.NewPost(crdt.ID{}, crdt.ID{})), 0), crdt.ID{}, crdt.ID{})
	wantErr(t, "post record", err, ErrTrailing)
}

// One op has one encoding: an op written with a larger msgpack form than
// the smallest is refused (it would have a second ID).
func TestNonCanonicalRejected(t *testing.T) {
	f := fixtureNamedV1(t, "post_create")
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
	f := fixtureNamedV1(t, "post_create")
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
	f := fixtureNamedV1(t, "post_status")
	for _, v := range []byte{0x00, 0x02, 0x7f} {
		b := bytes.Clone(f.enc)
		b[offVersion] = v
		_, err := DecodeOp(b)
		wantErr(t, "version", err, ErrUnsupported)
	}
	// Unassigned and reserved kinds: 12–15, federation (34–47; 32 and
	// 33 are Federation and Visit), and beyond; 11 (Rename) exists only
	// in version 2, and this is a version 1 op.
	for _, k := range []byte{0, 11, 15, 21, 34, 47, 0x7f} {
		b := bytes.Clone(f.enc)
		b[offKind] = k
		_, err := DecodeOp(b)
		wantErr(t, "kind", err, ErrUnsupported)
	}
	// Kinds 3–10 are known now: a status body under their numbers is
	// malformed, not unsupported.
	for k := byte(crdt.KindInvite); k <= byte(crdt.KindSettings); k++ {
		b := bytes.Clone(f.enc)
		b[offKind] = k
		_, err := DecodeOp(b)
		wantErr(t, fmt.Sprintf("status body as kind %d", k), err, ErrMalformed)
	}
	for _, k := range []crdt.Kind{crdt.KindFederation, crdt.KindVisit} {
		b := bytes.Clone(f.enc)
		b[offKind] = byte(k)
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
	for _, v := range []byte{1, 2, 3, 4, 6} { // 1: before the Withdrawn register; 2: before ErasedAt; 3: with the group and ID; 4: every time in full
		rec[3] = v
		_, err = DecodePost(rec, crdt.ID{}, crdt.ID{})
		wantErr(t, fmt.Sprintf("post record version %d", v), err, ErrUnsupported)
	}
}

// Over-long fields and invalid UTF-8 are refused before the signature is
// even checked, with the named error.
func TestFieldLimits(t *testing.T) {
	g := fixtureNamedV1(t, "genesis")
	c := fixtureNamedV1(t, "post_create")
	r := fixtureNamedV1(t, "respond")
	j := fixtureNamedV1(t, "join_member")
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
	body.Fields.Category, body.Ref, body.By = long(MaxCategory), long(MaxRef), long(MaxName)
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
	// Location and contact are never encoded in an op, whatever their
	// length: they travel sealed in its blob.
	for _, clear := range []crdt.Fields{{Title: "t", Location: "x"}, {Title: "t", Contact: "x"}, {Location: long(MaxLocation + 1)}} {
		for _, b := range []crdt.Body{
			crdt.PostCreate{PostKind: crdt.Need, Fields: clear},
			crdt.PostEdit{Post: c.op.ID, Set: crdt.FieldLocation, Fields: clear},
		} {
			op.Body = b
			_, err = SignOp(&op, aliceKey)
			wantErr(t, "SignOp with a private field in clear", err, ErrClearPrivate)
			_, err = EncodeOp(&op)
			wantErr(t, "EncodeOp with a private field in clear", err, ErrClearPrivate)
		}
	}
	// The fields of the format before issue 9 (8 elements, location and
	// contact in clear) are malformed.
	eight := (&spec{}).array(8).str("Winter coats").str("").str("").str("Community hall").str("+44").uint(0).uint(0).int(0).b
	old := withBody(t, c, crdt.KindPostCreate, cat3((&spec{}).array(5).uint(1).b, eight, (&spec{}).str("").str("").raw(0xc0).b))
	_, err = DecodeOp(old)
	wantErr(t, "fields of 8", err, ErrMalformed)
	_, err = EncodeInviteCode(&InviteCode{GroupName: long(MaxName + 1)})
	wantErr(t, "invite code group name", err, ErrFieldTooLong)
	_, err = EncodeInviteCode(&InviteCode{Addrs: []string{long(MaxAddrLen + 1)}})
	wantErr(t, "invite code address", err, ErrFieldTooLong)
}

func TestTooLarge(t *testing.T) {
	f := fixtureNamedV1(t, "post_create")
	// An op may be followed by its blob: DecodeOp takes at most an op's
	// and a blob's bytes (and a bin16 header).
	b := append(bytes.Clone(f.enc), make([]byte, MaxOpBytes+MaxBlobBytes+4-len(f.enc))...)
	_, err := DecodeOp(b)
	wantErr(t, "MaxOpBytes+MaxBlobBytes+4", err, ErrTooLarge)
	_, err = DecodeOp(b[:MaxOpBytes+1])
	wantErr(t, "MaxOpBytes+1 (zeros after the op)", err, ErrTrailing)
	_, err = DecodeStoredOp(b[:MaxOpBytes+1])
	wantErr(t, "MaxOpBytes+1 (stored: as DecodeOp)", err, ErrTrailing)
	// An op over MaxOpBytes with a valid blob after it: too large.
	big, n := make([]byte, MaxOpBytes+1), MaxOpBytes-2 // one bin16 of MaxOpBytes+1 bytes in all
	n -= 1                                             // a 1-element array (a version 1 op's form) around it
	big[0], big[1], big[2], big[3] = 0x91, 0xc5, byte(n>>8), byte(n)
	_, err = DecodeOp(JoinBlob(big, f.blob))
	wantErr(t, "op of MaxOpBytes+1 and its blob", err, ErrTooLarge)
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
	j := fixtureNamedV1(t, "join_member")
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

// withBody returns fixture f's encoding with its body replaced by body
// (raw msgpack) and its kind by kind: the header and signature as they
// were, so only the decoder's checks of the body can stop it first.
func withBody(t *testing.T, f fixture, kind crdt.Kind, body []byte) []byte {
	t.Helper()
	op := f.op
	s := &spec{}
	s.array(10).uint(1).uint(uint64(kind)).bin(op.Group[:]).bin(op.Author[:]).uint(op.Seq).bin(op.Prev[:])
	s.int(op.Time.Wall).uint(uint64(op.Time.Logical)).raw(body...).bin(op.Sig[:])
	return s.b
}

// The bodies of kinds 1–10 and 16–17, malformed in every way a hostile peer might
// try: arrays one short or one long, fixed-size bins a byte off, numbers
// out of range, other types, the version-1 join. Each is refused by the
// decoder with ErrMalformed (so before any signature is checked), by
// DecodeOp and DecodeStoredOp alike, and by the reader's own checks, not
// only by the re-encoding (ErrNotCanonical): except where the msgpack
// library reads one type as another (a str as bin, nil or a negative
// number as an unsigned one), which only the re-encoding refuses.
func TestMalformedMembershipBodies(t *testing.T) {
	id := bytes.Repeat([]byte{7}, 32)
	bin := func(n int) []byte { return (&spec{}).bin(bytes.Repeat([]byte{7}, n)).b }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	arr := func(n int, elems ...[]byte) []byte { return cat(append([][]byte{{0x90 | byte(n)}}, elems...)...) }
	u := func(v uint64) []byte { return (&spec{}).uint(v).b }
	fields6 := arr(6, fixstr("t"), fixstr(""), fixstr(""), u(0), u(0), u(0))

	jf := fixtureNamedV1(t, "join_member")
	join := jf.op.Body.(crdt.Join)
	invite := func(n int, fields ...[]byte) []byte { return arr(n, fields...) }
	in := &join.Invite
	group, role, expires := (&spec{}).bin(in.Group[:]).b, u(uint64(in.Role)), (&spec{}).int(in.Expires).b
	uses, key, issuer, sig := u(uint64(in.Uses)), (&spec{}).bin(in.Key[:]).b, (&spec{}).bin(in.Issuer[:]).b, (&spec{}).bin(in.Sig[:]).b
	goodInvite := invite(7, group, role, expires, uses, key, issuer, sig)
	name, proof, box := fixstr("Bob"), (&spec{}).bin(join.Proof[:]).b, (&spec{}).bin(join.Box[:]).b
	if !bytes.Equal(withBody(t, jf, crdt.KindJoin, arr(4, goodInvite, name, proof, box)), jf.enc) {
		t.Fatal("withBody does not rebuild the join fixture")
	}

	cases := []struct {
		name string
		kind crdt.Kind
		body []byte
	}{
		// Join: [invite, name, proof, box]
		{"join of 2 (version 1: no proof)", crdt.KindJoin, arr(2, goodInvite, name)},
		{"join of 3 (before issue 9: no box)", crdt.KindJoin, arr(3, goodInvite, name, proof)},
		{"join of 5", crdt.KindJoin, arr(5, goodInvite, name, proof, box, box)},
		{"join proof of 63 bytes", crdt.KindJoin, arr(4, goodInvite, name, bin(63), box)},
		{"join proof of 65 bytes", crdt.KindJoin, arr(4, goodInvite, name, bin(65), box)},
		{"join proof as str", crdt.KindJoin, arr(4, goodInvite, name, cat([]byte{0xd9, 64}, bytes.Repeat([]byte{'a'}, 64)), box)},
		{"join proof nil", crdt.KindJoin, arr(4, goodInvite, name, []byte{0xc0}, box)},
		{"join without name", crdt.KindJoin, arr(4, goodInvite, proof, proof, box)},
		{"join box of 31 bytes", crdt.KindJoin, arr(4, goodInvite, name, proof, bin(31))},
		{"join box of 33 bytes", crdt.KindJoin, arr(4, goodInvite, name, proof, bin(33))},
		{"join box nil", crdt.KindJoin, arr(4, goodInvite, name, proof, []byte{0xc0})},
		// Invite: [group, role, expires, uses, key, issuer, sig]
		{"invite of 6 (unsigned)", crdt.KindJoin, arr(4, invite(6, group, role, expires, uses, key, issuer), name, proof, box)},
		{"invite of 6 (version 1: nonce, no uses or key)", crdt.KindJoin, arr(4, invite(6, group, role, expires, bin(16), issuer, sig), name, proof, box)},
		{"invite of 8", crdt.KindJoin, arr(4, invite(8, group, role, expires, uses, key, issuer, sig, sig), name, proof, box)},
		{"invite role 256", crdt.KindJoin, arr(4, invite(7, group, u(256), expires, uses, key, issuer, sig), name, proof, box)},
		{"invite role -1", crdt.KindJoin, arr(4, invite(7, group, []byte{0xff}, expires, uses, key, issuer, sig), name, proof, box)},
		{"invite uses 2^32", crdt.KindJoin, arr(4, invite(7, group, role, expires, u(1<<32), key, issuer, sig), name, proof, box)},
		{"invite uses -1", crdt.KindJoin, arr(4, invite(7, group, role, expires, []byte{0xff}, key, issuer, sig), name, proof, box)},
		{"invite expires as bin", crdt.KindJoin, arr(4, invite(7, group, role, bin(8), uses, key, issuer, sig), name, proof, box)},
		{"invite key of 31 bytes", crdt.KindJoin, arr(4, invite(7, group, role, expires, uses, bin(31), issuer, sig), name, proof, box)},
		{"invite key of 33 bytes", crdt.KindJoin, arr(4, invite(7, group, role, expires, uses, bin(33), issuer, sig), name, proof, box)},
		{"invite group of 31 bytes", crdt.KindJoin, arr(4, invite(7, bin(31), role, expires, uses, key, issuer, sig), name, proof, box)},
		{"invite issuer of 33 bytes", crdt.KindJoin, arr(4, invite(7, group, role, expires, uses, key, bin(33), sig), name, proof, box)},
		{"invite sig of 63 bytes", crdt.KindJoin, arr(4, invite(7, group, role, expires, uses, key, issuer, bin(63)), name, proof, box)},
		{"invite as a map", crdt.KindJoin, arr(4, []byte{0x80}, name, proof, box)},
		// InviteMade: [invite]
		{"invite made of 0", crdt.KindInvite, arr(0)},
		{"invite made of 2", crdt.KindInvite, arr(2, goodInvite, name)},
		{"invite made unsigned", crdt.KindInvite, arr(1, invite(6, group, role, expires, uses, key, issuer))},
		{"invite made as the bare invite", crdt.KindInvite, goodInvite},
		{"invite made with an ID", crdt.KindInvite, arr(1, (&spec{}).bin(id).b)},
		// Revoke: [invite bin32]
		{"revoke of 0", crdt.KindRevoke, arr(0)},
		{"revoke of 2", crdt.KindRevoke, arr(2, bin(32), bin(32))},
		{"revoke of 31 bytes", crdt.KindRevoke, arr(1, bin(31))},
		{"revoke of 33 bytes", crdt.KindRevoke, arr(1, bin(33))},
		{"revoke of an invite", crdt.KindRevoke, arr(1, goodInvite)},
		{"revoke as str", crdt.KindRevoke, arr(1, cat([]byte{0xd9, 32}, id))},
		// Admit: [join bin32]
		{"admit of 0", crdt.KindAdmit, arr(0)},
		{"admit of 2", crdt.KindAdmit, arr(2, bin(32), bin(32))},
		{"admit of 31 bytes", crdt.KindAdmit, arr(1, bin(31))},
		{"admit of 64 bytes", crdt.KindAdmit, arr(1, bin(64))},
		{"admit nil", crdt.KindAdmit, arr(1, []byte{0xc0})},
		// SetRole: [member bin32, role uint, cut uint]
		{"role of 2", crdt.KindSetRole, arr(2, bin(32), u(1))},
		{"role of 4", crdt.KindSetRole, arr(4, bin(32), u(1), u(1), u(1))},
		{"role member of 31 bytes", crdt.KindSetRole, arr(3, bin(31), u(1), u(1))},
		{"role member of 33 bytes", crdt.KindSetRole, arr(3, bin(33), u(1), u(1))},
		{"role 256", crdt.KindSetRole, arr(3, bin(32), u(256), u(1))},
		{"role 2^32", crdt.KindSetRole, arr(3, bin(32), u(1<<32), u(1))},
		{"role -1", crdt.KindSetRole, arr(3, bin(32), []byte{0xff}, u(1))},
		{"role -128", crdt.KindSetRole, arr(3, bin(32), []byte{0xd0, 0x80}, u(1))},
		{"role as bool", crdt.KindSetRole, arr(3, bin(32), []byte{0xc3}, u(1))},
		{"role cut -1", crdt.KindSetRole, arr(3, bin(32), u(1), []byte{0xff})},
		{"role cut as float", crdt.KindSetRole, arr(3, bin(32), u(1), []byte{0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0})},
		{"role cut nil", crdt.KindSetRole, arr(3, bin(32), u(1), []byte{0xc0})},
		// Leave: []
		{"leave of 1", crdt.KindLeave, arr(1, u(0))},
		{"leave nil", crdt.KindLeave, []byte{0xc0}},
		{"leave as a map", crdt.KindLeave, []byte{0x80}},
		{"leave as 0", crdt.KindLeave, u(0)},
		{"leave as str", crdt.KindLeave, fixstr("")},
		// Genesis: [name, nonce bin16, author name, box bin32, key bin16]
		{"genesis of 3 (before issue 9)", crdt.KindGenesis, arr(3, fixstr("g"), bin(16), fixstr("a"))},
		{"genesis of 4", crdt.KindGenesis, arr(4, fixstr("g"), bin(16), fixstr("a"), bin(32))},
		{"genesis of 6", crdt.KindGenesis, arr(6, fixstr("g"), bin(16), fixstr("a"), bin(32), bin(16), bin(16))},
		{"genesis box of 31 bytes", crdt.KindGenesis, arr(5, fixstr("g"), bin(16), fixstr("a"), bin(31), bin(16))},
		{"genesis key of 32 bytes", crdt.KindGenesis, arr(5, fixstr("g"), bin(16), fixstr("a"), bin(32), bin(32))},
		{"genesis key nil", crdt.KindGenesis, arr(5, fixstr("g"), bin(16), fixstr("a"), bin(32), []byte{0xc0})},
		// GroupKey: [key bin16, [[member bin32, sealed bin80]...]]
		{"key of 1", crdt.KindGroupKey, arr(1, bin(16))},
		{"key of 3", crdt.KindGroupKey, arr(3, bin(16), arr(1, arr(2, bin(32), bin(80))), arr(0))},
		{"key ID of 15 bytes", crdt.KindGroupKey, arr(2, bin(15), arr(1, arr(2, bin(32), bin(80))))},
		{"key ID of 32 bytes", crdt.KindGroupKey, arr(2, bin(32), arr(1, arr(2, bin(32), bin(80))))},
		{"key share member of 31 bytes", crdt.KindGroupKey, arr(2, bin(16), arr(1, arr(2, bin(31), bin(80))))},
		{"key share sealed of 79 bytes", crdt.KindGroupKey, arr(2, bin(16), arr(1, arr(2, bin(32), bin(79))))},
		{"key share sealed of 81 bytes", crdt.KindGroupKey, arr(2, bin(16), arr(1, arr(2, bin(32), bin(81))))},
		{"key share of 3", crdt.KindGroupKey, arr(2, bin(16), arr(1, arr(3, bin(32), bin(80), bin(80))))},
		{"key share as a bare bin", crdt.KindGroupKey, arr(2, bin(16), arr(1, bin(32)))},
		{"key shares as a map", crdt.KindGroupKey, arr(2, bin(16), []byte{0x80})},
		{"key of 65 shares", crdt.KindGroupKey, arr(2, bin(16), cat([]byte{0xdc, 0, 65}, bytes.Repeat(arr(2, bin(32), bin(80)), 65)))},
		{"key shares array32", crdt.KindGroupKey, arr(2, bin(16), []byte{0xdd, 0x0f, 0xff, 0xff, 0xff})},
		// Erase: [post bin32]
		{"erase of 0", crdt.KindErase, arr(0)},
		{"erase of 2", crdt.KindErase, arr(2, bin(32), bin(32))},
		{"erase of 31 bytes", crdt.KindErase, arr(1, bin(31))},
		{"erase nil", crdt.KindErase, arr(1, []byte{0xc0})},
		// Settings: [retention int]
		{"settings of 0", crdt.KindSettings, arr(0)},
		{"settings of 2", crdt.KindSettings, arr(2, u(1), u(1))},
		{"settings retention as str", crdt.KindSettings, arr(1, fixstr("7d"))},
		{"settings retention as float", crdt.KindSettings, arr(1, []byte{0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0})},
		{"settings retention as uint64 over int64", crdt.KindSettings, arr(1, []byte{0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})},
		// PostCreate: [kind, fields, ref, by, private nil|bin32]
		{"post of 4 (no private)", crdt.KindPostCreate, arr(4, u(1), fields6, fixstr(""), fixstr(""))},
		{"post of 6", crdt.KindPostCreate, arr(6, u(1), fields6, fixstr(""), fixstr(""), []byte{0xc0}, []byte{0xc0})},
		{"post private of 31 bytes", crdt.KindPostCreate, arr(5, u(1), fields6, fixstr(""), fixstr(""), bin(31))},
		{"post private of 33 bytes", crdt.KindPostCreate, arr(5, u(1), fields6, fixstr(""), fixstr(""), bin(33))},
		{"post private as a blob", crdt.KindPostCreate, arr(5, u(1), fields6, fixstr(""), fixstr(""), bin(60))},
		{"post private of zeros", crdt.KindPostCreate, arr(5, u(1), fields6, fixstr(""), fixstr(""), (&spec{}).bin(make([]byte, 32)).b)},
		{"post private as str", crdt.KindPostCreate, arr(5, u(1), fields6, fixstr(""), fixstr(""), cat([]byte{0xd9, 32}, id))},
		{"post private as false", crdt.KindPostCreate, arr(5, u(1), fields6, fixstr(""), fixstr(""), []byte{0xc2})},
		// PostEdit: [post, set, fields, private nil|bin32]
		{"edit of 3 (no private)", crdt.KindPostEdit, arr(3, bin(32), u(8), fields6)},
		{"edit of 5", crdt.KindPostEdit, arr(5, bin(32), u(8), fields6, bin(32), bin(32))},
		{"edit private of 31 bytes", crdt.KindPostEdit, arr(4, bin(32), u(8), fields6, bin(31))},
		{"edit private of 64 bytes", crdt.KindPostEdit, arr(4, bin(32), u(8), fields6, bin(64))},
		{"edit private of zeros", crdt.KindPostEdit, arr(4, bin(32), u(8), fields6, (&spec{}).bin(make([]byte, 32)).b)},
		{"edit fields of 8", crdt.KindPostEdit, arr(4, bin(32), u(8), arr(8, fixstr("t"), fixstr(""), fixstr(""), fixstr("here"), fixstr("me"), u(0), u(0), u(0)), []byte{0xc0})},
	}
	// Only the re-encoding refuses these.
	lenient := map[string]bool{"join proof as str": true, "revoke as str": true, "role cut -1": true, "role cut nil": true,
		"post private of zeros": true, "edit private of zeros": true, "post private as str": true,
		"settings retention as uint64 over int64": true}
	for _, tc := range cases {
		b := withBody(t, jf, tc.kind, tc.body)
		_, err := DecodeOp(b)
		wantErr(t, tc.name, err, ErrMalformed)
		_, err = DecodeStoredOp(b)
		wantErr(t, tc.name+" (stored)", err, ErrMalformed)
		if errors.Is(err, ErrNotCanonical) != lenient[tc.name] {
			t.Errorf("%s: %v (refused only by the re-encoding: %v, want %v)", tc.name, err, !lenient[tc.name], lenient[tc.name])
		}
		if testing.Verbose() {
			t.Logf("%s: %v", tc.name, err)
		}
	}
}

// A number in a larger msgpack form than the smallest, in the bodies of
// kinds 2–7, gives the op a second encoding: refused.
func TestNonCanonicalMembershipBodies(t *testing.T) {
	jm := fixtureNamedV1(t, "join_member")
	rp := fixtureNamedV1(t, "role_promote")
	im := fixtureNamedV1(t, "invite_made")
	lv := fixtureNamedV1(t, "leave")
	cut := rp.op.Body.(crdt.SetRole).Cut
	if cut >= 0x80 {
		t.Fatalf("cut %d", cut)
	}
	// Invite: [group, role, expires, uses, ...]: role 1, expires a
	// uint64, uses a fixint.
	g := jm.op.Group[:]
	cases := map[string][]byte{}
	for name, f := range map[string]fixture{"join": jm, "invite made": im} {
		// the group in the invite is the op's group too: the second occurrence
		off := bytes.Index(f.enc[3+34:], append([]byte{0xc4, 0x20}, g...)) + 3 + 34 + 34
		if f.enc[off] != 0x01 || f.enc[off+1] != 0xcf {
			t.Fatalf("%s: invite role at %d: %x", name, off, f.enc[off:off+2])
		}
		cases[name+": role as uint8"] = cat3(f.enc[:off], []byte{0xcc, 0x01}, f.enc[off+1:])
		cases[name+": role as int8"] = cat3(f.enc[:off], []byte{0xd0, 0x01}, f.enc[off+1:])
		usesOff := off + 1 + 9
		cases[name+": uses as uint32"] = cat3(f.enc[:usesOff], []byte{0xce, 0, 0, 0, f.enc[usesOff]}, f.enc[usesOff+1:])
		// expires (a uint64 value) as int64
		cases[name+": expires as int64"] = cat3(f.enc[:off+1], append([]byte{0xd3}, f.enc[off+2:off+10]...), f.enc[off+10:])
	}
	// SetRole: [member, role, cut]: role 2 and the cut are fixints.
	end := len(rp.enc) - 66
	if rp.enc[end-2] != 0x02 || rp.enc[end-1] != byte(cut) {
		t.Fatalf("role_promote body ends %x", rp.enc[end-2:end])
	}
	cases["role as uint8"] = cat3(rp.enc[:end-2], []byte{0xcc, 0x02}, rp.enc[end-1:])
	cases["cut as uint64"] = cat3(rp.enc[:end-1], []byte{0xcf, 0, 0, 0, 0, 0, 0, 0, byte(cut)}, rp.enc[end:])
	cases["cut as int8"] = cat3(rp.enc[:end-1], []byte{0xd0, byte(cut)}, rp.enc[end:])
	cases["body as array16"] = cat3(rp.enc[:end-2-34-1], []byte{0xdc, 0, 3}, rp.enc[end-2-34:])
	// Leave: [] as array16 and array32.
	lend := len(lv.enc) - 66
	if lv.enc[lend-1] != 0x90 {
		t.Fatalf("leave body %x", lv.enc[lend-1])
	}
	cases["leave as array16"] = cat3(lv.enc[:lend-1], []byte{0xdc, 0, 0}, lv.enc[lend:])
	cases["leave as array32"] = cat3(lv.enc[:lend-1], []byte{0xdd, 0, 0, 0, 0}, lv.enc[lend:])
	for name, b := range cases {
		_, err := DecodeOp(b)
		wantErr(t, name, err, ErrNotCanonical)
		_, err = DecodeStoredOp(b)
		wantErr(t, name+" (stored)", err, ErrNotCanonical)
	}
}

func cat3(a, b, c []byte) []byte { return append(append(bytes.Clone(a), b...), c...) }
