package protocol

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

// A contact sealed to some members opens for each of them, and for
// nobody else: not another member, not the visitor that sealed it, not
// under another group.
func TestSealToOpensForItsMembersOnly(t *testing.T) {
	group := fixtureNamed(t, "genesis").op.ID
	members := []ed25519.PrivateKey{aliceKey, bobKey, carolKey}
	var to []crdt.BoxKey
	for _, m := range members {
		to = append(to, boxOf(m))
	}
	p := Private{Contact: "+44 7700 900123"}
	blob, sum, err := SealTo(group, to, p)
	if err != nil {
		t.Fatal(err)
	}
	if crdt.ID(sha256.Sum256(blob)) != sum || !IsSealedTo(blob) {
		t.Fatal("the blob is not named by its SHA-256, or not of version 2")
	}
	if bytes.Contains(blob, []byte(p.Contact)) {
		t.Fatal("the contact is in clear in the blob")
	}
	for _, m := range members {
		priv, _ := BoxKeyOf(m)
		got, err := OpenSealedTo(group, blob, priv)
		if err != nil || got != p {
			t.Fatalf("member %s: %+v, %v", pub(m), got, err)
		}
		if _, err := OpenSealedTo(fixtureOtherGroup, blob, priv); !errors.Is(err, ErrCannotOpen) {
			t.Fatalf("opened under another group: %v", err)
		}
	}
	for _, k := range []ed25519.PrivateKey{daveKey, malKey} {
		priv, _ := BoxKeyOf(k)
		if _, err := OpenSealedTo(group, blob, priv); !errors.Is(err, ErrCannotOpen) {
			t.Fatalf("a key it was not sealed to opened it: %v", err)
		}
	}
	// Two seals of one contact share nothing (fresh keys and nonces).
	again, _, err := SealTo(group, to, p)
	if err != nil || bytes.Equal(again[1:33], blob[1:33]) {
		t.Fatal("a second seal reused the ephemeral key")
	}
}

// The limits: 1 to MaxSealedTo members, each blob within MaxBlobBytes
// even with the longest location and contact.
func TestSealToLimits(t *testing.T) {
	group := fixtureNamed(t, "genesis").op.ID
	long := Private{Location: strings.Repeat("l", MaxLocation), Contact: strings.Repeat("c", MaxContact)}
	to := make([]crdt.BoxKey, MaxSealedTo)
	for i := range to {
		to[i] = boxOf(testKey(byte(100 + i)))
	}
	blob, _, err := SealTo(group, to, long)
	if err != nil || len(blob) > MaxBlobBytes {
		t.Fatalf("%d members: %d bytes, %v", len(to), len(blob), err)
	}
	priv, _ := BoxKeyOf(testKey(byte(100 + MaxSealedTo - 1)))
	if got, err := OpenSealedTo(group, blob, priv); err != nil || got != long {
		t.Fatalf("the last slot: %v", err)
	}
	if _, _, err := SealTo(group, append(to, to[0]), long); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("%d members: %v", len(to)+1, err)
	}
	if _, _, err := SealTo(group, nil, long); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("no members: %v", err)
	}
	if _, _, err := SealTo(group, to[:1], Private{Contact: strings.Repeat("c", MaxContact+1)}); !errors.Is(err, ErrFieldTooLong) {
		t.Fatalf("a contact too long: %v", err)
	}
}

// FuzzOpenSealedTo opens arbitrary bytes as a blob sealed to members, as
// Alice: no panic, only ErrCannotOpen or a decoding error, and what opens
// is within the limits.
func FuzzOpenSealedTo(f *testing.F) {
	for _, fx := range fixtures(f) {
		if fx.blob != nil && IsSealedTo(fx.blob) {
			f.Add(fx.blob)
			f.Add(fx.blob[:len(fx.blob)-1])
		}
	}
	f.Add([]byte{2})
	f.Add([]byte{2, 0xff})
	f.Add(append(append([]byte{2}, make([]byte, 32)...), 0xff, 0xff))
	group := fixtureNamed(f, "genesis").op.ID
	priv, _ := BoxKeyOf(aliceKey)
	f.Fuzz(func(t *testing.T, blob []byte) {
		p, err := OpenSealedTo(group, blob, priv)
		if err != nil {
			if !errors.Is(err, ErrCannotOpen) && !decodeErr(err) {
				t.Fatalf("unnamed error %v", err)
			}
			return
		}
		if len(p.Location) > MaxLocation || len(p.Contact) > MaxContact {
			t.Fatalf("opened beyond the limits: %d, %d bytes", len(p.Location), len(p.Contact))
		}
	})
}
