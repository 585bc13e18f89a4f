package protocol

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

// Sealing (seal.go): group keys reach members in shares sealed to their
// box keys, private fields travel in blobs sealed under a group key, and
// neither opens anywhere else.

func keyring(keys ...[GroupKeySize]byte) func(crdt.KeyID) ([GroupKeySize]byte, bool) {
	return func(id crdt.KeyID) ([GroupKeySize]byte, bool) {
		for _, k := range keys {
			if KeyIDOf(k) == id {
				return k, true
			}
		}
		return [GroupKeySize]byte{}, false
	}
}

func TestBoxKeyOf(t *testing.T) {
	seen := map[crdt.BoxKey]bool{}
	for seed := range byte(32) {
		k := testKey(seed)
		priv, box := BoxKeyOf(k)
		priv2, box2 := BoxKeyOf(testKey(seed))
		if box != box2 || !bytes.Equal(priv.Bytes(), priv2.Bytes()) {
			t.Fatalf("seed %d: BoxKeyOf is not deterministic", seed)
		}
		if !bytes.Equal(priv.PublicKey().Bytes(), box[:]) {
			t.Fatalf("seed %d: the box key is not the private key's", seed)
		}
		if box.IsZero() || seen[box] || bytes.Equal(box[:], k.Public().(ed25519.PublicKey)) {
			t.Fatalf("seed %d: box key zero, repeated or the signing key", seed)
		}
		seen[box] = true
	}
}

func TestShareRoundTrip(t *testing.T) {
	group := crdt.ID{1}
	k, id := NewGroupKey()
	if KeyIDOf(k) != id || id.IsZero() {
		t.Fatal("NewGroupKey's ID is not KeyIDOf its key")
	}
	if k2, id2 := NewGroupKey(); k2 == k || id2 == id {
		t.Fatal("two new group keys are the same")
	}
	bobPriv, bobBox := BoxKeyOf(bobKey)
	sealed, err := SealShare(group, k, pub(bobKey), bobBox)
	if err != nil {
		t.Fatal(err)
	}
	got, err := OpenShare(group, id, pub(bobKey), &sealed, bobPriv)
	if err != nil || got != k {
		t.Fatalf("OpenShare: %v", err)
	}
	again, err := SealShare(group, k, pub(bobKey), bobBox)
	if err != nil || again == sealed {
		t.Fatalf("two seals of one key are equal (%v): the ephemeral key is not fresh", err)
	}

	// It opens for no one else, and nowhere else.
	carolPriv, _ := BoxKeyOf(carolKey)
	other, _ := NewGroupKey()
	cases := map[string]func() ([GroupKeySize]byte, error){
		"another member's box key": func() ([GroupKeySize]byte, error) {
			return OpenShare(group, id, pub(bobKey), &sealed, carolPriv)
		},
		"another member named": func() ([GroupKeySize]byte, error) {
			return OpenShare(group, id, pub(carolKey), &sealed, bobPriv)
		},
		"another group": func() ([GroupKeySize]byte, error) {
			return OpenShare(crdt.ID{2}, id, pub(bobKey), &sealed, bobPriv)
		},
		"another key ID": func() ([GroupKeySize]byte, error) {
			return OpenShare(group, KeyIDOf(other), pub(bobKey), &sealed, bobPriv)
		},
	}
	for i := range sealed {
		cases[fmt.Sprintf("byte %d flipped", i)] = func() ([GroupKeySize]byte, error) {
			bad := sealed
			bad[i] ^= 0x01
			return OpenShare(group, id, pub(bobKey), &bad, bobPriv)
		}
	}
	for name, open := range cases {
		if got, err := open(); !errors.Is(err, ErrCannotOpen) {
			t.Errorf("%s: %x, %v; want ErrCannotOpen", name, got[:4], err)
		}
	}
	// A share sealed to an invalid box key (all zeros: a low-order point)
	// is refused rather than sealed to nobody.
	if _, err := SealShare(group, k, pub(bobKey), crdt.BoxKey{}); err == nil {
		t.Error("SealShare to the zero box key succeeded")
	}
}

func TestBlobRoundTrip(t *testing.T) {
	group := crdt.ID{1}
	k, id := NewGroupKey()
	for _, p := range []Private{
		{},
		{Location: "Community hall, back door", Contact: "+44 20 7946 0000"},
		{Location: strings.Repeat("é", MaxLocation/2), Contact: strings.Repeat("q", MaxContact)},
	} {
		blob, sum, err := SealPrivate(group, k, p)
		if err != nil {
			t.Fatal(err)
		}
		if sum != sha256.Sum256(blob) || len(blob) > MaxBlobBytes {
			t.Fatalf("blob of %d bytes, named %s", len(blob), sum.Short())
		}
		if got, err := BlobKey(blob); err != nil || got != id {
			t.Fatalf("BlobKey: %v", err)
		}
		got, err := OpenPrivate(group, blob, keyring(k))
		if err != nil || got != p {
			t.Fatalf("OpenPrivate: %+v, %v", got, err)
		}
		if again, _, _ := SealPrivate(group, k, p); bytes.Equal(again, blob) {
			t.Fatal("two seals of the same fields are equal: the nonce is not fresh")
		}
	}
}

func TestBlobDoesNotOpenElsewhere(t *testing.T) {
	group := crdt.ID{1}
	k, _ := NewGroupKey()
	other, _ := NewGroupKey()
	blob, _, err := SealPrivate(group, k, Private{Location: "here", Contact: "me"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range blob {
		bad := bytes.Clone(blob)
		bad[i] ^= 0x01
		_, err := OpenPrivate(group, bad, keyring(k, other))
		switch {
		case i == 0:
			wantErr(t, "version byte flipped", err, ErrBlobVersion)
		case i < 17: // the key ID: a key this node does not hold
			wantErr(t, "key ID byte flipped", err, ErrNoKey)
		default:
			wantErr(t, "byte flipped", err, ErrCannotOpen)
		}
	}
	_, err = OpenPrivate(crdt.ID{2}, blob, keyring(k))
	wantErr(t, "another group", err, ErrCannotOpen)
	_, err = OpenPrivate(group, blob, keyring(other))
	wantErr(t, "missing key", err, ErrNoKey)
	// A key of the same ID that is not the key (a lying keyring).
	_, err = OpenPrivate(group, blob, func(crdt.KeyID) ([GroupKeySize]byte, bool) { return other, true })
	wantErr(t, "wrong key under the ID", err, ErrCannotOpen)
	for n := range blobHeader + 16 {
		_, err = OpenPrivate(group, blob[:n], keyring(k))
		if !errors.Is(err, ErrCannotOpen) && !errors.Is(err, ErrBlobVersion) {
			t.Errorf("blob cut to %d bytes: %v", n, err)
		}
	}
	_, err = BlobKey(nil)
	wantErr(t, "BlobKey of nothing", err, ErrCannotOpen)
}

func TestSealPrivateLimits(t *testing.T) {
	k, _ := NewGroupKey()
	for name, p := range map[string]Private{
		"long location": {Location: strings.Repeat("x", MaxLocation+1)},
		"long contact":  {Contact: strings.Repeat("é", MaxContact/2) + "x"},
	} {
		blob, _, err := SealPrivate(crdt.ID{1}, k, p)
		wantErr(t, name, err, ErrFieldTooLong)
		if blob != nil {
			t.Errorf("%s: a blob of %d bytes", name, len(blob))
		}
	}
	_, _, err := SealPrivate(crdt.ID{1}, k, Private{Contact: "\xff"})
	wantErr(t, "bad UTF-8", err, ErrBadUTF8)
}

// Blob transport: a blob travels after its op's encoding, named by the
// op, and changes neither the op nor its ID.
func TestBlobAfterOp(t *testing.T) {
	f := fixtureNamed(t, "post_create")
	withBlob := JoinBlob(f.enc, f.blob)
	op, err := DecodeOp(withBlob)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(op.Blob, f.blob) || op.ID != f.op.ID || op.ID != OpID(f.enc) || OpID(withBlob) != OpID(f.enc) {
		t.Fatalf("op with blob: ID %s, blob set %v", op.ID.Short(), op.Blob != nil)
	}
	if !bytes.Equal(JoinBlob(f.enc, nil), f.enc) {
		t.Fatal("JoinBlob without a blob changed the op")
	}
	if op, err := DecodeOp(f.enc); err != nil || op.Blob != nil {
		t.Fatalf("op without its blob: %v, blob %x", err, op.Blob)
	}

	other := bytes.Clone(f.blob)
	other[len(other)-1] ^= 1
	status := fixtureNamed(t, "post_status") // names no blob
	edit := fixtureNamed(t, "post_edit")     // an edit that names none
	short := []byte{0xc5, 0x00, 0x10}        // bin16 for 16 bytes
	short = append(short, make([]byte, 16)...)
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"a blob the op does not name", JoinBlob(f.enc, other), ErrBlobMismatch},
		{"another op's blob", JoinBlob(f.enc, fixtureNamed(t, "post_edit_private").blob), ErrBlobMismatch},
		{"two blobs", JoinBlob(JoinBlob(f.enc, f.blob), f.blob), ErrMalformed},
		{"a blob after an op without Private", JoinBlob(status.enc, f.blob), ErrBlobMismatch},
		{"a blob after an edit without Private", JoinBlob(edit.enc, f.blob), ErrBlobMismatch},
		{"an empty blob", JoinBlob(f.enc, []byte{}), ErrMalformed},
		{"an oversized blob", JoinBlob(f.enc, make([]byte, MaxBlobBytes+1)), ErrMalformed},
		{"bin16 for a short blob", append(bytes.Clone(f.enc), short...), ErrMalformed},
		{"bin32 for a blob", append(append(bytes.Clone(f.enc), 0xc6, 0, 0, 0, 4), 1, 2, 3, 4), ErrTrailing},
		{"a blob as str", append(append(bytes.Clone(f.enc), 0xa4), 1, 2, 3, 4), ErrTrailing},
		{"a blob cut short", JoinBlob(f.enc, f.blob)[:len(f.enc)+10], ErrMalformed},
		{"a bin header with no blob", append(bytes.Clone(f.enc), 0xc4), ErrTrailing},
		{"a blob claiming 64 KiB", append(bytes.Clone(f.enc), 0xc5, 0xff, 0xff, 1), ErrMalformed},
	}
	for _, c := range cases {
		op, err := DecodeOp(c.b)
		wantErr(t, c.name, err, c.want)
		if err == nil || op.Blob != nil {
			t.Errorf("%s: blob kept", c.name)
		}
		if _, _, err := SplitBlob(c.b); err == nil && !errors.Is(c.want, ErrBlobMismatch) {
			t.Errorf("%s: SplitBlob accepts it", c.name)
		}
	}
	// At the limits: 1 byte and MaxBlobBytes, bin8 and bin16, split
	// exactly (the op does not name them, so DecodeOp refuses them).
	for _, n := range []int{1, 255, 256, MaxBlobBytes} {
		blob := bytes.Repeat([]byte{7}, n)
		raw, got, err := SplitBlob(JoinBlob(f.enc, blob))
		if err != nil || !bytes.Equal(raw, f.enc) || !bytes.Equal(got, blob) {
			t.Errorf("blob of %d bytes: %v", n, err)
		}
		if OpID(JoinBlob(f.enc, blob)) != f.op.ID {
			t.Errorf("blob of %d bytes: OpID counts it", n)
		}
	}
}
