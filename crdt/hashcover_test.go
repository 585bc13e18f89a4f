package crdt_test

import (
	"fmt"
	"reflect"
	"slices"
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
// post; these have the shapes the crdt makes: sorted responses, stubs).
func TestPostHashCoversEveryFieldOfRealPosts(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		group, id, ops := genPostOps(t)
		p := crdt.NewPost(group, id)
		for _, op := range ops {
			p.Apply(&op)
		}
		ph := crdt.PostHash(p)
		mutations(t, p, func(what string) {
			if crdt.PostHash(p) == ph {
				t.Fatalf("%s: PostHash did not change", what)
			}
		})
	})
}

// stateDiff names the exported fields in which two boards' group state
// differs (the group's own fields, then each member's), and "posts" if
// their posts differ. It reads the fields by reflection, so a field
// added to Group or Member is compared without changing it.
func stateDiff(a, b *crdt.Board) []string {
	var out []string
	va, vb := reflect.ValueOf(a.Group).Elem(), reflect.ValueOf(b.Group).Elem()
	for i := range va.NumField() {
		f := va.Type().Field(i)
		if f.IsExported() && !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, "Group."+f.Name)
		}
	}
	ma, mb := a.Group.Members(), b.Group.Members()
	if len(ma) != len(mb) {
		out = append(out, "members")
	} else {
		for i := range ma {
			va, vb := reflect.ValueOf(ma[i]), reflect.ValueOf(mb[i])
			for j := range va.NumField() {
				f := va.Type().Field(j)
				if f.IsExported() && !reflect.DeepEqual(va.Field(j).Interface(), vb.Field(j).Interface()) {
					out = append(out, "Member."+f.Name)
				}
			}
		}
	}
	if !reflect.DeepEqual(a.Posts, b.Posts) {
		out = append(out, "posts")
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// unhashed lists the state that StateHash does not cover today, found by
// these tests and reported with issue 8. Member.Via (which join made the
// member, shown by the API) differs between replicas that hold different
// joins of one member with the same role, name and join time.
var unhashed = []string{"Member.Via"}

// groupOp makes fake ops of one group for the group-state tests.
type groupOp struct {
	group crdt.ID
}

func (g groupOp) genesis(id crdt.ID, founder crdt.PublicKey, name string, wall int64) crdt.Op {
	return crdt.Op{ID: id, Author: founder, Seq: 1, Time: crdt.HLC{Wall: wall}, Body: crdt.Genesis{Name: name, AuthorName: "founder"}}
}

func (g groupOp) join(id crdt.ID, author, issuer crdt.PublicKey, role crdt.Role, name string, wall int64) crdt.Op {
	return crdt.Op{ID: id, Group: g.group, Author: author, Seq: 1, Time: crdt.HLC{Wall: wall},
		Body: crdt.Join{Invite: crdt.Invite{Group: g.group, Role: role, Expires: wall, Issuer: issuer}, Name: name}}
}

// Two boards whose group state differs in one field have different
// hashes, for each field of the group and of a member. Each pair is
// built by real ops, and checked to differ in exactly the field named.
func TestStateHashCoversGroupFields(t *testing.T) {
	id := func(s string) crdt.ID { return crdt.ID(padded(s)) } // "a" < "b": IDs order as their names
	founder, other := who("founder"), who("other founder")
	m, n := who("member"), who("newcomer")
	group := id("group")
	g := groupOp{group}
	base := []crdt.Op{g.genesis(group, founder, "group", 100)}
	with := func(ops ...crdt.Op) []crdt.Op { return append(slices.Clone(base), ops...) }
	cases := []struct {
		name   string
		g1, g2 crdt.ID
		a, b   []crdt.Op
		diff   []string
	}{
		{"group ID", group, id("another"), nil, nil, []string{"Group.ID"}},
		{"group name", group, group,
			[]crdt.Op{g.genesis(group, founder, "group", 100)},
			[]crdt.Op{g.genesis(group, founder, "grouq", 100)},
			[]string{"Group.Name"}},
		{"founder", group, group,
			[]crdt.Op{g.genesis(group, founder, "group", 100)},
			[]crdt.Op{g.genesis(group, other, "group", 100)},
			[]string{"Group.Founder", "Member.Key"}}, // the founder is a member
		{"founder, the same members", group, group, // possible only with fake IDs: a real genesis's ID names its author
			[]crdt.Op{g.genesis(group, founder, "group", 100), g.join(id("j1"), other, founder, crdt.RoleAdmin, "other founder", 100)},
			[]crdt.Op{
				func() crdt.Op {
					op := g.genesis(group, other, "group", 100)
					op.Body = crdt.Genesis{Name: "group", AuthorName: "other founder"}
					return op
				}(),
				g.join(id("j1"), founder, other, crdt.RoleAdmin, "founder", 100),
			},
			[]string{"Group.Founder", "Member.Via"}},
		{"member key", group, group,
			with(g.join(id("j1"), m, founder, crdt.RoleMember, "x", 200)),
			with(g.join(id("j1"), n, founder, crdt.RoleMember, "x", 200)),
			[]string{"Member.Key"}},
		{"member name", group, group,
			with(g.join(id("j1"), m, founder, crdt.RoleMember, "x", 200), g.join(id("j2"), m, founder, crdt.RoleMember, "y", 300)),
			with(g.join(id("j1"), m, founder, crdt.RoleMember, "x", 200), g.join(id("j3"), m, founder, crdt.RoleMember, "x", 300)),
			[]string{"Member.Name"}},
		{"member role", group, group,
			with(g.join(id("j1"), m, founder, crdt.RoleMember, "x", 200)),
			with(g.join(id("j1"), m, founder, crdt.RoleAdmin, "x", 200)),
			[]string{"Member.Role"}},
		{"member join time", group, group,
			with(g.join(id("j1"), m, founder, crdt.RoleMember, "x", 200)),
			with(g.join(id("j1"), m, founder, crdt.RoleMember, "x", 201)),
			[]string{"Member.JoinedAt"}},
		{"member join time, logical", group, group,
			with(g.join(id("j1"), m, founder, crdt.RoleMember, "x", 200)),
			with(func() crdt.Op {
				op := g.join(id("j1"), m, founder, crdt.RoleMember, "x", 200)
				op.Time.Logical = 1
				return op
			}()),
			[]string{"Member.JoinedAt"}},
		{"member via", group, group,
			with(g.join(id("j1"), m, founder, crdt.RoleMember, "x", 200)),
			with(g.join(id("j0"), m, founder, crdt.RoleMember, "x", 200)),
			[]string{"Member.Via"}},
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
				t.Skipf("%v is not hashed (issue 8)", c.diff)
			case !same && len(hashed) == 0:
				t.Fatalf("%v is hashed now: remove it from unhashed", c.diff)
			case same:
				t.Fatalf("boards that differ in %v have the same hash", hashed)
			}
		})
	}
}

// Whatever one op more or less changes in the state of a board (any
// exported field of the group or of a member, or the posts), it changes
// the state hash too. The boards are built from random sets of real ops
// and their neighbours, which differ by one op, so that most pairs
// differ in one field only.
func TestStateHashSeesEveryStateChange(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genOpSet(t)
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
