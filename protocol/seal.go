package protocol

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/mutual-aid/mutual/crdt"
)

// Sealing (docs/protocol.md §14). A group has keys: 32 random bytes each,
// named by KeyIDOf. Each member has an X25519 key pair derived from its
// signing key (BoxKeyOf), whose public half it announces in its genesis
// or join; a group key reaches a member sealed to that key (SealShare),
// inside a GroupKey op. A post's private fields (location and contact)
// are sealed under a group key into a blob (SealPrivate) that travels
// after the op, whose body names the blob by its SHA-256.
//
// Every AEAD here is XChaCha20-Poly1305; its associated data binds the
// ciphertext to its group, key and (for shares) member, so a share or a
// blob copied elsewhere does not open.

// Domain separation of what is derived or sealed.
const (
	boxDomain     = "mutual/box/1"
	keyIDDomain   = "mutual/group-key/1\n"
	shareDomain   = "mutual/share/1"
	privateDomain = "mutual/private/1\n"
	topicDomain   = "mutual/topic/1\n"
)

// GroupKeySize is the size of a group key.
const GroupKeySize = 32

// blobVersion is the first byte of a blob.
const blobVersion = 1

// Sealing errors.
var (
	ErrNoKey       = errors.New("no key for this: not (yet) shared with this node")
	ErrCannotOpen  = errors.New("sealed data does not open: damaged, or sealed to another key")
	ErrBlobVersion = fmt.Errorf("%w: blob version", ErrUnsupported)
)

// BoxKeyOf derives a node's X25519 key pair from its signing key: the
// private half is HKDF-SHA256 of the ed25519 seed, so nothing more is
// kept in the data dir.
func BoxKeyOf(signing ed25519.PrivateKey) (*ecdh.PrivateKey, crdt.BoxKey) {
	seed, err := hkdf.Key(sha256.New, signing.Seed(), nil, boxDomain, 32)
	if err != nil {
		panic(err) // only for a length HKDF cannot give
	}
	priv, err := ecdh.X25519().NewPrivateKey(seed)
	if err != nil {
		panic(err) // X25519 accepts any 32 bytes
	}
	var pub crdt.BoxKey
	copy(pub[:], priv.PublicKey().Bytes())
	return priv, pub
}

// NewGroupKey returns a new random group key and its ID.
func NewGroupKey() ([GroupKeySize]byte, crdt.KeyID) {
	var k [GroupKeySize]byte
	if _, err := rand.Read(k[:]); err != nil {
		panic(err)
	}
	return k, KeyIDOf(k)
}

// KeyIDOf names a group key: the first 16 bytes of SHA-256 of a domain
// string and the key.
func KeyIDOf(k [GroupKeySize]byte) crdt.KeyID {
	h := sha256.New()
	h.Write([]byte(keyIDDomain))
	h.Write(k[:])
	var id crdt.KeyID
	copy(id[:], h.Sum(nil))
	return id
}

// Topic returns the GossipSub topic of a group: named by a hash of the
// group's first key (its genesis's Key), so that only those who hold the
// key can find or confirm it.
func Topic(group crdt.ID, firstKey [GroupKeySize]byte) string {
	h := sha256.New()
	h.Write([]byte(topicDomain))
	h.Write(group[:])
	h.Write(firstKey[:])
	return topicPrefix + hex.EncodeToString(h.Sum(nil)[:16])
}

func shareAD(group crdt.ID, key crdt.KeyID, member crdt.PublicKey) []byte {
	ad := make([]byte, 0, len(shareDomain)+len(group)+len(key)+len(member))
	ad = append(ad, shareDomain...)
	ad = append(ad, group[:]...)
	ad = append(ad, key[:]...)
	return append(ad, member[:]...)
}

// shareAEAD derives the AEAD that seals a share from an X25519 shared
// secret and both public keys.
func shareAEAD(secret []byte, eph, to []byte) (cipherAEAD, error) {
	salt := append(append([]byte{}, eph...), to...)
	k, err := hkdf.Key(sha256.New, secret, salt, shareDomain, chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	return chacha20poly1305.NewX(k)
}

type cipherAEAD interface {
	Seal(dst, nonce, plaintext, additionalData []byte) []byte
	Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
	NonceSize() int
}

// SealShare seals group key k of group to member, whose box key is to:
// an ephemeral X25519 key, then the key under XChaCha20-Poly1305 with a
// key derived from the shared secret (and a zero nonce: the derived key
// is used once).
func SealShare(group crdt.ID, k [GroupKeySize]byte, member crdt.PublicKey, to crdt.BoxKey) ([crdt.SealedShareSize]byte, error) {
	var out [crdt.SealedShareSize]byte
	pub, err := ecdh.X25519().NewPublicKey(to[:])
	if err != nil {
		return out, err
	}
	eph, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return out, err
	}
	secret, err := eph.ECDH(pub)
	if err != nil {
		return out, fmt.Errorf("sealing a key: %w", err)
	}
	aead, err := shareAEAD(secret, eph.PublicKey().Bytes(), to[:])
	if err != nil {
		return out, err
	}
	copy(out[:32], eph.PublicKey().Bytes())
	nonce := make([]byte, aead.NonceSize())
	aead.Seal(out[32:32], nonce, k[:], shareAD(group, KeyIDOf(k), member))
	return out, nil
}

// OpenShare opens a share sealed to this node (member, with box key
// priv) and checks that it is the key named id.
func OpenShare(group crdt.ID, id crdt.KeyID, member crdt.PublicKey, sealed *[crdt.SealedShareSize]byte, priv *ecdh.PrivateKey) ([GroupKeySize]byte, error) {
	var k [GroupKeySize]byte
	eph, err := ecdh.X25519().NewPublicKey(sealed[:32])
	if err != nil {
		return k, ErrCannotOpen
	}
	secret, err := priv.ECDH(eph)
	if err != nil {
		return k, ErrCannotOpen
	}
	aead, err := shareAEAD(secret, sealed[:32], priv.PublicKey().Bytes())
	if err != nil {
		return k, err
	}
	nonce := make([]byte, aead.NonceSize())
	plain, err := aead.Open(nil, nonce, sealed[32:], shareAD(group, id, member))
	if err != nil || len(plain) != GroupKeySize {
		return k, ErrCannotOpen
	}
	copy(k[:], plain)
	if KeyIDOf(k) != id {
		return k, ErrCannotOpen
	}
	return k, nil
}

// Private holds the private fields of a post op, in clear: only ever in
// memory.
type Private struct {
	Location string
	Contact  string
}

// A blob is
//
//	version (1 byte, 1) · key ID (16) · nonce (24) · ciphertext
//
// where the ciphertext is XChaCha20-Poly1305 under the group key named,
// with associated data privateDomain · group ID · key ID, of the msgpack
// array [location str, contact str].
const blobHeader = 1 + 16 + chacha20poly1305.NonceSizeX

func privateAD(group crdt.ID, key crdt.KeyID) []byte {
	ad := make([]byte, 0, len(privateDomain)+len(group)+len(key))
	ad = append(ad, privateDomain...)
	ad = append(ad, group[:]...)
	return append(ad, key[:]...)
}

// SealPrivate seals p under group key k of group and returns the blob and
// its SHA-256, which the op's body names.
func SealPrivate(group crdt.ID, k [GroupKeySize]byte, p Private) ([]byte, crdt.ID, error) {
	if err := firstErr(checkText("location", p.Location, MaxLocation), checkText("contact", p.Contact, MaxContact)); err != nil {
		return nil, crdt.ID{}, err
	}
	aead, err := chacha20poly1305.NewX(k[:])
	if err != nil {
		return nil, crdt.ID{}, err
	}
	w := newWriter()
	w.array(2)
	w.str(p.Location)
	w.str(p.Contact)
	id := KeyIDOf(k)
	blob := make([]byte, blobHeader, blobHeader+w.buf.Len()+aead.Overhead())
	blob[0] = blobVersion
	copy(blob[1:17], id[:])
	if _, err := rand.Read(blob[17:blobHeader]); err != nil {
		return nil, crdt.ID{}, err
	}
	blob = aead.Seal(blob, blob[17:blobHeader], w.bytes(), privateAD(group, id))
	return blob, sha256.Sum256(blob), nil
}

// BlobKey returns the ID of the key a blob is sealed under.
func BlobKey(blob []byte) (crdt.KeyID, error) {
	var id crdt.KeyID
	if len(blob) < blobHeader {
		return id, ErrCannotOpen
	}
	if blob[0] != blobVersion {
		return id, ErrBlobVersion
	}
	copy(id[:], blob[1:17])
	return id, nil
}

// OpenPrivate opens a blob of group with the key it names, which key
// returns (false when this node does not hold it: ErrNoKey).
func OpenPrivate(group crdt.ID, blob []byte, key func(crdt.KeyID) ([GroupKeySize]byte, bool)) (Private, error) {
	var p Private
	id, err := BlobKey(blob)
	if err != nil {
		return p, err
	}
	k, ok := key(id)
	if !ok {
		return p, ErrNoKey
	}
	aead, err := chacha20poly1305.NewX(k[:])
	if err != nil {
		return p, err
	}
	plain, err := aead.Open(nil, blob[17:blobHeader], blob[blobHeader:], privateAD(group, id))
	if err != nil {
		return p, ErrCannotOpen
	}
	return decodePrivate(plain)
}

// decodePrivate decodes an opened blob's plaintext: [location, contact].
func decodePrivate(plain []byte) (Private, error) {
	if err := checkFrame(plain, MaxBlobBytes); err != nil {
		return Private{}, err
	}
	r := newReader(plain)
	r.array(2)
	p := Private{Location: r.str("location", MaxLocation), Contact: r.str("contact", MaxContact)}
	if err := r.end(); err != nil {
		return Private{}, err
	}
	return p, nil
}
