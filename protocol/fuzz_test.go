package protocol

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/mutual-aid/mutual/crdt"
)

// Fuzz targets for every decoder of bytes from a peer or a file. Seed
// corpora live in testdata/fuzz/<Target>/ (valid encodings of each kind
// and the decoder bombs); regenerate them with
//
//	go test ./protocol -run Golden -update
//
// and fuzz with, e.g., go test ./protocol -run '^$' -fuzz FuzzDecodeOp.

// decodeErr reports whether err is one of the decoders' named errors.
func decodeErr(err error) bool {
	return errors.Is(err, ErrMalformed) || errors.Is(err, ErrBadSignature) || errors.Is(err, ErrUnsupported)
}

func FuzzDecodeOp(f *testing.F) {
	for _, fx := range append(fixtures(f), byFixtures(f)...) {
		f.Add(fx.enc)
		if fx.blob != nil {
			f.Add(JoinBlob(fx.enc, fx.blob))
		}
	}
	for _, bm := range bombs() {
		f.Add(bm.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		op, err := DecodeOp(b)
		if err != nil && !decodeErr(err) {
			t.Fatalf("unnamed error %v", err)
		}
		// An op may be followed by its blob: DecodeOp takes it, a stored
		// op never has one.
		raw, blob, splitErr := SplitBlob(b)
		if splitErr != nil {
			if err == nil {
				t.Fatalf("DecodeOp accepts what SplitBlob refuses: %v", splitErr)
			}
			raw, blob = b, nil
		}
		if err == nil {
			if !bytes.Equal(op.Blob, blob) || op.ID != OpID(b) || op.ID != OpID(raw) {
				t.Fatal("DecodeOp's blob or ID is not the split's")
			}
			if sum, ok := crdt.PrivateOf(&op); blob != nil && (!ok || sum != sha256.Sum256(blob)) {
				t.Fatal("DecodeOp accepted a blob the op does not name")
			}
			op.Blob = nil
		}
		b = raw
		// The fuzzer cannot forge signatures, so most of its inputs stop
		// there; DecodeStoredOp checks everything else.
		stored, serr := DecodeStoredOp(b)
		if err == nil && serr != nil {
			t.Fatalf("DecodeOp accepts, DecodeStoredOp says %v", serr)
		}
		if serr != nil {
			if !decodeErr(serr) {
				t.Fatalf("unnamed error %v", serr)
			}
			return
		}
		again, err2 := EncodeOp(&stored)
		if err2 != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted op re-encodes differently (%v):\n%x\n%x", err2, b, again)
		}
		if stored.ID != OpID(b) {
			t.Fatal("ID is not the SHA-256 of the encoding")
		}
		if err == nil && !reflect.DeepEqual(op, stored) {
			t.Fatal("DecodeOp and DecodeStoredOp disagree")
		}
		// An invite in an op always carries its ID; a join that DecodeOp
		// accepts proves its author holds the invite's secret.
		switch body := stored.Body.(type) {
		case crdt.Join:
			if body.Invite.ID != InviteID(&body.Invite) {
				t.Fatal("join's invite ID is not its hash")
			}
			if err == nil && VerifyJoin(&body, stored.Author) != nil {
				t.Fatal("DecodeOp accepted a join without a valid proof")
			}
		case crdt.InviteMade:
			if body.Invite.ID != InviteID(&body.Invite) {
				t.Fatal("invite ID is not its hash")
			}
		}
	})
}

func FuzzDecodePost(f *testing.F) {
	b, _ := fixtureBoard(f)
	for p := range b.SortedPosts() {
		f.Add(EncodePost(p))
	}
	f.Add(EncodePost(fixtureEmptyPost()))
	withBy := fixtureEmptyPost()
	withBy.By = "Sam"
	withBy.Responses = []crdt.Response{{Note: "one pack", By: "Léa"}}
	f.Add(EncodePost(withBy))
	handed := fixtureEmptyPost() // a visitor's response and its hand-on (kind 12)
	handed.Responses = []crdt.Response{{ID: crdt.ID{1}, Note: "4 coats", Private: crdt.ID{2}}}
	handed.HandOns = []crdt.HandedOn{{Response: crdt.ID{1}, Op: crdt.ID{3}, Time: crdt.HLC{Wall: 1}}}
	f.Add(EncodePost(handed))
	for _, bm := range bombs() {
		f.Add(bm.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<16 {
			return // large records only slow the fuzzer down
		}
		p, err := DecodePost(b, crdt.ID{}, crdt.ID{})
		if err != nil {
			if !decodeErr(err) {
				t.Fatalf("unnamed error %v", err)
			}
			return
		}
		// Records are not canonical (they are never hashed or signed), but
		// what decodes must survive a round trip.
		back, err := DecodePost(EncodePost(p), p.Group, p.ID)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if crdt.PostHash(back) != crdt.PostHash(p) {
			t.Fatal("round trip changed the post")
		}
	})
}

func FuzzDecodeInviteCode(f *testing.F) {
	code, err := EncodeInviteCode(fixtureInviteCode())
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range fixtureInviteCodes() {
		f.Add(c)
	}
	f.Add(code[:len(code)/2])
	f.Add("mutual1-")
	for _, bm := range bombs() {
		f.Add(invitePrefix + base64.RawURLEncoding.EncodeToString(bm.b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := DecodeInviteCode(s)
		if err != nil {
			if !decodeErr(err) {
				t.Fatalf("unnamed error %v", err)
			}
			return
		}
		if c.Invite.ID != InviteID(&c.Invite) || VerifyInvite(&c.Invite) != nil {
			t.Fatal("accepted code's invite has a wrong ID or signature")
		}
		if !bytes.Equal(ed25519.NewKeyFromSeed(c.Secret[:]).Public().(ed25519.PublicKey), c.Invite.Key[:]) {
			t.Fatal("accepted code's secret is not the invite key's")
		}
		again, err := EncodeInviteCode(c)
		if err != nil {
			t.Fatalf("accepted code does not re-encode: %v", err)
		}
		c2, err := DecodeInviteCode(again)
		if err != nil || !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip: %+v, %v", c2, err)
		}
	})
}

// FuzzOpenPrivate opens arbitrary blobs with the fixture keys: no panic,
// only the named errors, and what opens is within the limits and seals
// again to a blob that opens to the same. The second input is sealed as
// the plaintext of a valid blob, so that the fuzzer also reaches the
// decoding of what the AEAD lets through.
func FuzzOpenPrivate(f *testing.F) {
	for _, fx := range fixtures(f) {
		if fx.blob != nil {
			f.Add(fx.blob, []byte{0x92, 0xa0, 0xa0})
		}
	}
	f.Add([]byte{}, []byte{})
	f.Add([]byte{1}, []byte{0xdd, 0x0f, 0xff, 0xff, 0xff})
	f.Add([]byte{2}, []byte{0x92, 0xdb, 0xff, 0xff, 0xff, 0xff})
	group := fixtureNamed(f, "genesis").op.ID
	k := fixtureGroupKey(1)
	f.Fuzz(func(t *testing.T, blob, plain []byte) {
		if len(plain) > 2*MaxBlobBytes {
			return
		}
		var nonce [24]byte
		copy(nonce[:], blob)
		aead, err := chacha20poly1305.NewX(k[:])
		if err != nil {
			t.Fatal(err)
		}
		id := KeyIDOf(k)
		sealed := append(append([]byte{1}, id[:]...), nonce[:]...)
		sealed = aead.Seal(sealed, nonce[:], plain, append(append([]byte("mutual/private/1\n"), group[:]...), id[:]...))
		for _, b := range [][]byte{blob, sealed} {
			p, err := OpenPrivate(group, b, fixtureKeyring)
			if err != nil {
				if !errors.Is(err, ErrCannotOpen) && !errors.Is(err, ErrNoKey) && !decodeErr(err) {
					t.Fatalf("unnamed error %v", err)
				}
				continue
			}
			again, _, err := SealPrivate(group, k, p)
			if err != nil {
				t.Fatalf("opened %+v, which does not seal again: %v", p, err)
			}
			if back, err := OpenPrivate(group, again, fixtureKeyring); err != nil || back != p {
				t.Fatalf("sealed again, opens to %+v, %v", back, err)
			}
		}
	})
}

// FuzzScan checks the pre-scan against the msgpack library: whatever
// scan accepts, the library can skip, in exactly as many bytes.
func FuzzScan(f *testing.F) {
	for _, fx := range fixtures(f) {
		f.Add(fx.enc)
	}
	for _, bm := range bombs() {
		f.Add(bm.b)
	}
	f.Add([]byte{0xd4, 0x01, 0x02})
	f.Add([]byte{0xc7, 0x01, 0x05, 0xaa})
	f.Add([]byte{0x82, 0xa1, 'a', 0xc3, 0xa1, 'b', 0xcb, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := scan(b, 0)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unnamed error %v", err)
			}
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("scan says %d bytes of %d", n, len(b))
		}
		r := bytes.NewReader(b[:n])
		if err := msgpack.NewDecoder(r).Skip(); err != nil {
			t.Fatalf("scan accepts %x, msgpack cannot skip it: %v", b[:n], err)
		}
		if r.Len() != 0 {
			t.Fatalf("scan says %d bytes, msgpack skipped %d", n, n-r.Len())
		}
	})
}

// TestGoldenFuzzCorpus writes (with -update) or checks the seed corpora
// under testdata/fuzz in the "go test fuzz v1" format, so that the seeds
// run as tests on every go test and a fuzz run starts from them.
func TestGoldenFuzzCorpus(t *testing.T) {
	corpus := map[string]map[string]string{
		"FuzzDecodeOp":         {},
		"FuzzDecodePost":       {},
		"FuzzDecodeInviteCode": {},
		"FuzzScan":             {},
		"FuzzOpenPrivate":      {},
		"FuzzDecodeFrame":      {},
		"FuzzDecodeFrameWith":  {},
	}
	bytesEntry := func(b []byte) string { return fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b) }
	twoBytesEntry := func(a, b []byte) string { return fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n[]byte(%q)\n", a, b) }
	for _, fx := range fixturesV1(t) {
		corpus["FuzzDecodeOp"]["op_v1_"+fx.name] = bytesEntry(fx.enc)
	}
	for name, fr := range frameSeeds(t) {
		corpus["FuzzDecodeFrame"][name] = bytesEntry(fr)
	}
	for name, fr := range gossipSeeds(t) {
		corpus["FuzzDecodeFrameWith"][name] = bytesEntry(fr)
	}
	for _, fx := range fixtures(t) {
		corpus["FuzzDecodeOp"]["op_"+fx.name] = bytesEntry(fx.enc)
		corpus["FuzzScan"]["op_"+fx.name] = bytesEntry(fx.enc)
		if fx.blob == nil {
			continue
		}
		// the op with its blob, and with a blob it does not name
		corpus["FuzzDecodeOp"]["op_"+fx.name+"_blob"] = bytesEntry(JoinBlob(fx.enc, fx.blob))
		other := bytes.Clone(fx.blob)
		other[len(other)-1] ^= 1
		corpus["FuzzDecodeOp"]["op_"+fx.name+"_other_blob"] = bytesEntry(JoinBlob(fx.enc, other))
		corpus["FuzzOpenPrivate"]["blob_"+fx.name] = twoBytesEntry(fx.blob, []byte{0x92, 0xa1, 'x', 0xa0})
		corpus["FuzzOpenPrivate"]["blob_"+fx.name+"_truncated"] = twoBytesEntry(fx.blob[:blobHeader], []byte{0x92, 0xd9, 0xc9})
	}
	corpus["FuzzOpenPrivate"]["blob_version_2"] = twoBytesEntry(append([]byte{2}, make([]byte, 60)...), []byte{0x91, 0xa0})
	corpus["FuzzOpenPrivate"]["plain_bomb"] = twoBytesEntry(nil, []byte{0x92, 0xdb, 0xff, 0xff, 0xff, 0xff})
	board, _ := fixtureBoard(t)
	for p := range board.SortedPosts() {
		corpus["FuzzDecodePost"]["record_"+p.Title.V] = bytesEntry(EncodePost(p))
		if len(p.Responses) > 0 {
			handed := p.Clone() // with a hand-on (kind 12)
			handed.HandOns = []crdt.HandedOn{{Response: p.Responses[0].ID, Op: crdt.ID{3}, Author: p.Author, Time: p.CreatedAt}}
			corpus["FuzzDecodePost"]["record_"+p.Title.V+"_handon"] = bytesEntry(EncodePost(handed))
		}
	}
	code, err := EncodeInviteCode(fixtureInviteCode())
	if err != nil {
		t.Fatal(err)
	}
	corpus["FuzzDecodeInviteCode"]["code_valid"] = fmt.Sprintf("go test fuzz v1\nstring(%q)\n", code)
	for name, c := range fixtureInviteCodes() {
		corpus["FuzzDecodeInviteCode"]["code_"+name] = fmt.Sprintf("go test fuzz v1\nstring(%q)\n", c)
	}
	for i, bm := range bombs() {
		name := fmt.Sprintf("bomb_%02d", i)
		for _, target := range []string{"FuzzDecodeOp", "FuzzDecodePost", "FuzzScan"} {
			corpus[target][name] = bytesEntry(bm.b)
		}
		corpus["FuzzDecodeInviteCode"][name] = fmt.Sprintf("go test fuzz v1\nstring(%q)\n", invitePrefix+base64.RawURLEncoding.EncodeToString(bm.b))
	}
	for target, entries := range corpus {
		dir := filepath.Join("testdata", "fuzz", target)
		for name, content := range entries {
			name = sanitize(name)
			path := filepath.Join(dir, name)
			if *update {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("%v (run go test -run Golden -update)", err)
			} else if string(got) != content {
				t.Errorf("%s is stale (run go test -run Golden -update)", path)
			}
		}
	}
}

func sanitize(s string) string {
	out := []byte(s)
	for i, c := range out {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			out[i] = '_'
		}
	}
	return string(out)
}

// fixtureInviteCodes returns codes of other shapes than the golden one,
// valid and not, as seeds: an admin invite of unlimited uses and no
// addresses, a code whose secret is not its invite's, and one whose
// invite has a role the protocol does not know.
func fixtureInviteCodes() map[string]string {
	out := map[string]string{}
	add := func(name string, c *InviteCode) {
		s, err := EncodeInviteCode(c)
		if err != nil {
			panic(err)
		}
		out[name] = s
	}
	admin := fixtureInviteCode()
	admin.Invite, admin.Secret = fixtureInvite(admin.Invite.Group, crdt.RoleAdmin, 0, seedCodeInvite+1)
	admin.Addrs = nil
	add("admin_unlimited", admin)
	wrong := fixtureInviteCode()
	wrong.Secret[0] ^= 1
	add("wrong_secret", wrong)
	odd := fixtureInviteCode()
	odd.Invite.Role = 3
	SignInvite(&odd.Invite, aliceKey)
	add("role_3", odd)
	return out
}
