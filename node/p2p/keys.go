package p2p

import (
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mutual-aid/mutual/crdt"
)

// ErrNotEd25519 is returned for a peer whose identity is not an ed25519
// key: such a peer cannot be a member of any group.
var ErrNotEd25519 = errors.New("peer identity is not an ed25519 key")

// KeyOf returns the crdt.PublicKey of a peer: the raw bytes of its
// ed25519 libp2p identity.
func KeyOf(id peer.ID) (crdt.PublicKey, error) {
	pk, err := id.ExtractPublicKey()
	if err != nil {
		return crdt.PublicKey{}, fmt.Errorf("peer %s: %w", id, err)
	}
	return keyOfPub(pk)
}

func keyOfPub(pk crypto.PubKey) (crdt.PublicKey, error) {
	var k crdt.PublicKey
	if pk == nil || pk.Type() != crypto.Ed25519 {
		return k, ErrNotEd25519
	}
	raw, err := pk.Raw()
	if err != nil {
		return k, err
	}
	if len(raw) != len(k) {
		return k, ErrNotEd25519
	}
	copy(k[:], raw)
	return k, nil
}

// PeerIDOf returns the libp2p peer ID of a node key.
func PeerIDOf(k crdt.PublicKey) (peer.ID, error) {
	pk, err := crypto.UnmarshalEd25519PublicKey(k[:])
	if err != nil {
		return "", err
	}
	return peer.IDFromPublicKey(pk)
}
