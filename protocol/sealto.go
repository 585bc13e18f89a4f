package protocol

import (
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/mutual-aid/mutual/crdt"
)

// Sealing to a group's members without its key (docs/protocol.md 14.6).
// A visitor — a member of another group answering this group's need —
// holds no key of the group, yet its contact must be readable by the
// group's members only. It seals the contact under a fresh content key,
// and the content key to each member's box key (from their genesis or
// join, which a follower holds): a blob of version 2,
//
//	version (1 byte, 2) · eph (32) · n (2, big-endian) · n slots (48 each) ·
//	nonce (24) · ciphertext
//
//	slot_i     = XChaCha20-Poly1305(k_i, 24 zero bytes, ck (32), slotDomain · group)
//	k_i        = HKDF-SHA256(X25519(eph, box_i), salt = eph · box_i, info = slotDomain, 32 bytes)
//	ciphertext = XChaCha20-Poly1305(ck, nonce, [location str, contact str], contactDomain · group · eph)
//
// A member finds its slot by trying each (one X25519, then an AEAD per
// slot): the slots name nobody.

const (
	slotDomain    = "mutual/contact-slot/1"
	contactDomain = "mutual/contact/1\n"
)

// sealedToVersion is the first byte of a blob sealed to members.
const sealedToVersion = 2

// MaxSealedTo bounds the members a blob is sealed to (64 slots: a blob
// of about 3.3 KB at most, within MaxBlobBytes).
const MaxSealedTo = 64

const slotSize = chacha20poly1305.KeySize + chacha20poly1305.Overhead

// sealedToHeader is the size of a version 2 blob before its slots.
const sealedToHeader = 1 + 32 + 2

func slotAEAD(secret, eph, to []byte) (cipherAEAD, error) {
	salt := append(append([]byte{}, eph...), to...)
	k, err := hkdf.Key(sha256.New, secret, salt, slotDomain, chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	return chacha20poly1305.NewX(k)
}

func slotAD(group crdt.ID) []byte { return append([]byte(slotDomain), group[:]...) }

func contactAD(group crdt.ID, eph []byte) []byte {
	ad := append([]byte(contactDomain), group[:]...)
	return append(ad, eph...)
}

// SealTo seals p for the holders of the box keys to (1 to MaxSealedTo)
// of group, and returns the blob and its SHA-256, which the op names.
func SealTo(group crdt.ID, to []crdt.BoxKey, p Private) ([]byte, crdt.ID, error) {
	if err := firstErr(checkText("location", p.Location, MaxLocation), checkText("contact", p.Contact, MaxContact)); err != nil {
		return nil, crdt.ID{}, err
	}
	if len(to) == 0 || len(to) > MaxSealedTo {
		return nil, crdt.ID{}, fmt.Errorf("%w: sealing to %d members, 1 to %d", ErrTooLarge, len(to), MaxSealedTo)
	}
	eph, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, crdt.ID{}, err
	}
	var ck [chacha20poly1305.KeySize]byte
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := rand.Read(ck[:]); err != nil {
		return nil, crdt.ID{}, err
	}
	if _, err := rand.Read(nonce); err != nil {
		return nil, crdt.ID{}, err
	}
	return sealTo(group, to, p, eph, ck, nonce)
}

// sealTo is SealTo with the ephemeral key, content key and nonce given
// (fixed in the golden fixtures).
func sealTo(group crdt.ID, to []crdt.BoxKey, p Private, eph *ecdh.PrivateKey, ck [chacha20poly1305.KeySize]byte, nonce []byte) ([]byte, crdt.ID, error) {
	ephPub := eph.PublicKey().Bytes()
	blob := make([]byte, 0, sealedToHeader+len(to)*slotSize+256)
	blob = append(blob, sealedToVersion)
	blob = append(blob, ephPub...)
	blob = binary.BigEndian.AppendUint16(blob, uint16(len(to)))
	zero := make([]byte, chacha20poly1305.NonceSizeX)
	for _, box := range to {
		pub, err := ecdh.X25519().NewPublicKey(box[:])
		if err != nil {
			return nil, crdt.ID{}, err
		}
		secret, err := eph.ECDH(pub)
		if err != nil {
			return nil, crdt.ID{}, fmt.Errorf("sealing a contact: %w", err)
		}
		aead, err := slotAEAD(secret, ephPub, box[:])
		if err != nil {
			return nil, crdt.ID{}, err
		}
		blob = aead.Seal(blob, zero, ck[:], slotAD(group))
	}
	aead, err := chacha20poly1305.NewX(ck[:])
	if err != nil {
		return nil, crdt.ID{}, err
	}
	blob = append(blob, nonce...)
	w := newWriter()
	w.array(2)
	w.str(p.Location)
	w.str(p.Contact)
	blob = aead.Seal(blob, nonce, w.bytes(), contactAD(group, ephPub))
	if len(blob) > MaxBlobBytes {
		return nil, crdt.ID{}, fmt.Errorf("%w: sealed contact of %d bytes, at most %d", ErrTooLarge, len(blob), MaxBlobBytes)
	}
	return blob, sha256.Sum256(blob), nil
}

// IsSealedTo reports whether blob is sealed to members (version 2)
// rather than under a group key.
func IsSealedTo(blob []byte) bool { return len(blob) > 0 && blob[0] == sealedToVersion }

// OpenSealedTo opens a blob of group sealed to members with this node's
// box key priv. ErrCannotOpen: not sealed to this node, or damaged.
func OpenSealedTo(group crdt.ID, blob []byte, priv *ecdh.PrivateKey) (Private, error) {
	var p Private
	if len(blob) < sealedToHeader || blob[0] != sealedToVersion {
		return p, ErrCannotOpen
	}
	ephPub := blob[1:33]
	n := int(binary.BigEndian.Uint16(blob[33:35]))
	rest := blob[sealedToHeader:]
	if n == 0 || n > MaxSealedTo || len(rest) < n*slotSize+chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead {
		return p, ErrCannotOpen
	}
	eph, err := ecdh.X25519().NewPublicKey(ephPub)
	if err != nil {
		return p, ErrCannotOpen
	}
	secret, err := priv.ECDH(eph)
	if err != nil {
		return p, ErrCannotOpen
	}
	aead, err := slotAEAD(secret, ephPub, priv.PublicKey().Bytes())
	if err != nil {
		return p, err
	}
	zero := make([]byte, chacha20poly1305.NonceSizeX)
	var ck []byte
	for i := 0; i < n && ck == nil; i++ {
		if k, err := aead.Open(nil, zero, rest[i*slotSize:(i+1)*slotSize], slotAD(group)); err == nil {
			ck = k
		}
	}
	if ck == nil {
		return p, ErrCannotOpen
	}
	body := rest[n*slotSize:]
	caead, err := chacha20poly1305.NewX(ck)
	if err != nil {
		return p, err
	}
	nonce, ct := body[:chacha20poly1305.NonceSizeX], body[chacha20poly1305.NonceSizeX:]
	plain, err := caead.Open(nil, nonce, ct, contactAD(group, ephPub))
	if err != nil {
		return p, ErrCannotOpen
	}
	return decodePrivate(plain)
}
