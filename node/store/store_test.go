package store_test

import (
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/protocol"
)

func signed(t *testing.T, key ed25519.PrivateKey, op crdt.Op) (crdt.Op, []byte) {
	t.Helper()
	raw, err := protocol.SignOp(&op, key)
	if err != nil {
		t.Fatal(err)
	}
	return op, raw
}

func TestOpsPostsAndIndexSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	_, key, _ := ed25519.GenerateKey(nil)
	st, err := store.Open(dir, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	gen, graw := signed(t, key, crdt.Op{Seq: 1, Time: crdt.HLC{Wall: 1}, Body: crdt.Genesis{Name: "g"}})
	g := gen.ID
	create, craw := signed(t, key, crdt.Op{Group: g, Seq: 2, Prev: g, Time: crdt.HLC{Wall: 2},
		Body: crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: "coats", Category: "Clothing"}}})
	p := crdt.NewPost(g, create.ID)
	p.Apply(&create, true)
	var b store.Batch
	b.PutGroup(store.GroupRecord{ID: g, Name: "g", Relation: store.Member})
	b.AddOp(&gen, graw)
	b.AddOp(&create, craw)
	b.PutPost(nil, p)
	if err := st.Commit(&b); err != nil {
		t.Fatal(err)
	}

	// A second opener of the same dir gets a clear error.
	if _, err := store.Open(dir, store.Config{}); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}

	// The status changes: the old index entry must go.
	status, sraw := signed(t, key, crdt.Op{Group: g, Seq: 3, Prev: create.ID, Time: crdt.HLC{Wall: 3},
		Body: crdt.PostStatus{Post: create.ID, Status: crdt.Claimed}})
	p2 := p.Clone()
	p2.Apply(&status, true)
	b = store.Batch{}
	b.AddOp(&status, sraw)
	b.PutPost(p, p2)
	if err := st.Commit(&b); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st.Close() // safe twice

	st, err = store.Open(dir, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	count := func(q store.Query) int {
		n := 0
		if err := st.Query(q, func(*crdt.Post) bool { n++; return true }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(store.Query{Group: g, Statuses: []crdt.Status{crdt.Open}}); n != 0 {
		t.Fatalf("open: %d posts, want 0 (stale index entry)", n)
	}
	if n := count(store.Query{Group: g, Kind: crdt.Need, Statuses: []crdt.Status{crdt.Claimed}, Category: "CLOTHING"}); n != 1 {
		t.Fatalf("claimed clothing needs: %d, want 1", n)
	}
	if n := count(store.Query{Group: g, Category: "cloth"}); n != 0 {
		t.Fatalf("category prefix matched: %d", n)
	}
	got, err := st.Post(g, create.ID)
	if err != nil || crdt.PostHash(got) != crdt.PostHash(p2) {
		t.Fatalf("post after reopen differs: %v", err)
	}
	var seqs []uint64
	st.OpsAfter(g, gen.Author, 1, func(seq uint64, raw []byte) error { seqs = append(seqs, seq); return nil })
	if len(seqs) != 2 || seqs[0] != 2 || seqs[1] != 3 {
		t.Fatalf("OpsAfter(1) = %v, want [2 3]", seqs)
	}
	if has, err := st.Holds(g, status.Author, status.Seq, status.ID); err != nil || !has {
		t.Fatalf("Holds lost the op: %v", err)
	}
	if has, err := st.Holds(g, status.Author, status.Seq, create.ID); err != nil || has {
		t.Fatalf("Holds finds an op at a seq that holds another: %v", err)
	}
	if raw, err := st.LogOp(g, create.Author, create.Seq); err != nil || string(raw) != string(craw) {
		t.Fatal("LogOp differs")
	}
	ops, err := st.PostOps(g, create.ID)
	if err != nil || len(ops) != 2 {
		t.Fatalf("post ops: %d, want 2: %v", len(ops), err)
	}
	ms, err := st.MembershipOps(g)
	if err != nil || len(ms) != 1 {
		t.Fatalf("membership ops: %d, want 1: %v", len(ms), err)
	}
	gs, err := st.Groups()
	if err != nil || len(gs) != 1 || gs[0].Name != "g" {
		t.Fatalf("groups: %+v %v", gs, err)
	}
	if _, err := st.Post(g, crdt.ID{1}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing post: %v", err)
	}
}

// A listing is one snapshot: a post whose status changes while the index
// is scanned is listed once, not under its old status and again under
// its new one (nor missed, when it moves to a status already scanned).
func TestQueryIsOneSnapshot(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	st, err := store.Open(t.TempDir(), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	g, create, p := groupWithPost(t, st, key)

	seen := 0
	err = st.Query(store.Query{Group: g}, func(got *crdt.Post) bool {
		seen++
		if seen == 1 {
			// The post is claimed while the listing is under way.
			status, sraw := signed(t, key, crdt.Op{Group: g, Seq: 3, Prev: create.ID, Time: crdt.HLC{Wall: 3},
				Body: crdt.PostStatus{Post: create.ID, Status: crdt.Claimed}})
			p2 := p.Clone()
			p2.Apply(&status, true)
			b := store.Batch{}
			b.AddOp(&status, sraw)
			b.PutPost(p, p2)
			if err := st.Commit(&b); err != nil {
				t.Fatal(err)
			}
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != 1 {
		t.Fatalf("the post was listed %d times", seen)
	}
}

// A reader that misses the cache reads a post from disk; if a writer
// commits a newer state before the reader caches what it read, the cache
// must not end up with the older state: the writer's next batch starts
// from the cache, and would write a post that lost the newer change.
func TestReaderNeverCachesAnOlderPost(t *testing.T) {
	dir := t.TempDir()
	_, key, _ := ed25519.GenerateKey(nil)
	st, err := store.Open(dir, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	g, create, p := groupWithPost(t, st, key)
	st.Close()
	if st, err = store.Open(dir, store.Config{}); err != nil { // an empty cache
		t.Fatal(err)
	}
	defer st.Close()

	status, sraw := signed(t, key, crdt.Op{Group: g, Seq: 3, Prev: create.ID, Time: crdt.HLC{Wall: 3},
		Body: crdt.PostStatus{Post: create.ID, Status: crdt.Claimed}})
	claimed := p.Clone()
	claimed.Apply(&status, true)
	store.SetAfterRead(st, func() {
		store.SetAfterRead(st, nil)
		var b store.Batch
		b.AddOp(&status, sraw)
		b.PutPost(p, claimed)
		if err := st.Commit(&b); err != nil {
			t.Error(err)
		}
	})
	if _, err := st.Post(g, create.ID); err != nil {
		t.Fatal(err)
	}
	got, err := st.Post(g, create.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State() != crdt.Claimed {
		t.Fatalf("the cache holds the post as it was before the last commit (status %v)", got.State())
	}
}

// groupWithPost commits a group with one post ("coats") by key, and
// returns the group, the post's create op and the post.
func groupWithPost(t *testing.T, st *store.Store, key ed25519.PrivateKey) (crdt.ID, crdt.Op, *crdt.Post) {
	t.Helper()
	gen, graw := signed(t, key, crdt.Op{Seq: 1, Time: crdt.HLC{Wall: 1}, Body: crdt.Genesis{Name: "g"}})
	g := gen.ID
	create, craw := signed(t, key, crdt.Op{Group: g, Seq: 2, Prev: g, Time: crdt.HLC{Wall: 2},
		Body: crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: "coats"}}})
	p := crdt.NewPost(g, create.ID)
	p.Apply(&create, true)
	var b store.Batch
	b.PutGroup(store.GroupRecord{ID: g, Name: "g", Relation: store.Member})
	b.AddOp(&gen, graw)
	b.AddOp(&create, craw)
	b.PutPost(nil, p)
	if err := st.Commit(&b); err != nil {
		t.Fatal(err)
	}
	return g, create, p
}
