package protocol

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"testing"

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

// bin: only the fixed sizes of the op encoding, all bin8.
func (s *spec) bin(b []byte) *spec { return s.raw(0xc4, byte(len(b))).raw(b...) }

// str: fixstr or str8 (the fixtures need no longer ones).
func (s *spec) str(v string) *spec {
	if len(v) < 32 {
		return s.raw(0xa0 | byte(len(v))).raw([]byte(v)...)
	}
	return s.raw(0xd9, byte(len(v))).raw([]byte(v)...)
}

// array: fixarray only (nothing here has 16 elements).
func (s *spec) array(n int) *spec { return s.raw(0x90 | byte(n)) }

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

func specFields(s *spec, f *crdt.Fields) {
	s.array(8).str(f.Title).str(f.Details).str(f.Category).str(f.Location).str(f.Contact)
	s.uint(uint64(f.Quantity)).uint(uint64(f.Urgency)).int(f.Expires)
}

// specBody is section 3's table.
func specBody(t *testing.T, s *spec, body crdt.Body) {
	switch b := body.(type) {
	case crdt.Genesis:
		s.array(3).str(b.Name).bin(b.Nonce[:]).str(b.AuthorName)
	case crdt.Join:
		s.array(3)
		specInvite(s, &b.Invite, true)
		s.str(b.Name).bin(b.Proof[:])
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
	case crdt.PostCreate:
		s.array(3).uint(uint64(b.PostKind))
		specFields(s, &b.Fields)
		s.str(b.Ref)
	case crdt.PostEdit:
		s.array(3).bin(b.Post[:]).uint(uint64(b.Set))
		specFields(s, &b.Fields)
	case crdt.PostStatus:
		s.array(2).bin(b.Post[:]).uint(uint64(b.Status))
	case crdt.Respond:
		s.array(3).bin(b.Post[:]).uint(uint64(b.Quantity)).str(b.Note)
	case crdt.Unrespond:
		s.array(2).bin(b.Post[:]).bin(b.Response[:])
	default:
		t.Fatalf("no spec for %T", body)
	}
}

// specOp is section 2: the 10-element op, or the 9 elements its
// signature covers.
func specOp(t *testing.T, op *crdt.Op, withSig bool) []byte {
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

func TestEncodingIsTheSpec(t *testing.T) {
	for _, f := range fixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			op := f.op
			if want := specOp(t, &op, true); !bytes.Equal(f.enc, want) {
				t.Fatalf("encoding\n got %x\nspec %x", f.enc, want)
			}
			if f.op.ID != sha256.Sum256(f.enc) {
				t.Fatal("ID is not the SHA-256 of the encoding")
			}
			msg := append([]byte("mutual/op/1\n"), specOp(t, &op, false)...)
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
		})
	}
}

// Section 4.1: the invite code's payload.
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
