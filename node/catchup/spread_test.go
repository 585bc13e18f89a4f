package catchup

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"slices"
	"sync"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// recordConn records what is written to it.
type recordConn struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *recordConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	c.buf.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

// sent is what one side of a session wrote, frame by frame.
type sent struct {
	frames  map[protocol.MsgType]int
	entries int             // vector entries in Have and Want frames
	named   map[crdt.ID]int // vector entries by the group of the Have or Want
	digests int             // group digests named in Digest frames
}

func (c *recordConn) sent(t *testing.T) sent {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	s := sent{frames: map[protocol.MsgType]int{}, named: map[crdt.ID]int{}}
	br := bufio.NewReader(bytes.NewReader(c.buf.Bytes()))
	for {
		f, err := protocol.ReadFrame(br)
		if err == io.EOF {
			return s
		}
		if err != nil {
			t.Fatalf("reading back what a side sent: %v", err)
		}
		s.frames[f.Type]++
		switch f.Type {
		case protocol.MsgHave, protocol.MsgWant:
			s.entries += len(f.Vector)
			s.named[f.Group] += len(f.Vector)
		case protocol.MsgDigest:
			s.digests += len(f.Digests)
		}
	}
}

// vectors returns the Have and Want frames sent.
func (s sent) vectors() int { return s.frames[protocol.MsgHave] + s.frames[protocol.MsgWant] }

// recordPair runs a session between a (initiator) and b with their
// options over net.Pipe, and returns what each side sent.
func recordPair(t *testing.T, a Replica, ka crdt.PublicKey, oa Options, b Replica, kb crdt.PublicKey, ob Options) (ra, rb result, sa, sb sent) {
	t.Helper()
	c1, c2 := net.Pipe()
	w1, w2 := &recordConn{Conn: c1}, &recordConn{Conn: c2}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		ra.stats, ra.err = RunOptions(context.Background(), w1, a, kb, true, oa)
		c1.Close()
	}()
	go func() {
		defer wg.Done()
		rb.stats, rb.err = RunOptions(context.Background(), w2, b, ka, false, ob)
		c2.Close()
	}()
	wg.Wait()
	if ra.err != nil || rb.err != nil {
		t.Fatalf("session: %v / %v", ra.err, rb.err)
	}
	return ra, rb, w1.sent(t), w2.sent(t)
}

// TestSpreadSendsWhatDiffers: two members of 40 groups, each of eight
// authors, that hold all alike but one op of one author in one group (a
// spread session passing on a post). Only that group's vectors cross:
// the other 39 settle by their digests, so the vector entries sent are
// that group's authors, not the 320 of all groups.
func TestSpreadSendsWhatDiffers(t *testing.T) {
	const n, extra = 40, 6
	mg := newManyGroups(t, n)
	for i, g := range mg.groups {
		f := mg.f[i]
		for k := range extra {
			x := newAuthor(uint64(100 + k))
			x.wall = f.wall
			join := x.join(g, f.invite(g, crdt.RoleMember))
			admit := f.admit(g, join)
			post := x.post(g, k)
			mustAdd(t, mg.rf, join, admit, post)
			mustAdd(t, mg.rm, join, admit, post)
		}
	}
	const authors = 2 + extra
	a, b, _, _ := recordPair(t, mg.rf, mg.f[0].pub, Options{}, mg.rm, mg.m[0].pub, Options{})
	if a.stats.Settled != n || b.stats.Settled != n {
		t.Fatalf("settled %d and %d of %d groups held alike", a.stats.Settled, b.stats.Settled, n)
	}

	k := n / 3
	changed := mg.groups[k]
	post := mg.m[k].post(changed, 99)
	mustAdd(t, mg.rm, post)
	a, b, sa, sb := recordPair(t, mg.rf, mg.f[0].pub, Options{}, mg.rm, mg.m[0].pub, Options{})
	if !mg.rf.holds(protocol.OpID(post)) || a.stats.NewOps != 1 {
		t.Fatalf("the post did not arrive: %+v", a.stats)
	}
	if !slices.Equal(a.stats.Fresh, []crdt.ID{changed}) || len(b.stats.Fresh) != 0 {
		t.Fatalf("fresh groups %v and %v, want [%s] and none", a.stats.Fresh, b.stats.Fresh, changed.Short())
	}
	for side, s := range []sent{sa, sb} {
		for g := range s.named {
			if g != changed {
				t.Fatalf("side %d sent a vector of group %s, held alike", side, g.Short())
			}
		}
		if s.entries > authors {
			t.Fatalf("side %d sent %d vector entries; the group that differs has %d authors", side, s.entries, authors)
		}
		t.Logf("side %d: %d vector entries, %d group digests, frames %v", side, s.entries, s.digests, s.frames)
	}
	if a.stats.Settled != n-1 || b.stats.Settled != n-1 {
		t.Fatalf("settled %d and %d, want %d", a.stats.Settled, b.stats.Settled, n-1)
	}
}

// followerPair is group G of founder A, with B following it from A: a
// first session serves B the board, and A records B as a follower.
func followerPair(t *testing.T) (w *world, f *author, ra *MemoryReplica, b *author, rb *MemoryReplica, followers []crdt.ID) {
	t.Helper()
	w, f, _, ra, _ = pair(t)
	for i := range 5 {
		mustAdd(t, ra, f.post(w.group, i))
	}
	b = newAuthor(40)
	rb = NewMemoryReplica(b.pub, fixedNow)
	rb.Follow(w.group, f.pub)
	r1, r2, _, _ := recordPair(t, rb, b.pub, Options{}, ra, f.pub, Options{})
	if !slices.Contains(r2.stats.Followers, w.group) || r1.stats.NewOps == 0 {
		t.Fatalf("A did not serve B as a follower: %+v / %+v", r1.stats, r2.stats)
	}
	checkConverged(t, w.group, ra, rb)
	return w, f, ra, b, rb, r2.stats.Followers
}

// TestFollowerIdleSessionSendsNoVectors: a member and a follower that
// hold the group alike settle it by its digest, as two members do: no
// Have or Want crosses, and the member still counts the peer as a
// follower of the group (it goes on pushing new ops to it). Once the
// member holds a new op, the next session carries it.
func TestFollowerIdleSessionSendsNoVectors(t *testing.T) {
	w, f, ra, b, rb, followers := followerPair(t)

	r1, r2, s1, s2 := recordPair(t, rb, b.pub, Options{}, ra, f.pub, Options{Followers: followers})
	if s1.vectors()+s2.vectors() != 0 || r1.stats.Settled != 1 || r2.stats.Settled != 1 {
		t.Fatalf("an idle member-follower session sent %d and %d Have/Want frames, settled %d and %d",
			s1.vectors(), s2.vectors(), r1.stats.Settled, r2.stats.Settled)
	}
	if !slices.Equal(r2.stats.Followers, []crdt.ID{w.group}) {
		t.Fatalf("the member no longer counts the follower: %v", r2.stats.Followers)
	}
	t.Logf("idle member-follower session: %d and %d bytes", r1.stats.BytesSent, r2.stats.BytesSent)

	post := f.post(w.group, 50)
	mustAdd(t, ra, post)
	_, _, s1, s2 = recordPair(t, rb, b.pub, Options{}, ra, f.pub, Options{Followers: r2.stats.Followers})
	if !rb.holds(protocol.OpID(post)) {
		t.Fatal("the member's new post did not reach the follower")
	}
	if s1.vectors() == 0 {
		t.Fatal("the follower did not offer the group that differs")
	}
	checkConverged(t, w.group, ra, rb)

	// Without the member's record of its followers (a restart), the
	// group goes by its vectors, as before.
	_, _, s1, s2 = recordPair(t, rb, b.pub, Options{}, ra, f.pub, Options{})
	if s1.vectors() == 0 {
		t.Fatal("a member that knows no follower settled a group it does not digest")
	}
}

// TestFollowersIdleSessionSendsNoVectors: two followers of a group,
// each the other's source (Limit.Follow: each offers the other its whole
// vector), settle it by its digest once they hold it alike.
func TestFollowersIdleSessionSendsNoVectors(t *testing.T) {
	w, _, _, b, rb, _ := followerPair(t)
	d := newAuthor(41)
	rd := NewMemoryReplica(d.pub, fixedNow)
	rd.Follow(w.group, b.pub)
	rb.Follow(w.group, d.pub)
	r1, r2, _, _ := recordPair(t, rd, d.pub, Options{}, rb, b.pub, Options{})
	if r1.stats.NewOps == 0 {
		t.Fatalf("D got nothing from B: %+v / %+v", r1.stats, r2.stats)
	}
	checkConverged(t, w.group, rb, rd)
	r1, r2, s1, s2 := recordPair(t, rd, d.pub, Options{}, rb, b.pub, Options{})
	if s1.vectors()+s2.vectors() != 0 || r1.stats.Settled != 1 || r2.stats.Settled != 1 {
		t.Fatalf("an idle follower-follower session sent %d and %d Have/Want frames, settled %d and %d",
			s1.vectors(), s2.vectors(), r1.stats.Settled, r2.stats.Settled)
	}
	if !slices.Contains(r1.stats.Followers, w.group) || !slices.Contains(r2.stats.Followers, w.group) {
		t.Fatalf("a follower no longer counts the other: %v / %v", r1.stats.Followers, r2.stats.Followers)
	}
}

// TestFollowerDigestTellsStrangersNothing: a member digests a group for
// a peer that is no member only if it would serve the peer the group as
// a follower: a peer it may not serve (an allies-only group) learns
// nothing from its digests, even if the caller's record names the group.
func TestFollowerDigestTellsStrangersNothing(t *testing.T) {
	_, f, ra, _, _, _ := followerPair(t)
	f2 := newAuthor(1) // f's key, its own seqs in the new group
	f2.wall = f.wall
	g2, genesis := f2.genesis("allies only")
	ra.AddGroup(g2)
	_, fed := f2.sign(g2, crdt.Federation{Policy: crdt.FollowAllies})
	mustAdd(t, ra, genesis, fed)
	s := newAuthor(77)
	rs := NewMemoryReplica(s.pub, fixedNow)
	_, r2, _, s2 := recordPair(t, rs, s.pub, Options{}, ra, f.pub, Options{Followers: []crdt.ID{g2}})
	if s2.digests != 0 || s2.vectors() != 0 || len(r2.stats.Followers) != 0 {
		t.Fatalf("the member told a stranger %d group digests, %d vectors; followers %v", s2.digests, s2.vectors(), r2.stats.Followers)
	}
}

// TestShares: a spread goes to the peers that share a group with new
// ops: its members, and its followers; not to a stranger, nor to a
// peer of another group.
func TestShares(t *testing.T) {
	w, _, m, ra, _ := pair(t)
	stranger := newAuthor(66)
	follower := newAuthor(40)
	other := crdt.ID{1}
	for _, c := range []struct {
		name      string
		peer      crdt.PublicKey
		groups    []crdt.ID
		followers []crdt.ID
		want      bool
	}{
		{"member", m.pub, []crdt.ID{w.group}, nil, true},
		{"member, another group", m.pub, []crdt.ID{other}, nil, false},
		{"stranger", stranger.pub, []crdt.ID{w.group}, nil, false},
		{"follower served", follower.pub, []crdt.ID{w.group}, []crdt.ID{w.group}, true},
		{"follower of another group", follower.pub, []crdt.ID{w.group}, []crdt.ID{other}, false},
	} {
		if got := Shares(ra, c.peer, c.groups, c.followers); got != c.want {
			t.Errorf("%s: Shares = %v, want %v", c.name, got, c.want)
		}
	}
}
