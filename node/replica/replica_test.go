package replica_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/node/store"
)

type node struct {
	dir string
	key ed25519.PrivateKey
	st  *store.Store
	r   *replica.Replica
}

func open(t testing.TB, dir string, key ed25519.PrivateKey, cfg replica.Config) *node {
	t.Helper()
	st, err := store.Open(filepath.Join(dir, "store"), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Key, cfg.Name = key, "n"
	r, err := replica.Open(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &node{dir, key, st, r}
}

func (n *node) close() { n.r.Close(); n.st.Close() }

func newNode(t testing.TB) *node {
	_, key, _ := ed25519.GenerateKey(nil)
	n := open(t, t.TempDir(), key, replica.Config{})
	t.Cleanup(n.close)
	return n
}

// newGroup creates a group on n.
func newGroup(t testing.TB, n *node, name string) crdt.ID {
	t.Helper()
	g, err := n.r.CreateGroup(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// post creates a post on n and fails the test unless it was created.
func post(t testing.TB, n *node, g crdt.ID, in replica.PostInput) *crdt.Post {
	t.Helper()
	p, created, err := n.r.CreatePost(context.Background(), g, in)
	if err != nil || !created {
		t.Fatalf("create post %q: created %v, %v", in.Fields.Title, created, err)
	}
	return p
}

// stateHash returns n's state hash of g. A zero hash fails the test, so
// that two hashes compared for equality are never both an error's zero.
func stateHash(t testing.TB, n *node, g crdt.ID) crdt.ID {
	t.Helper()
	h, err := n.r.StateHash(g)
	if err != nil {
		t.Fatal(err)
	}
	if h == (crdt.ID{}) {
		t.Fatal("zero state hash")
	}
	return h
}

// check fails the test unless n's stored state of g matches the state
// recomputed from its ops.
func check(t testing.TB, n *node, g crdt.ID) {
	t.Helper()
	stored, recomputed, err := n.r.Check(g)
	if err != nil {
		t.Fatal(err)
	}
	if stored == (crdt.ID{}) || stored != recomputed {
		t.Fatalf("stored state %s != recomputed %s", stored.Short(), recomputed.Short())
	}
}

func TestPostsSurviveReopenAndMatchRecomputedState(t *testing.T) {
	ctx := context.Background()
	_, key, _ := ed25519.GenerateKey(nil)
	dir := t.TempDir()
	n := open(t, dir, key, replica.Config{})
	g := newGroup(t, n, "Eastgate")
	var ids []crdt.ID
	for i := 0; i < 20; i++ {
		p := post(t, n, g, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: "coats", Category: "Clothing", Quantity: 4}})
		ids = append(ids, p.ID)
	}
	// Made through this node by someone at a meeting: the names stay.
	bySam := post(t, n, g, replica.PostInput{Kind: crdt.Offer, Fields: crdt.Fields{Title: "nappies"}, By: "Sam"})
	if _, err := n.r.SetStatus(ctx, g, ids[0], crdt.Claimed); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.r.Respond(ctx, g, ids[1], 5, "I have 5", ""); err != nil {
		t.Fatal(err)
	}
	p, rid, err := n.r.Respond(ctx, g, bySam.ID, 1, "", "Lee")
	if err != nil || len(p.Responses) != 1 || p.Responses[0].ID != rid || p.Responses[0].By != "Lee" || p.By != "Sam" {
		t.Fatalf("respond by Lee: %v, %s, %+v", err, rid.Short(), p)
	}
	open1, err := n.r.Posts(replica.Filter{Group: g, OpenOnly: true, Category: "clothing"})
	if err != nil || len(open1) != 19 {
		t.Fatalf("open board has %d posts, want 19: %v", len(open1), err)
	}
	h1 := stateHash(t, n, g)
	n.close()

	n = open(t, dir, key, replica.Config{})
	defer n.close()
	if h2 := stateHash(t, n, g); h1 != h2 {
		t.Fatalf("state hash changed across reopen: %s, then %s", h1.Short(), h2.Short())
	}
	check(t, n, g)
	p, err = n.r.Post(ids[1])
	if err != nil || !p.OverClaimed() {
		t.Fatalf("post 1 should be over-claimed: %v", err)
	}
	if p, err = n.r.Post(bySam.ID); err != nil || p.By != "Sam" || len(p.Responses) != 1 || p.Responses[0].By != "Lee" {
		t.Fatalf("after reopen, the post by Sam is %+v (%v)", p, err)
	}
	// The node's own seq chain continues after reopen.
	post(t, n, g, replica.PostInput{Kind: crdt.Offer, Fields: crdt.Fields{Title: "van"}})
	check(t, n, g)
}

func TestInvalidPostStoresNothing(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	g := newGroup(t, n, "g")
	h := stateHash(t, n, g)
	for _, in := range []replica.PostInput{
		{Kind: crdt.Need},                          // no title
		{Kind: 7, Fields: crdt.Fields{Title: "x"}}, // bad kind
		{Kind: crdt.Need, Fields: crdt.Fields{Title: string(make([]byte, 201))}},
		{Kind: crdt.Need, Fields: crdt.Fields{Title: "x", Urgency: 9}},
	} {
		if _, _, err := n.r.CreatePost(ctx, g, in); !errors.Is(err, replica.ErrInvalidPost) {
			t.Errorf("%+v: got %v, want ErrInvalidPost", in, err)
		}
	}
	if h2 := stateHash(t, n, g); h2 != h {
		t.Fatal("a refused post changed the state")
	}
	// And the seq chain has no gap: a valid post still works and checks.
	post(t, n, g, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: "ok"}})
	check(t, n, g)
}

func TestRefMakesImportIdempotent(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	g := newGroup(t, n, "g")
	in := replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: "rice"}, Ref: "csv:abc"}
	p1, c1, err := n.r.CreatePost(ctx, g, in)
	p2, c2, err2 := n.r.CreatePost(ctx, g, in)
	if err != nil || err2 != nil || !c1 || c2 || p1.ID != p2.ID {
		t.Fatalf("re-import created a second post: %v %v %v %v", c1, c2, err, err2)
	}
}

// TestImportPostCompletesAPostWithoutItsStatus: a post with a status is
// written in one commit; a post left without its status (by an import of
// older versions that stopped between the post and its status) gets it
// from the next import; a post complete, or whose status was set since,
// is left alone and nothing is written.
func TestImportPostCompletesAPostWithoutItsStatus(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	g, _ := n.r.CreateGroup(ctx, "g")
	ops := func() int {
		c, err := n.r.Export(io.Discard, []crdt.ID{g})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	hash := func() crdt.ID {
		h, err := n.r.StateHash(g)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}

	in := replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: "rice"}, Status: crdt.Fulfilled, Ref: "csv:new"}
	p, what, err := n.r.ImportPost(ctx, g, in)
	if err != nil || what != replica.ImportedNew || p.State() != crdt.Fulfilled {
		t.Fatalf("new: %v %v %v", p, what, err)
	}

	half := replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: "coats"}, Ref: "csv:half"}
	if _, _, err := n.r.CreatePost(ctx, g, half); err != nil {
		t.Fatal(err)
	}
	half.Status = crdt.Claimed
	p, what, err = n.r.ImportPost(ctx, g, half)
	if err != nil || what != replica.ImportedCompleted || p.State() != crdt.Claimed {
		t.Fatalf("half done: %v %v %v", p, what, err)
	}

	set := replica.PostInput{Kind: crdt.Offer, Fields: crdt.Fields{Title: "van"}, Ref: "csv:set"}
	ps, _, _ := n.r.CreatePost(ctx, g, set)
	if _, err := n.r.SetStatus(ctx, g, ps.ID, crdt.Withdrawn); err != nil {
		t.Fatal(err)
	}
	set.Status = crdt.Claimed

	before, h := ops(), hash()
	for _, in := range []replica.PostInput{in, half, set} {
		p, what, err := n.r.ImportPost(ctx, g, in)
		if err != nil || what != replica.ImportedHad || p == nil || p.Ref != in.Ref {
			t.Errorf("again %s: %v %v %v", in.Ref, p, what, err)
		}
	}
	if after := ops(); after != before || hash() != h {
		t.Errorf("importing complete posts again wrote %d ops", after-before)
	}
	if p, _ := n.r.Post(ps.ID); p.State() != crdt.Withdrawn {
		t.Errorf("a status set on the board became %s", p.State())
	}
}

func TestJoinByInviteAndIngestBothWays(t *testing.T) {
	ctx := context.Background()
	a, b := newNode(t), newNode(t)
	g := newGroup(t, a, "g")
	code, _, err := a.r.Invite(context.Background(), g, replica.InviteOptions{Role: crdt.RoleMember, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.r.Join(ctx, code); err != nil {
		t.Fatal(err)
	}
	if p, created, err := b.r.CreatePost(ctx, g, replica.PostInput{Kind: crdt.Offer, Fields: crdt.Fields{Title: "van"}}); err != nil || !created || p == nil || p.Title.V != "van" {
		t.Fatalf("a newcomer can post before its first sync: %v %v %v", p, created, err)
	}
	post(t, a, g, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: "coats"}})
	exchange(t, a, b, g)
	exchange(t, b, a, g) // a witnesses b's join: an Admit in a's log
	exchange(t, a, b, g)
	ha, hb := stateHash(t, a, g), stateHash(t, b, g)
	if ha != hb {
		t.Fatal("replicas differ after exchanging all ops")
	}
	if ps, err := b.r.Posts(replica.Filter{Group: g}); err != nil || len(ps) != 2 {
		t.Fatalf("b sees %d posts, want 2: %v", len(ps), err)
	}
	// Replaying everything again changes nothing.
	exchange(t, a, b, g)
	if hb2 := stateHash(t, b, g); hb2 != hb {
		t.Fatal("duplicate delivery changed state")
	}
}

// TestRejoinAfterLeaveWithANewInvite: a member who left (or was removed)
// comes back with a new invite, as `mutual leave` tells it to. A node
// refuses a join only while it is a member, or with an invite it already
// joined with; so a newcomer whose join can never count (its invite was
// used up by others) can still come in with a new one.
func TestRejoinAfterLeaveWithANewInvite(t *testing.T) {
	ctx := context.Background()
	a, b, c := newNode(t), newNode(t), newNode(t)
	g := newGroup(t, a, "g")
	invite := func(uses uint32) string {
		t.Helper()
		code, _, err := a.r.Invite(ctx, g, replica.InviteOptions{Role: crdt.RoleMember, TTL: time.Hour, Uses: uses})
		if err != nil {
			t.Fatal(err)
		}
		return code
	}
	member := func(n *node, k crdt.PublicKey) bool {
		t.Helper()
		ms, err := n.r.Members(g)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(ms, func(m crdt.Member) bool { return m.Key == k })
		return i >= 0 && ms[i].Role == crdt.RoleMember
	}
	first := invite(1)
	for _, n := range []*node{b, c} {
		if _, err := n.r.Join(ctx, first); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.r.Join(ctx, first); !errors.Is(err, replica.ErrInviteAgain) {
		t.Fatalf("the same invite twice: %v, want ErrInviteAgain", err)
	}
	exchange(t, b, a, g) // a witnesses b's join: the invite is used up
	exchange(t, c, a, g) // c's join never counts
	exchange(t, a, b, g)
	if !member(a, b.r.Self()) || !member(b, b.r.Self()) || member(a, c.r.Self()) {
		t.Fatal("b should be in with the invite for one, c not")
	}
	if _, err := b.r.Join(ctx, invite(0)); !errors.Is(err, replica.ErrInviteUsed) {
		t.Fatalf("a join by a member: %v, want ErrInviteUsed", err)
	}
	if _, err := c.r.Join(ctx, invite(0)); err != nil {
		t.Fatalf("a newcomer whose join can never count, with a new invite: %v", err)
	}

	if err := b.r.Leave(ctx, g); err != nil {
		t.Fatal(err)
	}
	if _, err := b.r.Join(ctx, first); !errors.Is(err, replica.ErrInviteAgain) {
		t.Fatalf("a rejoin with the invite b joined with before: %v, want ErrInviteAgain", err)
	}
	if _, err := b.r.Join(ctx, invite(0)); err != nil {
		t.Fatalf("a rejoin with a new invite after leaving: %v", err)
	}
	exchange(t, b, a, g) // a holds b's leave and witnesses its new join
	exchange(t, c, a, g) // and c's second join
	// Twice: exchange sends authors in any order, and an op that came
	// before its author's first op was not kept.
	for range 2 {
		exchange(t, a, b, g)
		exchange(t, a, c, g)
	}
	for _, n := range []*node{a, b, c} {
		if !member(n, b.r.Self()) || !member(n, c.r.Self()) {
			t.Fatalf("b and c should both be members again on every node (%d of 3)", slices.Index([]*node{a, b, c}, n)+1)
		}
	}
	if h := stateHash(t, a, g); stateHash(t, b, g) != h || stateHash(t, c, g) != h {
		t.Fatal("a, b and c differ")
	}
}

// exchange hands every op from's log holds to to.
func exchange(t testing.TB, from, to *node, g crdt.ID) {
	t.Helper()
	s := from.r.Sync()
	vv, err := s.VersionVector(g)
	if err != nil {
		t.Fatal(err)
	}
	var raws [][]byte
	for a := range vv {
		if err := s.OpsAfter(g, a, 0, func(raw []byte) error { raws = append(raws, raw); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if len(raws) == 0 {
		t.Fatal("nothing to exchange")
	}
	if _, err := to.r.Ingest(context.Background(), raws); err != nil {
		t.Fatal(err)
	}
}

func TestForgedAndExpiredRefused(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	a := newNode(t)
	_, key, _ := ed25519.GenerateKey(nil)
	b := open(t, t.TempDir(), key, replica.Config{Now: func() time.Time { return now.Add(2 * time.Hour) }})
	defer b.close()
	g := newGroup(t, a, "g")
	code, _, err := a.r.Invite(context.Background(), g, replica.InviteOptions{Role: crdt.RoleMember, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.r.Join(ctx, code); !errors.Is(err, replica.ErrInviteOld) {
		t.Fatalf("expired invite: got %v", err)
	}
	forged := code[:len(code)-6] + "AAAAAA"
	if _, err := a.r.Join(ctx, forged); err == nil {
		t.Fatal("a forged code was accepted")
	}
	res, err := a.r.Ingest(ctx, [][]byte{[]byte("junk"), {0xdd, 0x0f, 0xff, 0xff, 0xff}})
	if err != nil || res[0].Outcome != replica.Rejected || res[1].Outcome != replica.Rejected {
		t.Fatalf("junk not rejected: %+v %v", res, err)
	}
}

func TestGroupCommitUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	g := newGroup(t, n, "g")
	var wg sync.WaitGroup
	for c := 0; c < 16; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				if _, _, err := n.r.CreatePost(ctx, g, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: "x"}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	ps, err := n.r.Posts(replica.Filter{Group: g})
	if err != nil || len(ps) != 400 {
		t.Fatalf("%d posts, want 400: %v", len(ps), err)
	}
	check(t, n, g)
}
