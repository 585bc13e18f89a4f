package catchuptest

import (
	"slices"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
)

// testSyncFollower: a node that follows a group (it holds the genesis
// and no join of its own) offers it to a member's node, which serves it
// the whole board as to a follower: open groups accept any follower.
func testSyncFollower(t *testing.T, a, b Factory) {
	fx, rf, _, _ := founderAndMember(t, a, b)
	ingest(t, rf, fx.f.Posts(fx.group, 10)...)
	ingest(t, rf, fx.m.Posts(fx.group, 5)...)
	follower := NewAuthor(106)
	ry := b.Follow(t, follower.Key, fx.gen)
	sy, sf := mustSync(t, ry, follower.Pub, rf, fx.f.Pub)
	Converged(t, fx.group, rf, ry)
	if !slices.Contains(sf.Stats.Followers, fx.group) || len(sy.Stats.Followers) != 0 {
		t.Fatalf("followers: member's side %v, follower's side %v", sf.Stats.Followers, sy.Stats.Followers)
	}
	if sy.Stats.NewOps == 0 || sf.Stats.NewOps != 0 {
		t.Fatalf("the follower got %d new ops, the member %d", sy.Stats.NewOps, sf.Stats.NewOps)
	}

	// Held alike, the group settles by its digest, as between members:
	// the member digests it for the peer it served as a follower
	// (Options.Followers), and both compute the same digest.
	sy, sf = SyncOptions(ry, follower.Pub, catchup.Options{}, rf, fx.f.Pub, catchup.Options{Followers: sf.Stats.Followers})
	if sy.Err != nil || sf.Err != nil {
		t.Fatalf("session: %v / %v", sy.Err, sf.Err)
	}
	if sy.Stats.Settled != 1 || sf.Stats.Settled != 1 || sy.Stats.OpsSent+sf.Stats.OpsSent != 0 {
		t.Fatalf("an idle member-follower session settled %d and %d groups, sent %d ops",
			sy.Stats.Settled, sf.Stats.Settled, sy.Stats.OpsSent+sf.Stats.OpsSent)
	}
	if !slices.Contains(sf.Stats.Followers, fx.group) {
		t.Fatalf("the member no longer counts the follower: %v", sf.Stats.Followers)
	}
}

// testSyncFollowerRefused: a group that accepts followers from its
// allies only refuses a node that is no member of an ally (Refused, with
// the reason, and nothing of the group), and serves a member of an ally
// group, as the serving node knows it.
func testSyncFollowerRefused(t *testing.T, a, b Factory) {
	fx := newFixture()
	ally := NewAuthor(107) // founds the ally group, so is its member
	allyGroup, allyGen := ally.Genesis("harbour")
	rf := a.Follow(t, observer(1), fx.gen, allyGen)
	_, fed := fx.f.Sign(fx.group, crdt.Federation{Policy: crdt.FollowAllies, Allies: []crdt.ID{allyGroup}})
	ingest(t, rf, fx.mJoin, fx.f.Admit(fx.group, fx.mJoin), fed)
	ingest(t, rf, fx.f.Posts(fx.group, 5)...)

	stranger := NewAuthor(108)
	rs := b.Follow(t, stranger.Key, fx.gen)
	ss, sf := mustSync(t, rs, stranger.Pub, rf, fx.f.Pub)
	if got := ss.Stats.Refused[fx.group]; got != catchup.ErrNotAlly.Error() {
		t.Fatalf("refused: %q, want %q", got, catchup.ErrNotAlly)
	}
	if ss.Stats.OpsReceived != 0 || ss.Stats.NewOps != 0 || len(sf.Stats.Followers) != 0 {
		t.Fatalf("a refused follower got ops: %+v / %+v", ss.Stats, sf.Stats)
	}
	if v := vector(t, rs, fx.group); len(v) != 1 || v[fx.f.Pub] != 1 {
		t.Fatalf("a refused follower holds %s", fmtVector(v))
	}

	ra := b.Follow(t, ally.Key, fx.gen)
	sa, _ := mustSync(t, ra, ally.Pub, rf, fx.f.Pub)
	if len(sa.Stats.Refused) != 0 {
		t.Fatalf("an ally's member was refused: %v", sa.Stats.Refused)
	}
	Converged(t, fx.group, rf, ra)
}
