package replica_test

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/protocol"
)

// Two different ops signed by one author at one seq: the first stays in
// the log, the second is kept as evidence and reported, and neither
// counts: the author's ops from the fork on are off the board, whatever
// order they came in. Its earlier ops stay.
func TestForkIsKeptAsEvidenceAndReported(t *testing.T) {
	ctx := context.Background()
	_, key, _ := ed25519.GenerateKey(nil)
	now := time.Now().UnixMilli()
	sign := func(op crdt.Op) (crdt.Op, []byte) {
		raw, err := protocol.SignOp(&op, key)
		if err != nil {
			t.Fatal(err)
		}
		return op, raw
	}
	gen, graw := sign(crdt.Op{Seq: 1, Time: crdt.HLC{Wall: now}, Body: crdt.Genesis{Name: "g"}})
	a, araw := sign(crdt.Op{Group: gen.ID, Seq: 2, Prev: gen.ID, Time: crdt.HLC{Wall: now + 1},
		Body: crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: "coats"}}})
	b, braw := sign(crdt.Op{Group: gen.ID, Seq: 2, Prev: gen.ID, Time: crdt.HLC{Wall: now + 2},
		Body: crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: "blankets"}}})

	n := newNode(t)
	if err := replica.AddGroupForTest(n.r, gen.ID, graw); err != nil {
		t.Fatal(err)
	}
	res, err := n.r.Ingest(ctx, [][]byte{araw, braw})
	if err != nil || res[0].Outcome != replica.New || res[1].Outcome != replica.Fork {
		t.Fatalf("got %+v %v, want new then fork", res, err)
	}
	forks, err := n.r.Forks(gen.ID)
	if err != nil || len(forks) != 1 || forks[0].Op != b.ID || forks[0].Seq != 2 || forks[0].Author != gen.Author {
		t.Fatalf("forks: %+v %v", forks, err)
	}
	if _, err := n.r.Post(b.ID); err == nil {
		t.Fatal("the forked op was applied")
	}
	if _, err := n.r.Post(a.ID); err == nil {
		t.Fatal("the op the fork contradicts still counts")
	}
	// The other order on another node gives the same board.
	m := newNode(t)
	if err := replica.AddGroupForTest(m.r, gen.ID, graw); err != nil {
		t.Fatal(err)
	}
	if _, err := m.r.Ingest(ctx, [][]byte{braw, araw}); err != nil {
		t.Fatal(err)
	}
	if stateHash(t, m, gen.ID) != stateHash(t, n, gen.ID) {
		t.Fatal("the fork in the other order gives another state")
	}
	// The evidence is not offered again as new.
	res, err = n.r.Ingest(ctx, [][]byte{braw})
	if err != nil || res[0].Outcome != replica.Dup {
		t.Fatalf("re-sent fork: %+v %v", res, err)
	}
	check(t, n, gen.ID)
}
