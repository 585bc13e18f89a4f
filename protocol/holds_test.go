package protocol

import (
	"bufio"
	"bytes"
	"errors"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

// holdsFixture: group 0xa1.., nonce 0x5a.., answerer's key 0x11..,
// asker's key 0x22...
func holdsFixture() (g crdt.ID, nonce [32]byte, answerer, asker crdt.PublicKey) {
	for i := range 32 {
		g[i], nonce[i], answerer[i], asker[i] = 0xa1, 0x5a, 0x11, 0x22
	}
	return
}

func TestHoldsGolden(t *testing.T) {
	g, nonce, answerer, asker := holdsFixture()
	proof := HoldsProof(g, nonce, answerer, asker)
	checkGolden(t, "holds_proof", "HoldsProof: HMAC-SHA256(key = group 0xa1.., \"mutual/holds/1\\n\" || nonce 0x5a.. || answerer key 0x11.. || asker key 0x22..)", nil, proof[:])

	ask := HoldsAsk{Digest: RendezvousDigest(g), Nonce: nonce}
	enc := AppendHoldsAsk(nil, ask)
	checkGolden(t, "holds_ask", "HoldsAsk (length prefix included): RendezvousDigest of group 0xa1.., nonce 0x5a..", nil, enc)
	got, err := ReadHoldsAsk(bufio.NewReader(bytes.NewReader(enc)))
	if err != nil || got != ask {
		t.Fatalf("ask round trip: %+v, %v", got, err)
	}

	yes := HoldsAnswer{Holds: true, Proof: proof}
	enc = AppendHoldsAnswer(nil, yes)
	checkGolden(t, "holds_answer", "HoldsAnswer (length prefix included): the proof of holds_proof", nil, enc)
	a, err := ReadHoldsAnswer(bufio.NewReader(bytes.NewReader(enc)))
	if err != nil || a != yes {
		t.Fatalf("answer round trip: %+v, %v", a, err)
	}
	enc = AppendHoldsAnswer(nil, HoldsAnswer{Proof: proof}) // "no" carries no proof
	checkGolden(t, "holds_answer_no", "HoldsAnswer (length prefix included): no", nil, enc)
	a, err = ReadHoldsAnswer(bufio.NewReader(bytes.NewReader(enc)))
	if err != nil || a != (HoldsAnswer{}) {
		t.Fatalf("no round trip: %+v, %v", a, err)
	}
}

// A proof holds for one group, one nonce and one pair of nodes in one
// order: a proof a real holder made for another asker (relayed by a node
// that does not hold the group), or for another nonce, is refused.
func TestVerifyHolds(t *testing.T) {
	g, nonce, answerer, asker := holdsFixture()
	proof := HoldsProof(g, nonce, answerer, asker)
	if !VerifyHolds(g, nonce, answerer, asker, proof) {
		t.Fatal("a true proof refused")
	}
	var relay crdt.PublicKey
	for i := range relay {
		relay[i] = 0x33
	}
	// The relay asks the holder in its own name and passes the proof on
	// to the asker: made for the relay, not by it.
	forRelay := HoldsProof(g, nonce, answerer, relay)
	if VerifyHolds(g, nonce, relay, asker, forRelay) {
		t.Error("a proof relayed from a real holder accepted")
	}
	// The relay passes the asker's question on and the holder's answer
	// back: made by the holder, not by the relay.
	if VerifyHolds(g, nonce, relay, asker, proof) {
		t.Error("the holder's proof accepted from the relay")
	}
	// The holder's proof for the relay, checked by the asker as if the
	// holder had answered it: bound to its asker too.
	if VerifyHolds(g, nonce, answerer, asker, forRelay) {
		t.Error("a proof made for another asker accepted")
	}
	if VerifyHolds(g, nonce, asker, answerer, proof) {
		t.Error("a proof accepted with the keys swapped")
	}
	other := nonce
	other[0] ^= 1
	if VerifyHolds(g, other, answerer, asker, proof) {
		t.Error("a proof accepted for another nonce")
	}
	h := g
	h[31] ^= 1
	if VerifyHolds(h, nonce, answerer, asker, proof) {
		t.Error("a proof accepted for another group")
	}
	if VerifyHolds(g, nonce, answerer, asker, [32]byte{}) {
		t.Error("a zero proof accepted")
	}
}

func TestHoldsLimits(t *testing.T) {
	g, nonce, _, _ := holdsFixture()
	// Another version.
	w := newWriter()
	w.array(3)
	w.uint(HoldsVersion + 1)
	w.bin(g[:])
	w.bin(nonce[:])
	if _, err := DecodeHoldsAsk(w.bytes()); !errors.Is(err, ErrUnsupported) {
		t.Errorf("version 2 ask: %v", err)
	}
	// A short nonce, a long proof, trailing bytes, a non-canonical
	// version number.
	w = newWriter()
	w.array(3)
	w.uint(HoldsVersion)
	w.bin(g[:])
	w.bin(nonce[:16])
	if _, err := DecodeHoldsAsk(w.bytes()); !errors.Is(err, ErrMalformed) {
		t.Errorf("short nonce: %v", err)
	}
	w = newWriter()
	w.array(2)
	w.uint(HoldsVersion)
	w.bin(make([]byte, 33))
	if _, err := DecodeHoldsAnswer(w.bytes()); !errors.Is(err, ErrMalformed) {
		t.Errorf("long proof: %v", err)
	}
	body := AppendHoldsAnswer(nil, HoldsAnswer{})[1:]
	if _, err := DecodeHoldsAnswer(append(body, 0xc0)); !errors.Is(err, ErrMalformed) {
		t.Errorf("trailing: %v", err)
	}
	nc := append([]byte{0x92, 0xcc, 0x01}, 0xc0)
	if _, err := DecodeHoldsAnswer(nc); !errors.Is(err, ErrMalformed) {
		t.Errorf("non-canonical version: %v", err)
	}
	// A length prefix past MaxHolds is refused before anything is read.
	big := []byte{0xff, 0xff, 0xff, 0x0f}
	if _, err := ReadHoldsAsk(bufio.NewReader(bytes.NewReader(big))); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge length: %v", err)
	}
	if n := len(AppendHoldsAsk(nil, HoldsAsk{})); n > MaxHolds {
		t.Errorf("an ask takes %d bytes, more than MaxHolds", n)
	}
}

func FuzzDecodeHoldsAsk(f *testing.F) {
	g, nonce, _, _ := holdsFixture()
	f.Add(AppendHoldsAsk(nil, HoldsAsk{Digest: RendezvousDigest(g), Nonce: nonce})[1:])
	for _, bm := range bombs() {
		f.Add(bm.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeHoldsAsk(b)
		if err != nil {
			if !decodeErr(err) {
				t.Fatalf("unnamed error %v", err)
			}
			return
		}
		// One encoding per message.
		if again := AppendHoldsAsk(nil, a); !bytes.Equal(again[1:], b) {
			t.Fatalf("%x decodes, re-encodes as %x", b, again)
		}
	})
}

func FuzzDecodeHoldsAnswer(f *testing.F) {
	g, nonce, answerer, asker := holdsFixture()
	f.Add(AppendHoldsAnswer(nil, HoldsAnswer{Holds: true, Proof: HoldsProof(g, nonce, answerer, asker)})[1:])
	f.Add(AppendHoldsAnswer(nil, HoldsAnswer{})[1:])
	for _, bm := range bombs() {
		f.Add(bm.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeHoldsAnswer(b)
		if err != nil {
			if !decodeErr(err) {
				t.Fatalf("unnamed error %v", err)
			}
			return
		}
		if again := AppendHoldsAnswer(nil, a); !bytes.Equal(again[1:], b) {
			t.Fatalf("%x decodes, re-encodes as %x", b, again)
		}
	})
}
