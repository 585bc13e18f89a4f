package protocol

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

// The strictness rules of docs/protocol.md section 1.3, one test each:
// what every decoder refuses, what ops (canonical) refuse on top, and
// exactly what the lenient decoders (catch-up frames, invite codes)
// accept besides the canonical form.

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// 0xc1 is refused where a value starts (its type byte), and only there:
// inside a bin it is data; inside a str it passes the pre-scan, and the
// text check refuses it because 0xc1 is never part of UTF-8.
func TestSpecC1OnlyAsTypeByte(t *testing.T) {
	for _, c := range []struct {
		hex  string
		want error
	}{
		{"c1", ErrMalformed},
		{"91 c1", ErrMalformed},
		{"92 01 c1", ErrMalformed},
		{"a1 c1", nil},    // fixstr holding 0xc1
		{"c4 01 c1", nil}, // bin8 holding 0xc1
		{"d9 02 c1 c1", nil},
		{"c7 01 05 c1", nil}, // ext8 (type 5) holding 0xc1: the scan passes it; decoders refuse ext
	} {
		err := checkFrame(mustHex(t, c.hex), 100)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.hex, err, c.want)
		}
	}

	// In an op: a genesis whose nonce (a bin) is full of 0xc1 is valid.
	key := testKey(0x51)
	var nonce [16]byte
	copy(nonce[:], bytes.Repeat([]byte{0xc1}, 16))
	g := crdt.Op{Seq: 1, Time: crdt.HLC{Wall: 1000}, Body: crdt.Genesis{Name: "g", Nonce: nonce, AuthorName: "a"}}
	raw, err := SignOp(&g, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeOp(raw); err != nil {
		t.Fatalf("op with 0xc1 inside a bin: %v", err)
	}
	// The same op with 0xc1 inside its name (a str): bad UTF-8, not a
	// malformed token. (Built by hand: the encoder refuses it.)
	bad := bytes.Replace(raw, []byte{0xa1, 'g'}, []byte{0xa1, 0xc1}, 1)
	if _, err := DecodeOp(bad); !errors.Is(err, ErrBadUTF8) {
		t.Fatalf("0xc1 inside a str: got %v, want ErrBadUTF8", err)
	}
	// And 0xc1 as the type byte of the name: malformed.
	bad = bytes.Replace(raw, []byte{0xa1, 'g'}, []byte{0xc1, 'g'}, 1)
	if _, err := DecodeOp(bad); !errors.Is(err, ErrMalformed) || errors.Is(err, ErrBadUTF8) {
		t.Fatalf("0xc1 as a type byte: got %v, want ErrMalformed", err)
	}

	// In a frame: a Have whose group and author hold 0xc1 bytes.
	var grp crdt.ID
	copy(grp[:], bytes.Repeat([]byte{0xc1}, 32))
	b, err := AppendFrame(nil, &Frame{Type: MsgHave, Group: grp, Vector: []VectorEntry{{Author: crdt.PublicKey(grp), Seq: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if f, err := DecodeSyncFrame(b[1:]); err != nil || f.Group != grp {
		t.Fatalf("frame with 0xc1 inside bins: %v", err)
	}
}

// Every decoder refuses bytes after its one value.
func TestSpecTrailingRefused(t *testing.T) {
	raw := fixtureNamedV1(t, "post_create").enc
	if _, err := DecodeOp(append(bytes.Clone(raw), 0x00)); !errors.Is(err, ErrTrailing) {
		t.Errorf("op + 1 byte: %v", err)
	}
	if _, err := PeekOp(append(bytes.Clone(raw), 0xc0)); !errors.Is(err, ErrTrailing) {
		t.Errorf("PeekOp, op + 1 byte: %v", err)
	}
	if _, err := DecodeSyncFrame(mustHex(t, "91 05 05")); !errors.Is(err, ErrTrailing) {
		t.Errorf("End + 1 byte: %v", err)
	}
	// An Ops frame's trailing bytes: the 3-element array is complete
	// after its op list.
	g, ops := syncTestOps(t, 1)
	b, _ := AppendFrame(nil, &Frame{Type: MsgOps, Group: g, Ops: ops})
	body := append(bytes.Clone(b[2:]), 0x00) // the length prefix of this frame is 2 bytes
	if _, err := DecodeSyncFrame(body); !errors.Is(err, ErrTrailing) {
		t.Errorf("Ops + 1 byte: %v", err)
	}
	// An invite code whose payload has a byte after its array.
	code, _ := EncodeInviteCode(fixtureInviteCode())
	payload, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(code, invitePrefix))
	payload = append(payload, 0x00)
	if _, err := DecodeInviteCode(invitePrefix + base64.RawURLEncoding.EncodeToString(payload)); !errors.Is(err, ErrTrailing) {
		t.Errorf("invite code + 1 byte: %v", err)
	}
}

// Ops are canonical: the smallest form of every value, or ErrNotCanonical.
func TestSpecOpsCanonical(t *testing.T) {
	raw := fixtureNamedV1(t, "post_status").enc
	// The kind (byte 2, 18 = 0x12) as uint8.
	wide := append([]byte{raw[0], raw[1], 0xcc}, raw[2:]...)
	if _, err := DecodeOp(wide); !errors.Is(err, ErrNotCanonical) {
		t.Errorf("kind as uint8: got %v, want ErrNotCanonical", err)
	}
	// The op array as array16.
	wide = append([]byte{0xdc, 0x00, 0x0a}, raw[1:]...)
	if _, err := DecodeOp(wide); !errors.Is(err, ErrNotCanonical) {
		t.Errorf("array16 op: got %v, want ErrNotCanonical", err)
	}
	// The group as a str of 32 bytes instead of a bin.
	str := bytes.Clone(raw)
	str[3], str[4] = 0xd9, 0x20
	if _, err := DecodeOp(str); !errors.Is(err, ErrNotCanonical) {
		t.Errorf("group as str: got %v, want ErrNotCanonical", err)
	}
}

// Frames are lenient: besides the canonical form, a receiver accepts any
// integer form, str for bin and bin for str, nil for a number or a bool,
// any array header; negative numbers are read as two's complement. Ops
// inside an Ops frame must be bin, and are themselves canonical.
func TestSpecFramesLenient(t *testing.T) {
	var g crdt.ID
	copy(g[:], bytes.Repeat([]byte{0x42}, 32))
	gHex := hex.EncodeToString(g[:])
	for _, c := range []struct {
		name, hex string
		want      Frame
	}{
		{"hello, canonical", "94 01 01 02 c3", Frame{Type: MsgHello, Version: 1, Round: 2, Initiator: true}},
		{"hello, uint8/uint16/int8", "94 cc 01 cd 00 01 d0 02 c2", Frame{Type: MsgHello, Version: 1, Round: 2}},
		{"hello, uint64/int64", "94 cf 0000000000000001 d3 0000000000000001 01 c3", Frame{Type: MsgHello, Version: 1, Round: 1, Initiator: true}},
		{"hello, nil for round and initiator", "94 01 01 c0 c0", Frame{Type: MsgHello, Version: 1}},
		{"end, array16", "dc 0001 05", Frame{Type: MsgEnd}},
		{"end, array32", "dd 00000001 05", Frame{Type: MsgEnd}},
		{"next, nil", "92 06 c0", Frame{Type: MsgNext}},
		{"have, group as str8", "93 02 d9 20 " + gHex + " 90", Frame{Type: MsgHave, Group: g}},
		{"have, group as bin16", "93 02 c5 0020 " + gHex + " 90", Frame{Type: MsgHave, Group: g}},
		{"have, negative seq wraps", "93 02 c4 20 " + gHex + " 91 92 c4 20 " + gHex + " ff",
			Frame{Type: MsgHave, Group: g, Vector: []VectorEntry{{Author: crdt.PublicKey(g), Seq: math.MaxUint64}}}},
		{"have, vector as array32", "93 02 c4 20 " + gHex + " dd 00000000", Frame{Type: MsgHave, Group: g}},
		{"ops, empty list", "93 04 c4 20 " + gHex + " 90", Frame{Type: MsgOps, Group: g, Ops: [][]byte{}}},
	} {
		f, err := DecodeSyncFrame(mustHex(t, c.hex))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if f.Type != c.want.Type || f.Version != c.want.Version || f.Round != c.want.Round || f.Initiator != c.want.Initiator ||
			f.More != c.want.More || f.Group != c.want.Group || len(f.Vector) != len(c.want.Vector) || len(f.Ops) != len(c.want.Ops) {
			t.Errorf("%s: got %+v, want %+v", c.name, f, c.want)
			continue
		}
		for i := range f.Vector {
			if f.Vector[i] != c.want.Vector[i] {
				t.Errorf("%s: vector[%d] = %+v, want %+v", c.name, i, f.Vector[i], c.want.Vector[i])
			}
		}
	}
	for _, c := range []struct{ name, hex string }{
		{"a map", "81 01 01"},
		{"hello, 3 elements", "93 01 01 01"},
		{"hello, version as float", "94 01 ca 3f800000 01 c3"},
		{"hello, version as str", "94 01 a1 31 01 c3"},
		{"hello, initiator as 1", "94 01 01 01 01"},
		{"end as ext", "d4 05 00"},
		{"end, nil array", "c0"},
		{"have, group of 31 bytes", "93 02 c4 1f " + gHex[2:] + " 90"},
		{"have, group nil", "93 02 c0 90"},
		{"have, vector nil", "93 02 c4 20 " + gHex + " c0"},
		{"ops, op as str", "93 04 c4 20 " + gHex + " 91 a1 00"},
		{"hello, round above 2^32-1", "94 01 01 cf 0000000100000000 c3"},
		{"type 7", "91 07"},
		{"type as nil is 0, unknown", "91 c0"},
	} {
		if _, err := DecodeSyncFrame(mustHex(t, c.hex)); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
}

// An invite code is lenient like a frame (here: a non-canonical role
// and the group name as bin), line breaks inside its base64 are skipped,
// and white space around it is trimmed; the invite's ID is always the
// hash of the canonical encoding.
func TestSpecInviteCodeLenient(t *testing.T) {
	want := fixtureInviteCode()
	code, err := EncodeInviteCode(want)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(code, invitePrefix))
	// [invite [group bin32, role ...], ...]: the role is at offset 2+34.
	if payload[0] != 0x94 || payload[1] != 0x97 || payload[36] != byte(want.Invite.Role) {
		t.Fatalf("unexpected payload layout % x", payload[:40])
	}
	wide := append(append(bytes.Clone(payload[:36]), 0xcc), payload[36:]...)
	// The group name "Food bank" (fixstr a9) as bin8.
	wide = bytes.Replace(wide, []byte("\xa9Food bank"), []byte("\xc4\x09Food bank"), 1)
	text := base64.RawURLEncoding.EncodeToString(wide)
	text = " \n" + invitePrefix + text[:20] + "\r\n" + text[20:40] + "\n" + text[40:] + "\n\t"
	got, err := DecodeInviteCode(text)
	if err != nil {
		t.Fatalf("lenient code refused: %v", err)
	}
	if got.Invite.ID != want.Invite.ID || got.GroupName != want.GroupName || got.Invite.Role != want.Invite.Role {
		t.Fatalf("got ID %x name %q role %d, want %x %q %d", got.Invite.ID, got.GroupName, got.Invite.Role,
			want.Invite.ID, want.GroupName, want.Invite.Role)
	}
	// Padding and the standard alphabet are refused.
	if _, err := DecodeInviteCode(code + "="); err == nil {
		t.Error("padded code accepted")
	}
	std := invitePrefix + base64.RawStdEncoding.EncodeToString(payload)
	if std != code && !strings.ContainsAny(std[len(invitePrefix):], "+/") {
		t.Log("fixture has no '-' or '_': the alphabet case is not exercised")
	} else if std != code {
		if _, err := DecodeInviteCode(std); err == nil {
			t.Error("standard-alphabet code accepted")
		}
	}
}
