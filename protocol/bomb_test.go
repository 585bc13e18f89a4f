package protocol

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
)

// Decoder bombs: a few hostile bytes whose length prefixes claim far more
// than they hold. msgpack v5.4.1 allocates what the prefix claims (8 GB
// for the 5 bytes dd 0f ff ff ff into []interface{}; 256 MB for a bin32
// into a []byte field), so the decoders must refuse them before the
// library sees them: fast, with ErrMalformed, allocating little.

type bomb struct {
	name string
	b    []byte
}

func bombs() []bomb {
	deep := bytes.Repeat([]byte{0x91}, 1000) // [[[[...]]]] 1000 deep
	deep = append(deep, 0x00)
	return []bomb{
		{"array32 of 268M", []byte{0xdd, 0x0f, 0xff, 0xff, 0xff}},
		{"bin32 of 256 MiB", []byte{0xc6, 0x10, 0x00, 0x00, 0x00}},
		{"nested 1000 deep", deep},
		{"map32 of 4G pairs", []byte{0xdf, 0xff, 0xff, 0xff, 0xff}},
		{"str32 of 4 GiB", []byte{0xdb, 0xff, 0xff, 0xff, 0xff}},
		{"ext32 of 2 GiB", []byte{0xc9, 0x80, 0x00, 0x00, 0x00, 0x01}},
		// The same, where a decoder would reach them: the op's group
		// field, a post record's stamp list, a genesis name.
		{"op with bin32 group", []byte{0x9a, 0x01, 0x01, 0xc6, 0x10, 0x00, 0x00, 0x00, 0x00}},
		{"op with array32 body", append([]byte{0x9a, 0x01, 0x10}, []byte{0xdd, 0xff, 0xff, 0xff, 0xff}...)},
		{"record with bin32 id", []byte{0xdc, 0x00, 0x15, 0x01, 0xc6, 0x7f, 0xff, 0xff, 0xff}},
		{"array of array32", []byte{0x92, 0xdd, 0x80, 0x00, 0x00, 0x00, 0x00}},
		{"array of bin32 2 GiB", []byte{0x92, 0xc6, 0x80, 0x00, 0x00, 0x00, 0x00}},
		{"array of str32 4 GiB", []byte{0x92, 0xdb, 0xff, 0xff, 0xff, 0xff, 0x00}},
		// Past a whole op header, in the bodies of kinds 2–7: a join's
		// proof, an invite's array header and key, a role change's member,
		// a leave's empty array.
		{"join with bin32 proof", opHeader(crdt.KindJoin, []byte{0x94, 0x97}, bytes.Repeat([]byte{0x00}, 7), []byte{0xa0, 0xc6, 0x80, 0x00, 0x00, 0x00})},
		{"join with array32 invite", opHeader(crdt.KindJoin, []byte{0x94, 0xdd, 0x0f, 0xff, 0xff, 0xff})},
		{"invite made with bin32 key", opHeader(crdt.KindInvite, []byte{0x91, 0x97, 0xc4, 0x20}, make([]byte, 32), []byte{0x01, 0x01, 0x00, 0xc6, 0x10, 0x00, 0x00, 0x00})},
		{"revoke with map32", opHeader(crdt.KindRevoke, []byte{0xdf, 0xff, 0xff, 0xff, 0xff})},
		{"role with bin32 member", opHeader(crdt.KindSetRole, []byte{0x93, 0xc6, 0x7f, 0xff, 0xff, 0xff})},
		{"leave with array32", opHeader(crdt.KindLeave, []byte{0xdd, 0x7f, 0xff, 0xff, 0xff})},
		// The bodies of kinds 8–10 and the private hash of a post (issue 9).
		{"group key with array32 shares", opHeader(crdt.KindGroupKey, []byte{0x92, 0xc4, 0x10}, make([]byte, 16), []byte{0xdd, 0x0f, 0xff, 0xff, 0xff})},
		{"group key with bin32 sealed share", opHeader(crdt.KindGroupKey, []byte{0x92, 0xc4, 0x10}, make([]byte, 16), []byte{0x91, 0x92, 0xc4, 0x20}, make([]byte, 32), []byte{0xc6, 0x7f, 0xff, 0xff, 0xff})},
		{"erase with bin32 post", opHeader(crdt.KindErase, []byte{0x91, 0xc6, 0x10, 0x00, 0x00, 0x00})},
		{"settings with str32", opHeader(crdt.KindSettings, []byte{0x91, 0xdb, 0xff, 0xff, 0xff, 0xff})},
		{"post with bin32 private", opHeader(crdt.KindPostCreate, []byte{0x95, 0x01, 0x96, 0xa1, 't', 0xa0, 0xa0, 0x00, 0x00, 0x00, 0xa0, 0xa0, 0xc6, 0x10, 0x00, 0x00, 0x00})},
	}
}

// opHeader returns the first nine elements of an op of kind (zero group,
// author and prev; seq 2; wall 1) followed by body.
func opHeader(kind crdt.Kind, body ...[]byte) []byte {
	b := []byte{0x9a, 0x01, byte(kind), 0xc4, 0x20}
	b = append(b, make([]byte, 32)...)
	b = append(b, 0xc4, 0x20)
	b = append(b, make([]byte, 32)...)
	b = append(b, 0x02, 0xc4, 0x20)
	b = append(b, make([]byte, 32)...)
	b = append(b, 0x01, 0x00)
	return append(b, bytes.Join(body, nil)...)
}

// allocated returns the bytes allocated while f runs.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func checkBomb(t *testing.T, name string, decode func() error) {
	t.Helper()
	var err error
	start := time.Now()
	n := allocated(func() { err = decode() })
	if d := time.Since(start); d > time.Second {
		t.Errorf("%s: took %v", name, d)
	}
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("%s: error %v, want ErrMalformed", name, err)
	}
	if n >= 1<<20 {
		t.Errorf("%s: allocated %d bytes", name, n)
	}
}

func TestDecoderBombs(t *testing.T) {
	for _, bm := range bombs() {
		checkBomb(t, "DecodeOp "+bm.name, func() error { _, err := DecodeOp(bm.b); return err })
		checkBomb(t, "DecodeStoredOp "+bm.name, func() error { _, err := DecodeStoredOp(bm.b); return err })
		checkBomb(t, "DecodePost "+bm.name, func() error { _, err := DecodePost(bm.b, crdt.ID{}, crdt.ID{}); return err })
		code := invitePrefix + base64.RawURLEncoding.EncodeToString(bm.b)
		checkBomb(t, "DecodeInviteCode "+bm.name, func() error { _, err := DecodeInviteCode(code); return err })
		if _, err := scan(bm.b, 0); !errors.Is(err, ErrMalformed) {
			t.Errorf("scan %s: %v", bm.name, err)
		}
	}
}

// A valid op followed by a blob whose length prefix claims far more than
// follows, or by a bomb in place of the blob: refused fast, allocating
// little.
func TestBlobBombs(t *testing.T) {
	f := fixtureNamedV1(t, "post_create")
	for name, tail := range map[string][]byte{
		"bin32 of 256 MiB":  {0xc6, 0x10, 0x00, 0x00, 0x00},
		"bin16 of 64 KiB":   {0xc5, 0xff, 0xff, 0x01},
		"bin8 of 255 bytes": {0xc4, 0xff, 0x01},
		"array32 of 268M":   {0xdd, 0x0f, 0xff, 0xff, 0xff},
		"str32 of 4 GiB":    {0xdb, 0xff, 0xff, 0xff, 0xff},
		"nested 1000 deep":  bytes.Repeat([]byte{0x91}, 1000),
	} {
		b := append(bytes.Clone(f.enc), tail...)
		checkBomb(t, "DecodeOp "+name, func() error { _, err := DecodeOp(b); return err })
		checkBomb(t, "SplitBlob "+name, func() error { _, _, err := SplitBlob(b); return err })
	}
}

// A post record (up to 16 MiB, read from disk) may declare as many
// responses as it has bytes, each a one-byte element: the decoder must
// not allocate a full Response (over 100 bytes) for each before it finds
// the first one malformed.
func TestDecodePostResponseCountBomb(t *testing.T) {
	rec := EncodePost(fixtureEmptyPost())
	// The last two elements are the empty response and tombstone lists
	// (0x90 0x90). Replace them with an array32 of n one-byte elements.
	if !bytes.HasSuffix(rec, []byte{0x90, 0x90}) {
		t.Fatalf("record ends %x", rec[len(rec)-2:])
	}
	const n = 1 << 20
	b := binary.BigEndian.AppendUint32(append(bytes.Clone(rec[:len(rec)-2]), 0xdd), n)
	b = append(b, make([]byte, n)...)
	b = append(b, 0x90)
	var err error
	got := allocated(func() { _, err = DecodePost(b, crdt.ID{}, crdt.ID{}) })
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("error %v", err)
	}
	if got > 8*uint64(len(b)) {
		t.Errorf("a %d-byte record made DecodePost allocate %d bytes (%d×)", len(b), got, got/uint64(len(b)))
	}
}
