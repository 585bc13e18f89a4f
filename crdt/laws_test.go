package crdt_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"pgregory.net/rapid"
)

// The board is a pure function of the set of ops held: any order of
// arrival, any number of copies, and any points at which a replica looks
// at its board on the way give the same state hash, the same members,
// invites and forks, the same ops that count and the same posts.
func TestBoardConvergesUnderPermutationAndDuplication(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := genWorld(t)
		want := snapshot(boardOf(w.ops, w.group), w.ops)
		for r := range rapid.IntRange(1, 3).Draw(t, "replicas") {
			label := fmt.Sprint("replica ", r)
			b := crdt.NewBoard(w.group)
			deliver(t, b, shuffledWithDuplicates(t, w.ops, label), label)
			requireSameState(t, label, want, snapshot(b, w.ops))
		}
	})
}

// Replicas that hold different subsets of the ops (gaps in authors' logs,
// joins without their admits, removals without what they cut) each show
// the board of exactly the set they hold, whatever the order; once each
// has received the rest, in any order, they all show the same board.
func TestReplicasConverge(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := genWorld(t)
		n := rapid.IntRange(2, 4).Draw(t, "replicas")
		boards := make([]*crdt.Board, n)
		for r := range boards {
			label := fmt.Sprint("replica ", r)
			keep := rapid.SliceOfN(rapid.Bool(), len(w.ops), len(w.ops)).Draw(t, label+" holds")
			var have, rest []crdt.Op
			for i, op := range w.ops {
				if keep[i] {
					have = append(have, op)
				} else {
					rest = append(rest, op)
				}
			}
			boards[r] = crdt.NewBoard(w.group)
			deliver(t, boards[r], shuffledWithDuplicates(t, have, label), label)
			requireSameState(t, label+" with a subset", snapshot(boardOf(have, w.group), w.ops), snapshot(boards[r], w.ops))
			deliver(t, boards[r], shuffledWithDuplicates(t, rest, label+" rest"), label+" rest")
		}
		want := snapshot(boards[0], w.ops)
		requireSameState(t, "replica 0 and a new board", snapshot(boardOf(w.ops, w.group), w.ops), want)
		for r := 1; r < n; r++ {
			requireSameState(t, fmt.Sprint("replicas 0 and ", r), want, snapshot(boards[r], w.ops))
		}
	})
}

// Merging is the union of sets: a board that received S1 then S2 equals
// one that received S2 then S1 and one that received S1 ∪ S2 at once
// (commutative, associative); receiving any of them again changes
// nothing (idempotent).
func TestBoardMergeIsUnion(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := genWorld(t)
		in := rapid.SliceOfN(rapid.IntRange(0, 2), len(w.ops), len(w.ops)).Draw(t, "in S1, S2 or both")
		var s1, s2 []crdt.Op
		for i, op := range w.ops {
			if in[i] != 1 {
				s1 = append(s1, op)
			}
			if in[i] != 0 {
				s2 = append(s2, op)
			}
		}
		ab, ba := crdt.NewBoard(w.group), crdt.NewBoard(w.group)
		deliver(t, ab, s1, "S1 first")
		deliver(t, ab, s2, "then S2")
		deliver(t, ba, s2, "S2 first")
		deliver(t, ba, s1, "then S1")
		want := snapshot(boardOf(w.ops, w.group), w.ops)
		requireSameState(t, "S1 then S2", want, snapshot(ab, w.ops))
		requireSameState(t, "S2 then S1", want, snapshot(ba, w.ops))
		deliver(t, ab, shuffledWithDuplicates(t, s1, "S1 again"), "S1 again")
		requireSameState(t, "S1 again", want, snapshot(ab, w.ops))
	})
}

// The board's state, however it was reached, equals one computed from
// scratch from the spec: each author's fork from the spec's definition
// (specForks, not board.go's), a new Group given every membership op and
// those forks, and each post rebuilt from its ops with the roles that
// Group gives.
func TestBoardEqualsReplayFromScratch(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := genWorld(t)
		b := crdt.NewBoard(w.group)
		deliver(t, b, shuffledWithDuplicates(t, w.ops, "delivery"), "delivery")

		g := crdt.NewGroup(w.group)
		for i := range w.ops {
			g.Hold(&w.ops[i])
		}
		forks := specForks(w.ops)
		for a, f := range forks {
			g.Fork(a, f)
		}
		b.Refresh()
		if got := b.Group.Forks(); !reflect.DeepEqual(got, forks) {
			t.Fatalf("forks %s; the spec says %s", namedSeqs(got, shortName), namedSeqs(forks, shortName))
		}
		for _, op := range w.ops {
			if crdt.IsMembership(&op) && b.Group.Counts(op.ID) != g.Counts(op.ID) {
				t.Fatalf("%s by %s at seq %d: counts %v on the board, %v from scratch", op.Body.Kind(), op.Author.String()[:8], op.Seq, b.Group.Counts(op.ID), g.Counts(op.ID))
			}
		}
		if !reflect.DeepEqual(b.Group.Members(), g.Members()) {
			t.Fatalf("members differ:\n%+v\n%+v", b.Group.Members(), g.Members())
		}
		if !reflect.DeepEqual(b.Group.Spans(), g.Spans()) || !reflect.DeepEqual(b.Group.Invites(), g.Invites()) {
			t.Fatalf("spans or invites differ:\n%+v %+v\n%+v %+v", b.Group.Spans(), b.Group.Invites(), g.Spans(), g.Invites())
		}
		posts := map[crdt.ID]crdt.Post{}
		for _, op := range w.ops {
			if _, ok := op.Body.(crdt.PostCreate); ok {
				if p := crdt.RebuildPost(w.group, op.ID, w.ops, func(op *crdt.Op) crdt.Role { return g.RoleAt(op.Author, op.Seq) }); p != nil {
					posts[p.ID] = *p
				}
			}
		}
		if got := snapshot(b, nil).Posts; !reflect.DeepEqual(got, posts) {
			t.Fatalf("posts differ:\n%+v\n%+v", got, posts)
		}
	})
}

// A Group driven as a node drives it — ops held one by one in any order,
// each author's fork set as its log grows (before or after the op is
// held: a node finds a break when it links the op, before it stores it),
// the membership read in between — ends as a Group given everything at
// once: its cached evaluation is dropped whenever what it depends on
// changed.
func TestGroupOrderIndependent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := genWorld(t)
		order := shuffledWithDuplicates(t, w.ops, "delivery")
		g := crdt.NewGroup(w.group)
		var held []crdt.Op
		for i, op := range order {
			forkFirst := rapid.Bool().Draw(t, fmt.Sprint("fork first ", i))
			if !forkFirst {
				g.Hold(&op)
			}
			held = append(held, op)
			for a, f := range specForks(held) {
				g.Fork(a, f)
			}
			if forkFirst {
				g.Hold(&op)
			}
			if rapid.Bool().Draw(t, fmt.Sprint("look ", i)) {
				g.Members()
			}
		}
		fresh := crdt.NewGroup(w.group)
		for i := range w.ops {
			fresh.Hold(&w.ops[i])
		}
		for a, f := range specForks(w.ops) {
			fresh.Fork(a, f)
		}
		if !reflect.DeepEqual(g.Forks(), fresh.Forks()) {
			t.Fatalf("forks differ: %s, %s", namedSeqs(g.Forks(), shortName), namedSeqs(fresh.Forks(), shortName))
		}
		if !reflect.DeepEqual(g.Members(), fresh.Members()) {
			t.Fatalf("members differ:\n%+v\n%+v", g.Members(), fresh.Members())
		}
		if !reflect.DeepEqual(g.Spans(), fresh.Spans()) || !reflect.DeepEqual(g.Invites(), fresh.Invites()) || !reflect.DeepEqual(g.Pending(), fresh.Pending()) {
			t.Fatalf("spans, invites or pending joins differ")
		}
		for _, op := range w.ops {
			if g.Counts(op.ID) != fresh.Counts(op.ID) {
				t.Fatalf("%s by %s at seq %d: counts %v, %v from scratch", op.Body.Kind(), op.Author.String()[:8], op.Seq, g.Counts(op.ID), fresh.Counts(op.ID))
			}
		}
	})
}

// Removing a member changes the state hash: a current admin (not forked)
// removes another member, cutting after all its ops; the removal counts,
// the member is gone, and the hash is not what it was.
func TestRemovalChangesHash(t *testing.T) {
	removals := 0
	rapid.Check(t, func(t *rapid.T) {
		w := genWorld(t)
		b := boardOf(w.ops, w.group)
		before := b.Hash()
		var admins, members []crdt.PublicKey
		for _, m := range b.Group.Members() {
			if m.Role == crdt.RoleNone {
				continue
			}
			members = append(members, m.Key)
			if m.Role == crdt.RoleAdmin && m.Forked == 0 {
				admins = append(admins, m.Key)
			}
		}
		if len(admins) == 0 || len(members) < 2 {
			return
		}
		admin := rapid.SampledFrom(admins).Draw(t, "admin")
		member := rapid.SampledFrom(members).Draw(t, "member")
		if member == admin {
			return
		}
		var last int64
		for _, op := range w.ops {
			last = max(last, op.Time.Wall)
		}
		cut := w.m.seq(member)
		// The admin has not forked, so its chain is its whole log: the
		// removal is its next op.
		op := w.m.op(admin, crdt.HLC{Wall: last + 1}, crdt.SetRole{Member: member, Role: crdt.RoleNone, Cut: cut})
		if v, err, _ := b.Apply(op, farFuture); v != crdt.Accept {
			t.Fatalf("removal: %v %v", v, err)
		}
		if !b.Group.Counts(op.ID) {
			t.Fatalf("an admin's removal of a member does not count")
		}
		if m := b.Group.Member(member); m.Role != crdt.RoleNone || !m.Removed || m.Cut != cut {
			t.Fatalf("removed member: %+v", m)
		}
		if b.Hash() == before {
			t.Fatal("removing a member left the state hash as it was")
		}
		removals++
	})
	t.Logf("%d removals checked", removals)
	if removals == 0 {
		t.Fatal("no world had an admin and a member to remove")
	}
}

// A member's name is the last writer's: of the join (or genesis) that
// opened its last tenure and its renames that count (its op at that seq
// counts as a member's or an admin's), the one with the greatest stamp,
// whatever order the ops arrive in and however often. So replicas that
// receive renames made while apart, backdated or not, show one name.
func TestRenameLastWriterWins(t *testing.T) {
	renamed, overruled := 0, 0
	rapid.Check(t, func(t *rapid.T) {
		w := genWorld(t)
		b := boardOf(w.ops, w.group)
		byID := map[crdt.ID]crdt.Op{}
		for _, op := range w.ops {
			byID[op.ID] = op
		}
		for _, m := range b.Group.Members() {
			via := byID[m.Via]
			var name string
			switch body := via.Body.(type) {
			case crdt.Genesis:
				name = body.AuthorName
			case crdt.Join:
				name = body.Name
			default:
				t.Fatalf("member %s admitted by a %s", shortName(m.Key), via.Body.Kind())
			}
			at := via.Stamp()
			for _, op := range w.ops {
				r, ok := op.Body.(crdt.Rename)
				if !ok || op.Author != m.Key {
					continue
				}
				role := b.Group.RoleAt(op.Author, op.Seq)
				counts := role == crdt.RoleMember || role == crdt.RoleAdmin
				if counts != b.Group.Counts(op.ID) {
					t.Fatalf("rename by %s at seq %d (role %s): counts %v", shortName(op.Author), op.Seq, role, b.Group.Counts(op.ID))
				}
				if counts && op.Stamp().Compare(at) > 0 {
					name, at = r.Name, op.Stamp()
					renamed++
				} else if counts {
					overruled++
				}
			}
			if m.Name != name {
				t.Fatalf("member %s is named %q; the last writer says %q", shortName(m.Key), m.Name, name)
			}
		}
		want := snapshot(b, w.ops)
		for r := range rapid.IntRange(1, 3).Draw(t, "replicas") {
			label := fmt.Sprint("replica ", r)
			other := crdt.NewBoard(w.group)
			deliver(t, other, shuffledWithDuplicates(t, w.ops, label), label)
			requireSameState(t, label, want, snapshot(other, w.ops))
		}
	})
	t.Logf("%d renames took effect, %d that counted were overruled by a later stamp", renamed, overruled)
	if renamed == 0 || overruled == 0 {
		t.Fatal("no world renamed a member, or none had a rename overruled")
	}
}

// Every part of every post comes from an op that counts and that the
// rights table allows: the create, each response, and the op whose stamp
// each register holds (fields: the post's author or an admin; the
// withdrawn flag: the same; status: any member).
func TestPostsComeFromOpsThatCount(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := genWorld(t)
		b := boardOf(w.ops, w.group)
		byID := map[crdt.ID]*crdt.Op{}
		for i := range w.ops {
			byID[w.ops[i].ID] = &w.ops[i]
		}
		role := func(id crdt.ID) crdt.Role {
			op := byID[id]
			if op == nil {
				t.Fatalf("a post holds the stamp of op %s, which is not in the set", id.Short())
			}
			return b.Group.RoleAt(op.Author, op.Seq)
		}
		for p := range b.SortedPosts() {
			if role(p.ID) == crdt.RoleNone || byID[p.ID].Author != p.Author {
				t.Fatalf("post %s: its create does not count", p.ID.Short())
			}
			for _, r := range p.Responses {
				if role(r.ID) == crdt.RoleNone {
					t.Fatalf("post %s: a response that does not count", p.ID.Short())
				}
			}
			privileged := func(s crdt.Stamp) bool {
				return s.Op == p.ID || s.Author == p.Author || role(s.Op) == crdt.RoleAdmin
			}
			for name, s := range map[string]crdt.Stamp{
				"title": p.Title.S, "details": p.Details.S, "category": p.Category.S, "location": p.Location.S,
				"contact": p.Contact.S, "quantity": p.Quantity.S, "urgency": p.Urgency.S, "expires": p.Expires.S,
				"withdrawn": p.Withdrawn.S,
			} {
				if s != (crdt.Stamp{}) && (role(s.Op) == crdt.RoleNone || !privileged(s)) {
					t.Fatalf("post %s: %s set by an op without the right (role %v)", p.ID.Short(), name, role(s.Op))
				}
			}
			if s := p.Status.S; s != (crdt.Stamp{}) && role(s.Op) == crdt.RoleNone {
				t.Fatalf("post %s: status set by an op that does not count", p.ID.Short())
			}
		}
	})
}

// A gap is no fork: an author's ops count whether or not the board holds
// the ops below them (an op that receivers ignore, stamped too far
// ahead, must not hold back its author's later ops). A board missing
// some post ops of authors that never forked gives every op it holds the
// role it has on the board holding everything, and the membership is
// the same.
func TestGapDoesNotCutOffItsAuthor(t *testing.T) {
	pastGaps := 0
	rapid.Check(t, func(t *rapid.T) {
		w := genWorld(t)
		forks := specForks(w.ops)
		drop := rapid.SliceOfN(rapid.Bool(), len(w.ops), len(w.ops)).Draw(t, "drop")
		var kept []crdt.Op
		held := map[crdt.PublicKey]map[uint64]bool{}
		for i, op := range w.ops {
			if drop[i] && !crdt.IsMembership(&op) && forks[op.Author] == 0 {
				continue // a gap in its author's log
			}
			kept = append(kept, op)
			if held[op.Author] == nil {
				held[op.Author] = map[uint64]bool{}
			}
			held[op.Author][op.Seq] = true
		}
		full, gapped := boardOf(w.ops, w.group), boardOf(kept, w.group)
		full.Refresh()
		gapped.Refresh()
		for _, op := range kept {
			want, got := full.Group.RoleAt(op.Author, op.Seq), gapped.Group.RoleAt(op.Author, op.Seq)
			if got != want {
				t.Fatalf("%s by %s at seq %d: role %v with gaps below it, %v without", op.Body.Kind(), op.Author.String()[:8], op.Seq, got, want)
			}
			if crdt.IsMembership(&op) && gapped.Group.Counts(op.ID) != full.Group.Counts(op.ID) {
				t.Fatalf("%s by %s at seq %d: counts %v with gaps, %v without", op.Body.Kind(), op.Author.String()[:8], op.Seq, gapped.Group.Counts(op.ID), full.Group.Counts(op.ID))
			}
			if got == crdt.RoleNone {
				continue
			}
			for s := uint64(1); s < op.Seq; s++ {
				if !held[op.Author][s] {
					pastGaps++
					break
				}
			}
		}
		if !reflect.DeepEqual(gapped.Group.Members(), full.Group.Members()) || !reflect.DeepEqual(gapped.Group.Spans(), full.Group.Spans()) {
			t.Fatalf("members or spans differ:\n%+v\n%+v", gapped.Group.Members(), full.Group.Members())
		}
	})
	t.Logf("%d ops past a gap checked", pastGaps)
	if pastGaps == 0 {
		t.Fatal("no world had an op that counts past a gap")
	}
}

// An author that forked — signed two ops at one seq, or an op whose Prev
// is not its op at the seq before — has none of its ops count from the
// fork's seq on, on every replica, whatever order the ops came in.
func TestForkVoidsTheAuthorFromTheForkSeq(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := genWorld(t)
		b := crdt.NewBoard(w.group)
		deliver(t, b, shuffledWithDuplicates(t, w.ops, "delivery"), "delivery")
		b.Refresh()
		for _, op := range w.ops {
			f := w.forks[op.Author]
			if got := b.Group.ForkedAt(op.Author); got != f {
				t.Fatalf("author %s forked at seq %d, the board says %d", op.Author.String()[:8], f, got)
			}
			if f != 0 && op.Seq >= f && counts(b, &op) {
				t.Fatalf("%s at seq %d counts, after its author forked at %d", op.Body.Kind(), op.Seq, f)
			}
		}
		for _, m := range b.Group.Members() {
			if m.Forked != w.forks[m.Key] {
				t.Fatalf("member %s: Forked %d, want %d", m.Key.String()[:8], m.Forked, w.forks[m.Key])
			}
		}
	})
}

// The outsider never becomes a member (its join rests on an invite of its
// own), and its ops, admits, invites and removals included, change
// nothing: the board with them equals the board without.
func TestOutsiderOpsChangeNothing(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := genWorld(t)
		full := boardOf(w.ops, w.group)
		if full.Group.Member(w.outsider) != nil {
			t.Fatal("the outsider became a member")
		}
		var without []crdt.Op
		for _, op := range w.ops {
			if op.Author != w.outsider {
				without = append(without, op)
			}
		}
		want, got := snapshot(boardOf(without, w.group), without), snapshot(full, without)
		want.Pending, got.Pending = nil, nil // the outsider's join is pending, of course,
		delete(got.Forks, w.outsider)        // and its forks are known
		requireSameState(t, "without the outsider", want, got)
	})
}

// Post.Apply is commutative: from any state, a then b equals b then a.
func TestPostApplyCommutative(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		group, id, ops := genPostOps(t)
		base := crdt.NewPost(group, id)
		for _, op := range ops[:rapid.IntRange(0, len(ops)).Draw(t, "prefix")] {
			base.Apply(&op, postPrivileged(&op))
		}
		a := rapid.SampledFrom(ops).Draw(t, "a")
		b := rapid.SampledFrom(ops).Draw(t, "b")
		ab, ba := base.Clone(), base.Clone()
		ab.Apply(&a, postPrivileged(&a))
		ab.Apply(&b, postPrivileged(&b))
		ba.Apply(&b, postPrivileged(&b))
		ba.Apply(&a, postPrivileged(&a))
		requireSamePost(t, ab, ba)
	})
}

// Post.Apply is associative: split the ops into groups, apply each group
// (in any order inside it, groups in any order) to a clone of the state
// the previous groups left, and the result is the state of applying them
// all one by one. Applying to a clone never changes the original.
func TestPostApplyAssociative(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		group, id, ops := genPostOps(t)
		want := crdt.NewPost(group, id)
		for _, op := range ops {
			want.Apply(&op, postPrivileged(&op))
		}
		k := rapid.IntRange(1, len(ops)).Draw(t, "groups")
		groups := make([][]crdt.Op, k)
		for _, op := range ops {
			g := rapid.IntRange(0, k-1).Draw(t, "group of op")
			groups[g] = append(groups[g], op)
		}
		got := crdt.NewPost(group, id)
		for gi, g := range rapid.Permutation(groups).Draw(t, "group order") {
			before := crdt.PostHash(got)
			next := got.Clone()
			for _, op := range rapid.Permutation(g).Draw(t, fmt.Sprint("order in group ", gi)) {
				next.Apply(&op, postPrivileged(&op))
			}
			if crdt.PostHash(got) != before {
				t.Fatal("applying ops to a clone changed the original")
			}
			got = next
		}
		requireSamePost(t, want, got)
	})
}

// Post.Apply is idempotent: a second copy of an op changes nothing and
// Apply says so.
func TestPostApplyIdempotent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		group, id, ops := genPostOps(t)
		p := crdt.NewPost(group, id)
		for _, op := range ops {
			p.Apply(&op, postPrivileged(&op))
		}
		want := p.Clone()
		for _, op := range rapid.Permutation(ops).Draw(t, "again") {
			if p.Apply(&op, postPrivileged(&op)) {
				t.Fatalf("second apply of %s reported a change", op.Body.Kind())
			}
		}
		requireSamePost(t, want, p)
	})
}

// weirdBody is a body type the crdt does not know.
type weirdBody struct{}

func (weirdBody) Kind() crdt.Kind { return 99 }

// Board.Apply never panics, whatever the op: zero values, wrong groups,
// out-of-range enums, unknown bodies, absurd clocks, membership ops that
// name nothing, and neither does computing the board after.
func TestBoardApplyNeverPanics(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := genWorld(t)
		b := boardOf(w.ops, w.group)
		ids := []crdt.ID{{}, w.group, w.ops[0].ID, w.ops[len(w.ops)-1].ID, w.invites[0].ID}
		keys := []crdt.PublicKey{{}, w.founder, w.outsider, w.ops[len(w.ops)-1].Author}
		id := rapid.SampledFrom(ids)
		key := rapid.SampledFrom(keys)
		u8 := rapid.Uint8()
		fields := rapid.Custom(func(t *rapid.T) crdt.Fields {
			return crdt.Fields{
				Title:    rapid.String().Draw(t, "title"),
				Quantity: rapid.Uint32().Draw(t, "qty"),
				Urgency:  crdt.Urgency(u8.Draw(t, "urgency")),
				Expires:  rapid.Int64().Draw(t, "expires"),
			}
		})
		invite := rapid.Custom(func(t *rapid.T) crdt.Invite {
			return crdt.Invite{
				ID: id.Draw(t, "invite id"), Group: id.Draw(t, "invite group"), Role: crdt.Role(u8.Draw(t, "role")),
				Expires: rapid.Int64().Draw(t, "expires"), Uses: rapid.Uint32().Draw(t, "uses"), Issuer: key.Draw(t, "issuer"),
			}
		})
		bodies := rapid.OneOf(
			rapid.Just[crdt.Body](nil),
			rapid.Just[crdt.Body](weirdBody{}),
			rapid.Just[crdt.Body](crdt.Leave{}),
			rapid.Custom(func(t *rapid.T) crdt.Body { return crdt.Genesis{Name: rapid.String().Draw(t, "name")} }),
			rapid.Custom(func(t *rapid.T) crdt.Body { return crdt.Join{Invite: invite.Draw(t, "invite")} }),
			rapid.Custom(func(t *rapid.T) crdt.Body { return crdt.InviteMade{Invite: invite.Draw(t, "invite")} }),
			rapid.Custom(func(t *rapid.T) crdt.Body { return crdt.Revoke{Invite: id.Draw(t, "invite")} }),
			rapid.Custom(func(t *rapid.T) crdt.Body { return crdt.Admit{Join: id.Draw(t, "join")} }),
			rapid.Custom(func(t *rapid.T) crdt.Body {
				return crdt.SetRole{Member: key.Draw(t, "member"), Role: crdt.Role(u8.Draw(t, "role")), Cut: rapid.Uint64().Draw(t, "cut")}
			}),
			rapid.Custom(func(t *rapid.T) crdt.Body {
				return crdt.PostCreate{PostKind: crdt.PostKind(u8.Draw(t, "kind")), Fields: fields.Draw(t, "fields")}
			}),
			rapid.Custom(func(t *rapid.T) crdt.Body {
				return crdt.PostEdit{Post: id.Draw(t, "post"), Set: crdt.FieldMask(rapid.Uint16().Draw(t, "mask")), Fields: fields.Draw(t, "fields")}
			}),
			rapid.Custom(func(t *rapid.T) crdt.Body { return crdt.Erase{Post: id.Draw(t, "post")} }),
			rapid.Custom(func(t *rapid.T) crdt.Body { return crdt.Settings{Retention: rapid.Int64().Draw(t, "retention")} }),
			rapid.Custom(func(t *rapid.T) crdt.Body {
				return crdt.GroupKey{Key: crdt.KeyID{u8.Draw(t, "key")}, Shares: []crdt.Share{{Member: key.Draw(t, "member")}}}
			}),
			rapid.Custom(func(t *rapid.T) crdt.Body {
				return crdt.PostStatus{Post: id.Draw(t, "post"), Status: crdt.Status(u8.Draw(t, "status"))}
			}),
			rapid.Custom(func(t *rapid.T) crdt.Body {
				return crdt.Respond{Post: id.Draw(t, "post"), Quantity: rapid.Uint32().Draw(t, "qty")}
			}),
			rapid.Custom(func(t *rapid.T) crdt.Body {
				return crdt.Unrespond{Post: id.Draw(t, "post"), Response: id.Draw(t, "response")}
			}),
			rapid.Custom(func(t *rapid.T) crdt.Body {
				return crdt.HandOn{Post: id.Draw(t, "post"), Response: id.Draw(t, "response"), Private: id.Draw(t, "private")}
			}),
		)
		for i := range rapid.IntRange(1, 20).Draw(t, "hostile ops") {
			op := crdt.Op{
				ID:     crdt.ID{byte(i), 0xee},
				Group:  id.Draw(t, "group"),
				Author: key.Draw(t, "author"),
				Seq:    rapid.SampledFrom([]uint64{0, 1, 2, 3, 1 << 63, 1<<64 - 1}).Draw(t, "seq"),
				Prev:   id.Draw(t, "prev"),
				Time:   crdt.HLC{Wall: rapid.Int64().Draw(t, "wall"), Logical: rapid.Uint32().Draw(t, "logical")},
				Body:   bodies.Draw(t, "body"),
			}
			now := rapid.Int64().Draw(t, "now")
			v, err, _ := b.Apply(op, now)
			if (v == crdt.Accept) != (err == nil) {
				t.Fatalf("verdict %v with error %v", v, err)
			}
			// The verdict is the one the rules give (docs/protocol.md §8,
			// written out in verdict_test.go), with an error of its class.
			if op.Body != nil { // a nil body is no op a decoder yields
				want := judgeByRules(&op, w.group, now)
				if v != want.v {
					t.Fatalf("%T: verdict %v (%v), the rules say %v %v", op.Body, v, err, want.v, want.errs)
				}
			}
			switch v {
			case crdt.Reject:
				if !errors.Is(err, crdt.ErrInvalid) {
					t.Fatalf("reject with %v, which is no ErrInvalid", err)
				}
			case crdt.Ignore:
				if !errors.Is(err, crdt.ErrFuture) || errors.Is(err, crdt.ErrInvalid) {
					t.Fatalf("ignore with %v, which is no ErrFuture", err)
				}
			}
			if rapid.Bool().Draw(t, "look") {
				b.Hash()
			}
		}
		b.Hash()
		b.Group.Members()
		b.Group.Pending()
	})
}

func requireSamePost(t *rapid.T, want, got *crdt.Post) {
	t.Helper()
	if crdt.PostHash(want) != crdt.PostHash(got) || !reflect.DeepEqual(want, got) {
		t.Fatalf("posts differ:\nwant %+v\ngot  %+v", want, got)
	}
}
