package store_test

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/dgraph-io/badger"
	"github.com/dgraph-io/badger/options"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/protocol"
)

// A post whose create op stops counting (DelPost) leaves the board, but
// its entry still says where its create op is: rebuilding it later (its
// author re-admitted) needs the create, which has no q entry of its own.
func TestPostOffTheBoardKeepsItsCreate(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, key, _ := ed25519.GenerateKey(nil)
	g, create, p := groupWithPost(t, st, key)
	edit, eraw := signed(t, key, crdt.Op{Group: g, Seq: 3, Prev: create.ID, Time: crdt.HLC{Wall: 3},
		Body: crdt.PostStatus{Post: create.ID, Status: crdt.Claimed}})
	p2 := p.Clone()
	p2.Apply(&edit, true)
	var b store.Batch
	b.AddOp(&edit, eraw)
	b.PutPost(p, p2)
	b.DelPost(p2)
	if err := st.Commit(&b); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Post(g, p.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("post off the board: %v, want ErrNotFound", err)
	}
	n := 0
	st.Query(store.Query{Group: g}, func(*crdt.Post) bool { n++; return true })
	if n != 0 {
		t.Fatalf("%d posts on the board, want 0", n)
	}
	ops, err := st.PostOps(g, p.ID)
	if err != nil || len(ops) != 2 || protocol.OpID(ops[0]) != create.ID || protocol.OpID(ops[1]) != edit.ID {
		t.Fatalf("PostOps after DelPost: %d ops, %v; want the create, then the edit", len(ops), err)
	}
	if lines, err := st.Audit(g); err != nil || len(lines) > 0 {
		t.Fatalf("audit: %v %v", lines, err)
	}
	// Back on the board.
	b = store.Batch{}
	b.PutPost(nil, p2)
	if err := st.Commit(&b); err != nil {
		t.Fatal(err)
	}
	st.Query(store.Query{Group: g, Statuses: []crdt.Status{crdt.Claimed}}, func(*crdt.Post) bool { n++; return true })
	if n != 1 {
		t.Fatalf("%d claimed posts, want 1", n)
	}
	if lines, err := st.Audit(g); err != nil || len(lines) > 0 {
		t.Fatalf("audit: %v %v", lines, err)
	}
}

// Holds finds an op by its log position, and a fork kept as evidence at
// a position that holds another op.
func TestHoldsLogAndFork(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, key, _ := ed25519.GenerateKey(nil)
	g, create, _ := groupWithPost(t, st, key)
	fork, fraw := signed(t, key, crdt.Op{Group: g, Seq: create.Seq, Prev: g, Time: crdt.HLC{Wall: 9},
		Body: crdt.PostCreate{PostKind: crdt.Offer, Fields: crdt.Fields{Title: "a van"}}})
	other, _ := signed(t, key, crdt.Op{Group: g, Seq: create.Seq, Prev: g, Time: crdt.HLC{Wall: 10},
		Body: crdt.PostCreate{PostKind: crdt.Offer, Fields: crdt.Fields{Title: "a bike"}}})
	has := func(op crdt.Op) bool {
		t.Helper()
		ok, err := st.Holds(g, op.Author, op.Seq, op.ID)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !has(create) || has(fork) {
		t.Fatal("before the fork is kept: want the create held, the fork not")
	}
	var b store.Batch
	b.AddFork(&fork, fraw)
	if err := st.Commit(&b); err != nil {
		t.Fatal(err)
	}
	if !has(create) || !has(fork) || has(other) {
		t.Fatal("after the fork is kept: want the create and the fork held, a third op not")
	}
	// Unknown group or author: nothing held, no error.
	if ok, err := st.Holds(crdt.ID{1}, create.Author, create.Seq, create.ID); ok || err != nil {
		t.Fatalf("unknown group: %v %v", ok, err)
	}
	forks, err := st.Forks(g)
	if err != nil || len(forks) != 1 || forks[0].Op != fork.ID || forks[0].Author != fork.Author || forks[0].Seq != fork.Seq {
		t.Fatalf("forks %+v, %v", forks, err)
	}
}

// A store written before the format was versioned (or by a newer mutual)
// is refused with an error that says what to do, and nothing changes;
// Salvage, which `mutual repair` uses, still finds the old store's ops.
func TestOtherFormatRefused(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	gen, graw := signed(t, key, crdt.Op{Seq: 1, Time: crdt.HLC{Wall: 1}, Body: crdt.Genesis{Name: "g"}})
	for _, tc := range []struct {
		name    string
		version []byte // nil: no version key, as the first layout
		want    string
	}{
		{"version 1", nil, "run `mutual repair`"},
		{"version 99", []byte{99}, "use a newer mutual"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := badger.DefaultOptions(dir)
			opts.Logger = nil
			opts.TableLoadingMode, opts.ValueLogLoadingMode = options.FileIO, options.FileIO
			db, err := badger.Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			err = db.Update(func(txn *badger.Txn) error {
				// The first layout's log key: l group author seq(8).
				k := append(append(append([]byte{'l'}, gen.ID[:]...), gen.Author[:]...), 0, 0, 0, 0, 0, 0, 0, 1)
				if err := txn.Set(k, graw); err != nil {
					return err
				}
				if tc.version != nil {
					return txn.Set([]byte{'v'}, tc.version)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			sums := dirSums(t, dir)
			for _, open := range []func() (*store.Store, error){
				func() (*store.Store, error) { return store.Open(dir, store.Config{}) },
				func() (*store.Store, error) { return store.OpenReadOnly(dir) },
			} {
				st, err := open()
				var fe *store.FormatError
				if err == nil || !errors.Is(err, store.ErrFormat) || !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), dir) {
					if st != nil {
						st.Close()
					}
					t.Fatalf("open: %v, want a FormatError naming %s and saying %q", err, dir, tc.want)
				}
			}
			if !equalSums(sums, dirSums(t, dir)) {
				t.Fatal("refusing to open changed the store's files")
			}
			found, err := store.Salvage(dir)
			if err != nil || len(found.Ops) != 1 || protocol.OpID(found.Ops[0]) != gen.ID {
				t.Fatalf("salvage: %v, %+v", err, found)
			}
		})
	}
}
