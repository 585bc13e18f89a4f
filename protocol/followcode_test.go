package protocol

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

func fixtureFollowCode() *FollowCode {
	return &FollowCode{Group: crdt.ID{0xaa, 1}, GroupName: "Harbour",
		Addrs: []string{"/ip4/192.0.2.7/tcp/4001/p2p/12D3KooWExample"}}
}

func TestFollowCodeRoundTrip(t *testing.T) {
	for _, c := range []*FollowCode{
		fixtureFollowCode(),
		{Group: crdt.ID{2}},
		{Group: crdt.ID{3}, GroupName: "x", Addrs: []string{"/dns4/a.example/tcp/1"}, Bootstrap: []string{"/ip4/198.51.100.1/tcp/4001"}},
	} {
		s, err := EncodeFollowCode(c)
		if err != nil {
			t.Fatal(err)
		}
		if !IsFollowCode(s) || !strings.HasPrefix(s, "mutualf1-") {
			t.Fatalf("code %q", s)
		}
		got, err := DecodeFollowCode("  " + s + "\n")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c) && !(len(c.Addrs) == 0 && got.Group == c.Group && got.GroupName == c.GroupName) {
			t.Fatalf("round trip: %+v, want %+v", got, c)
		}
	}
}

// TestFollowCodeGolden pins the encoding (docs/protocol.md 4.3).
func TestFollowCodeGolden(t *testing.T) {
	s, err := EncodeFollowCode(&FollowCode{Group: crdt.ID{0xaa}, GroupName: "H", Addrs: []string{"/a"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(s, "mutualf1-"))
	if err != nil {
		t.Fatal(err)
	}
	want := "93" + "c420aa" + strings.Repeat("00", 31) + "a148" + "91a22f61"
	if got := hex.EncodeToString(b); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestFollowCodeRefused(t *testing.T) {
	good, _ := EncodeFollowCode(fixtureFollowCode())
	enc := func(b []byte) string { return followPrefix + base64.RawURLEncoding.EncodeToString(b) }
	nine := newWriter()
	nine.array(3)
	nine.bin(make([]byte, 32))
	nine.str("")
	nine.strs(make([]string, 9))
	for name, s := range map[string]string{
		"invite code":   "mutual1-" + strings.TrimPrefix(good, followPrefix),
		"truncated":     good[:len(good)/2],
		"not base64":    followPrefix + "!!!",
		"empty":         followPrefix,
		"too long":      followPrefix + strings.Repeat("A", MaxInviteCodeLen),
		"zero group":    enc(append(append([]byte{0x93, 0xc4, 32}, make([]byte, 32)...), 0xa0, 0x90)),
		"short group":   enc([]byte{0x93, 0xc4, 2, 1, 2, 0xa0, 0x90}),
		"two elements":  enc(append(append([]byte{0x92, 0xc4, 32, 1}, make([]byte, 31)...), 0xa0)),
		"nine addrs":    enc(nine.bytes()),
		"array32 bomb":  enc([]byte{0x93, 0xc4, 32, 0xdd, 0x0f, 0xff, 0xff, 0xff}),
		"trailing byte": enc(append(append(append([]byte{0x93, 0xc4, 32, 1}, make([]byte, 31)...), 0xa0, 0x90), 0)),
	} {
		c, err := DecodeFollowCode(s)
		if err == nil {
			t.Errorf("%s: decoded %+v", name, c)
			continue
		}
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: unnamed error %v", name, err)
		}
	}
	// An invite code is no follow code, and the other way round.
	if _, err := DecodeInviteCode(good); err == nil {
		t.Fatal("a follow code decodes as an invite code")
	}
}

func FuzzDecodeFollowCode(f *testing.F) {
	good, err := EncodeFollowCode(fixtureFollowCode())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(followPrefix)
	for _, bm := range bombs() {
		f.Add(followPrefix + base64.RawURLEncoding.EncodeToString(bm.b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := DecodeFollowCode(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unnamed error %v", err)
			}
			return
		}
		again, err := EncodeFollowCode(c)
		if err != nil {
			t.Fatalf("a decoded code does not encode: %v", err)
		}
		c2, err := DecodeFollowCode(again)
		if err != nil || !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, c, c2)
		}
	})
}

// TestFederationBody: kind 32 round-trips in both op versions, is pinned,
// and its lists are bounded before they are read.
func TestFederationBody(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	body := crdt.Federation{Policy: crdt.FollowAllies, Allies: []crdt.ID{{1}, {2}}, Blocked: []crdt.ID{{3}}}
	op := crdt.Op{Group: crdt.ID{9}, Seq: 2, Prev: crdt.ID{8}, Time: crdt.HLC{Wall: 1_700_000_000_000}, Body: body}
	raw, err := SignOp(&op, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeOp(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Body, body) {
		t.Fatalf("body %+v, want %+v", got.Body, body)
	}
	w := newWriter()
	writeFederation(w, &crdt.Federation{Policy: crdt.FollowAllies, Allies: []crdt.ID{{1}}})
	if got, want := hex.EncodeToString(w.bytes()), "930191c42001"+strings.Repeat("00", 31)+"90"; got != want {
		t.Fatalf("encoding %s, want %s", got, want)
	}
	// 257 allies: refused by the array header, before anything is read.
	big := newWriter()
	big.array(3)
	big.uint(1)
	big.array(crdt.MaxFederationGroups + 1)
	r := newReader(big.bytes())
	readFederation(r)
	if r.err == nil {
		t.Fatal("257 allies read")
	}
}

// TestSignedOpsAlwaysDecode: every op SignOp or EncodeOp produces is one
// DecodeOp accepts, up to the size limit. A Federation of n allies grows
// past MaxOpBytes between 230 and 240 allies: each size either signs and
// decodes, or is refused as too large when signed (it used to sign up to
// 12 bytes past the limit, ops every peer refused).
func TestSignedOpsAlwaysDecode(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	signed, refused := 0, 0
	for n := 225; n <= 245; n++ {
		allies := make([]crdt.ID, n)
		for i := range allies {
			allies[i] = crdt.ID{byte(i), byte(i >> 8), 1}
		}
		op := crdt.Op{Group: crdt.ID{9}, Seq: 2, Prev: crdt.ID{8}, Time: crdt.HLC{Wall: 1_700_000_000_000}, Body: crdt.Federation{Policy: crdt.FollowAllies, Allies: allies}}
		raw, err := SignOp(&op, key)
		if err != nil {
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("%d allies: %v", n, err)
			}
			if _, err := EncodeOp(&op); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("%d allies: signing refused, encoding: %v", n, err)
			}
			refused++
			continue
		}
		signed++
		if len(raw) > MaxOpBytes {
			t.Fatalf("%d allies: signed %d bytes, over %d", n, len(raw), MaxOpBytes)
		}
		if _, err := DecodeOp(raw); err != nil {
			t.Fatalf("%d allies: signed (%d bytes) but refused: %v", n, len(raw), err)
		}
		again, err := EncodeOp(&op)
		if err != nil || !bytes.Equal(again, raw) {
			t.Fatalf("%d allies: encoded again: %v", n, err)
		}
	}
	if signed == 0 || refused == 0 {
		t.Fatalf("the sizes tried do not cross the limit: %d signed, %d refused", signed, refused)
	}
}
