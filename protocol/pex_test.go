package protocol

import (
	"bufio"
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

// pexFixture is a Pex message of two peers: fixed keys, a TCP and a
// QUIC address in binary form (/ip4/192.168.1.23/tcp/4001 and
// /ip4/192.168.1.23/udp/4001/quic-v1), two groups.
func pexFixture() []PexPeer {
	var k1, k2 crdt.PublicKey
	var g1, g2 crdt.ID
	for i := range k1 {
		k1[i], k2[i], g1[i], g2[i] = 0x11, 0x22, 0xa1, 0xa2
	}
	tcp := []byte{0x04, 192, 168, 1, 23, 0x06, 0x0f, 0xa1}
	quic := []byte{0x04, 192, 168, 1, 23, 0x91, 0x02, 0x0f, 0xa1, 0xcc, 0x03}
	return []PexPeer{
		{Key: k1, Addrs: [][]byte{tcp, quic}, Groups: []crdt.ID{g1, g2}},
		{Key: k2, Addrs: [][]byte{tcp}, Groups: []crdt.ID{g2}},
	}
}

func TestPexGolden(t *testing.T) {
	enc, err := AppendPex(nil, pexFixture())
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "pex", "Pex message (length prefix included) of two peers: keys 0x11.., 0x22..; groups 0xa1.., 0xa2..", nil, enc)
	got, err := ReadPex(bufio.NewReader(bytes.NewReader(enc)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, pexFixture()) {
		t.Fatalf("round trip: got %+v", got)
	}
}

func TestPexLimits(t *testing.T) {
	p := pexFixture()[0]
	many := make([]PexPeer, MaxPexPeers+1)
	for i := range many {
		many[i] = p
	}
	if _, err := AppendPex(nil, many); !errors.Is(err, ErrTooLarge) {
		t.Errorf("%d peers: %v", len(many), err)
	}
	q := p
	q.Addrs = [][]byte{make([]byte, MaxPexAddrBytes+1)}
	if _, err := AppendPex(nil, []PexPeer{q}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("long address: %v", err)
	}
	// What the writer refuses, the reader refuses: a hand-made message of
	// MaxPexPeers+1 peers, and one of another version.
	w := newWriter()
	w.array(2)
	w.uint(PexVersion)
	w.array(MaxPexPeers + 1)
	for range MaxPexPeers + 1 {
		w.array(3)
		w.bin(p.Key[:])
		w.array(0)
		w.array(0)
	}
	if _, err := DecodePex(w.bytes()); !errors.Is(err, ErrMalformed) {
		t.Errorf("%d peers decoded: %v", MaxPexPeers+1, err)
	}
	w = newWriter()
	w.array(2)
	w.uint(PexVersion + 1)
	w.array(0)
	if _, err := DecodePex(w.bytes()); !errors.Is(err, ErrUnsupported) {
		t.Errorf("version 2: %v", err)
	}
	// A length prefix past MaxPex is refused before anything is read.
	big := []byte{0xff, 0xff, 0xff, 0x0f}
	if _, err := ReadPex(bufio.NewReader(bytes.NewReader(big))); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge length: %v", err)
	}
	// PexSize bounds the encoding.
	for _, p := range pexFixture() {
		enc, _ := AppendPex(nil, []PexPeer{p})
		empty, _ := AppendPex(nil, nil)
		if got := len(enc) - len(empty); got > PexSize(p) {
			t.Errorf("one peer takes %d bytes, PexSize says %d", got, PexSize(p))
		}
	}
}

func FuzzDecodePex(f *testing.F) {
	enc, err := AppendPex(nil, pexFixture())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc[2:]) // the body, after its 2-byte length
	empty, _ := AppendPex(nil, nil)
	f.Add(empty[1:])
	for _, bm := range bombs() {
		f.Add(bm.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		peers, err := DecodePex(b)
		if err != nil {
			if !decodeErr(err) {
				t.Fatalf("unnamed error %v", err)
			}
			return
		}
		// What decodes re-encodes to the same bytes.
		again, err := AppendPex(nil, peers)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", peers, err)
		}
		got, err := ReadPex(bufio.NewReader(bytes.NewReader(again)))
		if err != nil || !reflect.DeepEqual(got, peers) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// The rendezvous key of a group is pinned: nodes of two versions must
// meet under the same one.
func TestRendezvousDigestGolden(t *testing.T) {
	var g crdt.ID
	for i := range g {
		g[i] = 0xa1
	}
	d := RendezvousDigest(g)
	checkGolden(t, "rendezvous", "RendezvousDigest of group 0xa1..: SHA-256(\"mutual/rendezvous/1\\n\" || group ID)", nil, d[:])
	if d == RendezvousDigest(crdt.ID{}) {
		t.Fatal("two groups, one rendezvous")
	}
}
