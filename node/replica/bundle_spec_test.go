package replica_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/protocol"
)

// docs/protocol.md section 11: a bundle is the magic line and Ops frames
// only; a frame of another type stops the import. Frames and ops may come
// in any order: ops read before their author's first op, or their
// group's genesis, are stored once the rest is read.
func TestSpecBundleFramesAndOrder(t *testing.T) {
	ctx := context.Background()
	a := newNode(t)
	g := newGroup(t, a, "g")
	for range 5 {
		post(t, a, g, replica.PostInput{Kind: crdt.Offer, Fields: crdt.Fields{Title: "soup"}})
	}
	var buf bytes.Buffer
	if _, err := a.r.Export(&buf, nil); err != nil {
		t.Fatal(err)
	}
	// The exported ops, read back from the bundle's frames.
	br := bufio.NewReader(bytes.NewReader(buf.Bytes()[len(replica.BundleMagic):]))
	var ops [][]byte
	for {
		f, err := protocol.ReadFrame(br)
		if err == io.EOF {
			break
		}
		if err != nil || f.Type != protocol.MsgOps || f.Group != g {
			t.Fatalf("exported frame %+v: %v", f, err)
		}
		ops = append(ops, f.Ops...)
	}
	if len(ops) != 7 { // the genesis, the founder's key, and five more
		t.Fatalf("%d ops exported, want 7", len(ops))
	}

	// Only Ops frames: an End frame after a valid Ops frame stops the
	// import with ErrMalformed (the ops before it stay).
	withEnd := []byte(replica.BundleMagic)
	withEnd, _ = protocol.AppendFrame(withEnd, &protocol.Frame{Type: protocol.MsgOps, Group: g, Ops: ops[:1]})
	withEnd, _ = protocol.AppendFrame(withEnd, &protocol.Frame{Type: protocol.MsgEnd})
	b := newNode(t)
	if rep, err := b.r.Import(ctx, bytes.NewReader(withEnd)); !errors.Is(err, protocol.ErrMalformed) || rep.New != 1 {
		t.Fatalf("bundle with an End frame: %+v, %v", rep, err)
	}

	// Reversed, one op per frame: the genesis comes last. The ops read
	// before the group's genesis, and before their author's first op, are
	// kept aside and stored once the bundle is read: one pass stores
	// everything, and counts it as new.
	rev := []byte(replica.BundleMagic)
	for _, op := range slices.Backward(ops) {
		rev, _ = protocol.AppendFrame(rev, &protocol.Frame{Type: protocol.MsgOps, Group: g, Ops: [][]byte{op}})
	}
	c := newNode(t)
	rep, err := c.r.Import(ctx, bytes.NewReader(rev))
	if err != nil || rep.New != 7 || rep.Waiting != 0 || rep.Refused != 0 || len(rep.Followed) != 1 {
		t.Fatalf("reversed bundle: %+v, %v", rep, err)
	}
	rep, err = c.r.Import(ctx, bytes.NewReader(rev))
	if err != nil || rep.New != 0 || rep.Had != 7 {
		t.Fatalf("reversed bundle again: %+v, %v", rep, err)
	}
	if stateHash(t, a, g) != stateHash(t, c, g) {
		t.Fatal("the reversed bundle did not reproduce the board")
	}
}
