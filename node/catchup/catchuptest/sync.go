package catchuptest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"maps"
	"net"
	"slices"
	"sync"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
	"github.com/mutual-aid/mutual/protocol"
)

// RunSync runs catch-up sessions (catchup.Run over net.Pipe) between
// replicas that a and b open, which may be of different kinds, and
// checks that they converge: the same version vectors, the same ops
// held, the same state hash, the reference model's.
func RunSync(t *testing.T, a, b Factory) {
	t.Run("DisjointOps", func(t *testing.T) { testSyncDisjoint(t, a, b) })
	t.Run("GapOneDirection", func(t *testing.T) { testSyncGap(t, a, b) })
	t.Run("Newcomer", func(t *testing.T) { testSyncNewcomer(t, a, b) })
	t.Run("ForkEvidence", func(t *testing.T) { testSyncFork(t, a, b) })
	t.Run("Removal", func(t *testing.T) { testSyncRemoval(t, a, b) })
	t.Run("InviteChain", func(t *testing.T) { testSyncInviteChain(t, a, b) })
	t.Run("ManyGroups", func(t *testing.T) { testSyncManyGroups(t, a, b) })
	t.Run("Follower", func(t *testing.T) { testSyncFollower(t, a, b) })
	t.Run("FollowerRefused", func(t *testing.T) { testSyncFollowerRefused(t, a, b) })
}

// Session is one side's outcome of a session.
type Session struct {
	Stats catchup.Stats
	Err   error
}

// Sync runs one session between x (the initiator, key kx) and y (key
// ky) over net.Pipe and returns both sides' outcomes.
func Sync(x catchup.Replica, kx crdt.PublicKey, y catchup.Replica, ky crdt.PublicKey) (sx, sy Session) {
	return SyncOptions(x, kx, catchup.Options{}, y, ky, catchup.Options{})
}

// SyncOptions is Sync with each side's options.
func SyncOptions(x catchup.Replica, kx crdt.PublicKey, ox catchup.Options, y catchup.Replica, ky crdt.PublicKey, oy catchup.Options) (sx, sy Session) {
	c1, c2 := net.Pipe()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		sx.Stats, sx.Err = catchup.RunOptions(context.Background(), c1, x, ky, true, ox)
		c1.Close()
	}()
	go func() {
		defer wg.Done()
		sy.Stats, sy.Err = catchup.RunOptions(context.Background(), c2, y, kx, false, oy)
		c2.Close()
	}()
	wg.Wait()
	return sx, sy
}

func mustSync(t *testing.T, x Node, kx crdt.PublicKey, y Node, ky crdt.PublicKey) (sx, sy Session) {
	t.Helper()
	sx, sy = Sync(x, kx, y, ky)
	if sx.Err != nil || sy.Err != nil {
		t.Fatalf("session: initiator %v, responder %v", sx.Err, sy.Err)
	}
	return sx, sy
}

// Converged fails t unless the nodes hold the same ops of group (in
// their logs or as evidence of forks: after a fork, two replicas may hold
// the two branches in opposite places), with the same version vectors,
// and compute the same state.
func Converged(t *testing.T, group crdt.ID, nodes ...Node) {
	t.Helper()
	v0 := vector(t, nodes[0], group)
	held0 := held(t, nodes[0], group)
	h0, err := nodes[0].StateHash(group)
	if err != nil {
		t.Fatalf("node 0: state hash: %v", err)
	}
	for i, n := range nodes[1:] {
		v := vector(t, n, group)
		if !maps.Equal(v, v0) {
			t.Fatalf("node %d: version vector %s; node 0: %s", i+1, fmtVector(v), fmtVector(v0))
		}
		if h := held(t, n, group); !maps.Equal(h, held0) {
			t.Fatalf("node %d holds other ops than node 0: %d and %d", i+1, len(h), len(held0))
		}
		h, err := n.StateHash(group)
		if err != nil {
			t.Fatalf("node %d: state hash: %v", i+1, err)
		}
		if h != h0 {
			t.Fatalf("node %d: state hash %s; node 0: %s", i+1, h.Short(), h0.Short())
		}
	}
}

// held returns the IDs of the ops of group that r holds: in its authors'
// logs, and as evidence of forks.
func held(t *testing.T, r catchup.Replica, g crdt.ID) map[crdt.ID]bool {
	t.Helper()
	v, err := r.VersionVector(g)
	if err != nil {
		t.Fatalf("VersionVector: %v", err)
	}
	out := map[crdt.ID]bool{}
	for a := range v {
		for _, raw := range opsAfter(t, r, g, a, 0) {
			out[protocol.OpID(raw)] = true
		}
	}
	for _, raw := range evidence(t, r, g) {
		out[protocol.OpID(raw)] = true
	}
	return out
}

// observer returns the key of a node that is no member of the groups
// under test: its replica witnesses nothing by itself.
func observer(i uint64) ed25519.PrivateKey { return NewAuthor(100 + i).Key }

// founderAndMember returns the founder's replica (of kind a) and the
// member's (of kind b), both holding the genesis, the member's join and
// the founder's witness of it, and those ops.
func founderAndMember(t *testing.T, a, b Factory) (fx *fixture, rf, rm Node, base [][]byte) {
	fx = newFixture()
	base = [][]byte{fx.gen, fx.mJoin, fx.f.Admit(fx.group, fx.mJoin)}
	rf = a.Follow(t, observer(1), fx.gen)
	rm = b.Follow(t, observer(2), fx.gen)
	ingest(t, rf, base...)
	ingest(t, rm, base...)
	return fx, rf, rm, base
}

func testSyncDisjoint(t *testing.T, a, b Factory) {
	fx, rf, rm, base := founderAndMember(t, a, b)
	fPosts, mPosts := fx.f.Posts(fx.group, 20), fx.m.Posts(fx.group, 20)
	ingest(t, rf, fPosts...)
	ingest(t, rm, mPosts...)
	hf, _ := rf.StateHash(fx.group)
	hm, _ := rm.StateHash(fx.group)
	if hf == hm {
		t.Fatal("the boards are equal before the session")
	}
	sf, sm := mustSync(t, rf, fx.f.Pub, rm, fx.m.Pub)
	Converged(t, fx.group, rf, rm)
	wantVector(t, rf, fx.group, map[crdt.PublicKey]uint64{fx.f.Pub: 22, fx.m.Pub: 21}, "after the session")
	wantState(t, rf, fx.group, "after the session", slices.Concat(base, fPosts, mPosts)...)
	for _, s := range []catchup.Stats{sf.Stats, sm.Stats} {
		if s.OpsSent != 20 || s.OpsReceived != 20 || s.NewOps != 20 {
			t.Fatalf("stats %+v: want 20 ops sent, received and new on each side", s)
		}
	}
	sf, sm = mustSync(t, rm, fx.m.Pub, rf, fx.f.Pub)
	if n := sf.Stats.OpsSent + sm.Stats.OpsSent; n != 0 {
		t.Fatalf("a second session sent %d ops, want 0", n)
	}
}

func testSyncGap(t *testing.T, a, b Factory) {
	fx, rf, rm, _ := founderAndMember(t, a, b)
	ingest(t, rf, fx.f.Posts(fx.group, 700)...)
	// The one behind initiates.
	sm, sf := mustSync(t, rm, fx.m.Pub, rf, fx.f.Pub)
	Converged(t, fx.group, rf, rm)
	if sm.Stats.NewOps != 700 || sf.Stats.OpsSent != 700 || sm.Stats.OpsSent != 0 || sf.Stats.NewOps != 0 {
		t.Fatalf("behind %+v, ahead %+v", sm.Stats, sf.Stats)
	}
}

// A newcomer (of kind b) invited by the founder meets a member (of kind
// b) the invite code named, the founder being away. Its join does not
// count yet, so it offers its own ops to the members the code named: the
// member's node stores the join (the
// invite's issuer is known there) and the member witnesses it; at the
// next session the member shares the board. Then the founder (of kind
// a) meets both.
func testSyncNewcomer(t *testing.T, a, b Factory) {
	fx, rf, rm, base := founderAndMember(t, a, b)
	fPosts, mPosts := fx.f.Posts(fx.group, 15), fx.m.Posts(fx.group, 15)
	ingest(t, rf, fPosts...)
	ingest(t, rm, mPosts...)

	n := NewAuthor(5)
	code := fx.f.Invite(fx.group, crdt.RoleMember)
	code.Members = append(code.Members, fx.m.Pub)
	rn := b.Newcomer(t, n.Key, code)
	join := opsAfter(t, rn, fx.group, n.Pub, 0)
	if rm.MayRead(fx.group, n.Pub) {
		t.Fatal("a member's node trusts a newcomer it has not met")
	}
	sm, sn := mustSync(t, rm, fx.m.Pub, rn, n.Pub)
	if sn.Stats.OpsSent != 1 || sm.Stats.OpsSent != 0 {
		t.Fatalf("the newcomer sent %d ops, the member %d; want its join, and nothing", sn.Stats.OpsSent, sm.Stats.OpsSent)
	}
	wantOps(t, rm, fx.group, n.Pub, 0, join, "the member's node after meeting the newcomer")
	if rm.MayRead(fx.group, n.Pub) {
		t.Fatal("the member's node shares the board with a newcomer nobody witnessed")
	}
	admit := fx.m.Admit(fx.group, join[0])
	wantIngest(t, rm, 1, "the member's witness of the join", admit)
	if !rm.MayRead(fx.group, n.Pub) {
		t.Fatal("the member's node does not share the board with the newcomer it admitted")
	}
	mustSync(t, rn, n.Pub, rm, fx.m.Pub)
	Converged(t, fx.group, rm, rn)
	if !rn.MayRead(fx.group, fx.m.Pub) || rn.MayRead(fx.group, fx.s.Pub) {
		t.Fatal("the newcomer, admitted, does not share with members only")
	}
	wantState(t, rn, fx.group, "the newcomer after the second session", slices.Concat(base, mPosts, join, [][]byte{admit})...)

	mustSync(t, rf, fx.f.Pub, rn, n.Pub)
	mustSync(t, rm, fx.m.Pub, rf, fx.f.Pub)
	Converged(t, fx.group, rf, rn, rm)
	wantState(t, rf, fx.group, "everyone met", slices.Concat(base, fPosts, mPosts, join, [][]byte{admit})...)
}

// A fork travels. The member signed two ops at seq 2: replica X holds
// both (one in its log, one as evidence), Y only the one X keeps as
// evidence. Their vectors agree, so only the evidence, with the op of
// X's log that it conflicts with, can tell Y. After one session both
// hold both ops, and neither counts the member's ops from seq 2 on.
func testSyncFork(t *testing.T, a, b Factory) {
	fx, rx, ry, base := founderAndMember(t, a, b)
	twin := fx.m.Fork()
	left, right := fx.m.Post(fx.group, 0), twin.Post(fx.group, 1)
	wantIngest(t, rx, 2, "both branches", left, right)
	wantIngest(t, ry, 1, "one branch", right)
	if ev := evidence(t, rx, fx.group); !slices.EqualFunc(ev, [][]byte{right}, bytes.Equal) {
		t.Fatalf("X keeps as evidence %s, want the second op", fmtOps(t, ev))
	}
	if b := wantState(t, ry, fx.group, "Y before the session", append(slices.Clone(base), right)...); !onBoard(b, right) {
		t.Fatal("reference: the member's post does not count")
	}
	mustSync(t, rx, fx.f.Pub, ry, fx.m.Pub)
	Converged(t, fx.group, rx, ry)
	if len(evidence(t, ry, fx.group)) != 1 {
		t.Fatal("Y keeps no evidence of the fork")
	}
	all := append(slices.Clone(base), left, right)
	for i, r := range []Node{rx, ry} {
		b := wantState(t, r, fx.group, fmt.Sprintf("replica %d after the session", i), all...)
		if b.Group.ForkedAt(fx.m.Pub) != 2 || onBoard(b, left) || onBoard(b, right) {
			t.Fatal("reference: the fork does not void the member's ops from seq 2")
		}
	}
}

// The founder removes member m with a cut at the last op of m its node
// held, while m, offline, keeps posting; m's later posts reach a member
// p that has not seen the removal. After sessions among the founder's,
// p's and a third member q's replicas, m's posts up to the cut are on
// every board, those past it on none.
func testSyncRemoval(t *testing.T, a, b Factory) {
	fx := newFixture()
	f, m := fx.f, fx.m
	p, q := NewAuthor(6), NewAuthor(7)
	p.Wall, q.Wall = f.Wall, f.Wall
	pJoin := p.Join(fx.group, f.Invite(fx.group, crdt.RoleMember))
	qJoin := q.Join(fx.group, f.Invite(fx.group, crdt.RoleMember))
	base := [][]byte{fx.gen, fx.mJoin, f.Admit(fx.group, fx.mJoin), pJoin, f.Admit(fx.group, pJoin), qJoin, f.Admit(fx.group, qJoin)}
	m.Wall = f.Wall
	before := m.Posts(fx.group, 2) // seqs 2, 3: the founder's node holds them
	remove := f.Remove(fx.group, m.Pub, m.Seq())
	after := m.Posts(fx.group, 3) // seqs 4..6, made offline

	rf, rp, rq := a.Follow(t, observer(1), fx.gen), b.Follow(t, observer(2), fx.gen), a.Follow(t, observer(3), fx.gen)
	ingest(t, rf, append(slices.Concat(base, before), remove)...)
	ingest(t, rp, slices.Concat(base, before, after)...)
	ingest(t, rq, base...)
	if b := wantState(t, rp, fx.group, "p before the sessions", slices.Concat(base, before, after)...); !onBoard(b, after[0]) {
		t.Fatal("reference: m's posts do not count before the removal")
	}
	mustSync(t, rf, f.Pub, rp, p.Pub)
	mustSync(t, rp, p.Pub, rq, q.Pub)
	mustSync(t, rq, q.Pub, rf, f.Pub)
	Converged(t, fx.group, rf, rp, rq)
	all := append(slices.Concat(base, before, after), remove)
	for i, r := range []Node{rf, rp, rq} {
		b := wantState(t, r, fx.group, fmt.Sprintf("replica %d after the sessions", i), all...)
		if !onBoard(b, before[1]) || onBoard(b, after[0]) {
			t.Fatal("reference: the cut does not split m's posts")
		}
	}
	if rf.MayRead(fx.group, m.Pub) {
		t.Fatal("the founder's node shares the board with the member it removed")
	}
}

// The first ops of authors the peer does not know go first, oldest
// first: a join is stored only once its invite's issuer is known. The
// founder invites c as an admin, c invites d; d's key sorts before c's,
// so an order by key would send d's join before c's, to be dropped and
// sent again. One pass sends each op once.
func testSyncInviteChain(t *testing.T, a, b Factory) {
	fx := newFixture()
	c, d := NewAuthor(6), NewAuthor(7)
	if d.Pub.Compare(c.Pub) > 0 {
		c, d = d, c
	}
	c.Wall = fx.f.Wall
	cJoin := c.Join(fx.group, fx.f.Invite(fx.group, crdt.RoleAdmin))
	admitC := fx.f.Admit(fx.group, cJoin)
	code := c.Invite(fx.group, crdt.RoleMember)
	d.Wall = c.Wall
	dJoin := d.Join(fx.group, code)
	ops := [][]byte{cJoin, admitC, dJoin, c.Admit(fx.group, dJoin), d.Post(fx.group, 0)}

	rx := a.Follow(t, observer(1), fx.gen)
	ingest(t, rx, ops...)
	ry := b.Follow(t, observer(2), fx.gen)
	sx, sy := mustSync(t, rx, c.Pub, ry, fx.f.Pub)
	Converged(t, fx.group, rx, ry)
	// y holds no op of c's key, so c may be a stranger there: y asks for
	// everything, and gets the genesis it holds too (see the Want phase).
	if sx.Stats.OpsSent != len(ops)+1 || sy.Stats.NewOps != len(ops) {
		t.Fatalf("%d ops sent, %d stored, for %d the peer lacked (and the genesis): some were dropped and sent again (did the joins go oldest first?)", sx.Stats.OpsSent, sy.Stats.NewOps, len(ops))
	}
	if b := wantState(t, ry, fx.group, "after the session", append([][]byte{fx.gen}, ops...)...); !onBoard(b, ops[4]) {
		t.Fatal("reference: d's post does not count")
	}
}
