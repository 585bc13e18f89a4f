package protocol

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/mutual-aid/mutual/crdt"
)

// A second encoder, written from docs/protocol.md alone (sections 1-4)
// and sharing no code with codec.go: every fixture's bytes, signing bytes
// and IDs must be what it builds. The golden files prove that the
// encoding does not change; this proves that it is the documented one.

type spec struct{ b []byte }

func (s *spec) raw(b ...byte) *spec { s.b = append(s.b, b...); return s }

// uint: positive fixint, uint8, uint16, uint32, uint64: the first that fits.
func (s *spec) uint(v uint64) *spec {
	switch {
	case v < 0x80:
		return s.raw(byte(v))
	case v <= 0xff:
		return s.raw(0xcc, byte(v))
	case v <= 0xffff:
		return s.raw(binary.BigEndian.AppendUint16([]byte{0xcd}, uint16(v))...)
	case v <= 0xffffffff:
		return s.raw(binary.BigEndian.AppendUint32([]byte{0xce}, uint32(v))...)
	}
	return s.raw(binary.BigEndian.AppendUint64([]byte{0xcf}, v)...)
}

// int: non-negative values in unsigned form; negative ones in the
// smallest signed form.
func (s *spec) int(v int64) *spec {
	switch {
	case v >= 0:
		return s.uint(uint64(v))
	case v >= -32:
		return s.raw(byte(v))
	case v >= -128:
		return s.raw(0xd0, byte(v))
	case v >= -32768:
		return s.raw(binary.BigEndian.AppendUint16([]byte{0xd1}, uint16(v))...)
	case v >= -1<<31:
		return s.raw(binary.BigEndian.AppendUint32([]byte{0xd2}, uint32(v))...)
	}
	return s.raw(binary.BigEndian.AppendUint64([]byte{0xd3}, uint64(v))...)
}

// bin: bin8 below 256 bytes, else bin16 (nothing here is longer).
func (s *spec) bin(b []byte) *spec {
	if len(b) < 256 {
		return s.raw(0xc4, byte(len(b))).raw(b...)
	}
	return s.raw(0xc5, byte(len(b)>>8), byte(len(b))).raw(b...)
}

// optBin: nil for all zeros (an absent hash), else bin.
func (s *spec) optBin(b []byte) *spec {
	if bytes.Equal(b, make([]byte, len(b))) {
		return s.raw(0xc0)
	}
	return s.bin(b)
}

// str: fixstr, str8 or str16 (no limit needs str32).
func (s *spec) str(v string) *spec {
	switch {
	case len(v) < 32:
		return s.raw(0xa0 | byte(len(v))).raw([]byte(v)...)
	case len(v) < 256:
		return s.raw(0xd9, byte(len(v))).raw([]byte(v)...)
	}
	return s.raw(0xda, byte(len(v)>>8), byte(len(v))).raw([]byte(v)...)
}

// array: fixarray, or array16 from 16 elements (a GroupKey's shares).
func (s *spec) array(n int) *spec {
	if n < 16 {
		return s.raw(0x90 | byte(n))
	}
	return s.raw(0xdc, byte(n>>8), byte(n))
}

// specInvite: [group bin32, role uint, expires int, uses uint, key bin32,
// issuer bin32, sig bin64], or its first six elements.
func specInvite(s *spec, in *crdt.Invite, withSig bool) {
	if withSig {
		s.array(7)
	} else {
		s.array(6)
	}
	s.bin(in.Group[:]).uint(uint64(in.Role)).int(in.Expires).uint(uint64(in.Uses)).bin(in.Key[:]).bin(in.Issuer[:])
	if withSig {
		s.bin(in.Sig[:])
	}
}

// specFields: the six public fields; location and contact are never in
// an op (they travel sealed in its blob).
func specFields(s *spec, f *crdt.Fields) {
	s.array(6).str(f.Title).str(f.Details).str(f.Category)
	s.uint(uint64(f.Quantity)).uint(uint64(f.Urgency)).int(f.Expires)
}

// specBody is section 3's table.
func specBody(t fataler, s *spec, body crdt.Body) {
	switch b := body.(type) {
	case crdt.Genesis:
		s.array(5).str(b.Name).bin(b.Nonce[:]).str(b.AuthorName).bin(b.Box[:]).bin(b.Key[:])
	case crdt.Join:
		s.array(4)
		specInvite(s, &b.Invite, true)
		s.str(b.Name).bin(b.Proof[:]).bin(b.Box[:])
	case crdt.InviteMade:
		s.array(1)
		specInvite(s, &b.Invite, true)
	case crdt.Revoke:
		s.array(1).bin(b.Invite[:])
	case crdt.Admit:
		s.array(1).bin(b.Join[:])
	case crdt.SetRole:
		s.array(3).bin(b.Member[:]).uint(uint64(b.Role)).uint(b.Cut)
	case crdt.Leave:
		s.array(0)
	case crdt.GroupKey:
		s.array(2).bin(b.Key[:]).array(len(b.Shares))
		for _, sh := range b.Shares {
			s.array(2).bin(sh.Member[:]).bin(sh.Sealed[:])
		}
	case crdt.Erase:
		s.array(1).bin(b.Post[:])
	case crdt.Settings:
		s.array(1).int(b.Retention)
	case crdt.PostCreate:
		s.array(5).uint(uint64(b.PostKind))
		specFields(s, &b.Fields)
		s.str(b.Ref).str(b.By).optBin(b.Private[:])
	case crdt.PostEdit:
		s.array(4).bin(b.Post[:]).uint(uint64(b.Set))
		specFields(s, &b.Fields)
		s.optBin(b.Private[:])
	case crdt.Respond:
		if b.By != "" {
			s.array(4).bin(b.Post[:]).uint(uint64(b.Quantity)).str(b.Note).str(b.By)
			break
		}
		s.array(3).bin(b.Post[:]).uint(uint64(b.Quantity)).str(b.Note)
	case crdt.PostStatus:
		s.array(2).bin(b.Post[:]).uint(uint64(b.Status))
	case crdt.Unrespond:
		s.array(2).bin(b.Post[:]).bin(b.Response[:])
	case crdt.Federation:
		s.array(3).uint(uint64(b.Policy)).array(len(b.Allies))
		for _, g := range b.Allies {
			s.bin(g[:])
		}
		s.array(len(b.Blocked))
		for _, g := range b.Blocked {
			s.bin(g[:])
		}
	case crdt.Visit:
		s.array(3).bin(b.From[:]).str(b.Name).bin(b.Box[:])
	default:
		t.Fatalf("no spec for %T", body)
	}
}

// specOp1 is section 2.1: the version 1 op, a 10-element array, or the 9
// elements its signature covers.
func specOp1(t fataler, op *crdt.Op, withSig bool) []byte {
	s := &spec{}
	if withSig {
		s.array(10)
	} else {
		s.array(9)
	}
	s.uint(1).uint(uint64(op.Body.Kind())).bin(op.Group[:]).bin(op.Author[:]).uint(op.Seq).bin(op.Prev[:])
	s.int(op.Time.Wall).uint(uint64(op.Time.Logical))
	specBody(t, s, op.Body)
	if withSig {
		s.bin(op.Sig[:])
	}
	return s.b
}

// specUvarint and specVarint: LEB128, 7 bits a byte, least significant
// first; a signed value is zigzagged first (0, -1, 1, -2 ... as 0, 1, 2, 3).
func (s *spec) uvarint(v uint64) *spec {
	for v >= 0x80 {
		s.raw(byte(v) | 0x80)
		v >>= 7
	}
	return s.raw(byte(v))
}

func (s *spec) varint(v int64) *spec { return s.uvarint(uint64(v<<1) ^ uint64(v>>63)) }

// specFlat writes a flat array of elements (each already encoded), its
// trailing elements of one byte 0x00, 0xa0 or 0xc0 left out.
func specFlat(s *spec, elems ...*spec) {
	n := len(elems)
	for n > 0 && len(elems[n-1].b) == 1 && (elems[n-1].b[0] == 0 || elems[n-1].b[0] == 0xa0 || elems[n-1].b[0] == 0xc0) {
		n--
	}
	s.array(n)
	for _, e := range elems[:n] {
		s.raw(e.b...)
	}
}

func el() *spec { return &spec{} }

// specBody2 is section 3 in version 2: the post kinds flat, the others
// as in version 1.
func specBody2(t fataler, s *spec, body crdt.Body) {
	fields := func(f *crdt.Fields) []*spec {
		return []*spec{el().str(f.Title), el().str(f.Details), el().str(f.Category),
			el().uint(uint64(f.Quantity)), el().uint(uint64(f.Urgency)), el().int(f.Expires)}
	}
	switch b := body.(type) {
	case crdt.PostCreate:
		e := append([]*spec{el().uint(uint64(b.PostKind))}, fields(&b.Fields)...)
		specFlat(s, append(e, el().str(b.Ref), el().str(b.By), el().optBin(b.Private[:]))...)
	case crdt.PostEdit:
		e := append([]*spec{el().bin(b.Post[:]), el().uint(uint64(b.Set))}, fields(&b.Fields)...)
		specFlat(s, append(e, el().optBin(b.Private[:]))...)
	case crdt.Respond:
		specFlat(s, el().bin(b.Post[:]), el().uint(uint64(b.Quantity)), el().str(b.Note), el().str(b.By), el().optBin(b.Private[:]))
	case crdt.Rename: // version 2 only
		s.array(1).str(b.Name)
	case crdt.HandOn: // version 2 only
		s.array(3).bin(b.Post[:]).bin(b.Response[:]).bin(b.Private[:])
	default:
		specBody(t, s, body)
	}
}

// specOp2 is section 2: the version 2 op in its full form, or what its
// signature covers (the same without the signature).
func specOp2(t fataler, op *crdt.Op, withSig bool) []byte {
	s := &spec{}
	s.raw(0x40 | byte(op.Body.Kind())).raw(op.Group[:]...).raw(op.Author[:]...).uvarint(op.Seq)
	if op.Seq >= 2 {
		s.raw(op.Prev[:]...)
	}
	s.varint(op.Time.Wall).uvarint(uint64(op.Time.Logical))
	specBody2(t, s, op.Body)
	if withSig {
		s.raw(op.Sig[:]...)
	}
	return s.b
}

func specOp(t fataler, op *crdt.Op, withSig bool) []byte {
	if op.Version == 1 {
		return specOp1(t, op, withSig)
	}
	return specOp2(t, op, withSig)
}

// specOpID is section 2's op ID: SHA-256 of the version 1 encoding;
// SHA-256 of "mutual/op-id/2\n" and the full form in version 2 (a blob
// after the op is not part of it).
func specOpID(enc []byte) crdt.ID {
	if enc[0] == 0x9a {
		return sha256.Sum256(enc)
	}
	return sha256.Sum256(append([]byte("mutual/op-id/2\n"), enc...))
}

// specSigningBytes is what an op's signature covers.
func specSigningBytes(t fataler, op *crdt.Op) []byte {
	if op.Version == 1 {
		return append([]byte("mutual/op/1\n"), specOp1(t, op, false)...)
	}
	return append([]byte("mutual/op/2\n"), specOp2(t, op, false)...)
}

// specFrame is section 2.4: ops of one group in one frame.
func specFrame(t fataler, ops []crdt.Op) []byte { return specFrameOf(t, ops, false) }

// specGossipFrame is section 2.6: a frame whose ops not chained leave
// out prev (0x10) unless an op of the frame before them at the author's
// seq-1 has another ID.
func specGossipFrame(t fataler, ops []crdt.Op) []byte { return specFrameOf(t, ops, true) }

func specFrameOf(t fataler, ops []crdt.Op, gossip bool) []byte {
	s := &spec{}
	s.raw(0xf2).uvarint(uint64(len(ops)))
	var wall int64
	for i := range ops {
		op := &ops[i]
		var flags byte
		if op.Blob != nil {
			flags |= 0x04
		}
		if op.Version == 1 {
			full := specOp1(t, op, true)
			s.raw(flags | 0x08).uvarint(uint64(len(full))).raw(full...)
		} else {
			if i == 0 || ops[i-1].Author != op.Author {
				flags |= 0x01
			} else if ops[i-1].Seq+1 == op.Seq && op.Prev == specOpID(specOp(t, &ops[i-1], true)) {
				flags |= 0x02
			}
			if gossip && flags&0x02 == 0 && op.Seq >= 2 {
				out := true
				for j := range i { // the last op before at seq-1 is the one the receiver takes
					if ops[j].Author == op.Author && ops[j].Seq+1 == op.Seq {
						out = op.Prev == specOpID(specOp(t, &ops[j], true))
					}
				}
				if out {
					flags |= 0x10
				}
			}
			s.raw(flags, 0x40|byte(op.Body.Kind()))
			if flags&0x01 != 0 {
				s.raw(op.Author[:]...)
			}
			if flags&0x02 == 0 {
				s.uvarint(op.Seq)
				if op.Seq >= 2 && flags&0x10 == 0 {
					s.raw(op.Prev[:]...)
				}
			}
			s.varint(op.Time.Wall - wall).uvarint(uint64(op.Time.Logical))
			wall = op.Time.Wall
			specBody2(t, s, op.Body)
			s.raw(op.Sig[:]...)
		}
		if op.Blob != nil {
			s.uvarint(uint64(len(op.Blob))).raw(op.Blob...)
		}
	}
	return s.b
}

func TestEncodingIsTheSpec(t *testing.T) {
	for _, version := range []uint8{0, 1} {
		for _, f := range fixturesIn(t, version) {
			t.Run(fmt.Sprintf("v%d/%s", map[uint8]int{0: OpVersion, 1: 1}[version], f.name), func(t *testing.T) {
				checkFixtureIsTheSpec(t, f)
			})
		}
	}
}

func checkFixtureIsTheSpec(t *testing.T, f fixture) {
	op := f.op
	if want := specOp(t, &op, true); !bytes.Equal(f.enc, want) {
		t.Fatalf("encoding\n got %x\nspec %x", f.enc, want)
	}
	if f.op.ID != specOpID(f.enc) {
		t.Fatal("ID is not the hash of the encoding")
	}
	msg := specSigningBytes(t, &op)
	if !ed25519.Verify(op.Author[:], msg, op.Sig[:]) {
		t.Fatal("op signature does not verify over the spec's signing bytes")
	}
	var in *crdt.Invite
	switch b := op.Body.(type) {
	case crdt.Join:
		in = &b.Invite
		// Section 4.2: the proof is the one-time key's signature
		// over the domain, then the raw 32-byte group, invite ID
		// and joiner key (no msgpack).
		proof := append([]byte("mutual/join-proof/1\n"), in.Group[:]...)
		proof = append(append(proof, in.ID[:]...), op.Author[:]...)
		if !ed25519.Verify(in.Key[:], proof, b.Proof[:]) {
			t.Fatal("proof does not verify over the spec's proof bytes")
		}
	case crdt.InviteMade:
		in = &b.Invite
	}
	if in == nil {
		return
	}
	s := &spec{}
	specInvite(s, in, true)
	if in.ID != sha256.Sum256(s.b) {
		t.Fatal("invite ID is not the SHA-256 of the spec's invite encoding")
	}
	s = &spec{b: []byte("mutual/invite/2\n")}
	specInvite(s, in, false)
	if !ed25519.Verify(in.Issuer[:], s.b, in.Sig[:]) {
		t.Fatal("invite signature does not verify over the spec's signing bytes")
	}
}

func TestInviteCodeIsTheSpec(t *testing.T) {
	c := fixtureInviteCode()
	s := &spec{}
	s.array(4)
	specInvite(s, &c.Invite, true)
	s.bin(c.Secret[:]).str(c.GroupName).array(len(c.Addrs))
	for _, a := range c.Addrs {
		s.str(a)
	}
	code, err := EncodeInviteCode(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := "mutual1-" + b64(s.b); code != want {
		t.Fatalf("code\n got %s\nspec %s", code, want)
	}
	// The secret is the seed of the one-time key named in the invite.
	if !bytes.Equal(ed25519.NewKeyFromSeed(c.Secret[:]).Public().(ed25519.PublicKey), c.Invite.Key[:]) {
		t.Fatal("the fixture's secret is not the invite key's seed")
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Sealing, written from the layout of seal.go's documentation (and the
// brief of issue 9), sharing no code with seal.go: what the fixtures
// seal is built here, with fixed ephemeral keys and nonces, and seal.go
// must open it.

// specBoxKey: the X25519 key pair of a member, from HKDF-SHA256 of its
// ed25519 seed (no salt, info "mutual/box/1").
func specBoxKey(tb testing.TB, k ed25519.PrivateKey) (*ecdh.PrivateKey, crdt.BoxKey) {
	seed, err := hkdf.Key(sha256.New, k.Seed(), nil, "mutual/box/1", 32)
	if err != nil {
		tb.Fatal(err)
	}
	priv, err := ecdh.X25519().NewPrivateKey(seed)
	if err != nil {
		tb.Fatal(err)
	}
	return priv, crdt.BoxKey(priv.PublicKey().Bytes())
}

// specKeyID: the first 16 bytes of SHA-256("mutual/group-key/1\n" || key).
func specKeyID(k [GroupKeySize]byte) crdt.KeyID {
	h := sha256.Sum256(append([]byte("mutual/group-key/1\n"), k[:]...))
	return crdt.KeyID(h[:16])
}

// specTopic: "/mutual/group/4.0.0/" and 32 hex digits of
// SHA-256("mutual/topic/1\n" || group || first key)[:16].
func specTopic(group crdt.ID, k [GroupKeySize]byte) string {
	h := sha256.Sum256(append(append([]byte("mutual/topic/1\n"), group[:]...), k[:]...))
	return "/mutual/group/4.0.0/" + hex.EncodeToString(h[:16])
}

// specSealShare seals group key k to member (box key to) with the
// ephemeral X25519 key of seed eph: eph's public key (32 bytes), then
// XChaCha20-Poly1305 of k under HKDF-SHA256(shared secret, salt eph
// public || to, info "mutual/share/1"), with a zero nonce and associated
// data "mutual/share/1" || group || key ID || member: 80 bytes.
func specSealShare(tb testing.TB, group crdt.ID, k [GroupKeySize]byte, member crdt.PublicKey, to crdt.BoxKey, eph [32]byte) [crdt.SealedShareSize]byte {
	priv, err := ecdh.X25519().NewPrivateKey(eph[:])
	if err != nil {
		tb.Fatal(err)
	}
	peer, err := ecdh.X25519().NewPublicKey(to[:])
	if err != nil {
		tb.Fatal(err)
	}
	secret, err := priv.ECDH(peer)
	if err != nil {
		tb.Fatal(err)
	}
	ephPub := priv.PublicKey().Bytes()
	key, err := hkdf.Key(sha256.New, secret, append(bytes.Clone(ephPub), to[:]...), "mutual/share/1", 32)
	if err != nil {
		tb.Fatal(err)
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		tb.Fatal(err)
	}
	id := specKeyID(k)
	ad := append(append(append([]byte("mutual/share/1"), group[:]...), id[:]...), member[:]...)
	out := aead.Seal(bytes.Clone(ephPub), make([]byte, 24), k[:], ad)
	if len(out) != crdt.SealedShareSize {
		tb.Fatalf("share of %d bytes", len(out))
	}
	return [crdt.SealedShareSize]byte(out)
}

// specSealPrivate: a blob is 1 (version) · key ID (16) · nonce (24) ·
// XChaCha20-Poly1305 under the group key of the msgpack array
// [location str, contact str], with associated data
// "mutual/private/1\n" || group || key ID.
func specSealPrivate(tb testing.TB, group crdt.ID, k [GroupKeySize]byte, nonce [24]byte, location, contact string) []byte {
	aead, err := chacha20poly1305.NewX(k[:])
	if err != nil {
		tb.Fatal(err)
	}
	id := specKeyID(k)
	plain := (&spec{}).array(2).str(location).str(contact).b
	ad := append(append([]byte("mutual/private/1\n"), group[:]...), id[:]...)
	blob := append(append([]byte{1}, id[:]...), nonce[:]...)
	return aead.Seal(blob, nonce[:], plain, ad)
}

// specWithBlob: the op's encoding, then its blob as one bin (bin8 below
// 256 bytes, else bin16).
func specWithBlob(raw, blob []byte) []byte {
	return append(bytes.Clone(raw), (&spec{}).bin(blob).b...)
}

// The fixtures' seals open with seal.go, and seal.go's names and derived
// keys are the spec's.
func TestSealIsTheSpec(t *testing.T) {
	for _, k := range []ed25519.PrivateKey{aliceKey, bobKey, carolKey, malKey} {
		priv, pub := specBoxKey(t, k)
		gotPriv, gotPub := BoxKeyOf(k)
		if gotPub != pub || !bytes.Equal(gotPriv.Bytes(), priv.Bytes()) {
			t.Fatal("BoxKeyOf is not the spec's derivation")
		}
	}
	for _, n := range []byte{1, 2, 0xff} {
		k := fixtureGroupKey(n)
		if KeyIDOf(k) != specKeyID(k) {
			t.Fatalf("KeyIDOf(%d) is not the spec's", n)
		}
	}
	fs := append(fixtures(t), byFixtures(t)...)
	group := fs[0].op.ID
	opened := map[crdt.Kind]int{}
	for _, f := range fs {
		if f.blob != nil {
			// The blob after the op, as the spec frames it.
			if !bytes.Equal(JoinBlob(f.enc, f.blob), specWithBlob(f.enc, f.blob)) {
				t.Fatalf("%s: JoinBlob is not the spec's framing", f.name)
			}
			if IsSealedTo(f.blob) {
				checkSealedToIsTheSpec(t, group, f)
				opened[f.op.Body.Kind()]++
				continue
			}
			p, err := OpenPrivate(group, f.blob, fixtureKeyring)
			if err != nil || p != f.private {
				t.Fatalf("%s: OpenPrivate: %+v, %v", f.name, p, err)
			}
			opened[f.op.Body.Kind()]++
		}
		gk, ok := f.op.Body.(crdt.GroupKey)
		if !ok {
			continue
		}
		for _, sh := range gk.Shares {
			var member ed25519.PrivateKey
			for _, k := range []ed25519.PrivateKey{aliceKey, bobKey, carolKey} {
				if pub(k) == sh.Member {
					member = k
				}
			}
			priv, _ := BoxKeyOf(member)
			k, err := OpenShare(group, gk.Key, sh.Member, &sh.Sealed, priv)
			if err != nil || KeyIDOf(k) != gk.Key {
				t.Fatalf("%s: share of %x does not open: %v", f.name, sh.Member[:4], err)
			}
			opened[f.op.Body.Kind()]++
		}
	}
	if opened[crdt.KindPostCreate] == 0 || opened[crdt.KindPostEdit] == 0 || opened[crdt.KindGroupKey] < 4 || opened[crdt.KindRespond] == 0 {
		t.Fatalf("opened %v: the fixtures lack seals", opened)
	}
}

// fataler is what the spec's encoder needs of a test: a *testing.T or a
// *rapid.T.
type fataler interface {
	Fatalf(format string, args ...any)
}

// checkSealedToIsTheSpec opens a blob sealed to members (section 14.6)
// the spec's way, for each fixture key: the members it was sealed to
// (Alice and Carol) open it to the fixture's private fields; the others
// find no slot. Then OpenSealedTo must agree.
func checkSealedToIsTheSpec(t *testing.T, group crdt.ID, f fixture) {
	t.Helper()
	b := f.blob
	if b[0] != 2 {
		t.Fatalf("%s: blob version %d", f.name, b[0])
	}
	eph, n := b[1:33], int(b[33])<<8|int(b[34])
	slots, rest := b[35:35+48*n], b[35+48*n:]
	for _, k := range []ed25519.PrivateKey{aliceKey, bobKey, carolKey, daveKey, malKey} {
		priv, box := specBoxKey(t, k)
		ephPub, err := ecdh.X25519().NewPublicKey(eph)
		if err != nil {
			t.Fatal(err)
		}
		secret, err := priv.ECDH(ephPub)
		if err != nil {
			t.Fatal(err)
		}
		kk, err := hkdf.Key(sha256.New, secret, append(bytes.Clone(eph), box[:]...), "mutual/contact-slot/1", 32)
		if err != nil {
			t.Fatal(err)
		}
		aead, _ := chacha20poly1305.NewX(kk)
		var ck []byte
		for i := 0; i < n && ck == nil; i++ {
			ck, _ = aead.Open(nil, make([]byte, 24), slots[48*i:48*i+48], append([]byte("mutual/contact-slot/1"), group[:]...))
		}
		got, gotErr := OpenSealedTo(group, b, priv)
		sealedTo := pub(k) == pub(aliceKey) || pub(k) == pub(carolKey)
		if ck == nil {
			if sealedTo || gotErr == nil {
				t.Fatalf("%s: key %s: spec opens no slot (sealed to it: %v), OpenSealedTo: %v", f.name, pub(k).String()[:8], sealedTo, gotErr)
			}
			continue
		}
		caead, _ := chacha20poly1305.NewX(ck)
		plain, err := caead.Open(nil, rest[:24], rest[24:], append(append([]byte("mutual/contact/1\n"), group[:]...), eph...))
		if err != nil {
			t.Fatalf("%s: content does not open: %v", f.name, err)
		}
		if want := (&spec{}).array(2).str(f.private.Location).str(f.private.Contact).b; !bytes.Equal(plain, want) {
			t.Fatalf("%s: plaintext %x, spec %x", f.name, plain, want)
		}
		if gotErr != nil || got != f.private {
			t.Fatalf("%s: OpenSealedTo: %+v, %v", f.name, got, gotErr)
		}
	}
}
