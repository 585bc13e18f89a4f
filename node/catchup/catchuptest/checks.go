package catchuptest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
	"github.com/mutual-aid/mutual/protocol"
)

// fixture is a group founded by f, with a member m whose join is signed
// (not yet given to anyone), a stranger s, and self, the node under test.
type fixture struct {
	group      crdt.ID
	gen, mJoin []byte
	f, m, s    *Author
	self       *Author
}

func newFixture() *fixture {
	fx := &fixture{f: NewAuthor(1), m: NewAuthor(2), s: NewAuthor(3), self: NewAuthor(4)}
	fx.group, fx.gen = fx.f.Genesis("coats")
	fx.mJoin = fx.m.Join(fx.group, fx.f.Invite(fx.group, crdt.RoleMember))
	return fx
}

// follow opens a replica of self that holds the genesis.
func (fx *fixture) follow(t *testing.T, fa Factory) Node {
	t.Helper()
	return fa.Follow(t, fx.self.Key, fx.gen)
}

// vector returns r's vector of g without its zero entries (which the
// contract allows for an author whose op 1 is not held).
func vector(t *testing.T, r catchup.Replica, g crdt.ID) map[crdt.PublicKey]uint64 {
	t.Helper()
	v, err := r.VersionVector(g)
	if err != nil {
		t.Fatalf("VersionVector: %v", err)
	}
	maps.DeleteFunc(v, func(_ crdt.PublicKey, s uint64) bool { return s == 0 })
	return v
}

func wantVector(t *testing.T, r catchup.Replica, g crdt.ID, want map[crdt.PublicKey]uint64, why string) {
	t.Helper()
	if got := vector(t, r, g); !maps.Equal(got, want) {
		t.Fatalf("%s: version vector %s, want %s", why, fmtVector(got), fmtVector(want))
	}
}

func fmtVector(v map[crdt.PublicKey]uint64) string {
	var parts []string
	for _, k := range slices.SortedFunc(maps.Keys(v), crdt.PublicKey.Compare) {
		parts = append(parts, fmt.Sprintf("%x:%d", k[:3], v[k]))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// opsAfter returns copies of what OpsAfter yields.
func opsAfter(t *testing.T, r catchup.Replica, g crdt.ID, a crdt.PublicKey, after uint64) [][]byte {
	t.Helper()
	var out [][]byte
	err := r.OpsAfter(g, a, after, func(raw []byte) error {
		out = append(out, bytes.Clone(raw))
		return nil
	})
	if err != nil {
		t.Fatalf("OpsAfter: %v", err)
	}
	return out
}

func wantOps(t *testing.T, r catchup.Replica, g crdt.ID, a crdt.PublicKey, after uint64, want [][]byte, why string) {
	t.Helper()
	got := opsAfter(t, r, g, a, after)
	if !slices.EqualFunc(got, want, bytes.Equal) {
		t.Fatalf("%s: OpsAfter(%d) yields %s, want %s", why, after, fmtOps(t, got), fmtOps(t, want))
	}
}

// fmtOps lists ops as author:seq.
func fmtOps(t *testing.T, raws [][]byte) string {
	var parts []string
	for _, raw := range raws {
		op, err := protocol.DecodeStoredOp(raw) // the signature may be forged
		if err != nil {
			parts = append(parts, "undecodable")
			continue
		}
		parts = append(parts, fmt.Sprintf("%x:%d", op.Author[:3], op.Seq))
	}
	return fmt.Sprintf("%d ops [%s]", len(raws), strings.Join(parts, " "))
}

func ingest(t *testing.T, r catchup.Replica, raws ...[]byte) int {
	t.Helper()
	n, err := r.Ingest(context.Background(), raws)
	if err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	return n
}

func wantIngest(t *testing.T, r catchup.Replica, want int, why string, raws ...[]byte) {
	t.Helper()
	if n := ingest(t, r, raws...); n != want {
		t.Fatalf("%s: Ingest says %d new ops, want %d", why, n, want)
	}
}

func testGroups(t *testing.T, fa Factory) {
	a := NewAuthor(1)
	g1, gen1 := a.Genesis("coats")
	b := NewAuthor(2)
	g2, gen2 := b.Genesis("food")
	self := NewAuthor(4)
	r := fa.Follow(t, self.Key, gen1, gen2)
	got := slices.SortedFunc(slices.Values(r.Groups()), crdt.ID.Compare)
	want := slices.SortedFunc(slices.Values([]crdt.ID{g1, g2}), crdt.ID.Compare)
	if !slices.Equal(got, want) {
		t.Fatalf("Groups() = %v, want %v", got, want)
	}
	n := fa.Newcomer(t, self.Key, a.Invite(g1, crdt.RoleMember))
	if got := n.Groups(); !slices.Equal(got, []crdt.ID{g1}) {
		t.Fatalf("newcomer: Groups() = %v, want [%s]", got, g1.Short())
	}
}

func testVectorContiguous(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 1}, "genesis only")
	posts := fx.f.Posts(fx.group, 5) // seqs 2..6
	ingest(t, r, posts[0], posts[1])
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 3}, "seqs 1..3")
	ingest(t, r, posts[3], posts[4])
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 3}, "seqs 1..3, 5, 6: the gap at 4")
	wantOps(t, r, fx.group, fx.f.Pub, 1, [][]byte{posts[0], posts[1], posts[3], posts[4]}, "held ops around a gap")
	wantIngest(t, r, 1, "filling the gap", posts[2])
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 6}, "gap filled")
}

// An author whose op 1 is not held: m joins as a member (seq 1), then
// again as an admin (seq 2), and posts (seq 3). A replica that holds 2
// and 3 has m as a member but must not count m's ops as contiguous.
func testVectorMissingFirst(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	adminJoin := fx.m.Join(fx.group, fx.f.Invite(fx.group, crdt.RoleAdmin))
	post := fx.m.Post(fx.group, 0)
	wantIngest(t, r, 2, "m's admin join and post", adminJoin, post)
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 1}, "m's ops 2, 3 without op 1")
	wantOps(t, r, fx.group, fx.m.Pub, 0, [][]byte{adminJoin, post}, "m's ops after 0")
	wantIngest(t, r, 1, "m's first join", fx.mJoin)
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 1, fx.m.Pub: 3}, "m's ops 1..3")
}

func testOpsAfter(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	// More than one chunk of MemoryReplica (256) and of a Badger batch.
	posts := fx.f.Posts(fx.group, 600)
	wantIngest(t, r, 600, "600 posts", posts...)
	all := append([][]byte{fx.gen}, posts...)
	for _, after := range []uint64{0, 1, 2, 255, 256, 257, 300, 599, 600, 601, 1000} {
		want := all[min(int(after), len(all)):]
		if got := opsAfter(t, r, fx.group, fx.f.Pub, after); !slices.EqualFunc(got, want, bytes.Equal) {
			t.Fatalf("OpsAfter(%d) yields %s, want %s", after, fmtOps(t, got), fmtOps(t, want))
		}
	}
	wantOps(t, r, fx.group, fx.s.Pub, 0, nil, "an author with no ops")
}

func testOpsAfterStops(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	ingest(t, r, fx.f.Posts(fx.group, 299)...) // seqs 2..300
	stop := errors.New("stop here")
	for _, at := range []int{1, 3, 256, 257, 300} {
		calls := 0
		err := r.OpsAfter(fx.group, fx.f.Pub, 0, func([]byte) error {
			calls++
			if calls == at {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || calls != at {
			t.Fatalf("fn fails at call %d: OpsAfter made %d calls and returned %v, want %d calls and fn's error", at, calls, err, at)
		}
	}
}

// fn may block on the network while the session's other goroutine
// ingests: OpsAfter must not hold a lock Ingest needs.
func testOpsAfterUnlocked(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	ingest(t, r, fx.f.Posts(fx.group, 3)...)
	more := fx.f.Post(fx.group, 3)
	first := true
	err := r.OpsAfter(fx.group, fx.f.Pub, 0, func([]byte) error {
		if !first {
			return nil
		}
		first = false
		done := make(chan error, 1)
		go func() {
			_, err := r.Ingest(context.Background(), [][]byte{more})
			done <- err
		}()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			// Returning releases OpsAfter, and so the Ingest.
			t.Error("Ingest blocked while OpsAfter's fn ran")
			return errors.New("blocked")
		}
	})
	if err != nil && !t.Failed() {
		t.Fatalf("OpsAfter, or the Ingest during it: %v", err)
	}
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 5}, "after the Ingest during OpsAfter")
}

func testIngestCounts(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	posts := fx.f.Posts(fx.group, 8) // seqs 2..9
	wantIngest(t, r, 5, "five new ops", posts[:5]...)
	wantIngest(t, r, 0, "the same five again", posts[:5]...)
	wantIngest(t, r, 0, "the genesis again", fx.gen)
	wantIngest(t, r, 2, "an op twice in one batch, and another", posts[5], posts[5], posts[6])
	wantIngest(t, r, 1, "old and new mixed", posts[0], posts[7], posts[1])
	wantIngest(t, r, 0, "an empty batch")
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 9}, "all held")
}

// wantRejected checks that Ingest fails with ErrRejected.
func wantRejected(t *testing.T, r catchup.Replica, why string, raws ...[]byte) {
	t.Helper()
	n, err := r.Ingest(context.Background(), raws)
	if !errors.Is(err, catchup.ErrRejected) {
		t.Fatalf("%s: Ingest returned %d, %v; want an error wrapping catchup.ErrRejected", why, n, err)
	}
}

func testIngestForged(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	ingest(t, r, fx.f.Post(fx.group, 0))
	forged := Forged(fx.f.Post(fx.group, 1)) // seq 3
	wantRejected(t, r, "a forged op", forged)
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 2}, "after a forged op")
	wantOps(t, r, fx.group, fx.f.Pub, 2, nil, "after a forged op")
	// Behind a valid op in the same batch: the forged op is not stored
	// either way.
	valid := fx.f.Post(fx.group, 2) // seq 4
	wantRejected(t, r, "a valid op and a forged one", valid, forged)
	for _, raw := range opsAfter(t, r, fx.group, fx.f.Pub, 0) {
		if bytes.Equal(raw, forged) {
			t.Fatal("the forged op is served")
		}
	}
}

// The contract: if any op of a batch is invalid, "nothing is stored" —
// its valid ops neither, whichever comes first.
func testIngestRejectAtomic(t *testing.T, fa Factory) {
	fx := newFixture()
	valid := fx.f.Post(fx.group, 0) // seq 2
	forged := Forged(fx.f.Fork().Post(fx.group, 1))
	_, noTitle := fx.f.Fork().Sign(fx.group, crdt.PostCreate{PostKind: crdt.Need})
	for _, c := range []struct {
		name  string
		batch [][]byte
	}{
		{"valid, forged", [][]byte{valid, forged}},
		{"forged, valid", [][]byte{forged, valid}},
		{"valid, no title", [][]byte{valid, noTitle}},
		{"junk, valid", [][]byte{[]byte("junk"), valid}},
	} {
		r := fx.follow(t, fa)
		n, err := r.Ingest(context.Background(), c.batch)
		if !errors.Is(err, catchup.ErrRejected) {
			t.Errorf("[%s]: Ingest returned %d, %v; want an error wrapping catchup.ErrRejected", c.name, n, err)
			continue
		}
		if v := vector(t, r, fx.group); v[fx.f.Pub] != 1 {
			t.Errorf("[%s]: rejected (%d new, %v), yet the valid op is stored: version vector %s, want {%x:1}",
				c.name, n, err, fmtVector(v), fx.f.Pub[:3])
		}
	}
}

func testIngestMalformed(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	post := fx.f.Post(fx.group, 0)
	for name, raw := range map[string][]byte{
		"junk":      []byte("junk"),
		"empty":     {},
		"truncated": post[:len(post)-10],
		"trailing":  append(bytes.Clone(post), 0),
	} {
		wantRejected(t, r, name, raw)
	}
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 1}, "after malformed ops")
}

// Signed and well formed, but invalid by the crdt rules.
func testIngestInvalid(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	_, noTitle := fx.f.Fork().Sign(fx.group, crdt.PostCreate{PostKind: crdt.Need})
	_, badKind := fx.f.Fork().Sign(fx.group, crdt.PostCreate{PostKind: 9, Fields: crdt.Fields{Title: "x"}})
	// A join made after its invite expired.
	old := crdt.Invite{Group: fx.group, Role: crdt.RoleMember, Expires: Now - 86_400_000}
	protocol.SignInvite(&old, fx.f.Key)
	expiredJoin := fx.m.Fork().Join(fx.group, old)
	for name, raw := range map[string][]byte{"no title": noTitle, "bad kind": badKind, "expired invite": expiredJoin} {
		wantRejected(t, r, name, raw)
	}
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 1}, "after invalid ops")
}

// An op of a kind this version does not know may come from a newer node:
// it cannot be judged, so it is skipped, not held against the sender.
// (The Badger replica's rule, node/replica/writer.go; the Replica doc
// says "cannot be judged yet ... skipped silently".)
func testIngestUnknownKind(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	raw := UnknownKind(fx.f.Post(fx.group, 0))
	if n, err := r.Ingest(context.Background(), [][]byte{raw}); errors.Is(err, catchup.ErrRejected) || n != 0 {
		t.Errorf("Ingest of an op of an unknown kind: %d, %v; want 0 and not ErrRejected", n, err)
	}
	if v, err := r.IngestOne(context.Background(), raw); v != crdt.Ignore {
		t.Errorf("IngestOne of an op of an unknown kind: %s, %v; want ignore", v, err)
	}
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 1}, "after an op of an unknown kind")
}

func testIngestUnknownGroup(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	other := NewAuthor(7)
	g2, gen2 := other.Genesis("elsewhere")
	wantIngest(t, r, 0, "ops of a group not replicated", gen2, other.Post(g2, 0))
	if slices.Contains(r.Groups(), g2) {
		t.Fatal("an op of another group added that group")
	}
}

func testIngestFuture(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	ahead := fx.f.Fork()
	ahead.Wall = Now + crdt.MaxDrift.Milliseconds() + 60_000
	future := ahead.Post(fx.group, 0)
	wantIngest(t, r, 0, "an op stamped too far ahead", future)
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 1}, "after an op from the future")
	wantOps(t, r, fx.group, fx.f.Pub, 1, nil, "after an op from the future")
}

// A second op signed at a held (author, seq) is a fork: neither served
// nor counted, and not the sender's fault.
func testIngestFork(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	twin := fx.f.Fork()
	first := fx.f.Post(fx.group, 0)
	second := twin.Post(fx.group, 99)
	wantIngest(t, r, 1, "the first op at seq 2", first)
	wantIngest(t, r, 0, "a second op at seq 2", second)
	wantOps(t, r, fx.group, fx.f.Pub, 1, [][]byte{first}, "after a fork")
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 2}, "after a fork")
}

func testUnknownAuthor(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	posts := fx.m.Posts(fx.group, 2) // seqs 2, 3
	wantIngest(t, r, 0, "posts of an author whose join is unknown", posts...)
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 1}, "before the join")
	wantOps(t, r, fx.group, fx.m.Pub, 0, nil, "before the join")
	n := ingest(t, r, fx.mJoin)
	// Served once the join arrives.
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 1, fx.m.Pub: 3}, "after the join")
	wantOps(t, r, fx.group, fx.m.Pub, 0, [][]byte{fx.mJoin, posts[0], posts[1]}, "after the join")
	// And counted then.
	if n != 3 {
		t.Fatalf("Ingest of the join that released 2 parked ops says %d new ops, want 3 (the join and the ops it released)", n)
	}
}

// The node's own key on ops from a peer (the same key on a second device,
// a restored backup) while its join is unknown: these are not local ops,
// and wait for the join like anyone's.
func testUnknownAuthorOwnKey(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fa.Follow(t, fx.m.Key, fx.gen)
	posts := fx.m.Posts(fx.group, 2)
	n := ingest(t, r, posts...)
	wantOps(t, r, fx.group, fx.m.Pub, 0, nil, "the node's own posts from a peer, before its join")
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 1}, "the node's own posts from a peer, before its join")
	if n != 0 {
		t.Fatalf("Ingest of posts whose author is not a member says %d new ops, want 0", n)
	}
	ingest(t, r, fx.mJoin)
	wantOps(t, r, fx.group, fx.m.Pub, 0, [][]byte{fx.mJoin, posts[0], posts[1]}, "after the join")
}

func testUnknownAuthorSameBatch(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	posts := fx.m.Posts(fx.group, 2)
	n := ingest(t, r, posts[0], posts[1], fx.mJoin)
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 1, fx.m.Pub: 3}, "posts, then their author's join, in one batch")
	if n != 3 {
		t.Fatalf("Ingest of [post, post, join] says %d new ops, want 3", n)
	}
}

func testUnknownAuthorOne(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	post := fx.m.Post(fx.group, 0)
	if v, err := r.IngestOne(context.Background(), post); v != crdt.Ignore {
		t.Fatalf("IngestOne of an unknown author's post: %s, %v; want ignore", v, err)
	}
	wantOps(t, r, fx.group, fx.m.Pub, 0, nil, "before the join")
	if v, err := r.IngestOne(context.Background(), fx.mJoin); v != crdt.Accept || err != nil {
		t.Fatalf("IngestOne of the join: %s, %v; want accept", v, err)
	}
	wantOps(t, r, fx.group, fx.m.Pub, 0, [][]byte{fx.mJoin, post}, "after the join")
}

func testNewcomer(t *testing.T, fa Factory) {
	fx := newFixture()
	n := NewAuthor(5)
	in := fx.f.Invite(fx.group, crdt.RoleMember)
	r := fa.Newcomer(t, n.Key, in)
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{n.Pub: 1}, "a newcomer")
	own := opsAfter(t, r, fx.group, n.Pub, 0)
	if len(own) != 1 {
		t.Fatalf("the newcomer's log holds %s of its own, want its join", fmtOps(t, own))
	}
	op := decode(t, own[0])
	if j, ok := op.Body.(crdt.Join); !ok || op.Seq != 1 || op.Group != fx.group || j.Invite != in {
		t.Fatalf("the newcomer's op 1 is %T (seq %d), want its join with the invite", op.Body, op.Seq)
	}
	if !r.MayRead(fx.group, fx.f.Pub) {
		t.Error("the newcomer may not share its join with its inviter")
	}
	if r.MayRead(fx.group, fx.m.Pub) || r.MayRead(fx.group, fx.s.Pub) {
		t.Error("the newcomer shares with peers it does not know")
	}
	// It meets the group: the genesis admits the founder, and its join.
	wantIngest(t, r, 1, "the genesis", fx.gen)
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 1, n.Pub: 1}, "the newcomer after the genesis")
	wantIngest(t, r, 1, "a member's join", fx.mJoin)
	if !r.MayRead(fx.group, fx.m.Pub) {
		t.Error("the newcomer does not share with a member it knows of")
	}
	if r.MayRead(fx.group, fx.s.Pub) {
		t.Error("the newcomer shares with a stranger")
	}
	wantOps(t, r, fx.group, n.Pub, 0, own, "the newcomer's own ops after it met the group")
}

func testMayRead(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	ingest(t, r, fx.mJoin)
	for _, c := range []struct {
		who  string
		k    crdt.PublicKey
		want bool
	}{{"the founder", fx.f.Pub, true}, {"a member", fx.m.Pub, true}, {"a stranger", fx.s.Pub, false}} {
		if got := r.MayRead(fx.group, c.k); got != c.want {
			t.Errorf("MayRead(%s) = %v, want %v", c.who, got, c.want)
		}
	}
	if r.MayRead(crdt.ID{1}, fx.f.Pub) {
		t.Error("MayRead is true for a group not replicated")
	}
	// A stranger whose posts are parked is still a stranger.
	ingest(t, r, fx.s.Post(fx.group, 0))
	if r.MayRead(fx.group, fx.s.Pub) {
		t.Error("MayRead(a stranger with parked ops) = true")
	}
}

func testIngestOne(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	ctx := context.Background()
	post := fx.f.Post(fx.group, 0)
	if v, err := r.IngestOne(ctx, post); v != crdt.Accept || err != nil {
		t.Fatalf("IngestOne of a valid new op: %s, %v; want accept", v, err)
	}
	wantOps(t, r, fx.group, fx.f.Pub, 1, [][]byte{post}, "after IngestOne")
	if v, err := r.IngestOne(ctx, post); v != crdt.Ignore {
		t.Fatalf("IngestOne of a duplicate: %s, %v; want ignore", v, err)
	}
	if v, err := r.IngestOne(ctx, fx.gen); v != crdt.Ignore {
		t.Fatalf("IngestOne of the held genesis: %s, %v; want ignore", v, err)
	}
	ahead := fx.f.Fork()
	ahead.Wall = Now + crdt.MaxDrift.Milliseconds() + 60_000
	if v, err := r.IngestOne(ctx, ahead.Post(fx.group, 1)); v != crdt.Ignore {
		t.Fatalf("IngestOne of an op from the future: %s, %v; want ignore", v, err)
	}
	twin := fx.f.Fork()
	twin.seq, twin.prev = 1, decode(t, fx.gen).ID // seq 2 again
	if v, err := r.IngestOne(ctx, twin.Post(fx.group, 99)); v == crdt.Accept {
		t.Fatalf("IngestOne of a fork: %s, %v; want not accept", v, err)
	}
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 2}, "after IngestOne")
}

func testIngestOneRejects(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	_, noTitle := fx.f.Fork().Sign(fx.group, crdt.PostCreate{PostKind: crdt.Need})
	for _, c := range []struct {
		name string
		raw  []byte
	}{
		{"forged", Forged(fx.f.Fork().Post(fx.group, 0))},
		{"junk", []byte("junk")},
		{"no title", noTitle},
	} {
		v, err := r.IngestOne(context.Background(), c.raw)
		if v != crdt.Reject {
			t.Errorf("IngestOne(%s): %s, %v; want reject", c.name, v, err)
		} else if !errors.Is(err, catchup.ErrRejected) {
			t.Errorf("IngestOne(%s): reject with error %q, which does not wrap catchup.ErrRejected", c.name, err)
		}
	}
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 1}, "after rejected ops")
}
