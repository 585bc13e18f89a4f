package crdt_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"pgregory.net/rapid"
)

// The board is a pure function of the set of accepted ops: any order of
// arrival and any number of copies give the same state hash, the same
// members and the same posts.
func TestBoardConvergesUnderPermutationAndDuplication(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genOpSet(t)
		want := boardOf(s.ops, s.group)
		got := boardOf(shuffledWithDuplicates(t, s.ops, "delivery"), s.group)
		if got.Hash() != want.Hash() {
			t.Fatalf("hash %s after reordering, %s in order\n%s", got.Hash().Short(), want.Hash().Short(), diffBoards(want, got))
		}
		if !reflect.DeepEqual(got.Group.Members(), want.Group.Members()) {
			t.Fatalf("members differ:\n%v\n%v", want.Group.Members(), got.Group.Members())
		}
		if got.Group.Parked() != want.Group.Parked() {
			t.Fatalf("parked %d after reordering, %d in order", got.Group.Parked(), want.Group.Parked())
		}
	})
}

// Post.Apply is commutative: from any state, a then b equals b then a.
func TestPostApplyCommutative(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		group, id, ops := genPostOps(t)
		base := crdt.NewPost(group, id)
		for _, op := range ops[:rapid.IntRange(0, len(ops)).Draw(t, "prefix")] {
			base.Apply(&op)
		}
		a := rapid.SampledFrom(ops).Draw(t, "a")
		b := rapid.SampledFrom(ops).Draw(t, "b")
		ab, ba := base.Clone(), base.Clone()
		ab.Apply(&a)
		ab.Apply(&b)
		ba.Apply(&b)
		ba.Apply(&a)
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
			want.Apply(&op)
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
				next.Apply(&op)
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
			p.Apply(&op)
		}
		want := p.Clone()
		for _, op := range rapid.Permutation(ops).Draw(t, "again") {
			if p.Apply(&op) {
				t.Fatalf("second apply of %s reported a change", op.Body.Kind())
			}
		}
		requireSamePost(t, want, p)
	})
}

// Group.Admit is order-independent: any order of the ops that Check lets
// through admits the same ops and yields the same members with the same
// roles, names and join times.
func TestGroupAdmitOrderIndependent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genOpSet(t)
		var checked []crdt.Op
		for _, op := range s.ops {
			if v, _ := crdt.NewGroup(s.group).Check(&op, farFuture); v != crdt.Reject {
				checked = append(checked, op)
			}
		}
		admit := func(ops []crdt.Op) (*crdt.Group, []crdt.ID) {
			g := crdt.NewGroup(s.group)
			var ids []crdt.ID
			for _, op := range ops {
				ready, _ := g.Admit(op)
				for _, r := range ready {
					ids = append(ids, r.ID)
				}
			}
			slices.SortFunc(ids, crdt.ID.Compare)
			return g, slices.Compact(ids)
		}
		g1, ids1 := admit(checked)
		g2, ids2 := admit(shuffledWithDuplicates(t, checked, "admission"))
		if !reflect.DeepEqual(g1.Members(), g2.Members()) {
			t.Fatalf("members differ:\n%+v\n%+v", g1.Members(), g2.Members())
		}
		if !slices.Equal(ids1, ids2) {
			t.Fatalf("admitted %d ops in order, %d reordered", len(ids1), len(ids2))
		}
		if g1.Parked() != g2.Parked() || g1.Parked()+len(ids1) != len(checked) {
			t.Fatalf("parked %d and %d, admitted %d of %d", g1.Parked(), g2.Parked(), len(ids1), len(checked))
		}
		for _, m := range g1.Members() {
			if m.Role != crdt.RoleMember && m.Role != crdt.RoleAdmin {
				t.Fatalf("member %s has role %v", m.Key, m.Role)
			}
		}
	})
}

// Ops of authors who are not members at the end never change posts:
// the board with them equals the board without them.
func TestNonMemberOpsNeverChangePosts(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genOpSet(t)
		full := boardOf(s.ops, s.group)
		if full.Group.IsMember(s.outsider) {
			t.Fatal("the outsider became a member")
		}
		var members []crdt.Op
		for _, op := range s.ops {
			if _, post := crdt.PostOf(&op); post && !full.Group.IsMember(op.Author) {
				continue
			}
			members = append(members, op)
		}
		without := boardOf(members, s.group)
		if full.Hash() != without.Hash() {
			t.Fatalf("non-members' ops changed the board\n%s", diffBoards(without, full))
		}
		for p := range full.SortedPosts() {
			if p.Created && !full.Group.IsMember(p.Author) {
				t.Fatalf("post %s created by a non-member", p.ID.Short())
			}
			for _, r := range p.Responses {
				if !full.Group.IsMember(r.Author) {
					t.Fatalf("response by a non-member on %s", p.ID.Short())
				}
			}
		}
	})
}

// weirdBody is a body type the crdt does not know.
type weirdBody struct{}

func (weirdBody) Kind() crdt.Kind { return 99 }

// Board.Apply never panics, whatever the op: zero values, wrong groups,
// out-of-range enums, unknown bodies, absurd clocks.
func TestBoardApplyNeverPanics(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genOpSet(t)
		b := boardOf(s.ops, s.group)
		ids := []crdt.ID{{}, s.group, s.ops[0].ID, s.ops[len(s.ops)-1].ID}
		keys := []crdt.PublicKey{{}, s.founder, s.outsider, s.ops[len(s.ops)-1].Author}
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
		bodies := rapid.OneOf(
			rapid.Just[crdt.Body](nil),
			rapid.Just[crdt.Body](weirdBody{}),
			rapid.Custom(func(t *rapid.T) crdt.Body { return crdt.Genesis{Name: rapid.String().Draw(t, "name")} }),
			rapid.Custom(func(t *rapid.T) crdt.Body {
				return crdt.Join{Invite: crdt.Invite{
					Group: id.Draw(t, "invite group"), Role: crdt.Role(u8.Draw(t, "role")),
					Expires: rapid.Int64().Draw(t, "expires"), Issuer: key.Draw(t, "issuer"),
				}}
			}),
			rapid.Custom(func(t *rapid.T) crdt.Body {
				return crdt.PostCreate{PostKind: crdt.PostKind(u8.Draw(t, "kind")), Fields: fields.Draw(t, "fields")}
			}),
			rapid.Custom(func(t *rapid.T) crdt.Body {
				return crdt.PostEdit{Post: id.Draw(t, "post"), Set: crdt.FieldMask(rapid.Uint16().Draw(t, "mask")), Fields: fields.Draw(t, "fields")}
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
		)
		for i := range rapid.IntRange(1, 20).Draw(t, "hostile ops") {
			op := crdt.Op{
				ID:     crdt.ID{byte(i), 0xee},
				Group:  id.Draw(t, "group"),
				Author: key.Draw(t, "author"),
				Seq:    rapid.Uint64Range(0, 3).Draw(t, "seq"),
				Prev:   id.Draw(t, "prev"),
				Time:   crdt.HLC{Wall: rapid.Int64().Draw(t, "wall"), Logical: rapid.Uint32().Draw(t, "logical")},
				Body:   bodies.Draw(t, "body"),
			}
			v, err, _ := b.Apply(op, rapid.Int64().Draw(t, "now"))
			if (v == crdt.Accept) != (err == nil) {
				t.Fatalf("verdict %v with error %v", v, err)
			}
		}
		b.Hash()
	})
}

func requireSamePost(t *rapid.T, want, got *crdt.Post) {
	t.Helper()
	if crdt.PostHash(want) != crdt.PostHash(got) || !reflect.DeepEqual(want, got) {
		t.Fatalf("posts differ:\nwant %+v\ngot  %+v", want, got)
	}
}

func diffBoards(a, b *crdt.Board) string {
	out := ""
	for id, p := range a.Posts {
		q := b.Posts[id]
		if q == nil {
			out += fmt.Sprintf("post %s only in the first\n", id.Short())
		} else if crdt.PostHash(p) != crdt.PostHash(q) {
			out += fmt.Sprintf("post %s:\n  %+v\n  %+v\n", id.Short(), p, q)
		}
	}
	for id := range b.Posts {
		if a.Posts[id] == nil {
			out += fmt.Sprintf("post %s only in the second\n", id.Short())
		}
	}
	return out
}
