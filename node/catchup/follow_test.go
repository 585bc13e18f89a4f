package catchup

import (
	"bytes"
	"net"
	"slices"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

// TestFollowerStoreAndForward: A (a member) serves B (a follower), then
// A is gone; C meets only B and converges, whether C is a member (B
// offers the group to it as to a member: B holds the membership) or a
// follower that followed with B's code (it offers the group to B, which
// serves it). Nothing is ever sent that its receiver's replica would
// not store.
func TestFollowerStoreAndForward(t *testing.T) {
	w, f, m, ra, rc := pair(t)
	for i := range 10 {
		mustAdd(t, ra, f.post(w.group, i))
	}
	b := newAuthor(40)
	rb := NewMemoryReplica(b.pub, fixedNow)
	rb.Follow(w.group, f.pub) // the code's address is A's
	if r1, r2 := syncPair(rb, b.pub, ra, f.pub, nil); r1.err != nil || r2.err != nil {
		t.Fatal(r1.err, r2.err)
	} else if !slices.Contains(r2.stats.Followers, w.group) {
		t.Fatalf("A did not serve B as a follower: %+v", r2.stats)
	}
	checkConverged(t, w.group, ra, rb)
	if _, ok := rb.Topic(w.group); ok {
		t.Fatal("a follower derives the group's topic")
	}

	// C, a member, meets B alone.
	if r1, r2 := syncPair(rc, m.pub, rb, b.pub, nil); r1.err != nil || r2.err != nil {
		t.Fatal(r1.err, r2.err)
	}
	checkConverged(t, w.group, ra, rb, rc)

	// D follows with B's code and meets B alone.
	d := newAuthor(41)
	rd := NewMemoryReplica(d.pub, fixedNow)
	rd.Follow(w.group, b.pub)
	if r1, r2 := syncPair(rd, d.pub, rb, b.pub, nil); r1.err != nil || r2.err != nil {
		t.Fatal(r1.err, r2.err)
	} else if !slices.Contains(r2.stats.Followers, w.group) {
		t.Fatalf("B did not serve D: %+v", r2.stats)
	}
	checkConverged(t, w.group, ra, rb, rc, rd)
}

// TestFollowerTellsStrangersNothing: a follower offers the group it
// follows to no one but the group's members and its sources: a stranger
// that names nothing learns nothing of it.
func TestFollowerTellsStrangersNothing(t *testing.T) {
	w, f, _, ra, _ := pair(t)
	b := newAuthor(40)
	rb := NewMemoryReplica(b.pub, fixedNow)
	rb.Follow(w.group, f.pub)
	syncPair(rb, b.pub, ra, f.pub, nil)
	stranger := newAuthor(42)
	rs := NewMemoryReplica(stranger.pub, fixedNow)
	var seen bytes.Buffer
	r1, r2 := syncPair(rb, b.pub, rs, stranger.pub, func(c net.Conn) net.Conn { return &teeConn{Conn: c, w: &seen} })
	if r1.err != nil || r2.err != nil {
		t.Fatal(r1.err, r2.err)
	}
	if bytes.Contains(seen.Bytes(), w.group[:]) {
		t.Fatal("the follower named the group to a stranger")
	}
}

// TestFollowerRefusedAlliesOnly: a follower refused by an allies-only
// group learns the reason, and nothing of the group; the member's
// Refused is all it receives about it.
func TestFollowerRefusedAlliesOnly(t *testing.T) {
	w, f, _, ra, _ := pair(t)
	_, fed := f.sign(w.group, crdt.Federation{Policy: crdt.FollowAllies, Allies: []crdt.ID{{0xa1}}})
	mustAdd(t, ra, fed, f.post(w.group, 1))
	b := newAuthor(40)
	rb := NewMemoryReplica(b.pub, fixedNow)
	rb.Follow(w.group, f.pub)
	r1, r2 := syncPair(rb, b.pub, ra, f.pub, nil)
	if r1.err != nil || r2.err != nil {
		t.Fatal(r1.err, r2.err)
	}
	if r1.stats.Refused[w.group] != ErrNotAlly.Error() || r1.stats.OpsReceived != 0 || rb.Len(w.group) != 0 {
		t.Fatalf("follower's side: %+v, %d ops held", r1.stats, rb.Len(w.group))
	}
}

// teeConn copies what it reads into w.
type teeConn struct {
	net.Conn
	w *bytes.Buffer
}

func (c *teeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.w.Write(p[:n])
	return n, err
}

// TestFollowerAsksUnknownMember: a follower of a group that accepts its
// allies only, which holds the group's Federation op but not the join of
// the member it meets (a batch that brought the join before the op of
// its invite's issuer drops it, for one), cannot tell that member from
// a peer that may not follow the group. It offers the group all the
// same, with an empty vector (Limit.Ask), and the member, which knows
// the follower as a member of an ally, serves it the whole group: the
// city simulation (TestCitySimulation) found followers that never got
// another op.
func TestFollowerAsksUnknownMember(t *testing.T) {
	w, f, m, _, rm := pair(t)
	b := newAuthor(40) // founds the ally group, so is its member
	ally, allyGen := b.genesis("harbour")
	_, fed := f.sign(w.group, crdt.Federation{Policy: crdt.FollowAllies, Allies: []crdt.ID{ally}})
	mustAdd(t, rm, fed, f.post(w.group, 1), m.post(w.group, 2))
	rm.Follow(ally)
	mustAdd(t, rm, allyGen)

	rb := NewMemoryReplica(b.pub, fixedNow)
	rb.AddGroup(ally)
	mustAdd(t, rb, allyGen)
	rb.Follow(w.group, m.pub)
	mustAdd(t, rb, w.ops[0], fed) // the genesis and the Federation op, not m's join
	if l, err := rb.Limited(w.group, m.pub); err != nil || !l.Ask || l.Follow {
		t.Fatalf("the follower's limit for the unknown member: %+v, %v", l, err)
	}
	// A peer it cannot judge that is no member learns nothing from the
	// offer: no author, and no op.
	p := newAuthor(41)
	rp := NewMemoryReplica(p.pub, fixedNow)
	rp.Follow(w.group, b.pub)
	rb.Follow(w.group, p.pub) // p offered it the group, say
	var told bytes.Buffer     // what the follower sends
	r1, r2 := syncPair(rp, p.pub, rb, b.pub, func(c net.Conn) net.Conn { return &teeConn{Conn: c, w: &told} })
	if r1.err != nil || r2.err != nil {
		t.Fatal(r1.err, r2.err)
	}
	if r2.stats.OpsSent != 0 || bytes.Contains(told.Bytes(), f.pub[:]) || rp.Len(w.group) != 0 {
		t.Fatalf("the follower told a peer it could not judge about the group: %+v", r2.stats)
	}

	r1, r2 = syncPair(rb, b.pub, rm, m.pub, nil)
	if r1.err != nil || r2.err != nil {
		t.Fatal(r1.err, r2.err)
	}
	if len(r1.stats.Refused) != 0 || r1.stats.OpsSent != 0 {
		t.Fatalf("the follower's side: %+v", r1.stats)
	}
	checkConverged(t, w.group, rm, rb)
}
