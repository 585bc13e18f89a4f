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

// fixture is a group founded by f, with m's join signed with f's invite
// (not yet given to anyone, nor witnessed), a stranger s, and self, the
// key of the node under test (never a member).
type fixture struct {
	group      crdt.ID
	gen, mJoin []byte
	f, m, s    *Author
	self       *Author
}

func newFixture() *fixture {
	fx := &fixture{f: NewAuthor(1), m: NewAuthor(2), s: NewAuthor(3), self: NewAuthor(4)}
	fx.group, fx.gen = fx.f.Genesis("coats")
	fx.m.Wall = fx.f.Wall // m joins after the group was founded
	fx.mJoin = fx.m.Join(fx.group, fx.f.Invite(fx.group, crdt.RoleMember))
	return fx
}

// follow opens a replica of self that holds the genesis.
func (fx *fixture) follow(t *testing.T, fa Factory) Node {
	t.Helper()
	return fa.Follow(t, fx.self.Key, fx.gen)
}

// reference returns crdt.Board, the reference model, holding raws.
func reference(t *testing.T, raws ...[]byte) *crdt.Board {
	t.Helper()
	var b *crdt.Board
	for _, raw := range raws {
		op := decode(t, raw)
		if b == nil {
			b = crdt.NewBoard(op.GroupID())
		}
		if v, err, _ := b.Apply(op, Now); v != crdt.Accept {
			t.Fatalf("reference board: op %x:%d: %s, %v", op.Author[:3], op.Seq, v, err)
		}
	}
	return b
}

// wantState fails t unless r's state hash of group is the reference
// model's for the ops raws. It returns the reference board, whose posts
// and membership a test can check to say what the hash means.
func wantState(t *testing.T, r Node, group crdt.ID, why string, raws ...[]byte) *crdt.Board {
	t.Helper()
	ref := reference(t, raws...)
	h, err := r.StateHash(group)
	if err != nil {
		t.Fatalf("%s: state hash: %v", why, err)
	}
	if want := ref.Hash(); h != want {
		t.Fatalf("%s: state hash %s, want %s, the reference board's for %s", why, h.Short(), want.Short(), fmtOps(t, raws))
	}
	return ref
}

// onBoard reports whether the post that op raw created is on the board.
func onBoard(b *crdt.Board, raw []byte) bool {
	b.Refresh()
	return b.Posts[protocol.OpID(raw)] != nil
}

// evidence returns copies of what Evidence yields.
func evidence(t *testing.T, r catchup.Replica, g crdt.ID) [][]byte {
	t.Helper()
	var out [][]byte
	if err := r.Evidence(g, func(raw []byte) error {
		out = append(out, bytes.Clone(raw))
		return nil
	}); err != nil {
		t.Fatalf("Evidence: %v", err)
	}
	return out
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

// Every op of an author whose first op is held is stored and in the
// vector, whether it counts or not: m's join, which no member witnessed
// yet, and m's posts count for nothing, yet the vector has m at 3. The
// founder's witness makes them count; the vector of m stays.
func testVectorNotCounting(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	posts := fx.m.Posts(fx.group, 2) // seqs 2, 3
	wantIngest(t, r, 3, "m's join and posts, none of which counts", fx.mJoin, posts[0], posts[1])
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 1, fx.m.Pub: 3}, "m's join not witnessed")
	wantOps(t, r, fx.group, fx.m.Pub, 0, [][]byte{fx.mJoin, posts[0], posts[1]}, "m's join not witnessed")
	if b := wantState(t, r, fx.group, "m's join not witnessed", fx.gen, fx.mJoin, posts[0], posts[1]); onBoard(b, posts[0]) {
		t.Fatal("reference: a post counts before its author's join does")
	}
	admit := fx.f.Admit(fx.group, fx.mJoin)
	wantIngest(t, r, 1, "the founder's witness of m's join", admit)
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 2, fx.m.Pub: 3}, "m's join witnessed")
	if b := wantState(t, r, fx.group, "m's join witnessed", fx.gen, fx.mJoin, posts[0], posts[1], admit); !onBoard(b, posts[1]) {
		t.Fatal("reference: a member's post does not count")
	}
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

// Signed and well formed, but invalid whatever the state: by the crdt
// rules, or a join without the proof that its author holds the invite.
func testIngestInvalid(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	_, noTitle := fx.f.Fork().Sign(fx.group, crdt.PostCreate{PostKind: crdt.Need})
	_, badKind := fx.f.Fork().Sign(fx.group, crdt.PostCreate{PostKind: 9, Fields: crdt.Fields{Title: "x"}})
	code := fx.f.Invite(fx.group, crdt.RoleMember)
	_, noProof := NewAuthor(6).Sign(fx.group, crdt.Join{Invite: code.Invite, Name: "no proof"})
	_, admitNothing := fx.f.Fork().Sign(fx.group, crdt.Admit{})
	for name, raw := range map[string][]byte{
		"no title":                      noTitle,
		"bad kind":                      badKind,
		"a first op that is not a join": fx.s.Fork().Post(fx.group, 0),
		"a join without proof":          noProof,
		"a role change of oneself":      fx.f.Fork().SetRole(fx.group, fx.f.Pub, crdt.RoleMember, 1),
		"a removal with no cut":         fx.f.Fork().Remove(fx.group, fx.m.Pub, 0),
		"an admit of no join":           admitNothing,
	} {
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

// A second op signed at a held (author, seq) is a fork: kept aside as
// evidence (new, so Ingest counts it; Evidence serves it; OpsAfter does
// not), not the sender's fault, and the author's ops from that seq on
// count no more.
func testIngestFork(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	twin := fx.f.Fork()
	first := fx.f.Post(fx.group, 0)
	second := twin.Post(fx.group, 99)
	wantIngest(t, r, 1, "the first op at seq 2", first)
	if b := wantState(t, r, fx.group, "before the fork", fx.gen, first); !onBoard(b, first) {
		t.Fatal("reference: the founder's post does not count")
	}
	wantIngest(t, r, 1, "a second op at seq 2, kept as evidence", second)
	wantIngest(t, r, 0, "the evidence again", second)
	wantOps(t, r, fx.group, fx.f.Pub, 1, [][]byte{first}, "after a fork")
	if ev := evidence(t, r, fx.group); !slices.EqualFunc(ev, [][]byte{second}, bytes.Equal) {
		t.Fatalf("after a fork: Evidence yields %s, want the second op", fmtOps(t, ev))
	}
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 2}, "after a fork")
	b := wantState(t, r, fx.group, "after the fork", fx.gen, first, second)
	if b.Group.ForkedAt(fx.f.Pub) != 2 || onBoard(b, first) || onBoard(b, second) {
		t.Fatal("reference: the fork does not void the founder's ops from seq 2")
	}
}

// Ops of an author whose first op is not held are not stored: the author
// may be a stranger. Catch-up sends each author's first op first, and the
// rest again once it is held.
func testUnknownAuthor(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	posts := fx.m.Posts(fx.group, 2) // seqs 2, 3
	wantIngest(t, r, 0, "posts of an author whose join is unknown", posts...)
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 1}, "before the join")
	wantOps(t, r, fx.group, fx.m.Pub, 0, nil, "before the join")
	wantIngest(t, r, 1, "the join", fx.mJoin)
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 1, fx.m.Pub: 1}, "after the join")
	wantIngest(t, r, 2, "the posts again, after the join", posts...)
	wantOps(t, r, fx.group, fx.m.Pub, 0, [][]byte{fx.mJoin, posts[0], posts[1]}, "after the join and the posts")
}

// The node's own key on ops from a peer (the same key on a second device,
// a restored backup) while its join is unknown: these are not local ops,
// and wait for the join like anyone's.
func testUnknownAuthorOwnKey(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fa.Follow(t, fx.m.Key, fx.gen)
	posts := fx.m.Posts(fx.group, 2)
	wantIngest(t, r, 0, "the node's own posts from a peer, before its join", posts...)
	wantOps(t, r, fx.group, fx.m.Pub, 0, nil, "the node's own posts from a peer, before its join")
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 1}, "the node's own posts from a peer, before its join")
	wantIngest(t, r, 3, "the join, then the posts", fx.mJoin, posts[0], posts[1])
	wantOps(t, r, fx.group, fx.m.Pub, 0, [][]byte{fx.mJoin, posts[0], posts[1]}, "after the join")
}

// In one batch the ops are taken in order: an author's posts after its
// join are stored, posts before it are not.
func testUnknownAuthorSameBatch(t *testing.T, fa Factory) {
	fx := newFixture()
	posts := fx.m.Posts(fx.group, 2)
	r := fx.follow(t, fa)
	wantIngest(t, r, 1, "[post, post, join]: the join only", posts[0], posts[1], fx.mJoin)
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 1, fx.m.Pub: 1}, "posts, then their author's join, in one batch")
	r = fx.follow(t, fa)
	wantIngest(t, r, 3, "[join, post, post]", fx.mJoin, posts[0], posts[1])
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 1, fx.m.Pub: 3}, "a join, then its author's posts, in one batch")
}

// Gossip: an unknown author's op is ignored and not stored. (A stored op
// that does not count may be accepted or ignored: the contract says only
// that accept means new and stored.)
func testUnknownAuthorOne(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	post := fx.m.Post(fx.group, 0)
	if v, err := r.IngestOne(context.Background(), post); v != crdt.Ignore {
		t.Fatalf("IngestOne of an unknown author's post: %s, %v; want ignore", v, err)
	}
	wantOps(t, r, fx.group, fx.m.Pub, 0, nil, "before the join")
	for _, raw := range [][]byte{fx.mJoin, post} {
		if v, err := r.IngestOne(context.Background(), raw); v == crdt.Reject {
			t.Fatalf("IngestOne of %s: %s, %v", fmtOps(t, [][]byte{raw}), v, err)
		}
	}
	wantOps(t, r, fx.group, fx.m.Pub, 0, [][]byte{fx.mJoin, post}, "after the join and the post again")
}

func testNewcomer(t *testing.T, fa Factory) {
	fx := newFixture()
	n := NewAuthor(5)
	code := fx.f.Invite(fx.group, crdt.RoleMember)
	code.Members = append(code.Members, fx.m.Pub) // the founder's node names its members
	r := fa.Newcomer(t, n.Key, code)
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{n.Pub: 1}, "a newcomer")
	own := opsAfter(t, r, fx.group, n.Pub, 0)
	if len(own) != 1 {
		t.Fatalf("the newcomer's log holds %s of its own, want its join", fmtOps(t, own))
	}
	op := decode(t, own[0]) // verifies the proof too
	if j, ok := op.Body.(crdt.Join); !ok || op.Seq != 1 || op.Group != fx.group || j.Invite != code.Invite {
		t.Fatalf("the newcomer's op 1 is %T (seq %d), want its join with the invite", op.Body, op.Seq)
	}
	// Until its join counts, a newcomer offers its own ops — and only
	// those — to the members its invite code named: whichever of them it
	// meets first may witness the join. A stranger gets nothing, not even
	// the group's ID.
	for _, k := range []*Author{fx.f, fx.m, fx.s} {
		if r.MayRead(fx.group, k.Pub) {
			t.Errorf("the newcomer gives the whole group to %x", k.Pub[:3])
		}
		l, err := r.Limited(fx.group, k.Pub)
		if k == fx.s {
			if err != nil || l.Own != nil {
				t.Errorf("the newcomer offers its own ops to a stranger: %+v %v", l, err)
			}
			continue
		}
		if err != nil || l.Own == nil || *l.Own != n.Pub {
			t.Errorf("the newcomer does not offer its own ops to %x: %+v %v", k.Pub[:3], l, err)
		}
	}
	// It meets the group: the genesis, a member and its witness.
	wantIngest(t, r, 1, "the genesis", fx.gen)
	wantVector(t, r, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 1, n.Pub: 1}, "the newcomer after the genesis")
	admitM := fx.f.Admit(fx.group, fx.mJoin)
	wantIngest(t, r, 2, "a member's join and its witness", fx.mJoin, admitM)
	if l, _ := r.Limited(fx.group, fx.m.Pub); l.Own == nil || r.MayRead(fx.group, fx.s.Pub) {
		t.Error("the newcomer stopped offering its join before it counts, or gives a stranger the group")
	}
	if l, _ := r.Limited(fx.group, fx.s.Pub); l.Own != nil {
		t.Error("the newcomer offers its join to a stranger")
	}
	// The member witnesses the newcomer's join: the newcomer is in, and
	// shares with members only.
	admitN := fx.m.Admit(fx.group, own[0])
	wantIngest(t, r, 1, "the member's witness of the newcomer's join", admitN)
	if !r.MayRead(fx.group, fx.f.Pub) || !r.MayRead(fx.group, fx.m.Pub) {
		t.Error("the newcomer does not share with the members")
	}
	if l, _ := r.Limited(fx.group, fx.s.Pub); r.MayRead(fx.group, fx.s.Pub) || l.Own != nil || len(l.Notices) != 0 {
		t.Error("the newcomer, now a member, offers a stranger something")
	}
	wantOps(t, r, fx.group, n.Pub, 0, own, "the newcomer's own ops after it met the group")
	wantState(t, r, fx.group, "the newcomer admitted", fx.gen, own[0], fx.mJoin, admitM, admitN)
}

func testMayRead(t *testing.T, fa Factory) {
	fx := newFixture()
	r := fx.follow(t, fa)
	ingest(t, r, fx.mJoin)
	mayRead := func(who string, k crdt.PublicKey, want bool) {
		t.Helper()
		if got := r.MayRead(fx.group, k); got != want {
			t.Errorf("MayRead(%s) = %v, want %v", who, got, want)
		}
	}
	mayRead("the founder", fx.f.Pub, true)
	mayRead("a newcomer whose join nobody witnessed", fx.m.Pub, false)
	mayRead("a stranger", fx.s.Pub, false)
	ingest(t, r, fx.f.Admit(fx.group, fx.mJoin))
	mayRead("a member", fx.m.Pub, true)
	if r.MayRead(crdt.ID{1}, fx.f.Pub) {
		t.Error("MayRead is true for a group not replicated")
	}
	// A stranger with an invite of its own making: its join is not even
	// stored, its issuer being unknown.
	wantIngest(t, r, 0, "a stranger's self-invited join", fx.s.Join(fx.group, fx.s.Invite(fx.group, crdt.RoleAdmin)))
	mayRead("a stranger with a self-made invite", fx.s.Pub, false)
	// A join with an invite revoked before anyone witnessed it is stored,
	// and never counts.
	q := NewAuthor(7)
	q.Wall = fx.f.Wall
	code := fx.f.Invite(fx.group, crdt.RoleMember)
	qJoin := q.Join(fx.group, code)
	wantIngest(t, r, 3, "a join, the revoke of its invite, a witness", qJoin, fx.f.Revoke(fx.group, code.Invite.ID), fx.f.Admit(fx.group, qJoin))
	mayRead("a newcomer whose invite was revoked", q.Pub, false)
	// A member who leaves, and one removed, read no more.
	p := NewAuthor(6)
	p.Wall = fx.f.Wall
	pJoin := p.Join(fx.group, fx.f.Invite(fx.group, crdt.RoleMember))
	ingest(t, r, pJoin, fx.f.Admit(fx.group, pJoin))
	mayRead("a second member", p.Pub, true)
	ingest(t, r, p.Leave(fx.group))
	mayRead("a member who left", p.Pub, false)
	ingest(t, r, fx.f.Remove(fx.group, fx.m.Pub, fx.m.Seq()))
	mayRead("a member removed", fx.m.Pub, false)
	mayRead("the founder, at the end", fx.f.Pub, true)
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
