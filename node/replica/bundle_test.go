package replica_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/protocol"
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

// TestImportFollowsOnlyWithGenesis: a bundle of 300 empty frames (the
// issue's 11 KB file) and one of a real group's posts without their
// genesis make the node follow nothing; the real bundle still does.
func TestImportFollowsOnlyWithGenesis(t *testing.T) {
	ctx := context.Background()
	a, b := newNode(t), newNode(t)
	g := newGroup(t, a, "g")
	for range 3 {
		post(t, a, g, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: "coats"}})
	}
	var empty bytes.Buffer
	empty.WriteString(replica.BundleMagic)
	for i := range 300 {
		f := &protocol.Frame{Type: protocol.MsgOps}
		f.Group[0], f.Group[1] = byte(i), byte(i>>8)
		if err := protocol.WriteFrame(&empty, f); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := b.r.Import(ctx, bytes.NewReader(empty.Bytes()))
	if err != nil || len(rep.Followed) != 0 || len(b.r.Groups()) != 0 {
		t.Fatalf("a bundle of %d bytes of empty frames: %+v %v, %d groups followed", empty.Len(), rep, err, len(b.r.Groups()))
	}

	var full bytes.Buffer
	if _, err := a.r.Export(&full, nil); err != nil {
		t.Fatal(err)
	}
	// The same ops without the genesis (the first op of the first frame).
	fr, err := protocol.ReadFrame(bufio.NewReader(bytes.NewReader(full.Bytes()[len(replica.BundleMagic):])))
	if err != nil {
		t.Fatal(err)
	}
	fr.Ops = fr.Ops[1:]
	var noGen bytes.Buffer
	noGen.WriteString(replica.BundleMagic)
	if err := protocol.WriteFrame(&noGen, fr); err != nil {
		t.Fatal(err)
	}
	rep, err = b.r.Import(ctx, bytes.NewReader(noGen.Bytes()))
	if err != nil || len(rep.Followed) != 0 || rep.New != 0 || rep.Refused != 4 || len(b.r.Groups()) != 0 { // the group's key and 3 posts
		t.Fatalf("a group's posts without its genesis: %+v %v", rep, err)
	}
	rep, err = b.r.Import(ctx, bytes.NewReader(full.Bytes()))
	if err != nil || len(rep.Followed) != 1 || rep.New != 5 {
		t.Fatalf("the real bundle: %+v %v", rep, err)
	}
}
