package node_test

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"

	"github.com/mutual-aid/mutual/node"
	"github.com/mutual-aid/mutual/node/p2p"
)

// docs/protocol.md section 13: identity.key is 68 bytes, 08 01 12 40
// followed by the ed25519 seed and public key; the public key is the
// member's signing key and the one inside the node's peer ID, whose
// bytes are 00 24 08 01 12 20 followed by it.
func TestSpecKeyFile(t *testing.T) {
	dir := t.TempDir()
	id, created, err := node.Init(dir, "spec")
	if err != nil || !created {
		t.Fatalf("Init: %v, created %v", err, created)
	}
	b, err := os.ReadFile(filepath.Join(dir, "identity.key"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 68 || !bytes.Equal(b[:4], []byte{0x08, 0x01, 0x12, 0x40}) {
		t.Fatalf("key file % x", b)
	}
	seed, pub := b[4:36], b[36:68]
	if !bytes.Equal(ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey), pub) {
		t.Fatal("bytes 36-67 are not the public key of bytes 4-35")
	}
	if !bytes.Equal(id.Key, b[4:]) {
		t.Fatal("the identity's signing key is not the file's seed and public key")
	}
	if fi, err := os.Stat(filepath.Join(dir, "identity.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", fi.Mode(), err)
	}
	raw := []byte(id.PeerID)
	if !bytes.Equal(raw, append([]byte{0x00, 0x24, 0x08, 0x01, 0x12, 0x20}, pub...)) {
		t.Fatalf("peer ID bytes % x", raw)
	}
	k, err := p2p.KeyOf(id.PeerID)
	if err != nil || !bytes.Equal(k[:], pub) {
		t.Fatalf("KeyOf(peer ID) = %x, %v", k, err)
	}
	if s := id.PeerID.String(); len(s) != 52 || s[:8] != "12D3KooW" {
		t.Fatalf("peer ID text %q", s)
	}
}
