package replica_test

import (
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
)

// TestIdleSessionReadsNoStore: two member nodes over Badger hold the
// same 20 groups; a catch-up session between them then settles every
// group by its digest, which the replica keeps in memory, and begins no
// read of either store. Once one group changes, the next session reads
// (the counter counts) and carries the post.
func TestIdleSessionReadsNoStore(t *testing.T) {
	a, b := newNode(t), newNode(t)
	var groups []crdt.ID
	for i := range 20 {
		g := newGroup(t, a, "group")
		post(t, a, g, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: "coats", Quantity: uint32(i + 1)}})
		joinLate(t, a, g, b)
		groups = append(groups, g)
	}
	syncPair(t, a, b)
	for _, g := range groups {
		if stateHash(t, a, g) != stateHash(t, b, g) {
			t.Fatal("the two nodes differ before the idle session")
		}
	}
	ra, rb := a.st.Reads(), b.st.Reads()
	syncPair(t, a, b)
	if da, db := a.st.Reads()-ra, b.st.Reads()-rb; da != 0 || db != 0 {
		t.Fatalf("an idle session over %d groups began %d and %d store reads", len(groups), da, db)
	}

	p := post(t, a, groups[7], replica.PostInput{Kind: crdt.Offer, Fields: crdt.Fields{Title: "soup"}})
	ra = a.st.Reads()
	syncPair(t, a, b)
	if a.st.Reads() == ra {
		t.Fatal("a session that sent a post read nothing: the counter counts nothing")
	}
	if _, err := b.r.Post(p.ID); err != nil {
		t.Fatalf("the post did not arrive: %v", err)
	}
}
