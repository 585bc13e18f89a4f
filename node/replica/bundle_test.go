package replica_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
)

func TestBundleRoundTripAndHostileBundles(t *testing.T) {
	ctx := context.Background()
	a, b := newNode(t), newNode(t)
	g := newGroup(t, a, "g")
	for i := 0; i < 50; i++ {
		post(t, a, g, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: "coats", Contact: "555-0101"}})
	}
	var buf bytes.Buffer
	n, err := a.r.Export(&buf, nil)
	if err != nil || n != 52 { // the genesis, the group's key, the posts
		t.Fatalf("export: %d ops, %v", n, err)
	}
	bundle := buf.Bytes()

	// Junk and a truncated bundle: clear errors, nothing half-applied.
	if _, err := b.r.Import(ctx, bytes.NewReader([]byte("not a bundle"))); !errors.Is(err, replica.ErrNotBundle) {
		t.Fatalf("junk: %v", err)
	}
	if _, err := b.r.Import(ctx, bytes.NewReader(bundle[:len(bundle)-7])); err == nil {
		t.Fatal("a truncated bundle imported without an error")
	}
	// A bundle with one op's signature flipped: that op is refused, the
	// rest arrive.
	bad := bytes.Clone(bundle)
	bad[len(bad)-10] ^= 0xff
	c := newNode(t)
	rep, err := c.r.Import(ctx, bytes.NewReader(bad))
	if err != nil || rep.Refused != 1 || rep.New != 51 {
		t.Fatalf("tampered bundle: %+v %v", rep, err)
	}

	rep, err = b.r.Import(ctx, bytes.NewReader(bundle))
	if err != nil || rep.New+rep.Had != 52 || rep.Refused != 0 || len(rep.Followed) != 1 || rep.Followed[0] != g {
		t.Fatalf("import: %+v %v", rep, err)
	}
	if ha, hb := stateHash(t, a, g), stateHash(t, b, g); ha != hb {
		t.Fatal("the bundle did not reproduce the board")
	}
	rep, err = b.r.Import(ctx, bytes.NewReader(bundle))
	if err != nil || rep.Had != 52 || rep.New != 0 {
		t.Fatalf("re-import: %+v %v", rep, err)
	}
	gi, err := b.r.Group(g)
	if err != nil || gi.Name != "g" {
		t.Fatalf("followed group name %q: %v", gi.Name, err)
	}
}
