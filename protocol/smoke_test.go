package protocol

import (
	"crypto/ed25519"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

func TestSmokeRoundTrip(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	g := crdt.Op{Seq: 1, Time: crdt.HLC{Wall: 1000}, Body: crdt.Genesis{Name: "g", AuthorName: "a"}}
	b, err := SignOp(&g, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeOp(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != g.ID {
		t.Fatal("id")
	}
	p := crdt.Op{Group: g.ID, Seq: 2, Prev: g.ID, Time: crdt.HLC{Wall: 2000}, Body: crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: "coats", Quantity: 3}}}
	b, err = SignOp(&p, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err = DecodeOp(b)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("op %d bytes", len(b))
	bd := crdt.NewBoard(g.ID)
	if v, err, _ := bd.Apply(got, 3000); v != crdt.Ignore {
		t.Fatal(v, err)
	}
	if v, err, _ := bd.Apply(g, 3000); v != crdt.Accept {
		t.Fatal(v, err)
	}
	if len(bd.Posts) != 1 {
		t.Fatal("post not released")
	}
	rec := EncodePost(bd.Posts[p.ID])
	back, err := DecodePost(rec)
	if err != nil {
		t.Fatal(err)
	}
	if crdt.PostHash(back) != crdt.PostHash(bd.Posts[p.ID]) {
		t.Fatal("record round trip")
	}
	t.Logf("record %d bytes", len(rec))
	b[len(b)-1] ^= 1
	if _, err := DecodeOp(b); err == nil {
		t.Fatal("tampered accepted")
	}
}
