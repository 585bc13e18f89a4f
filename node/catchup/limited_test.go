package catchup

import (
	"context"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// A node that is not a member gives a stranger nothing of the group,
// even one that replicates it (a follower, a former member): a node that
// left holds the group's ops, contacts included, and once offered them
// to any peer. A newcomer gives any peer its own ops, and only those.
func TestNonMembersGiveStrangersNothingOfTheGroup(t *testing.T) {
	w, f, m, rf, rm := pair(t)
	for i := range 5 {
		mustAdd(t, rf, f.post(w.group, i))
	}
	syncPair(rf, f.pub, rm, m.pub, nil)

	// m leaves; a stranger that replicates the group meets m.
	_, raw := m.sign(w.group, crdt.Leave{})
	mustAdd(t, rm, raw)
	stranger := newAuthor(9)
	rs := w.replica(stranger) // it replicates the group: it holds the genesis
	mustAdd(t, rs, w.ops[0])
	a, b := syncPair(rm, m.pub, rs, stranger.pub, nil)
	if a.err != nil || b.err != nil || a.stats.OpsSent != 0 {
		t.Fatalf("a member that left sent a stranger %d ops (%v %v)", a.stats.OpsSent, a.err, b.err)
	}

	// A newcomer that holds the group's ops (it joined before, was
	// removed, and joins again with a new invite) sends a stranger
	// nothing, not even its own ops: it offers those to the members its
	// invite code named only.
	n := newAuthor(3)
	rn := w.replica(n)
	v, err := rf.VersionVector(w.group)
	if err != nil {
		t.Fatal(err)
	}
	var held [][]byte
	for a := range v {
		if err := rf.OpsAfter(w.group, a, 0, func(raw []byte) error { held = append(held, raw); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	// Twice: an op whose author's join comes later in the batch is kept
	// only the second time (crdt.Storable).
	for range 2 {
		if _, err := rn.Ingest(context.Background(), held); err != nil {
			t.Fatal(err)
		}
	}
	for _, raw := range held {
		if !rn.holds(protocol.OpID(raw)) {
			t.Fatalf("the newcomer does not hold op %s of the group", protocol.OpID(raw).Short())
		}
	}
	join := n.join(w.group, f.invite(w.group, crdt.RoleMember))
	post := n.post(w.group, 0)
	mustAdd(t, rn, join, post)
	a, b = syncPair(rn, n.pub, rs, stranger.pub, nil)
	if a.err != nil || b.err != nil {
		t.Fatal(a.err, b.err)
	}
	if a.stats.OpsSent != 0 || rs.holds(protocol.OpID(join)) {
		t.Fatalf("the newcomer sent a stranger %d ops; want none", a.stats.OpsSent)
	}
}

// A member removed while it was away learns it at its next session with
// a member: it gets the removal (and nothing else of the group), and its
// own ops past the cut go off its own board.
func TestRemovedMemberLearnsItsRemoval(t *testing.T) {
	w, f, m, rf, rm := pair(t)
	mustAdd(t, rm, m.post(w.group, 0))
	syncPair(rf, f.pub, rm, m.pub, nil)
	cut := m.seq
	late := m.post(w.group, 1) // made offline, after what f saw
	mustAdd(t, rm, late)
	_, removal := f.sign(w.group, crdt.SetRole{Member: m.pub, Role: crdt.RoleNone, Cut: cut})
	mustAdd(t, rf, removal, f.post(w.group, 99))
	if !rm.onBoard(w.group, late) {
		t.Fatal("before it learns, the member's own late post is on its board")
	}
	a, b := syncPair(rf, f.pub, rm, m.pub, nil)
	if a.err != nil || b.err != nil {
		t.Fatal(a.err, b.err)
	}
	if a.stats.OpsSent != 1 || !rm.holds(protocol.OpID(removal)) {
		t.Fatalf("the founder sent the removed member %d ops; want the removal only", a.stats.OpsSent)
	}
	if rm.onBoard(w.group, late) || rf.onBoard(w.group, late) {
		t.Fatal("the removed member's post after the cut counts")
	}
	rm.mu.Lock()
	mem := rm.groups[w.group].board.Group.Member(m.pub)
	rm.mu.Unlock()
	if mem == nil || !mem.Removed {
		t.Fatalf("the removed member's node does not know it was removed: %+v", mem)
	}
}
