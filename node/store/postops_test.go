package store_test

import (
	"crypto/ed25519"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/store"
)

// TestOpsOnPostBeforeCreate: ops on posts whose create the store does
// not hold are found for each post, whether they were committed before
// the store first looked (loaded from the keys), after (noted as
// committed), or before a reopen; a post with none gets none.
func TestOpsOnPostBeforeCreate(t *testing.T) {
	dir := t.TempDir()
	_, key, _ := ed25519.GenerateKey(nil)
	st, err := store.Open(dir, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	gen, graw := signed(t, key, crdt.Op{Seq: 1, Time: crdt.HLC{Wall: 1}, Body: crdt.Genesis{Name: "g"}})
	g := gen.ID
	seq, prev := uint64(1), g
	// An op on a post never created here (its create is not committed).
	orphan := func(title string) crdt.ID {
		seq++
		create, _ := signed(t, key, crdt.Op{Group: g, Seq: seq, Prev: prev, Time: crdt.HLC{Wall: int64(seq)},
			Body: crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: title}}})
		seq++
		op, raw := signed(t, key, crdt.Op{Group: g, Seq: seq, Prev: create.ID, Time: crdt.HLC{Wall: int64(seq)},
			Body: crdt.PostStatus{Post: create.ID, Status: crdt.Claimed}})
		prev = op.ID
		var b store.Batch
		b.AddOp(&op, raw)
		if err := st.Commit(&b); err != nil {
			t.Fatal(err)
		}
		return create.ID
	}
	var b store.Batch
	b.PutGroup(store.GroupRecord{ID: g, Name: "g", Relation: store.Member})
	b.AddOp(&gen, graw)
	if err := st.Commit(&b); err != nil {
		t.Fatal(err)
	}
	before := orphan("before the first look")
	check := func(when string, want map[crdt.ID]int) {
		t.Helper()
		for p, n := range want {
			ops, err := st.OpsOnPost(g, p)
			if err != nil || len(ops) != n {
				t.Errorf("%s: post %s: %d ops (%v), want %d", when, p.Short(), len(ops), err, n)
			}
		}
	}
	none := crdt.ID{7}
	check("first look", map[crdt.ID]int{none: 0, before: 1})
	after := orphan("after the first look")
	check("after a commit", map[crdt.ID]int{none: 0, before: 1, after: 1})
	st.Close()
	if st, err = store.Open(dir, store.Config{}); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	check("after reopening", map[crdt.ID]int{after: 1, none: 0, before: 1})
}
