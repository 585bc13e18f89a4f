package store_test

import (
	"bytes"
	"crypto/ed25519"
	"runtime"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/store"
)

// A scan must leave no goroutine behind when it returns. Badger v1's
// value prefetching starts one per item, and Iterator.Close does not wait
// for the one of the item the scan stopped on (here the first key past
// the group prefix, a log entry whose op lives in the value log); if the
// store closes while it runs, it blocks forever.
func TestScanLeavesNoGoroutine(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, key, _ := ed25519.GenerateKey(nil)
	gen, graw := signed(t, key, crdt.Op{Seq: 1, Time: crdt.HLC{Wall: 1}, Body: crdt.Genesis{Name: "g"}})
	var b store.Batch
	b.PutGroup(store.GroupRecord{ID: gen.ID, Name: "g", Relation: store.Member})
	b.AddOp(&gen, graw) // log ('l') and membership ('m') keys sort after the group's ('g')
	if err := st.Commit(&b); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for i := 0; i < 200; i++ {
		gs, err := st.Groups()
		if err != nil || len(gs) != 1 {
			t.Fatalf("groups: %v %v", gs, err)
		}
		if _, err := st.MembershipOps(gen.ID); err != nil {
			t.Fatal(err)
		}
		stacks := buf[:runtime.Stack(buf, true)]
		if bytes.Contains(stacks, []byte("badger.(*Iterator).fill")) {
			t.Fatalf("scan %d returned with an iterator goroutine still running:\n%s", i, stacks)
		}
	}
}
