package catchuptest

import (
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
	"github.com/mutual-aid/mutual/protocol"
)

// OpIDAt (catchup.OpIDs, the lookup that fills the prevs gossip frames
// leave out) gives the ID of the op the log holds at a seq: the last op,
// an earlier one, one past a gap; nothing for a seq not held, an unknown
// author or group; and never the evidence of a fork, whose other op
// stays in the log.
func testOpIDs(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	ids, ok := r.Replica.(catchup.OpIDs)
	if !ok {
		t.Fatalf("%T does not implement catchup.OpIDs", r.Replica)
	}
	want := func(author crdt.PublicKey, seq uint64, raw []byte, why string) {
		t.Helper()
		id, ok := ids.OpIDAt(fx.group, author, seq)
		switch {
		case raw == nil && ok:
			t.Fatalf("%s: OpIDAt(%d) = %s, want none", why, seq, id.Short())
		case raw != nil && (!ok || id != protocol.OpID(raw)):
			t.Fatalf("%s: OpIDAt(%d) = %s, %v; want %s", why, seq, id.Short(), ok, protocol.OpID(raw).Short())
		}
	}
	posts := fx.f.Posts(fx.group, 4) // seqs 2 to 5
	twin := fx.f.Fork()
	wantIngest(t, r, 3, "seqs 2, 3 and 5", posts[0], posts[1], posts[3])
	want(fx.f.Pub, 1, fx.gen, "the genesis")
	want(fx.f.Pub, 3, posts[1], "the last contiguous op")
	want(fx.f.Pub, 5, posts[3], "an op past a gap")
	want(fx.f.Pub, 4, nil, "the gap")
	want(fx.f.Pub, 6, nil, "past the last")
	want(fx.m.Pub, 1, nil, "an author not held")
	if _, ok := ids.OpIDAt(crdt.ID{1}, fx.f.Pub, 1); ok {
		t.Fatal("an op of a group not replicated")
	}
	wantIngest(t, r, 1, "the gap filled", posts[2])
	want(fx.f.Pub, 4, posts[2], "the gap filled")
	fork := twin.Post(fx.group, 99) // seq 2, another op
	wantIngest(t, r, 1, "a fork at seq 2, kept as evidence", fork)
	want(fx.f.Pub, 2, posts[0], "after the fork")
}
