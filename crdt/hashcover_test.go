package crdt_test

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"pgregory.net/rapid"
)

// The state hash is how replicas find out that they differ, so every
// piece of state must reach it: a hash that skips a field lets two
// replicas that disagree on it look converged. These tests find the
// fields by reflection, so that a field added later is covered without
// touching them.

// leaf is a place in a value that a mutation can change: a bool, number
// or string, or a slice (whose length can change). Steps lead to it from
// the top: field numbers of structs, indices of arrays and slices.
type leaf struct {
	path  string
	steps []int
}

// leaves lists the leaves of v in a fixed order. Of an array it lists the
// first and the last element: a hash that drops the start or the end of
// an ID is caught, and a post stays cheap to walk.
func leaves(t fataler, v reflect.Value, at leaf, out []leaf) []leaf {
	t.Helper()
	step := func(name string, i int) leaf {
		return leaf{at.path + name, append(slices.Clone(at.steps), i)}
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				t.Fatalf("%s.%s is unexported: the hash tests cannot change it; teach them how", at.path, f.Name)
			}
			out = leaves(t, v.Field(i), step("."+f.Name, i), out)
		}
	case reflect.Array:
		for _, i := range slices.Compact([]int{0, v.Len() - 1}) {
			if i >= 0 {
				out = leaves(t, v.Index(i), step(fmt.Sprintf("[%d]", i), i), out)
			}
		}
	case reflect.Slice:
		out = append(out, at)
		for i := range v.Len() {
			out = leaves(t, v.Index(i), step(fmt.Sprintf("[%d]", i), i), out)
		}
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		out = append(out, at)
	default:
		t.Fatalf("%s is a %s: the hash tests cannot change it; teach them how", at.path, v.Kind())
	}
	return out
}

// follow returns the value that steps lead to from v.
func follow(v reflect.Value, steps []int) reflect.Value {
	for _, i := range steps {
		if v.Kind() == reflect.Struct {
			v = v.Field(i)
		} else {
			v = v.Index(i)
		}
	}
	return v
}

// mutate applies the variant'th change to a leaf and describes it, or
// reports false when the leaf has no such variant. Numbers get their
// lowest and their highest bit flipped (a hash that truncates a number
// misses the latter); strings grow and change in place; slices grow and
// shrink.
func mutate(v reflect.Value, variant int) (string, bool) {
	switch v.Kind() {
	case reflect.Bool:
		if variant == 0 {
			v.SetBool(!v.Bool())
			return "flipped", true
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if variant < 2 {
			bit := []uint{0, uint(v.Type().Bits() - 1)}[variant]
			v.SetInt(v.Int() ^ (1 << bit))
			return fmt.Sprintf("bit %d flipped", bit), true
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if variant < 2 {
			bit := []uint{0, uint(v.Type().Bits() - 1)}[variant]
			v.SetUint(v.Uint() ^ (1 << bit))
			return fmt.Sprintf("bit %d flipped", bit), true
		}
	case reflect.String:
		s := v.String()
		switch {
		case variant == 0:
			v.SetString(s + "x")
			return "grown", true
		case variant == 1 && s != "":
			v.SetString(s[:len(s)-1] + string(s[len(s)-1]^1))
			return "last byte changed", true
		}
	case reflect.Slice:
		switch {
		case variant == 0:
			v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
			return "zero element appended", true
		case variant == 1 && v.Len() > 0:
			v.Set(v.Slice(0, v.Len()-1))
			return "last element removed", true
		}
	}
	return "", false
}

// mutations changes p in one place, calls fn, and changes it back, for
// every place and every change that mutate knows.
func mutations(t fataler, p *crdt.Post, fn func(what string)) {
	t.Helper()
	for _, l := range leaves(t, reflect.ValueOf(p).Elem(), leaf{path: "Post"}, nil) {
		v := follow(reflect.ValueOf(p).Elem(), l.steps)
		old := reflect.New(v.Type()).Elem()
		old.Set(v) // a slice's header: appending and shrinking leave its elements be
		for variant := 0; ; variant++ {
			what, ok := mutate(v, variant)
			if !ok {
				break
			}
			if reflect.DeepEqual(v.Interface(), old.Interface()) {
				t.Fatalf("%s %s: the value did not change", l.path, what)
			}
			fn(l.path + " " + what)
			v.Set(old)
		}
	}
}

func boardWith(p *crdt.Post) *crdt.Board {
	b := crdt.NewBoard(p.Group)
	b.Put(p)
	return b
}

// Changing any field of a post, however deep (a register's value or
// stamp, a response, a tombstone), changes PostHash and StateHash.
func TestPostHashCoversEveryField(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := rapid.Make[crdt.Post]().Draw(t, "post")
		ph, sh := crdt.PostHash(&p), boardWith(&p).Hash()
		n := 0
		mutations(t, &p, func(what string) {
			n++
			if crdt.PostHash(&p) == ph {
				t.Fatalf("%s: PostHash did not change", what)
			}
			if boardWith(&p).Hash() == sh {
				t.Fatalf("%s: StateHash did not change", what)
			}
		})
		if crdt.PostHash(&p) != ph {
			t.Fatal("the post was not restored after the mutations")
		}
		if n < 100 {
			t.Fatalf("only %d mutations of a post: the walker misses fields", n)
		}
	})
}

// Posts built by real ops are covered the same way (rapid.Make draws any
// post; these have the shapes the crdt makes: a create that counts,
// sorted responses, registers written by the ops the rights table allows).
func TestPostHashCoversEveryFieldOfRealPosts(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		group, id, ops := genPostOps(t)
		p := crdt.RebuildPost(group, id, ops, func(op *crdt.Op) crdt.Role {
			if op.Author == fakeKey("b") {
				return crdt.RoleAdmin
			}
			return crdt.RoleMember
		})
		if p == nil {
			return // no create: no post
		}
		ph := crdt.PostHash(p)
		mutations(t, p, func(what string) {
			if crdt.PostHash(p) == ph {
				t.Fatalf("%s: PostHash did not change", what)
			}
		})
	})
}

// stateDiff names the exported fields in which two boards' state
// differs: the group's own fields, each member's, each invite's (the
// Group.Invites list), the spans of the members' roles, and each post's;
// or "members", "invites" or "posts" when the boards do not have the same
// ones. It reads the fields by reflection, so a field added to Group,
// Member, InviteState or Post is compared without changing it.
//
// Ops held that do not count (a join not witnessed, an outsider's op) are
// not state: two boards that differ only in those have the same hash.
func stateDiff(a, b *crdt.Board) []string {
	a.Refresh()
	b.Refresh()
	var out []string
	fields := func(name string, x, y reflect.Value) {
		for i := range x.NumField() {
			f := x.Type().Field(i)
			if f.IsExported() && !reflect.DeepEqual(x.Field(i).Interface(), y.Field(i).Interface()) {
				out = append(out, name+"."+f.Name)
			}
		}
	}
	list := func(name string, x, y reflect.Value) {
		if x.Len() != y.Len() {
			out = append(out, strings.ToLower(name)+"s")
			return
		}
		for i := range x.Len() {
			fields(name, x.Index(i), y.Index(i))
		}
	}
	fields("Group", reflect.ValueOf(a.Group).Elem(), reflect.ValueOf(b.Group).Elem())
	list("Member", reflect.ValueOf(a.Group.Members()), reflect.ValueOf(b.Group.Members()))
	list("Invite", reflect.ValueOf(a.Group.Invites()), reflect.ValueOf(b.Group.Invites()))
	if !reflect.DeepEqual(a.Group.Spans(), b.Group.Spans()) {
		out = append(out, "spans")
	}
	if !slices.Equal(slices.SortedFunc(maps.Keys(a.Posts), crdt.ID.Compare), slices.SortedFunc(maps.Keys(b.Posts), crdt.ID.Compare)) {
		out = append(out, "posts")
	} else {
		for id, p := range a.Posts {
			fields("Post", reflect.ValueOf(p).Elem(), reflect.ValueOf(b.Posts[id]).Elem())
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// unhashed lists the state that StateHash does not cover today, found by
// these tests. Invite.MadeAt (when the invite was recorded, shown by the
// API) differs between replicas that hold different InviteMade ops of one
// invite: its issuer recorded it twice.
var unhashed = []string{"Invite.MadeAt"}

// groupOps makes the fake ops of the group-state cases: an op's ID is its
// label and a key is its name (so that "a" < "b" orders them), a body's
// invite is its label's.
type groupOps struct {
	group crdt.ID
}

func (g groupOps) op(label, author string, seq uint64, prev string, wall int64, body crdt.Body) crdt.Op {
	op := crdt.Op{ID: idOf(label), Group: g.group, Author: who(author), Seq: seq, Time: crdt.HLC{Wall: wall}, Body: body}
	if prev != "" {
		op.Prev = idOf(prev)
	}
	if _, ok := body.(crdt.Genesis); ok {
		op.Group = crdt.ID{}
	}
	return op
}

func (g groupOps) genesis(founder, name string, wall int64) crdt.Op {
	return g.op(labelOf(g.group), founder, 1, "", wall, crdt.Genesis{Name: name, AuthorName: founder})
}

func (g groupOps) invite(label, issuer string, role crdt.Role) crdt.Invite {
	return crdt.Invite{ID: idOf(label), Group: g.group, Role: role, Expires: farFuture, Key: who("key " + label), Issuer: who(issuer)}
}

// join is author's first op, a join with invite in.
func (g groupOps) join(label, author string, in crdt.Invite, name string, wall int64) crdt.Op {
	return g.op(label, author, 1, "", wall, crdt.Join{Invite: in, Name: name})
}

// Two boards whose state differs in one field have different hashes, for
// each field of the group, of a member, of an invite, the roles' spans,
// and the withdrawn register of a post (TestPostHashCoversEveryField has
// the rest of the post). Each pair is built by real ops, and checked to
// differ in exactly the fields named: some fields only ever change
// together (a removal ends a tenure: role, cut and end time change with
// it).
func TestStateHashCoversGroupFields(t *testing.T) {
	group := idOf("group")
	g := groupOps{group}
	f, o, m, n := "founder", "other", "member", "newcomer"
	genesis := g.genesis(f, "group", 100)
	i1 := g.invite("i1", f, crdt.RoleMember)
	// The founder, and a member it admitted, whose second op is a
	// status of a post nobody holds (it counts for nothing).
	base := []crdt.Op{
		genesis,
		g.join("j1", m, i1, "m", 200),
		g.op("a1", f, 2, "group", 210, crdt.Admit{Join: idOf("j1")}),
		g.op("s1", m, 2, "j1", 300, crdt.PostStatus{Post: idOf("nothing"), Status: crdt.Claimed}),
	}
	with := func(ops ...crdt.Op) []crdt.Op { return append(slices.Clone(base), ops...) }
	// s2 is the member's third op, of the same kind.
	s2 := g.op("s2", m, 3, "s1", 310, crdt.PostStatus{Post: idOf("nothing"), Status: crdt.Fulfilled})
	remove := func(cut uint64, wall int64) crdt.Op {
		return g.op("r1", f, 3, "a1", wall, crdt.SetRole{Member: who(m), Role: crdt.RoleNone, Cut: cut})
	}
	// The founder's third op records an invite.
	record := func(in crdt.Invite, wall int64) crdt.Op {
		return g.op("im", f, 3, "a1", wall, crdt.InviteMade{Invite: in})
	}
	i2, i3 := g.invite("i2", f, crdt.RoleMember), g.invite("i3", f, crdt.RoleMember)
	// A newcomer that joins with in and is admitted by the founder.
	newcomer := func(in crdt.Invite) []crdt.Op {
		return []crdt.Op{
			g.join("jn", n, in, "n", 320),
			g.op("an", f, 4, "im", 330, crdt.Admit{Join: idOf("jn")}),
		}
	}
	// A post by the member (its second op), to which the founder
	// responds last, so that a withdrawal before it changes no time.
	post := []crdt.Op{
		genesis,
		g.join("j1", m, i1, "m", 200),
		g.op("a1", f, 2, "group", 210, crdt.Admit{Join: idOf("j1")}),
		g.op("p1", m, 2, "j1", 300, crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: "coats"}}),
		g.op("rs", f, 3, "a1", 500, crdt.Respond{Post: idOf("p1"), Quantity: 1}),
	}
	withdraw := g.op("w1", m, 3, "p1", 400, crdt.PostStatus{Post: idOf("p1"), Status: crdt.Withdrawn})
	withPost := func(ops ...crdt.Op) []crdt.Op { return append(slices.Clone(post), ops...) }
	// A genesis by founder, who names itself "x".
	foundedBy := func(founder string) crdt.Op {
		op := g.genesis(founder, "group", 100)
		op.Body = crdt.Genesis{Name: "group", AuthorName: "x"}
		return op
	}

	cases := []struct {
		name   string
		g1, g2 crdt.ID
		a, b   []crdt.Op
		diff   []string
	}{
		{"group ID", group, idOf("another"), nil, nil, []string{"Group.ID"}},
		{"founded", group, group, nil, []crdt.Op{genesis},
			[]string{"Group.Created", "Group.Founded", "Group.Founder", "Group.Name", "members", "spans"}},
		{"group name", group, group,
			[]crdt.Op{g.genesis(f, "group", 100)},
			[]crdt.Op{g.genesis(f, "grouq", 100)},
			[]string{"Group.Name"}},
		{"group created", group, group,
			[]crdt.Op{g.genesis(f, "group", 100)},
			[]crdt.Op{g.genesis(f, "group", 101)},
			[]string{"Group.Created", "Member.JoinedAt"}}, // the founder joined as it founded
		{"founder", group, group, []crdt.Op{foundedBy(f)}, []crdt.Op{foundedBy(o)},
			[]string{"Group.Founder", "Member.Key", "spans"}}, // the founder is a member
		{"founder, the same members", group, group, // possible only with fake IDs: a real genesis's ID names its author
			[]crdt.Op{
				g.genesis(f, "group", 100),
				g.join("j1", o, g.invite("i1", f, crdt.RoleAdmin), o, 100),
				g.op("a1", f, 2, "group", 101, crdt.Admit{Join: idOf("j1")}),
			},
			[]crdt.Op{
				g.genesis(o, "group", 100),
				g.join("j1", f, g.invite("i1", o, crdt.RoleAdmin), f, 100),
				g.op("a1", o, 2, "group", 101, crdt.Admit{Join: idOf("j1")}),
			},
			[]string{"Group.Founder", "Member.Via"}},
		{"member key", group, group,
			[]crdt.Op{genesis, g.join("j1", m, i1, "x", 200), g.op("a1", f, 2, "group", 210, crdt.Admit{Join: idOf("j1")})},
			[]crdt.Op{genesis, g.join("j1", n, i1, "x", 200), g.op("a1", f, 2, "group", 210, crdt.Admit{Join: idOf("j1")})},
			[]string{"Member.Key", "spans"}}, // spans are by key
		{"member name", group, group,
			[]crdt.Op{genesis, g.join("j1", m, i1, "x", 200), g.op("a1", f, 2, "group", 210, crdt.Admit{Join: idOf("j1")})},
			[]crdt.Op{genesis, g.join("j1", m, i1, "y", 200), g.op("a1", f, 2, "group", 210, crdt.Admit{Join: idOf("j1")})},
			[]string{"Member.Name"}},
		{"member role", group, group,
			[]crdt.Op{genesis, g.join("j1", m, i1, "x", 200), g.op("a1", f, 2, "group", 210, crdt.Admit{Join: idOf("j1")})},
			[]crdt.Op{genesis, g.join("j1", m, g.invite("i1", f, crdt.RoleAdmin), "x", 200), g.op("a1", f, 2, "group", 210, crdt.Admit{Join: idOf("j1")})},
			[]string{"Member.Role", "spans"}},
		{"member join time", group, group,
			[]crdt.Op{genesis, g.join("j1", m, i1, "x", 200), g.op("a1", f, 2, "group", 210, crdt.Admit{Join: idOf("j1")})},
			[]crdt.Op{genesis, g.join("j1", m, i1, "x", 201), g.op("a1", f, 2, "group", 210, crdt.Admit{Join: idOf("j1")})},
			[]string{"Member.JoinedAt"}},
		{"member join time, logical", group, group,
			[]crdt.Op{genesis, g.join("j1", m, i1, "x", 200), g.op("a1", f, 2, "group", 210, crdt.Admit{Join: idOf("j1")})},
			[]crdt.Op{genesis, func() crdt.Op {
				op := g.join("j1", m, i1, "x", 200)
				op.Time.Logical = 1
				return op
			}(), g.op("a1", f, 2, "group", 210, crdt.Admit{Join: idOf("j1")})},
			[]string{"Member.JoinedAt"}},
		{"member via", group, group,
			[]crdt.Op{genesis, g.join("j1", m, i1, "x", 200), g.op("a1", f, 2, "group", 210, crdt.Admit{Join: idOf("j1")})},
			[]crdt.Op{genesis, g.join("j0", m, i1, "x", 200), g.op("a1", f, 2, "group", 210, crdt.Admit{Join: idOf("j0")})},
			[]string{"Member.Via"}},
		{"member renamed", group, group, base, with(g.op("rn", m, 3, "s1", 320, crdt.Rename{Name: "Mo"})),
			[]string{"Member.Name"}},
		{"removed", group, group, base, with(remove(2, 400)),
			[]string{"Member.Cut", "Member.EndedAt", "Member.Removed", "Member.Role", "spans"}},
		{"left", group, group, base, with(g.op("l1", m, 3, "s1", 400, crdt.Leave{})),
			[]string{"Member.Cut", "Member.EndedAt", "Member.Left", "Member.Role", "spans"}},
		{"removed or left", group, group,
			with(remove(2, 400)),
			[]crdt.Op{genesis, g.join("j1", m, i1, "m", 200), g.op("a1", f, 2, "group", 210, crdt.Admit{Join: idOf("j1")}),
				g.op("l2", m, 2, "j1", 400, crdt.Leave{})},
			[]string{"Member.Left", "Member.Removed"}},
		{"end time", group, group, with(remove(2, 400)), with(remove(2, 401)), []string{"Member.EndedAt"}},
		{"cut", group, group, with(s2, remove(2, 400)), with(s2, remove(3, 400)), []string{"Member.Cut", "spans"}},
		{"forked", group, group,
			base,
			with(g.op("s9", m, 2, "j1", 300, crdt.PostStatus{Post: idOf("nothing"), Status: crdt.Open})),
			[]string{"Member.Forked"}},
		{"forked, by a broken chain", group, group,
			with(s2),
			with(g.op("s2", m, 3, "nothing", 310, crdt.PostStatus{Post: idOf("nothing"), Status: crdt.Fulfilled})),
			[]string{"Member.Forked"}},
		{"fork seq", group, group,
			with(s2, g.op("s8", m, 3, "s1", 310, crdt.PostStatus{Post: idOf("nothing"), Status: crdt.Open})),
			with(s2, g.op("s9", m, 2, "j1", 300, crdt.PostStatus{Post: idOf("nothing"), Status: crdt.Open})),
			[]string{"Member.Forked"}},
		{"role spans", group, group,
			with(s2),
			with(s2,
				g.op("p1", f, 3, "a1", 400, crdt.SetRole{Member: who(m), Role: crdt.RoleAdmin, Cut: 1}),
				g.op("p2", f, 4, "p1", 410, crdt.SetRole{Member: who(m), Role: crdt.RoleMember, Cut: 2})),
			[]string{"spans"}}, // an admin at seq 2 only: a member now, as before
		{"invite recorded", group, group, base, with(record(i2, 300)), []string{"invites"}},
		{"invite", group, group, with(record(i2, 300)), with(record(i3, 300)), []string{"Invite.Invite"}},
		{"invite used", group, group,
			with(append([]crdt.Op{record(i2, 300)}, newcomer(i3)...)...),
			with(append([]crdt.Op{record(i2, 300)}, newcomer(i2)...)...),
			[]string{"Invite.Used"}},
		{"invite revoked", group, group,
			with(record(i2, 300)),
			with(record(i2, 300), g.op("rv", f, 4, "im", 400, crdt.Revoke{Invite: i2.ID})),
			[]string{"Invite.Revoked"}},
		{"invite recorded at", group, group, with(record(i2, 300)), with(record(i2, 301)), []string{"Invite.MadeAt"}},
		{"post withdrawn", group, group, withPost(), withPost(withdraw), []string{"Post.Withdrawn"}},
		{"post withdrawn, then reopened", group, group,
			withPost(withdraw),
			withPost(withdraw, g.op("o1", m, 4, "w1", 450, crdt.PostStatus{Post: idOf("p1"), Status: crdt.Open})),
			[]string{"Post.Status", "Post.Withdrawn"}}, // the author's open clears the withdrawal
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b := crdt.NewBoard(c.g1), crdt.NewBoard(c.g2)
			for _, x := range []struct {
				board *crdt.Board
				ops   []crdt.Op
			}{{a, c.a}, {b, c.b}} {
				for _, op := range x.ops {
					if v, err, _ := x.board.Apply(op, farFuture); v != crdt.Accept {
						t.Fatalf("%s: %v %v", op.Body.Kind(), v, err)
					}
				}
			}
			if d := stateDiff(a, b); !slices.Equal(d, c.diff) {
				t.Fatalf("the boards differ in %v, the case is built for %v", d, c.diff)
			}
			hashed := slices.DeleteFunc(slices.Clone(c.diff), func(f string) bool { return slices.Contains(unhashed, f) })
			same := a.Hash() == b.Hash()
			switch {
			case same && len(hashed) == 0:
				t.Skipf("%v is not hashed (see unhashed)", c.diff)
			case !same && len(hashed) == 0:
				t.Fatalf("%v is hashed now: remove it from unhashed", c.diff)
			case same:
				t.Fatalf("boards that differ in %v have the same hash", hashed)
			}
		})
	}
}

// Whatever one op more or less changes in the state of a board (any
// exported field of the group, of a member, of an invite or of a post,
// or the spans of the roles), it changes the state hash too. The boards
// are built from random histories (genWorld) and their neighbours, which
// differ by one op, so that most pairs differ in one field only.
func TestStateHashSeesEveryStateChange(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genWorld(t)
		in := rapid.SliceOfN(rapid.Bool(), len(s.ops), len(s.ops)).Draw(t, "subset")
		subset := func(flip int) []crdt.Op {
			var out []crdt.Op
			for i, op := range s.ops {
				if in[i] != (i == flip) {
					out = append(out, op)
				}
			}
			return out
		}
		a := boardOf(subset(-1), s.group)
		for i := range s.ops {
			b := boardOf(subset(i), s.group)
			d := slices.DeleteFunc(stateDiff(a, b), func(f string) bool { return slices.Contains(unhashed, f) })
			if len(d) > 0 && a.Hash() == b.Hash() {
				t.Fatalf("with and without %s %s, the boards differ in %v and have the same hash",
					s.ops[i].Body.Kind(), s.ops[i].ID.Short(), d)
			}
		}
	})
}
