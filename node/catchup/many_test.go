package catchup

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// manyGroups is n groups founded by f's key, each with m's key as a
// member (invited, joined, admitted), held alike by both replicas.
type manyGroups struct {
	groups []crdt.ID
	f, m   []*author // per group: the same keys, each group's seq and prev
	rf, rm *MemoryReplica
}

func newManyGroups(t *testing.T, n int) *manyGroups {
	t.Helper()
	mg := &manyGroups{}
	mg.rf = NewMemoryReplica(newAuthor(1).pub, fixedNow)
	mg.rm = NewMemoryReplica(newAuthor(2).pub, fixedNow)
	cache := NewOpCache() // each op verified once, not once per replica and session
	mg.rf.SetOpCache(cache)
	mg.rm.SetOpCache(cache)
	for i := range n {
		f, m := newAuthor(1), newAuthor(2)
		g, genesis := f.genesis(fmt.Sprintf("group %d", i))
		join := m.join(g, f.invite(g, crdt.RoleMember))
		admit := f.admit(g, join)
		for _, r := range []*MemoryReplica{mg.rf, mg.rm} {
			r.AddGroup(g)
			mustAdd(t, r, genesis, join, admit)
		}
		mg.groups = append(mg.groups, g)
		mg.f, mg.m = append(mg.f, f), append(mg.m, m)
	}
	return mg
}

// readCounter counts the calls that read a replica's store: OpsAfter
// and Evidence, by group.
type readCounter struct {
	*MemoryReplica
	mu    sync.Mutex
	reads map[crdt.ID]int
}

func newReadCounter(r *MemoryReplica) *readCounter {
	return &readCounter{MemoryReplica: r, reads: map[crdt.ID]int{}}
}

func (c *readCounter) OpsAfter(g crdt.ID, a crdt.PublicKey, after uint64, fn func([]byte) error) error {
	c.count(g)
	return c.MemoryReplica.OpsAfter(g, a, after, fn)
}

func (c *readCounter) Evidence(g crdt.ID, fn func([]byte) error) error {
	c.count(g)
	return c.MemoryReplica.Evidence(g, fn)
}

func (c *readCounter) count(g crdt.ID) {
	c.mu.Lock()
	c.reads[g]++
	c.mu.Unlock()
}

func (c *readCounter) take() map[crdt.ID]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.reads
	c.reads = map[crdt.ID]int{}
	return out
}

// TestManyGroupsSync: two nodes sharing 300 groups, more than a round
// offers (protocol.MaxSyncGroups), sync every one of them in one
// session, a page of groups at a time, both ways.
func TestManyGroupsSync(t *testing.T) {
	const n = 300
	mg := newManyGroups(t, n)
	var fromF, fromM [][]byte
	for i, g := range mg.groups {
		fromF = append(fromF, mg.f[i].post(g, i))
		mustAdd(t, mg.rf, fromF[i])
		if i%2 == 1 {
			fromM = append(fromM, mg.m[i].post(g, i))
			mustAdd(t, mg.rm, fromM[len(fromM)-1])
		}
	}
	a, b := syncPair(mg.rf, mg.f[0].pub, mg.rm, mg.m[0].pub, nil)
	if a.err != nil || b.err != nil {
		t.Fatalf("%v / %v", a.err, b.err)
	}
	for i, g := range mg.groups {
		if !mg.rm.holds(protocol.OpID(fromF[i])) {
			t.Fatalf("group %d of %d (%s): the post did not reach the member", i, n, g.Short())
		}
		if mg.rf.Hash(g) != mg.rm.Hash(g) {
			t.Fatalf("group %d of %d: boards differ", i, n)
		}
	}
	for _, raw := range fromM {
		if !mg.rf.holds(protocol.OpID(raw)) {
			t.Fatal("a member's post did not reach the founder")
		}
	}
	if b.stats.NewOps != n || a.stats.NewOps != len(fromM) {
		t.Fatalf("new ops %d and %d, want %d and %d", b.stats.NewOps, a.stats.NewOps, n, len(fromM))
	}
	if a.stats.Rounds < 2 || len(a.stats.Synced) != n {
		t.Fatalf("%d rounds, %d groups synced; want 2 pages or more and %d", a.stats.Rounds, len(a.stats.Synced), n)
	}
}

// TestIdleSessionReadsNothing: once two nodes in 300 groups hold the
// same, a session settles every group by the digests, reads nothing of
// any group's ops (no OpsAfter, no Evidence) and sends a few dozen
// bytes. When one group changes, only that group is read, and the
// others are settled by their digests.
func TestIdleSessionReadsNothing(t *testing.T) {
	const n = 300
	mg := newManyGroups(t, n)
	for i, g := range mg.groups {
		mustAdd(t, mg.rf, mg.f[i].post(g, i))
	}
	if a, b := syncPair(mg.rf, mg.f[0].pub, mg.rm, mg.m[0].pub, nil); a.err != nil || b.err != nil {
		t.Fatalf("%v / %v", a.err, b.err)
	}
	cf, cm := newReadCounter(mg.rf), newReadCounter(mg.rm)
	a, b := runPair(context.Background(), cf, mg.f[0].pub, cm, mg.m[0].pub, nil)
	if a.err != nil || b.err != nil {
		t.Fatalf("%v / %v", a.err, b.err)
	}
	if rf, rm := cf.take(), cm.take(); len(rf) != 0 || len(rm) != 0 {
		t.Fatalf("an idle session read %d and %d groups' ops", len(rf), len(rm))
	}
	if a.stats.Settled != n || b.stats.Settled != n || len(a.stats.Synced) != n {
		t.Fatalf("settled %d and %d, synced %d, want %d", a.stats.Settled, b.stats.Settled, len(a.stats.Synced), n)
	}
	if a.stats.BytesSent > 100 || a.stats.OpsSent+b.stats.OpsSent != 0 {
		t.Fatalf("an idle session sent %d bytes, %d ops", a.stats.BytesSent, a.stats.OpsSent+b.stats.OpsSent)
	}
	t.Logf("idle session over %d groups: %d bytes each way", n, a.stats.BytesSent)

	// One group changes: the totals differ, the group digests find it.
	changed := mg.groups[n-7]
	post := mg.m[n-7].post(changed, 1)
	mustAdd(t, mg.rm, post)
	a, b = runPair(context.Background(), cf, mg.f[0].pub, cm, mg.m[0].pub, nil)
	if a.err != nil || b.err != nil {
		t.Fatalf("%v / %v", a.err, b.err)
	}
	if !mg.rf.holds(protocol.OpID(post)) {
		t.Fatal("the changed group's post did not arrive")
	}
	for _, reads := range []map[crdt.ID]int{cf.take(), cm.take()} {
		for g := range reads {
			if g != changed {
				t.Fatalf("group %s, held alike, was read", g.Short())
			}
		}
	}
	if a.stats.Settled != n-1 {
		t.Fatalf("settled %d, want %d", a.stats.Settled, n-1)
	}
}

// TestManyGroupsNewcomer: a newcomer that joined 300 groups offline
// (holding only its joins) meets a member of all of them: every join
// reaches the member, the groups past the first page included.
func TestManyGroupsNewcomer(t *testing.T) {
	const n = 300
	member := NewMemoryReplica(newAuthor(1).pub, fixedNow)
	newcomer := NewMemoryReplica(newAuthor(3).pub, fixedNow)
	cache := NewOpCache()
	member.SetOpCache(cache)
	newcomer.SetOpCache(cache)
	var joins [][]byte
	for i := range n {
		f, b := newAuthor(1), newAuthor(3)
		g, genesis := f.genesis(fmt.Sprintf("group %d", i))
		member.AddGroup(g)
		mustAdd(t, member, genesis)
		newcomer.AddGroup(g)
		join := b.join(g, f.invite(g, crdt.RoleMember))
		mustAdd(t, newcomer, join)
		newcomer.Vouch(g, f.pub)
		joins = append(joins, join)
	}
	a, b := syncPair(newcomer, newAuthor(3).pub, member, newAuthor(1).pub, nil)
	if a.err != nil || b.err != nil {
		t.Fatalf("%v / %v", a.err, b.err)
	}
	for i, join := range joins {
		if !member.holds(protocol.OpID(join)) {
			t.Fatalf("join %d of %d did not reach the member", i, n)
		}
	}
}
