package crdt_test

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/mutual-aid/mutual/crdt"
	"pgregory.net/rapid"
)

// The generators here build ops as plain values. Package crdt must not
// import protocol, so ops get distinct fake IDs (the SHA-256 of a
// counter) and no signatures, invites fake IDs and one-time keys, joins
// no proofs: the crdt never looks at any of them.

// farFuture is the receivers' wall clock in the property tests: late
// enough that no generated op is beyond MaxDrift.
const farFuture = 1 << 40

func fakeKey(name string) crdt.PublicKey {
	return crdt.PublicKey(sha256.Sum256([]byte("key/" + name)))
}

// opMaker numbers ops and keeps each author's seq/prev chain.
type opMaker struct {
	n     uint64
	group crdt.ID
	chain map[crdt.PublicKey][]crdt.ID // per author, its ops in seq order: chain[a][s-1] is at seq s
}

func newOpMaker(salt string) *opMaker {
	m := &opMaker{chain: map[crdt.PublicKey][]crdt.ID{}}
	h := sha256.Sum256([]byte(salt))
	m.n = binary.BigEndian.Uint64(h[:8])
	return m
}

func (m *opMaker) nextID() crdt.ID {
	m.n++
	return sha256.Sum256(binary.BigEndian.AppendUint64([]byte("op/"), m.n))
}

// op makes author's next op.
func (m *opMaker) op(author crdt.PublicKey, t crdt.HLC, body crdt.Body) crdt.Op {
	c := m.chain[author]
	var prev crdt.ID
	if len(c) > 0 {
		prev = c[len(c)-1]
	}
	op := m.opAt(author, uint64(len(c))+1, prev, t, body)
	m.chain[author] = append(c, op.ID)
	return op
}

// opAt makes an op of author at seq with prev, off its chain: a fork.
func (m *opMaker) opAt(author crdt.PublicKey, seq uint64, prev crdt.ID, t crdt.HLC, body crdt.Body) crdt.Op {
	op := crdt.Op{ID: m.nextID(), Group: m.group, Author: author, Seq: seq, Prev: prev, Time: t, Body: body}
	if _, ok := body.(crdt.Genesis); ok {
		op.Group = crdt.ID{}
	}
	return op
}

// seq returns the seq of author's last op on its chain.
func (m *opMaker) seq(author crdt.PublicKey) uint64 { return uint64(len(m.chain[author])) }

var (
	smallText = []string{"", "a", "b", "coats", "Décor ☂"}
	titles    = []string{"a", "b", "coats", "blankets"}
	byNames   = []string{"", "", "Sam", "Lee"} // mostly the node's own user
)

func genFields(t *rapid.T, label string) crdt.Fields {
	return crdt.Fields{
		Title:    rapid.SampledFrom(titles).Draw(t, label+" title"),
		Details:  rapid.SampledFrom(smallText).Draw(t, label+" details"),
		Category: rapid.SampledFrom(smallText).Draw(t, label+" category"),
		Quantity: rapid.Uint32Range(0, 5).Draw(t, label+" qty"),
		Urgency:  crdt.Urgency(rapid.IntRange(0, 2).Draw(t, label+" urgency")),
		Expires:  rapid.SampledFrom([]int64{0, 0, 500, 1002, 5000}).Draw(t, label+" expires"),
	}
}

// genPrivate draws the hash of a sealed blob, or none.
func genPrivate(t *rapid.T, label string) crdt.ID {
	v := rapid.SampledFrom(smallText).Draw(t, label+" private")
	if v == "" {
		return crdt.ID{}
	}
	return sha256.Sum256([]byte(v))
}

type response struct {
	id     crdt.ID
	post   crdt.ID
	author crdt.PublicKey
}

// world is one group's history: the ops its nodes made, each node from
// the ops it had seen, with concurrent and conflicting changes. It is the
// input of the property tests, which deliver its ops to replicas.
type world struct {
	t        *rapid.T
	m        *opMaker
	group    crdt.ID
	founder  crdt.PublicKey
	outsider crdt.PublicKey // joins with an invite of its own making: never a member
	ops      []crdt.Op      // in the order they were made

	authors   []crdt.PublicKey       // keys that made their first op
	newcomers []crdt.PublicKey       // keys that have not, yet
	seen      map[crdt.PublicKey]int // author a's node holds ops[:seen[a]], and its own ops
	invites   []crdt.Invite          // every invite made; its code reaches anyone
	forks     map[crdt.PublicKey]uint64
	now       *crdt.Board // every op made so far: steers the choice of actors
}

// genWorld runs a random history: a genesis, then steps in which one
// author, after learning what happened up to some point, makes an op:
// invites (recorded or not, with uses and expiries, from admins and from
// members), joins (of newcomers and of members and removed members, with
// any invite), admits of the joins it has seen, promotions, demotions and
// removals with cuts drawn from what it has seen, leaves, renames, revokes, posts,
// edits, status changes, responses and unresponses of the posts it has
// seen, and forks: a second op at a seq it has used, or an op whose Prev
// names no op of its. Actors are mostly those who have the right to do
// what they do (by the ops made so far), but not always. Clocks are
// narrow, so stamps tie, and some ops are backdated.
func genWorld(t *rapid.T) *world {
	m := newOpMaker("world")
	w := &world{t: t, m: m, founder: fakeKey("founder"), outsider: fakeKey("outsider"), seen: map[crdt.PublicKey]int{}, forks: map[crdt.PublicKey]uint64{}}
	for i := range rapid.IntRange(2, 6).Draw(t, "newcomers") {
		w.newcomers = append(w.newcomers, fakeKey(fmt.Sprint("newcomer", i)))
	}
	genesis := m.op(w.founder, crdt.HLC{Wall: 1000}, crdt.Genesis{Name: "group", AuthorName: "founder"})
	w.group, m.group = genesis.ID, genesis.ID
	w.now = crdt.NewBoard(w.group)
	w.add(genesis)
	w.authors = append(w.authors, w.founder)
	w.makeInvite(w.founder, "first invite")
	own := crdt.Invite{ID: m.nextID(), Group: w.group, Role: crdt.RoleAdmin, Expires: 1 << 30, Key: fakeKey("outsider's invite"), Issuer: w.outsider}
	w.add(m.op(w.outsider, w.time(w.outsider, "outsider"), crdt.Join{Invite: own, Name: "outsider"}))
	w.authors = append(w.authors, w.outsider)

	for i := range rapid.IntRange(5, 45).Draw(t, "steps") {
		label := fmt.Sprint("step ", i)
		// rapid draws small indexes more often: the commonest ops first.
		kind := rapid.SampledFrom(stepKinds).Draw(t, label+" kind")
		need := crdt.RoleMember
		if kind == "invite" || kind == "role" || kind == "revoke" || kind == "settings" {
			need = crdt.RoleAdmin
		}
		actor := w.actor(need, label)
		if n := len(w.ops); rapid.Bool().Draw(t, label+" sync") {
			w.seen[actor] = rapid.IntRange(w.seen[actor], n).Draw(t, label+" seen")
		}
		switch kind {
		case "join":
			w.join(label)
		case "admit":
			w.admit(actor, label)
		case "invite":
			w.makeInvite(actor, label)
		case "role":
			w.setRole(actor, label)
		case "revoke":
			in := rapid.SampledFrom(w.invites).Draw(t, label+" invite")
			w.add(m.op(actor, w.time(actor, label), crdt.Revoke{Invite: in.ID}))
		case "leave":
			if rapid.Bool().Draw(t, label+" leave") {
				leaver := w.other(label + " leaver")
				w.add(m.op(leaver, w.time(leaver, label), crdt.Leave{}))
				break
			}
			w.add(m.op(actor, w.time(actor, label), w.postBody(actor, label)))
		case "post":
			w.add(m.op(actor, w.time(actor, label), w.postBody(actor, label)))
		case "key":
			// a new key, or one named before, shared with one or two members
			key := crdt.KeyID{byte(rapid.IntRange(1, 3).Draw(t, label+" key"))}
			var shares []crdt.Share
			for _, k := range w.authors[:min(len(w.authors), rapid.IntRange(1, 2).Draw(t, label+" shares"))] {
				shares = append(shares, crdt.Share{Member: k, Sealed: [crdt.SealedShareSize]byte{key[0]}})
			}
			slices.SortFunc(shares, func(a, b crdt.Share) int { return a.Member.Compare(b.Member) })
			w.add(m.op(actor, w.time(actor, label), crdt.GroupKey{Key: key, Shares: shares}))
		case "settings":
			w.add(m.op(actor, w.time(actor, label), crdt.Settings{Retention: rapid.Int64Range(1, 5).Draw(t, label+" retention")}))
		case "rename":
			w.add(m.op(actor, w.time(actor, label), crdt.Rename{Name: rapid.SampledFrom(newNames).Draw(t, label+" new name")}))
		case "fork":
			if rapid.Bool().Draw(t, label+" fork") {
				w.fork(w.other(label+" forker"), label)
				break
			}
			w.add(m.op(actor, w.time(actor, label), w.postBody(actor, label)))
		}
	}
	return w
}

var stepKinds = []string{
	"post", "admit", "join", "post", "invite", "role", "post", "admit", "join", "post",
	"leave", "revoke", "rename", "post", "role", "fork", "post", "admit", "post", "invite", "post",
	"key", "settings", "rename",
}

// newNames are the names renames set: few, so that renames of one member
// often set the same name and of several members often different ones.
var newNames = []string{"x", "Zoë", "w"}

func (w *world) add(op crdt.Op) {
	w.ops = append(w.ops, op)
	w.now.Apply(op, farFuture)
}

// actor picks who acts: mostly someone with at least role need by the
// ops made so far, now and then anyone.
func (w *world) actor(need crdt.Role, label string) crdt.PublicKey {
	var able []crdt.PublicKey
	for _, k := range w.authors {
		if r := w.role(k); r >= need {
			able = append(able, k)
		}
	}
	if len(able) == 0 || rapid.IntRange(0, 4).Draw(w.t, label+" anyone") == 0 {
		latest := slices.Clone(w.authors)
		slices.Reverse(latest)
		return rapid.SampledFrom(latest).Draw(w.t, label+" actor")
	}
	return rapid.SampledFrom(able).Draw(w.t, label+" able actor")
}

// other picks an author for an act that ends its say in the group (a
// leave, a fork): the latest first, the founder seldom.
func (w *world) other(label string) crdt.PublicKey {
	latest := slices.Clone(w.authors[1:])
	slices.Reverse(latest)
	if rapid.IntRange(0, 7).Draw(w.t, label+" founder") == 0 {
		return w.founder
	}
	return rapid.SampledFrom(latest).Draw(w.t, label)
}

// role returns k's role at its next op, by the ops made so far.
func (w *world) role(k crdt.PublicKey) crdt.Role {
	w.now.Refresh()
	if w.now.Group.ForkedAt(k) != 0 {
		return crdt.RoleNone
	}
	m := w.now.Group.Member(k)
	if m == nil {
		return crdt.RoleNone
	}
	return m.Role
}

// view returns the ops author's node holds.
func (w *world) view(author crdt.PublicKey) []crdt.Op {
	out := slices.Clone(w.ops[:w.seen[author]])
	for _, op := range w.ops[w.seen[author]:] {
		if op.Author == author {
			out = append(out, op)
		}
	}
	return out
}

// time returns a stamp for author's next op: after what it has seen
// (often equal to another's), or now and then backdated.
func (w *world) time(author crdt.PublicKey, label string) crdt.HLC {
	wall := int64(1000)
	for _, op := range w.view(author) {
		wall = max(wall, op.Time.Wall)
	}
	wall += rapid.Int64Range(0, 1).Draw(w.t, label+" tick")
	if rapid.IntRange(0, 9).Draw(w.t, label+" backdated") == 0 {
		wall = rapid.Int64Range(1000, wall).Draw(w.t, label+" backdated wall")
	}
	return crdt.HLC{Wall: wall, Logical: rapid.Uint32Range(0, 1).Draw(w.t, label+" logical")}
}

func (w *world) makeInvite(issuer crdt.PublicKey, label string) {
	at := w.time(issuer, label)
	in := crdt.Invite{
		ID:      w.m.nextID(),
		Group:   w.group,
		Role:    crdt.Role(rapid.IntRange(1, 2).Draw(w.t, label+" role")),
		Expires: at.Wall + rapid.SampledFrom([]int64{100, 100, 100, 3, 1, 0, -1}).Draw(w.t, label+" valid for"),
		Uses:    rapid.SampledFrom([]uint32{0, 0, 1, 2}).Draw(w.t, label+" uses"),
		Key:     fakeKey(fmt.Sprint("one-time ", w.m.n)),
		Issuer:  issuer,
	}
	w.invites = append(w.invites, in)
	if w.m.seq(issuer) > 0 && rapid.IntRange(0, 3).Draw(w.t, label+" recorded") > 0 {
		w.add(w.m.op(issuer, at, crdt.InviteMade{Invite: in}))
	}
}

// join makes a newcomer join, or a key that has joined before join again.
func (w *world) join(label string) {
	var k crdt.PublicKey
	again := w.authors[2:] // not the founder, nor the outsider
	switch {
	case len(w.newcomers) > 0 && (len(again) == 0 || rapid.IntRange(0, 3).Draw(w.t, label+" newcomer") > 0):
		k = w.newcomers[0]
		w.newcomers = w.newcomers[1:]
		w.authors = append(w.authors, k)
	case len(again) > 0:
		k = rapid.SampledFrom(again).Draw(w.t, label+" joiner")
	default:
		return
	}
	// Mostly an open invite of an admin, the latest first; now and then any.
	var open []crdt.Invite
	for _, in := range slices.Backward(w.invites) {
		if w.role(in.Issuer) == crdt.RoleAdmin && in.Expires >= w.latest() {
			open = append(open, in)
		}
	}
	if len(open) == 0 || rapid.IntRange(0, 3).Draw(w.t, label+" any invite") == 0 {
		open = w.invites
	}
	in := rapid.SampledFrom(open).Draw(w.t, label+" invite")
	name := rapid.SampledFrom([]string{"x", "y", "z"}).Draw(w.t, label+" name")
	join := w.m.op(k, w.time(k, label), crdt.Join{Invite: in, Name: name})
	w.add(join)
	if rapid.Bool().Draw(w.t, label+" offered") {
		// The newcomer's node offers its join to a member's, which
		// witnesses it.
		a := w.actor(crdt.RoleMember, label+" witness")
		w.seen[a] = len(w.ops)
		w.add(w.m.op(a, w.time(a, label+" witness"), crdt.Admit{Join: join.ID}))
	}
}

// latest returns the greatest wall time of the ops made so far.
func (w *world) latest() int64 {
	var t int64
	for _, op := range w.ops {
		t = max(t, op.Time.Wall)
	}
	return t
}

// admit witnesses a join: mostly one that does not count yet, which the
// joiner's node has just offered to the actor's.
func (w *world) admit(actor crdt.PublicKey, label string) {
	var joins, pending []int // the latest first: rapid favours the first
	w.now.Refresh()
	for i := len(w.ops) - 1; i >= 0; i-- {
		if _, ok := w.ops[i].Body.(crdt.Join); ok {
			joins = append(joins, i)
			if !w.now.Group.Counts(w.ops[i].ID) && w.ops[i].Author != w.outsider {
				pending = append(pending, i)
			}
		}
	}
	switch {
	case len(pending) > 0 && rapid.IntRange(0, 3).Draw(w.t, label+" pending") > 0:
		joins = pending
	case len(pending) == 0 && rapid.Bool().Draw(w.t, label+" post instead"):
		w.add(w.m.op(actor, w.time(actor, label), w.postBody(actor, label)))
		return
	}
	i := rapid.SampledFrom(joins).Draw(w.t, label+" join")
	if i >= w.seen[actor] && w.ops[i].Author != actor {
		w.seen[actor] = i + 1
	}
	w.add(w.m.op(actor, w.time(actor, label), crdt.Admit{Join: w.ops[i].ID}))
}

// setRole changes another author's role, or removes it, with a cut at
// most how far the actor holds that author's log.
func (w *world) setRole(actor crdt.PublicKey, label string) {
	view := w.view(actor)
	held := map[crdt.PublicKey]map[uint64]bool{}
	for _, op := range view {
		if held[op.Author] == nil {
			held[op.Author] = map[uint64]bool{}
		}
		held[op.Author][op.Seq] = true
	}
	var targets, members []crdt.PublicKey // the latest first
	for _, k := range slices.Backward(w.authors) {
		if k != actor && held[k][1] {
			targets = append(targets, k)
			if w.role(k) != crdt.RoleNone {
				members = append(members, k)
			}
		}
	}
	if len(members) > 0 && rapid.IntRange(0, 3).Draw(w.t, label+" a member") > 0 {
		targets = members
	}
	if len(targets) == 0 {
		return
	}
	target := rapid.SampledFrom(targets).Draw(w.t, label+" target")
	head := uint64(0)
	for held[target][head+1] {
		head++
	}
	cut := head
	if rapid.IntRange(0, 3).Draw(w.t, label+" older cut") == 0 {
		cut = rapid.Uint64Range(1, head).Draw(w.t, label+" cut")
	}
	role := rapid.SampledFrom([]crdt.Role{crdt.RoleMember, crdt.RoleNone, crdt.RoleAdmin}).Draw(w.t, label+" new role")
	w.add(w.m.op(actor, w.time(actor, label), crdt.SetRole{Member: target, Role: role, Cut: cut}))
}

// postBody makes a post op: on the posts actor has seen, now and then on
// a post nobody created.
func (w *world) postBody(actor crdt.PublicKey, label string) crdt.Body {
	t := w.t
	var posts []crdt.ID // the latest first
	var responses []response
	for _, op := range slices.Backward(w.view(actor)) {
		switch b := op.Body.(type) {
		case crdt.PostCreate:
			posts = append(posts, op.ID)
		case crdt.Respond:
			responses = append(responses, response{id: op.ID, post: b.Post, author: op.Author})
		}
	}
	kind := rapid.IntRange(0, 5).Draw(t, label+" post op")
	if kind == 0 || len(posts) == 0 && rapid.Bool().Draw(t, label+" create") {
		return crdt.PostCreate{
			PostKind: crdt.PostKind(rapid.IntRange(1, 2).Draw(t, label+" post kind")),
			Fields:   genFields(t, label),
			Ref:      rapid.SampledFrom([]string{"", "row-1"}).Draw(t, label+" ref"),
			Private:  genPrivate(t, label),
		}
	}
	target := sha256.Sum256([]byte("phantom"))
	if len(posts) > 0 && rapid.IntRange(0, 5).Draw(t, label+" phantom") > 0 {
		target = rapid.SampledFrom(posts).Draw(t, label+" target")
	}
	switch kind {
	case 1:
		return crdt.PostEdit{
			Post:    target,
			Set:     crdt.FieldMask(rapid.Uint16Range(1, uint16(crdt.AllFields)).Draw(t, label+" mask")),
			Fields:  genFields(t, label),
			Private: genPrivate(t, label),
		}
	case 2:
		return crdt.PostStatus{Post: target, Status: crdt.Status(rapid.IntRange(0, 3).Draw(t, label+" status"))}
	case 5:
		return crdt.Erase{Post: target}
	case 3:
		return crdt.Respond{
			Post:     target,
			Quantity: rapid.Uint32Range(0, 3).Draw(t, label+" qty"),
			Note:     rapid.SampledFrom(smallText).Draw(t, label+" note"),
		}
	}
	r := response{id: w.m.nextID(), post: target}
	if len(responses) > 0 {
		r = rapid.SampledFrom(responses).Draw(t, label+" response")
	}
	if rapid.IntRange(0, 3).Draw(t, label+" hand on") == 0 {
		// A hand-on: it counts only for a visitor's response (visitors
		// _test.go); here, of a member's, it must change nothing.
		return crdt.HandOn{Post: r.post, Response: r.id, Private: crdt.ID{0xcc, byte(w.m.seq(actor))}}
	}
	return crdt.Unrespond{Post: r.post, Response: r.id}
}

// fork makes actor sign a second op at a seq it has used (its Prev the
// op before, as a node restored from a backup would), or an op whose
// Prev names no op of its. It records the seq from which the author's
// ops must stop counting.
func (w *world) fork(actor crdt.PublicKey, label string) {
	last := w.m.seq(actor)
	if last < 1 {
		return
	}
	body := crdt.PostStatus{Post: sha256.Sum256([]byte("phantom")), Status: crdt.Claimed}
	at := w.time(actor, label)
	var op crdt.Op
	var from uint64
	if last >= 2 && rapid.Bool().Draw(w.t, label+" second op at a seq") {
		s := rapid.Uint64Range(2, last).Draw(w.t, label+" fork seq")
		op = w.m.opAt(actor, s, w.m.chain[actor][s-2], at, body)
		from = s
	} else {
		s := rapid.Uint64Range(2, last+1).Draw(w.t, label+" break seq")
		op = w.m.opAt(actor, s, w.m.nextID(), at, body)
		from = s - 1
	}
	if f, ok := w.forks[actor]; !ok || from < f {
		w.forks[actor] = from
	}
	w.add(op)
}

// genPostOps makes ops that all target one post: its create (unless
// absent), and edits, status changes, responds and unresponds by a few
// authors with colliding timestamps. Author a made the post and b is an
// admin: their ops are privileged.
func genPostOps(t *rapid.T) (group, post crdt.ID, ops []crdt.Op) {
	m := newOpMaker("post")
	group = m.nextID()
	m.group = group
	hlc := func(label string) crdt.HLC {
		return crdt.HLC{Wall: rapid.Int64Range(1000, 1004).Draw(t, label+" wall"), Logical: rapid.Uint32Range(0, 1).Draw(t, label+" logical")}
	}
	authors := []crdt.PublicKey{fakeKey("a"), fakeKey("b"), fakeKey("c")}
	create := m.op(authors[0], hlc("create"), crdt.PostCreate{PostKind: crdt.Need, Fields: genFields(t, "create")})
	post = create.ID
	if rapid.IntRange(0, 4).Draw(t, "create present") > 0 {
		ops = append(ops, create)
	}
	var responses []response
	for i := range rapid.IntRange(1, 12).Draw(t, "ops") {
		label := fmt.Sprint("op ", i)
		author := rapid.SampledFrom(authors).Draw(t, label+" author")
		at := hlc(label)
		var body crdt.Body
		switch rapid.IntRange(0, 3).Draw(t, label+" kind") {
		case 0:
			body = crdt.PostEdit{
				Post:    post,
				Set:     crdt.FieldMask(rapid.Uint16Range(1, uint16(crdt.AllFields)).Draw(t, label+" mask")),
				Fields:  genFields(t, label),
				Private: genPrivate(t, label),
			}
		case 1:
			body = crdt.PostStatus{Post: post, Status: crdt.Status(rapid.IntRange(0, 3).Draw(t, label+" status"))}
		case 2:
			body = crdt.Respond{Post: post, Quantity: rapid.Uint32Range(0, 3).Draw(t, label+" qty"), By: rapid.SampledFrom(byNames).Draw(t, label+" by")}
		case 3:
			r := response{id: m.nextID(), author: author}
			if len(responses) > 0 {
				r = rapid.SampledFrom(responses).Draw(t, label+" response")
				if rapid.Bool().Draw(t, label+" by its author") {
					author = r.author
				}
			}
			body = crdt.Unrespond{Post: post, Response: r.id}
		}
		op := m.op(author, at, body)
		if _, ok := body.(crdt.Respond); ok {
			responses = append(responses, response{id: op.ID, post: post, author: author})
		}
		ops = append(ops, op)
	}
	return group, post, ops
}

// postPrivileged says whether an op of genPostOps is by the post's author
// or an admin.
func postPrivileged(op *crdt.Op) bool {
	return op.Author == fakeKey("a") || op.Author == fakeKey("b")
}

// shuffledWithDuplicates returns a permutation of ops with some of them
// repeated at random places.
func shuffledWithDuplicates(t *rapid.T, ops []crdt.Op, label string) []crdt.Op {
	out := slices.Clone(ops)
	if len(ops) > 0 {
		for _, i := range rapid.SliceOfN(rapid.IntRange(0, len(ops)-1), 0, 8).Draw(t, label+" duplicates") {
			out = append(out, ops[i])
		}
	}
	return rapid.Permutation(out).Draw(t, label+" order")
}

// boardOf applies ops in the order given and computes the state once.
func boardOf(ops []crdt.Op, group crdt.ID) *crdt.Board {
	b := crdt.NewBoard(group)
	for _, op := range ops {
		b.Apply(op, farFuture)
	}
	return b
}

// deliver applies ops to b in the order given, computing the state after
// some of them, as a replica shows its board while ops arrive.
func deliver(t *rapid.T, b *crdt.Board, ops []crdt.Op, label string) {
	every := rapid.IntRange(0, 3).Draw(t, label+" refresh")
	for i, op := range ops {
		if v, err, _ := b.Apply(op, farFuture); v != crdt.Accept {
			t.Fatalf("%s op %d (%s): %v %v", label, i, op.Body.Kind(), v, err)
		}
		if every > 0 && i%every == 0 {
			b.Hash()
		}
	}
}

// counts reports whether op, held by b, counts: for a membership op,
// Group.Counts; for a post op, its author had a role at it, and the post
// exists and the rights table lets the op change it.
func counts(b *crdt.Board, op *crdt.Op) bool {
	b.Refresh()
	if !b.Held(op.ID) {
		return false
	}
	if crdt.IsMembership(op) {
		return b.Group.Counts(op.ID)
	}
	role := b.Group.RoleAt(op.Author, op.Seq)
	id, ok := crdt.PostOf(op)
	if !ok || role == crdt.RoleNone {
		return false
	}
	p := b.Posts[id]
	if p == nil {
		return false
	}
	switch b := op.Body.(type) {
	case crdt.PostCreate:
		return true
	case crdt.HandOn:
		return slices.ContainsFunc(p.HandedOnFor(b.Response), func(h crdt.HandedOn) bool { return h.Op == op.ID })
	}
	return crdt.MayChange(p, op, role)
}

// state is what a replica shows of a board, for comparing replicas.
type state struct {
	Hash      crdt.ID
	Members   []crdt.Member
	Spans     map[crdt.PublicKey][]crdt.Span
	Invites   []crdt.InviteState
	Pending   []crdt.Op
	Forks     map[crdt.PublicKey]uint64
	Keys      []crdt.KeyState
	Retention int64
	Counts    []crdt.ID // of the ops asked about, those that count, sorted
	Posts     map[crdt.ID]crdt.Post
}

func snapshot(b *crdt.Board, ops []crdt.Op) state {
	s := state{
		Hash:    b.Hash(),
		Members: b.Group.Members(),
		Spans:   b.Group.Spans(),
		Invites: b.Group.Invites(),
		Pending: b.Group.Pending(),
		Forks:   b.Group.Forks(),
		Posts:   map[crdt.ID]crdt.Post{},

		Retention: b.Group.Retention(),
	}
	for _, k := range b.Group.Keys() {
		s.Keys = append(s.Keys, *k)
	}
	for i := range ops {
		if counts(b, &ops[i]) && !slices.Contains(s.Counts, ops[i].ID) {
			s.Counts = append(s.Counts, ops[i].ID)
		}
	}
	slices.SortFunc(s.Counts, crdt.ID.Compare)
	for id, p := range b.Posts {
		s.Posts[id] = *p
	}
	return s
}

// diff says how two states differ, naming keys and IDs with name.
func (s state) diff(o state, name func([32]byte) string) string {
	var out strings.Builder
	if s.Hash != o.Hash {
		fmt.Fprintf(&out, "hash %s, %s\n", s.Hash.Short(), o.Hash.Short())
	}
	member := func(m crdt.Member) string {
		return fmt.Sprintf("role=%v removed=%v left=%v cut=%d forked=%d via=%s name=%q joined=%v",
			m.Role, m.Removed, m.Left, m.Cut, m.Forked, name(m.Via), m.Name, m.JoinedAt)
	}
	ma, mb := map[crdt.PublicKey]crdt.Member{}, map[crdt.PublicKey]crdt.Member{}
	for _, m := range s.Members {
		ma[m.Key] = m
	}
	for _, m := range o.Members {
		mb[m.Key] = m
	}
	for _, k := range slices.SortedFunc(maps.Keys(joinKeys(ma, mb)), crdt.PublicKey.Compare) {
		a, inA := ma[k]
		b, inB := mb[k]
		if inA != inB || !reflect.DeepEqual(a, b) {
			fmt.Fprintf(&out, "member %s:\n  %v %s\n  %v %s\n", name(k), inA, member(a), inB, member(b))
		}
	}
	if !reflect.DeepEqual(s.Spans, o.Spans) {
		for _, k := range slices.SortedFunc(maps.Keys(joinKeys(s.Spans, o.Spans)), crdt.PublicKey.Compare) {
			if !reflect.DeepEqual(s.Spans[k], o.Spans[k]) {
				fmt.Fprintf(&out, "spans of %s: %v, %v\n", name(k), s.Spans[k], o.Spans[k])
			}
		}
	}
	if !reflect.DeepEqual(s.Invites, o.Invites) {
		fmt.Fprintf(&out, "invites:\n  %+v\n  %+v\n", s.Invites, o.Invites)
	}
	if !reflect.DeepEqual(s.Pending, o.Pending) {
		fmt.Fprintf(&out, "pending joins: %s, %s\n", names(opIDs(s.Pending), name), names(opIDs(o.Pending), name))
	}
	if !reflect.DeepEqual(s.Forks, o.Forks) {
		fmt.Fprintf(&out, "forks: %v, %v\n", namedSeqs(s.Forks, name), namedSeqs(o.Forks, name))
	}
	if !reflect.DeepEqual(s.Keys, o.Keys) {
		fmt.Fprintf(&out, "group keys:\n  %+v\n  %+v\n", s.Keys, o.Keys)
	}
	if s.Retention != o.Retention {
		fmt.Fprintf(&out, "retention: %d, %d\n", s.Retention, o.Retention)
	}
	if !slices.Equal(s.Counts, o.Counts) {
		only := func(a, b []crdt.ID) string {
			var d []crdt.ID
			for _, id := range a {
				if !slices.Contains(b, id) {
					d = append(d, id)
				}
			}
			return names(d, name)
		}
		fmt.Fprintf(&out, "ops that count only in the first: %s; only in the second: %s\n", only(s.Counts, o.Counts), only(o.Counts, s.Counts))
	}
	for _, id := range slices.SortedFunc(maps.Keys(joinKeys(s.Posts, o.Posts)), crdt.ID.Compare) {
		a, inA := s.Posts[id]
		b, inB := o.Posts[id]
		if inA != inB || !reflect.DeepEqual(a, b) {
			post := func(in bool, p crdt.Post) string {
				if !in {
					return "absent"
				}
				return fmt.Sprintf("title=%q qty=%d status=%v responses=%d tombstones=%d updated=%v hash=%s",
					p.Title.V, p.Quantity.V, p.State(), len(p.Responses), len(p.Tombstones), p.UpdatedAt, crdt.PostHash(&p).Short())
			}
			fmt.Fprintf(&out, "post %s:\n  %s\n  %s\n", name(id), post(inA, a), post(inB, b))
		}
	}
	return out.String()
}

func joinKeys[K comparable, V any](a, b map[K]V) map[K]bool {
	out := map[K]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func opIDs(ops []crdt.Op) []crdt.ID {
	var out []crdt.ID
	for _, op := range ops {
		out = append(out, op.ID)
	}
	return out
}

func names(ids []crdt.ID, name func([32]byte) string) string {
	var out []string
	for _, id := range ids {
		out = append(out, name(id))
	}
	return "[" + strings.Join(out, " ") + "]"
}

func namedSeqs(m map[crdt.PublicKey]uint64, name func([32]byte) string) string {
	var out []string
	for _, k := range slices.SortedFunc(maps.Keys(m), crdt.PublicKey.Compare) {
		out = append(out, fmt.Sprintf("%s:%d", name(k), m[k]))
	}
	return "[" + strings.Join(out, " ") + "]"
}

// shortName names a key or ID by its first hex digits.
func shortName(b [32]byte) string { return crdt.ID(b).Short() }

func requireSameState(t interface{ Fatalf(string, ...any) }, what string, want, got state) {
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%s: the states differ:\n%s", what, want.diff(got, shortName))
	}
}

// specForks computes, from the spec rather than from board.go, the
// lowest seq at which each author forked: the lowest s such that two ops
// are held at (author, s), or some op held at s+1 (any of them, when s+1
// holds two) has a Prev that is not the ID of the single op held at s.
// Gaps in a log are no fork: an op with nothing held at the seq before it
// is judged by nothing.
func specForks(ops []crdt.Op) map[crdt.PublicKey]uint64 {
	at := map[crdt.PublicKey]map[uint64]map[crdt.ID]crdt.Op{}
	for _, op := range ops {
		if at[op.Author] == nil {
			at[op.Author] = map[uint64]map[crdt.ID]crdt.Op{}
		}
		if at[op.Author][op.Seq] == nil {
			at[op.Author][op.Seq] = map[crdt.ID]crdt.Op{}
		}
		at[op.Author][op.Seq][op.ID] = op
	}
	forks := map[crdt.PublicKey]uint64{}
	for a, seqs := range at {
		for _, s := range slices.Sorted(maps.Keys(seqs)) {
			here := seqs[s]
			forked := len(here) > 1
			if len(here) == 1 {
				id := slices.Collect(maps.Keys(here))[0]
				for _, next := range seqs[s+1] {
					forked = forked || next.Prev != id
				}
			}
			if forked {
				forks[a] = s // the lowest: seqs are visited in order
				break
			}
		}
	}
	return forks
}
