package catchup

import (
	"bytes"
	"net"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

// TestAlliesListEachOther: G and X accept followers from their allies
// only and list each other; each group's node follows the other. Each
// judges the other by its copy of the other's membership, which it has
// not got, so both refused each other forever. X's node now introduces
// X to the node that refused it G (X's membership ops, nothing else),
// which then serves G; X's node, now knowing G's members, serves X.
// Z, allies-only and not listed by X, whose node follows X and holds
// nothing of G, gets nothing of X: not an op, not an author's key.
func TestAlliesListEachOther(t *testing.T) {
	ga, xa, za := newAuthor(60), newAuthor(61), newAuthor(62)
	g, gGen := ga.genesis("riverside")
	x, xGen := xa.genesis("harbour")
	z, zGen := za.genesis("hillside")
	_, gFed := ga.sign(g, crdt.Federation{Policy: crdt.FollowAllies, Allies: []crdt.ID{x}})
	_, xFed := xa.sign(x, crdt.Federation{Policy: crdt.FollowAllies, Allies: []crdt.ID{g}})
	_, zFed := za.sign(z, crdt.Federation{Policy: crdt.FollowAllies, Allies: []crdt.ID{x}})

	rg := NewMemoryReplica(ga.pub, fixedNow)
	rg.AddGroup(g)
	mustAdd(t, rg, gGen, gFed, ga.post(g, 1), ga.post(g, 2))
	rg.Follow(x, xa.pub) // its follow code named X's node
	rx := NewMemoryReplica(xa.pub, fixedNow)
	rx.AddGroup(x)
	mustAdd(t, rx, xGen, xFed, xa.post(x, 1), xa.post(x, 2), xa.post(x, 3))
	rx.Follow(g, ga.pub)
	rz := NewMemoryReplica(za.pub, fixedNow)
	rz.AddGroup(z)
	mustAdd(t, rz, zGen, zFed)
	rz.Follow(x, xa.pub)

	var zGot bytes.Buffer // every byte Z's node receives from X's
	for i := range 3 {
		r1, r2 := syncPair(rz, za.pub, rx, xa.pub, func(c net.Conn) net.Conn { return &teeConn{Conn: c, w: &zGot} })
		if r1.err != nil || r2.err != nil {
			t.Fatal(r1.err, r2.err)
		}
		if r1.stats.Refused[x] == "" {
			t.Fatalf("session %d: Z's node was not refused X: %+v", i, r1.stats)
		}
		if i == 0 {
			r1, r2 = syncPair(rg, ga.pub, rx, xa.pub, nil)
			if r1.err != nil || r2.err != nil {
				t.Fatal(r1.err, r2.err)
			}
		}
	}
	for i := 1; rg.Len(x) != rx.Len(x) || rx.Len(g) != rg.Len(g); i++ {
		if i > 3 {
			t.Fatalf("after %d sessions G's node holds %d ops of X (X's: %d), X's node %d of G (G's: %d)", i-1, rg.Len(x), rx.Len(x), rx.Len(g), rg.Len(g))
		}
		r1, r2 := syncPair(rg, ga.pub, rx, xa.pub, nil)
		if r1.err != nil || r2.err != nil {
			t.Fatal(r1.err, r2.err)
		}
		t.Logf("session %d: G's side %+v, X's side %+v", i, r1.stats, r2.stats)
	}
	checkConverged(t, g, rg, rx)
	checkConverged(t, x, rg, rx)
	if rg.Len(x) != 5 || rx.Len(g) != 4 {
		t.Fatalf("G's node holds %d ops of X, X's node %d of G", rg.Len(x), rx.Len(g))
	}

	// Z, after G's and X's nodes know each other: still nothing.
	r1, r2 := syncPair(rz, za.pub, rx, xa.pub, func(c net.Conn) net.Conn { return &teeConn{Conn: c, w: &zGot} })
	if r1.err != nil || r2.err != nil {
		t.Fatal(r1.err, r2.err)
	}
	if rz.Len(x) != 0 || r1.stats.OpsReceived != 0 || bytes.Contains(zGot.Bytes(), xa.pub[:]) || bytes.Contains(zGot.Bytes(), ga.pub[:]) {
		t.Fatalf("Z's node got something of X: %d ops held, %+v", rz.Len(x), r1.stats)
	}
}

// TestStrangerClaimingAnAllyGetsNoIntroduction: G and X list each other
// as in TestAlliesListEachOther. S, a stranger that knows both IDs (from
// their follow codes), follows X and claims to hold G by naming it in
// its offers. X's node introduces X only to G's members: before it has
// G's membership, to the nodes G's follow code named; after, by its
// copy of G's members. S gets nothing of X either way.
func TestStrangerClaimingAnAllyGetsNoIntroduction(t *testing.T) {
	ga, xa, sa := newAuthor(70), newAuthor(71), newAuthor(72)
	g, gGen := ga.genesis("riverside")
	x, xGen := xa.genesis("harbour")
	_, gFed := ga.sign(g, crdt.Federation{Policy: crdt.FollowAllies, Allies: []crdt.ID{x}})
	_, xFed := xa.sign(x, crdt.Federation{Policy: crdt.FollowAllies, Allies: []crdt.ID{g}})

	rg := NewMemoryReplica(ga.pub, fixedNow)
	rg.AddGroup(g)
	mustAdd(t, rg, gGen, gFed, ga.post(g, 1))
	rg.Follow(x, xa.pub)
	rx := NewMemoryReplica(xa.pub, fixedNow)
	rx.AddGroup(x)
	mustAdd(t, rx, xGen, xFed, xa.post(x, 1))
	rx.Follow(g, ga.pub)
	rs := NewMemoryReplica(sa.pub, fixedNow)
	rs.Follow(x, xa.pub)
	rs.Follow(g, xa.pub) // "X's node holds G": S names G to it

	var sGot bytes.Buffer
	strangerSessions := func(when string) {
		t.Helper()
		for i := range 3 {
			r1, r2 := syncPair(rs, sa.pub, rx, xa.pub, func(c net.Conn) net.Conn { return &teeConn{Conn: c, w: &sGot} })
			if r1.err != nil || r2.err != nil {
				t.Fatal(r1.err, r2.err)
			}
			if rs.Len(x) != 0 || r1.stats.OpsReceived != 0 || bytes.Contains(sGot.Bytes(), xa.pub[:]) {
				t.Fatalf("%s, session %d: the stranger got something of X: %d ops held, %+v", when, i, rs.Len(x), r1.stats)
			}
		}
	}
	strangerSessions("before X's node knows G's members")

	for i := 1; rg.Len(x) != rx.Len(x) || rx.Len(g) != rg.Len(g); i++ {
		if i > 3 {
			t.Fatalf("G's and X's nodes did not converge in 3 sessions: %d/%d ops of X, %d/%d of G", rg.Len(x), rx.Len(x), rx.Len(g), rg.Len(g))
		}
		if r1, r2 := syncPair(rg, ga.pub, rx, xa.pub, nil); r1.err != nil || r2.err != nil {
			t.Fatal(r1.err, r2.err)
		}
	}
	strangerSessions("after X's node knows G's members")
}
