package catchuptest

import (
	"fmt"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// digest returns r's digest of g.
func digest(t *testing.T, r Node, g crdt.ID) protocol.Digest {
	t.Helper()
	d, err := r.Digest(g)
	if err != nil {
		t.Fatalf("digest: %v", err)
	}
	return d
}

// Digest is protocol.GroupDigestOf over what the replica holds — its
// vector, the seqs past it, the evidence of forks — as it changes with
// every op stored, and the same on two replicas holding the same ops
// whatever order they came in.
func testDigest(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	r2 := fa.Follow(t, NewAuthor(5).Key, fx.gen)
	f := fx.f.Pub
	want := func(why string, d protocol.Digest, vv map[crdt.PublicKey]uint64, above []protocol.VectorEntry, evidence ...crdt.ID) {
		t.Helper()
		if w := protocol.GroupDigestOf(vv, above, nil, evidence); d != w {
			t.Fatalf("%s: digest %x, want %x", why, d, w)
		}
	}
	want("genesis only", digest(t, r, fx.group), map[crdt.PublicKey]uint64{f: 1}, nil)
	if digest(t, r, fx.group) != digest(t, r2, fx.group) {
		t.Fatal("two replicas holding the genesis differ")
	}
	posts := fx.f.Posts(fx.group, 4) // seqs 2..5
	twin := fx.f.Fork()              // signs another op at seq 6
	posts = append(posts, fx.f.Post(fx.group, 5))
	second := twin.Post(fx.group, 99)
	ingest(t, r, posts[0], posts[1])
	want("seqs 1..3", digest(t, r, fx.group), map[crdt.PublicKey]uint64{f: 3}, nil)
	ingest(t, r, posts[3])
	want("seqs 1..3 and 5", digest(t, r, fx.group), map[crdt.PublicKey]uint64{f: 3}, []protocol.VectorEntry{{Author: f, Seq: 5}})
	ingest(t, r, posts[2], posts[4])
	ingest(t, r2, posts[4], posts[3], posts[2], posts[1], posts[0])
	want("seqs 1..6", digest(t, r, fx.group), map[crdt.PublicKey]uint64{f: 6}, nil)
	if digest(t, r, fx.group) != digest(t, r2, fx.group) {
		t.Fatal("two replicas holding the same ops, received in other orders, differ")
	}
	// A fork at the last seq: the second op is kept as evidence.
	wantIngest(t, r, 1, "a second op at seq 6", second)
	want("a fork", digest(t, r, fx.group), map[crdt.PublicKey]uint64{f: 6}, nil, protocol.OpID(second))
}

// Two replicas sharing 300 groups, more than a round offers, converge
// in one session; the next session settles every group by its digest
// and sends no op.
func testSyncManyGroups(t *testing.T, a, b Factory) {
	const n = 300
	var geneses, posts [][]byte
	var groups []crdt.ID
	for i := range n {
		f := NewAuthor(1)
		g, gen := f.Genesis(fmt.Sprintf("group %d", i))
		groups, geneses = append(groups, g), append(geneses, gen)
		posts = append(posts, f.Post(g, i))
	}
	x := a.Follow(t, observer(1), geneses...)
	y := b.Follow(t, observer(2), geneses...)
	ingest(t, x, posts[:n/2]...)
	ingest(t, y, posts[n/2:]...)
	f := NewAuthor(1).Pub
	sx, sy := mustSync(t, x, f, y, f)
	for _, g := range groups {
		Converged(t, g, x, y)
	}
	if sx.Stats.NewOps != n-n/2 || sy.Stats.NewOps != n/2 {
		t.Fatalf("new ops %d and %d, want %d and %d", sx.Stats.NewOps, sy.Stats.NewOps, n-n/2, n/2)
	}
	sx, sy = mustSync(t, y, f, x, f)
	if sx.Stats.Settled != n || sy.Stats.Settled != n || sx.Stats.OpsSent+sy.Stats.OpsSent != 0 {
		t.Fatalf("a second session: %d and %d groups settled, %d ops sent; want %d, %d, 0",
			sx.Stats.Settled, sy.Stats.Settled, sx.Stats.OpsSent+sy.Stats.OpsSent, n, n)
	}
}
