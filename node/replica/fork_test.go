package replica_test

import (
	"context"
	"crypto/ed25519"
	"net"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
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

// A fork that shows on one node only as a break — an op whose Prev is
// not the op held before it — reaches a peer that holds the other
// history at that seq, though both nodes' version vectors are equal: the
// author's ops from the fork on count on neither, and both agree.
func TestBreakTravelsToAPeerWithTheOtherHistory(t *testing.T) {
	ctx := context.Background()
	x, y := newNode(t), newNode(t)
	g := newGroup(t, x, "g")
	for _, n := range []*node{y} {
		code, _, err := x.r.Invite(ctx, g, replica.InviteOptions{Role: crdt.RoleMember, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.r.Join(ctx, code); err != nil {
			t.Fatal(err)
		}
		exchange(t, n, x, g) // x witnesses the join
		exchange(t, x, n, g)
	}
	// A member author A, joined through x's invite, signs two histories
	// from seq 3 on: 3 then 4 (on x), and 3' then 4' whose Prev is 3'
	// (x gets 4' too, y gets 3' and 4').
	_, c, err := x.r.Invite(ctx, g, replica.InviteOptions{Role: crdt.RoleMember, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	_, aKey, _ := ed25519.GenerateKey(nil)
	var aPub crdt.PublicKey
	copy(aPub[:], aKey.Public().(ed25519.PublicKey))
	now := time.Now().UnixMilli()
	sign := func(seq uint64, prev crdt.ID, body crdt.Body) (crdt.Op, []byte) {
		op := crdt.Op{Group: g, Seq: seq, Prev: prev, Time: crdt.HLC{Wall: now + int64(seq)}, Body: body}
		raw, err := protocol.SignOp(&op, aKey)
		if err != nil {
			t.Fatal(err)
		}
		return op, raw
	}
	join, joinRaw := sign(1, crdt.ID{}, crdt.Join{Invite: c.Invite, Name: "a", Proof: protocol.ProveJoin(&c.Invite, c.Secret, aPub)})
	p2, p2Raw := sign(2, join.ID, crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: "before the fork"}})
	p3, p3Raw := sign(3, p2.ID, crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: "history one"}})
	q3, q3Raw := sign(3, p2.ID, crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: "history two"}})
	_, q4Raw := sign(4, q3.ID, crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: "history two, again"}})
	if _, err := x.r.Ingest(ctx, [][]byte{joinRaw, p2Raw}); err != nil {
		t.Fatal(err)
	}
	exchange(t, x, y, g) // y: the join, x's witness of it, op 2
	if _, err := x.r.Ingest(ctx, [][]byte{p3Raw, q4Raw}); err != nil {
		t.Fatal(err)
	}
	if _, err := y.r.Ingest(ctx, [][]byte{q3Raw, q4Raw}); err != nil {
		t.Fatal(err)
	}
	vx, _ := x.r.Sync().VersionVector(g)
	vy, _ := y.r.Sync().VersionVector(g)
	if vx[aPub] != 4 || vy[aPub] != 4 {
		t.Fatalf("A's ops held: x %d, y %d; want 4 and 4", vx[aPub], vy[aPub])
	}
	if y.r.Forked(g, aPub) != 0 {
		t.Fatal("y sees a fork before syncing")
	}
	syncPair(t, x, y)
	for _, n := range []*node{x, y} {
		if _, err := n.r.Post(p2.ID); err != nil {
			t.Errorf("the post before the fork is gone: %v", err)
		}
		if n.r.Forked(g, aPub) != 3 {
			t.Errorf("fork of A at %d, want 3", n.r.Forked(g, aPub))
		}
		for _, id := range []crdt.ID{p3.ID, q3.ID} {
			if _, err := n.r.Post(id); err == nil {
				t.Errorf("a post at or after the fork counts")
			}
		}
		check(t, n, g)
	}
	if stateHash(t, x, g) != stateHash(t, y, g) {
		t.Fatal("x and y disagree after syncing")
	}
}

// syncPair runs one catch-up session between a and b over a pipe.
func syncPair(t *testing.T, a, b *node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ca, cb := net.Pipe()
	defer ca.Close()
	defer cb.Close()
	errc := make(chan error, 1)
	go func() {
		_, err := catchup.Run(ctx, ca, a.r.Sync(), b.r.Self(), true)
		errc <- err
	}()
	if _, err := catchup.Run(ctx, cb, b.r.Sync(), a.r.Self(), false); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
