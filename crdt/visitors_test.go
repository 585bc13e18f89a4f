package crdt_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"pgregory.net/rapid"
)

// visitWorld is a group's history (genWorld) followed by visitors'
// ops: members of three other groups — riverside (vouched), blocked
// (vouched, but the group may block it) and unknown (never vouched) —
// each a Visit, then responses and unresponses of the group's posts, and
// now and then a post, an edit, a status or a membership act that must
// not count. Admins and others issue Federation ops that block groups.
type visitWorld struct {
	*world
	visitors  map[crdt.PublicKey]crdt.ID // visitor → its group
	vouched   map[crdt.ID][]crdt.PublicKey
	riverside crdt.ID
	blocked   crdt.ID
	unknown   crdt.ID
}

func genVisitWorld(t *rapid.T) *visitWorld {
	w := &visitWorld{world: genWorld(t), visitors: map[crdt.PublicKey]crdt.ID{}, vouched: map[crdt.ID][]crdt.PublicKey{}}
	w.riverside, w.blocked, w.unknown = crdt.ID{0x52}, crdt.ID{0x53}, crdt.ID{0x54}
	groups := []crdt.ID{w.riverside, w.blocked, w.unknown}
	var keys []crdt.PublicKey
	for i := range rapid.IntRange(1, 4).Draw(t, "visitors") {
		k := fakeKey(fmt.Sprint("visitor", i))
		from := rapid.SampledFrom(groups).Draw(t, fmt.Sprint("visitor ", i, " from"))
		w.visitors[k] = from
		if from != w.unknown && rapid.IntRange(0, 4).Draw(t, fmt.Sprint("visitor ", i, " vouched")) > 0 {
			w.vouched[from] = append(w.vouched[from], k)
		}
		keys = append(keys, k)
	}
	// a member of riverside that never visited, vouched all the same
	w.vouched[w.riverside] = append(w.vouched[w.riverside], fakeKey("riverside member"))
	for i := range rapid.IntRange(1, 25).Draw(t, "visitor steps") {
		label := fmt.Sprint("visitor step ", i)
		v := rapid.SampledFrom(keys).Draw(t, label+" visitor")
		if rapid.IntRange(0, 6).Draw(t, label+" federation") == 0 {
			actor := w.actor(crdt.RoleAdmin, label)
			var blocked []crdt.ID
			if rapid.Bool().Draw(t, label+" block") {
				blocked = []crdt.ID{w.blocked}
			}
			w.add(w.m.op(actor, w.time(actor, label), crdt.Federation{Blocked: blocked}))
			continue
		}
		if w.m.seq(v) == 0 {
			w.add(w.m.op(v, w.time(v, label), crdt.Visit{From: w.visitors[v], Name: "visitor"}))
			continue
		}
		if rapid.IntRange(0, 4).Draw(t, label+" hand on") == 0 {
			// A hand-on of any response held, a visitor's or a member's,
			// by a member mostly, else by anyone (a visitor too).
			var responses []crdt.Op
			for _, op := range w.ops {
				if _, ok := op.Body.(crdt.Respond); ok {
					responses = append(responses, op)
				}
			}
			if len(responses) > 0 {
				by := w.actor(crdt.RoleMember, label)
				if rapid.IntRange(0, 4).Draw(t, label+" hand on by a visitor") == 0 {
					by = v
				}
				resp := rapid.SampledFrom(responses).Draw(t, label+" handed on")
				w.seen[by] = len(w.ops)
				w.add(w.m.op(by, w.time(by, label), crdt.HandOn{Post: resp.Body.(crdt.Respond).Post, Response: resp.ID, Private: crdt.ID{0xcd, byte(i)}}))
				continue
			}
		}
		w.seen[v] = len(w.ops)
		var body crdt.Body
		switch rapid.IntRange(0, 9).Draw(t, label+" act") {
		case 0:
			body = crdt.Leave{}
		case 1:
			body = crdt.SetRole{Member: w.founder, Role: crdt.RoleNone, Cut: 1}
		case 2:
			body = crdt.Rename{Name: "renamed"}
		default:
			body = w.postBody(v, label)
		}
		if r, ok := body.(crdt.Respond); ok && rapid.Bool().Draw(t, label+" sealed") {
			r.Private = crdt.ID{0xc0, byte(i)}
			body = r
		}
		w.add(w.m.op(v, w.time(v, label), body))
	}
	return w
}

// vouch gives b what the replica knows of the visitors' groups.
func (w *visitWorld) vouch(b *crdt.Board) {
	for _, g := range []crdt.ID{w.riverside, w.blocked} {
		b.Vouch(g, w.vouched[g])
	}
}

// expected computes the board the rules give, without the visitor
// rules: the board of the members' ops alone, to which the responses
// and tombstones of visitors that count are added by hand.
func (w *visitWorld) expected(t *rapid.T) map[crdt.ID]*crdt.Post {
	var members []crdt.Op
	for _, op := range w.ops {
		if _, ok := w.visitors[op.Author]; !ok {
			members = append(members, op)
		}
	}
	base := boardOf(members, w.group)
	base.Refresh()
	blocked := base.Group.Blocked(w.blocked)
	counts := func(k crdt.PublicKey) bool {
		from := w.visitors[k]
		return slices.Contains(w.vouched[from], k) && !(from == w.blocked && blocked)
	}
	out := map[crdt.ID]*crdt.Post{}
	for id, p := range base.Posts {
		out[id] = p.Clone()
	}
	for _, op := range w.ops {
		if _, ok := w.visitors[op.Author]; !ok || !counts(op.Author) {
			continue
		}
		switch op.Body.(type) {
		case crdt.Respond, crdt.Unrespond:
			id, _ := crdt.PostOf(&op)
			if p := out[id]; p != nil {
				p.Apply(&op, false) // the merge itself is the members' (laws_test.go)
			}
		}
	}
	// A hand-on counts when a member (at its seq) hands on a visitor's
	// response that counts and carries a sealed contact.
	byID := map[crdt.ID]crdt.Op{}
	for _, op := range w.ops {
		byID[op.ID] = op
	}
	for _, op := range w.ops {
		h, ok := op.Body.(crdt.HandOn)
		if !ok {
			continue
		}
		if r := base.Group.RoleAt(op.Author, op.Seq); r != crdt.RoleMember && r != crdt.RoleAdmin {
			continue
		}
		resp, held := byID[h.Response]
		rb, isResp := resp.Body.(crdt.Respond)
		if _, visitor := w.visitors[resp.Author]; !held || !isResp || !visitor || !counts(resp.Author) || rb.Private.IsZero() || rb.Post != h.Post {
			continue
		}
		if p := out[h.Post]; p != nil {
			p.Apply(&op, false)
		}
	}
	return out
}

// Visitors' responses merge as members' do: any order of arrival, any
// copies, and the vouching learnt before, during or after the ops give
// one state hash; the responses that count are exactly those of
// vouched visitors of groups not blocked; a visitor's posts, edits,
// statuses, membership acts and renames never count.
func TestVisitorsMergeLikeMembers(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := genVisitWorld(t)
		ref := boardOf(w.ops, w.group)
		w.vouch(ref)
		want := snapshot(ref, w.ops)
		wantHash := ref.Hash()
		exp := w.expected(t)
		// A visitor's rename counts nowhere: it is no member, and keeps
		// its visit's name.
		for _, op := range w.ops {
			if _, ok := op.Body.(crdt.Rename); ok && w.visitors[op.Author] != (crdt.ID{}) {
				if ref.Group.Counts(op.ID) || ref.Group.Member(op.Author) != nil {
					t.Fatalf("visitor %s's rename counts", op.Author.String()[:8])
				}
				if v := ref.Group.Visitor(op.Author); v != nil && v.Name != "visitor" {
					t.Fatalf("visitor named %q after a rename", v.Name)
				}
			}
		}
		if len(exp) != len(ref.Posts) {
			t.Fatalf("%d posts, want %d: a visitor's post counted, or a member's did not", len(ref.Posts), len(exp))
		}
		for id, p := range exp {
			got := ref.Posts[id]
			if got == nil || crdt.PostHash(got) != crdt.PostHash(p) {
				t.Fatalf("post %s:\n got %+v\nwant %+v", id.Short(), got, p)
			}
		}
		for r := range rapid.IntRange(1, 3).Draw(t, "replicas") {
			label := fmt.Sprint("replica ", r)
			b := crdt.NewBoard(w.group)
			ops := shuffledWithDuplicates(t, w.ops, label)
			at := rapid.IntRange(0, len(ops)).Draw(t, label+" vouched after")
			deliver(t, b, ops[:at], label)
			w.vouch(b)
			deliver(t, b, ops[at:], label+" rest")
			requireSameState(t, label, want, snapshot(b, w.ops))
			if b.Hash() != wantHash {
				t.Fatalf("%s: state hash differs", label)
			}
		}
	})
}

// Until the replica knows a visitor's group, its responses are held and
// count nowhere; once vouched they count; when the visitor is no longer
// a member of its group (as the replica knows it), or its group is
// blocked, they stop counting again. The state hash tells each apart.
func TestVisitorResponsesNeedVouching(t *testing.T) {
	m := newOpMaker("vouch")
	founder, visitor := fakeKey("founder"), fakeKey("visitor")
	riverside := crdt.ID{0x52}
	gen := m.op(founder, crdt.HLC{Wall: 1000}, crdt.Genesis{Name: "harbour", AuthorName: "founder"})
	m.group = gen.ID
	post := m.op(founder, crdt.HLC{Wall: 1001}, crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: "coats", Quantity: 4}})
	visit := m.op(visitor, crdt.HLC{Wall: 1002}, crdt.Visit{From: riverside, Name: "Rita"})
	resp := m.op(visitor, crdt.HLC{Wall: 1003}, crdt.Respond{Post: post.ID, Quantity: 4, Note: "we have 4", Private: crdt.ID{9}})
	ownPost := m.op(visitor, crdt.HLC{Wall: 1004}, crdt.PostCreate{PostKind: crdt.Offer, Fields: crdt.Fields{Title: "spam"}})
	status := m.op(visitor, crdt.HLC{Wall: 1005}, crdt.PostStatus{Post: post.ID, Status: crdt.Fulfilled})
	b := crdt.NewBoard(gen.ID)
	for _, op := range []crdt.Op{gen, post, visit, resp, ownPost, status} {
		if v, err, _ := b.Apply(op, farFuture); v != crdt.Accept {
			t.Fatalf("%s: %v %v", op.Body.Kind(), v, err)
		}
	}
	shown := func() int {
		b.Refresh()
		if b.Posts[ownPost.ID] != nil {
			t.Fatal("a visitor's post is on the board")
		}
		p := b.Posts[post.ID]
		if p.State() != crdt.Open {
			t.Fatal("a visitor's status counted")
		}
		return len(p.ActiveResponses())
	}
	hashes := map[crdt.ID]string{}
	step := func(name string, wantShown int, wantRole crdt.Role) {
		t.Helper()
		if n := shown(); n != wantShown {
			t.Fatalf("%s: %d responses shown, want %d", name, n, wantShown)
		}
		if r := b.Group.RoleAt(visitor, resp.Seq); r != wantRole {
			t.Fatalf("%s: the response counts with %v, want %v", name, r, wantRole)
		}
		hashes[b.Hash()] = name
	}
	step("unknown group", 0, crdt.RoleNone)
	first := b.Hash()
	b.Vouch(riverside, []crdt.PublicKey{fakeKey("someone else")})
	step("not a member of its group", 0, crdt.RoleNone)
	b.Vouch(riverside, []crdt.PublicKey{visitor})
	step("vouched", 1, crdt.RoleVisitor)
	if v := b.Group.Visitor(visitor); v == nil || !v.Vouched || v.From != riverside || v.Name != "Rita" {
		t.Fatalf("visitor %+v", v)
	}
	if r := b.Posts[post.ID].ActiveResponses()[0]; r.Private != (crdt.ID{9}) || r.Author != visitor {
		t.Fatalf("response %+v", r)
	}
	block := m.op(founder, crdt.HLC{Wall: 1006}, crdt.Federation{Blocked: []crdt.ID{riverside}})
	b.Apply(block, farFuture)
	step("blocked", 0, crdt.RoleNone)
	if v := b.Group.Visitor(visitor); !v.Blocked || v.Vouched {
		t.Fatalf("blocked visitor %+v", v)
	}
	unblock := m.op(founder, crdt.HLC{Wall: 1007}, crdt.Federation{})
	b.Apply(unblock, farFuture)
	step("unblocked", 1, crdt.RoleVisitor)
	b.Vouch(riverside, nil)
	step("no longer known", 0, crdt.RoleNone)
	// Unknown and not a member are one state; every other step differs
	// (the federation ops are part of the state too).
	if len(hashes) != 5 || hashes[first] != "not a member of its group" {
		t.Fatalf("%d distinct hashes: %v", len(hashes), hashes)
	}
}

// A member's block counts only if an admin's: a member's Federation op
// changes nothing.
func TestOnlyAdminsBlock(t *testing.T) {
	m := newOpMaker("block")
	founder, member, visitor := fakeKey("founder"), fakeKey("member"), fakeKey("visitor")
	riverside := crdt.ID{0x52}
	gen := m.op(founder, crdt.HLC{Wall: 1000}, crdt.Genesis{Name: "harbour"})
	m.group = gen.ID
	in := crdt.Invite{ID: m.nextID(), Group: gen.ID, Role: crdt.RoleMember, Expires: 1 << 40, Key: fakeKey("one-time"), Issuer: founder}
	join := m.op(member, crdt.HLC{Wall: 1001}, crdt.Join{Invite: in, Name: "member"})
	admit := m.op(founder, crdt.HLC{Wall: 1002}, crdt.Admit{Join: join.ID})
	post := m.op(founder, crdt.HLC{Wall: 1003}, crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: "coats"}})
	visit := m.op(visitor, crdt.HLC{Wall: 1004}, crdt.Visit{From: riverside})
	resp := m.op(visitor, crdt.HLC{Wall: 1005}, crdt.Respond{Post: post.ID})
	block := m.op(member, crdt.HLC{Wall: 1006}, crdt.Federation{Blocked: []crdt.ID{riverside}})
	b := boardOf([]crdt.Op{gen, join, admit, post, visit, resp, block}, gen.ID)
	b.Vouch(riverside, []crdt.PublicKey{visitor})
	b.Refresh()
	if b.Group.Blocked(riverside) || len(b.Posts[post.ID].ActiveResponses()) != 1 {
		t.Fatal("a member's block counted")
	}
}

// A hand-on counts only when a member hands on a visitor's response that
// counts (with a sealed contact): one by a visitor or by a stranger, or
// of a member's response, or of a response that does not count (its
// group not vouched, or blocked) changes nothing, not even the state
// hash; it counts once the response does, and stops with it.
func TestHandOnCountsOnlyFromMembersForVisitors(t *testing.T) {
	m := newOpMaker("handon")
	founder, member, visitor, stranger := fakeKey("founder"), fakeKey("member"), fakeKey("visitor"), fakeKey("stranger")
	riverside := crdt.ID{0x52}
	gen := m.op(founder, crdt.HLC{Wall: 1000}, crdt.Genesis{Name: "harbour"})
	m.group = gen.ID
	in := crdt.Invite{ID: m.nextID(), Group: gen.ID, Role: crdt.RoleMember, Expires: 1 << 40, Key: fakeKey("one-time"), Issuer: founder}
	join := m.op(member, crdt.HLC{Wall: 1001}, crdt.Join{Invite: in, Name: "member"})
	admit := m.op(founder, crdt.HLC{Wall: 1002}, crdt.Admit{Join: join.ID})
	post := m.op(founder, crdt.HLC{Wall: 1003}, crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: "coats"}})
	visit := m.op(visitor, crdt.HLC{Wall: 1004}, crdt.Visit{From: riverside})
	resp := m.op(visitor, crdt.HLC{Wall: 1005}, crdt.Respond{Post: post.ID, Quantity: 4, Private: crdt.ID{9}})
	own := m.op(member, crdt.HLC{Wall: 1006}, crdt.Respond{Post: post.ID, Private: crdt.ID{8}})
	strangerJoin := m.op(stranger, crdt.HLC{Wall: 1006}, crdt.Join{Invite: in, Name: "stranger"}) // never admitted
	base := []crdt.Op{gen, join, admit, post, visit, resp, own, strangerJoin}

	refused := map[string]crdt.Op{
		"by the visitor":         m.op(visitor, crdt.HLC{Wall: 1007}, crdt.HandOn{Post: post.ID, Response: resp.ID, Private: crdt.ID{1}}),
		"by a non-member":        m.op(stranger, crdt.HLC{Wall: 1007}, crdt.HandOn{Post: post.ID, Response: resp.ID, Private: crdt.ID{2}}),
		"of a member's response": m.op(member, crdt.HLC{Wall: 1007}, crdt.HandOn{Post: post.ID, Response: own.ID, Private: crdt.ID{3}}),
		"of another post":        m.op(founder, crdt.HLC{Wall: 1007}, crdt.HandOn{Post: admit.ID, Response: resp.ID, Private: crdt.ID{4}}),
		"of no response held":    m.op(founder, crdt.HLC{Wall: 1008}, crdt.HandOn{Post: post.ID, Response: crdt.ID{7}, Private: crdt.ID{5}}),
	}
	good := m.op(member, crdt.HLC{Wall: 1009}, crdt.HandOn{Post: post.ID, Response: resp.ID, Private: crdt.ID{6}})

	board := func(extra ...crdt.Op) *crdt.Board {
		b := boardOf(append(slices.Clone(base), extra...), gen.ID)
		b.Vouch(riverside, []crdt.PublicKey{visitor})
		b.Refresh()
		return b
	}
	want := board().Hash()
	for name, op := range refused {
		b := board(op)
		if v, err := b.Group.Check(&op, farFuture); v != crdt.Accept {
			t.Fatalf("%s: %v %v: well-formed, it is held like any op", name, v, err)
		}
		if b.Hash() != want || len(b.Posts[post.ID].HandOns) != 0 || counts(b, &op) {
			t.Fatalf("a hand-on %s counted", name)
		}
	}
	b := board(good)
	if h := b.Posts[post.ID].HandedOnFor(resp.ID); len(h) != 1 || h[0].Op != good.ID || h[0].Author != member || b.Hash() == want {
		t.Fatalf("a member's hand-on of a visitor's response: %+v", b.Posts[post.ID].HandOns)
	}
	// Not vouched, or blocked: the response does not count, nor does
	// its hand-on.
	b.Vouch(riverside, nil)
	b.Refresh()
	if len(b.Posts[post.ID].HandOns) != 0 {
		t.Fatal("a hand-on counts while the visitor is not vouched")
	}
	block := m.op(founder, crdt.HLC{Wall: 1010}, crdt.Federation{Blocked: []crdt.ID{riverside}})
	b = board(good, block)
	if len(b.Posts[post.ID].HandOns) != 0 {
		t.Fatal("a hand-on counts while the visitor's group is blocked")
	}
	// Two members at once: both count, in op ID order, on every replica.
	again := m.op(founder, crdt.HLC{Wall: 1009}, crdt.HandOn{Post: post.ID, Response: resp.ID, Private: crdt.ID{0xa}})
	b1, b2 := board(good, again), board(again, good)
	if len(b1.Posts[post.ID].HandedOnFor(resp.ID)) != 2 || b1.Hash() != b2.Hash() {
		t.Fatal("two hand-ons of one response do not converge")
	}
}
