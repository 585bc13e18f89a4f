package crdt

import (
	"bytes"
	"encoding/hex"
	"errors"
)

// ID is a 32-byte content hash: an op's ID (the hash of its signed
// encoding), a post's ID (the ID of the op that created it) and a group's
// ID (the ID of its genesis op).
type ID [32]byte

// PublicKey is an ed25519 public key: a node's identity and an op's author.
type PublicKey [32]byte

// Signature is an ed25519 signature.
type Signature [64]byte

// String returns the ID in lower-case hex.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first 12 hex digits, for logs and tables.
func (id ID) Short() string { return hex.EncodeToString(id[:6]) }

// IsZero reports whether the ID is all zeros (no ID).
func (id ID) IsZero() bool { return id == ID{} }

// Compare orders IDs bytewise.
func (id ID) Compare(o ID) int { return bytes.Compare(id[:], o[:]) }

// String returns the key in lower-case hex.
func (k PublicKey) String() string { return hex.EncodeToString(k[:]) }

// Compare orders keys bytewise.
func (k PublicKey) Compare(o PublicKey) int { return bytes.Compare(k[:], o[:]) }

// ErrBadID is returned by ParseID for text that is not 64 hex digits.
var ErrBadID = errors.New("not a 64-hex-digit ID")

// ParseID parses the hex form of an ID.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 64 {
		return id, ErrBadID
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, ErrBadID
	}
	return id, nil
}

// ParsePublicKey parses the hex form of a public key.
func ParsePublicKey(s string) (PublicKey, error) {
	id, err := ParseID(s)
	return PublicKey(id), err
}
