package replica_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/protocol"
)

// bundleTo exports groups from one node and imports them on another.
func bundleTo(t *testing.T, from, to *node, groups ...crdt.ID) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := from.r.Export(&buf, groups); err != nil {
		t.Fatal(err)
	}
	b := bytes.Clone(buf.Bytes())
	if _, err := to.r.Import(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	return b
}

// responsesOf returns the active responses on a post as n shows it.
func responsesOf(t *testing.T, n *node, post crdt.ID) []crdt.Response {
	t.Helper()
	p, err := n.r.Post(post)
	if err != nil {
		t.Fatal(err)
	}
	return p.ActiveResponses()
}

// contactOf opens a response's contact on post as n does.
func contactOf(t *testing.T, n *node, post crdt.ID, resp *crdt.Response) (string, bool) {
	t.Helper()
	p, err := n.r.Post(post)
	if err != nil {
		t.Fatal(err)
	}
	return n.r.ResponseContact(p, resp)
}

// acrossGroups is where a visitor answers: r founds Riverside, h1 and h2
// are Harbour's members, h1 posts a need for 4 winter coats, and r
// follows Harbour (by a bundle of it).
type acrossGroups struct {
	r, h1, h2          *node
	riverside, harbour crdt.ID
	need               *crdt.Post
}

func newAcrossGroups(t *testing.T) *acrossGroups {
	t.Helper()
	a := &acrossGroups{r: newNode(t), h1: newNode(t), h2: newNode(t)}
	a.riverside = newGroup(t, a.r, "Riverside")
	a.harbour = members(t, a.h1, a.h2)
	a.need = post(t, a.h1, a.harbour, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: "winter coats", Quantity: 4}})
	bundleTo(t, a.h1, a.r, a.harbour)
	return a
}

// Help across boards, on the replicas (catch-up over pipes, bundles): a
// member of Riverside whose node follows Harbour answers Harbour's need
// with a contact; Harbour's members' nodes show the response, from
// Riverside, and open the contact; a node that only follows Harbour
// shows the response but holds the contact nowhere; Harbour's admin
// blocks Riverside and the response is gone.
func TestVisitorRespondsAcrossGroups(t *testing.T) {
	const contact = "canary-riverside-0199"
	ctx := context.Background()
	a := newAcrossGroups(t)
	r, h1, h2, riverside, harbour, need := a.r, a.h1, a.h2, a.riverside, a.harbour, a.need

	// A follower that is not a member of the group it names is refused.
	if _, _, err := r.r.RespondFrom(ctx, harbour, need.ID, replica.RespondInput{Quantity: 4, From: harbour}); err == nil {
		t.Fatal("answered from the group answered")
	}
	_, rid, err := r.r.RespondFrom(ctx, harbour, need.ID, replica.RespondInput{Quantity: 4, Note: "we have 4 coats", Contact: contact, From: riverside})
	if err != nil {
		t.Fatal(err)
	}
	if got := responsesOf(t, r, need.ID); len(got) != 1 || got[0].ID != rid {
		t.Fatalf("the responder's node shows %+v", got)
	}
	for range 2 { // the visit and response; then Riverside's membership
		syncPair(t, r, h1)
		syncPair(t, r, h2)
	}
	for _, h := range []*node{h1, h2} {
		got := responsesOf(t, h, need.ID)
		if len(got) != 1 || got[0].ID != rid || got[0].Quantity != 4 {
			t.Fatalf("a member's node shows %+v", got)
		}
		v := h.r.VisitorOf(harbour, r.r.Self())
		if v == nil || v.From != riverside || !v.Vouched {
			t.Fatalf("visitor %+v", v)
		}
		if c, ok := contactOf(t, h, need.ID, &got[0]); !ok || c != contact {
			t.Fatalf("a member's node opens the contact to %q, %v", c, ok)
		}
		check(t, h, harbour)
	}
	if c, ok := contactOf(t, r, need.ID, &responsesOf(t, r, need.ID)[0]); ok {
		t.Fatalf("the responder's node, not a member, opened %q", c)
	}
	if stateHash(t, h1, harbour) != stateHash(t, h2, harbour) {
		t.Fatal("Harbour's members disagree")
	}

	// A node that follows Harbour (and so Riverside) shows the response
	// and holds the contact nowhere.
	f := newNode(t)
	b := bundleTo(t, h1, f, harbour, riverside)
	if bytes.Contains(b, []byte(contact)) {
		t.Fatal("the bundle holds the contact in clear")
	}
	got := responsesOf(t, f, need.ID)
	if len(got) != 1 || got[0].ID != rid {
		t.Fatalf("the follower shows %+v", got)
	}
	if c, ok := contactOf(t, f, need.ID, &got[0]); ok {
		t.Fatalf("the follower opened %q", c)
	}
	// Riverside is followed to vouch for its members' responses: each
	// node says so, and none unfollows it while Harbour counts them.
	for _, n := range []*node{h1, f} {
		if gi, err := n.r.Group(riverside); err != nil || !slices.Equal(gi.Helps, []crdt.ID{harbour}) {
			t.Fatalf("Riverside helps %v (%v), want Harbour", gi.Helps, err)
		}
		if err := n.r.Unfollow(ctx, riverside); !errors.Is(err, replica.ErrHelping) || !strings.Contains(err.Error(), "block") {
			t.Fatalf("unfollowing a helping group: %v", err)
		}
		if got := responsesOf(t, n, need.ID); len(got) != 1 {
			t.Fatalf("after a refused unfollow a node shows %+v", got)
		}
	}
	if gi, _ := h1.r.Group(harbour); gi.Helps != nil {
		t.Fatalf("a member's group helps %v", gi.Helps)
	}
	f.close()
	if files := filesHolding(t, f.dir, []byte(contact)); len(files) > 0 {
		t.Fatalf("the follower's data dir holds the contact in %v", files)
	}
	for _, n := range []*node{h1, h2, r} {
		n.close()
		if files := filesHolding(t, n.dir, []byte(contact)); len(files) > 0 {
			t.Fatalf("a data dir holds the contact in clear in %v", files)
		}
		*n = *open(t, n.dir, n.key, replica.Config{})
	}
	// Reopened, each node still vouches and shows the same.
	if len(responsesOf(t, h1, need.ID)) != 1 {
		t.Fatal("after a restart, the response is gone")
	}
	check(t, h1, harbour)

	// Harbour's admin blocks Riverside: the response counts nowhere.
	if err := h2.r.Block(ctx, harbour, riverside, true); err == nil {
		t.Fatal("a member blocked a group")
	}
	if err := h1.r.Block(ctx, harbour, riverside, true); err != nil {
		t.Fatal(err)
	}
	syncPair(t, h1, h2)
	bundleTo(t, h1, r, harbour)
	for _, n := range []*node{h1, h2, r} {
		if got := responsesOf(t, n, need.ID); len(got) != 0 {
			t.Fatalf("after the block a node shows %+v", got)
		}
		check(t, n, harbour)
	}
	if _, _, err := r.r.RespondFrom(ctx, harbour, need.ID, replica.RespondInput{Quantity: 1, From: riverside}); err == nil {
		t.Fatal("answered from a blocked group")
	}
	if err := h1.r.Block(ctx, harbour, riverside, false); err != nil {
		t.Fatal(err)
	}
	syncPair(t, h1, h2)
	if got := responsesOf(t, h2, need.ID); len(got) != 1 {
		t.Fatalf("after the unblock %+v", got)
	}
	// The visitor takes its response back; a member's node learns it.
	if _, err := r.r.Unrespond(ctx, harbour, need.ID, rid); err != nil {
		t.Fatal(err)
	}
	syncPair(t, r, h1)
	if got := responsesOf(t, h1, need.ID); len(got) != 0 {
		t.Fatalf("after the visitor's unrespond %+v", got)
	}
	// Blocked, Riverside answers nothing here: it may be unfollowed.
	if err := h1.r.Block(ctx, harbour, riverside, true); err != nil {
		t.Fatal(err)
	}
	if gi, _ := h1.r.Group(riverside); gi.Helps != nil {
		t.Fatalf("a blocked group helps %v", gi.Helps)
	}
	if err := h1.r.Unfollow(ctx, riverside); err != nil {
		t.Fatalf("unfollowing a blocked group: %v", err)
	}
	for _, n := range []*node{h1, h2, r} {
		n.close()
	}
}

// A stranger's visits cost a group's nodes little: a visit from a group
// the admins blocked is not stored, and past 64 visitors that do not
// count (their group unknown here), further visits are not stored
// either, until some count.
func TestVisitsOfStrangersAreBounded(t *testing.T) {
	ctx := context.Background()
	h := newNode(t)
	harbour := newGroup(t, h, "Harbour")
	spam, blocked := crdt.ID{0x51}, crdt.ID{0x52}
	if err := h.r.Block(ctx, harbour, blocked, true); err != nil {
		t.Fatal(err)
	}
	visit := func(from crdt.ID) (crdt.PublicKey, []byte) {
		_, key, _ := ed25519.GenerateKey(nil)
		op := crdt.Op{Group: harbour, Seq: 1, Time: crdt.HLC{Wall: time.Now().UnixMilli()}, Body: crdt.Visit{From: from, Name: "spam"}}
		raw, err := protocol.SignOp(&op, key)
		if err != nil {
			t.Fatal(err)
		}
		return op.Author, raw
	}
	k, raw := visit(blocked)
	if _, err := h.r.Ingest(ctx, [][]byte{raw}); err != nil {
		t.Fatal(err)
	}
	if h.r.VisitorOf(harbour, k) != nil {
		t.Fatal("a visit from a blocked group was stored")
	}
	var keys []crdt.PublicKey
	var raws [][]byte
	for range 70 {
		k, raw := visit(spam)
		keys, raws = append(keys, k), append(raws, raw)
	}
	if _, err := h.r.Ingest(ctx, raws); err != nil {
		t.Fatal(err)
	}
	stored := 0
	for _, k := range keys {
		if h.r.VisitorOf(harbour, k) != nil {
			stored++
		}
	}
	if stored != 64 {
		t.Fatalf("%d of 70 unvouched visitors stored, want 64", stored)
	}
	// Blocking the group that filled the bound makes room again.
	if err := h.r.Block(ctx, harbour, spam, true); err != nil {
		t.Fatal(err)
	}
	k, raw = visit(crdt.ID{0x53})
	if _, err := h.r.Ingest(ctx, [][]byte{raw}); err != nil {
		t.Fatal(err)
	}
	if h.r.VisitorOf(harbour, k) == nil {
		t.Fatal("after the block, a visit from another group was not stored")
	}
	check(t, h, harbour)
}

// joinLate adds n to group g, admitted by a, through catch-up sessions
// (as members does), and lets it learn the groups a follows.
func joinLate(t *testing.T, a *node, g crdt.ID, n *node) {
	t.Helper()
	code, _, err := a.r.Invite(context.Background(), g, replica.InviteOptions{Role: crdt.RoleMember, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.r.Join(context.Background(), code); err != nil {
		t.Fatal(err)
	}
	for range 3 { // the join and keys; the visit; the visitor's group
		syncPair(t, a, n)
	}
}

// A visitor's contact is sealed to the members of the moment; the first
// member's node that opens it hands it on under the group key (kind 12),
// so a member who joins later reads it too. Only one node hands it on
// when the others see its hand-on first; a follower holds it only
// sealed; the visitor's unrespond erases every copy (the hand-on's blob
// and its own) on every member's node, and a block erases the hand-on's.
func TestVisitorContactReachesLaterMembers(t *testing.T) {
	const contact = "canary-latejoin-0142"
	ctx := context.Background()
	a := newAcrossGroups(t)
	r, h1, h2, riverside, harbour, need := a.r, a.h1, a.h2, a.riverside, a.harbour, a.need
	_, rid, err := r.r.RespondFrom(ctx, harbour, need.ID, replica.RespondInput{Quantity: 4, Contact: contact, From: riverside})
	if err != nil {
		t.Fatal(err)
	}
	syncPair(t, r, h1) // the visit and the response
	syncPair(t, r, h1) // Riverside's members: h1 vouches, opens the contact and hands it on
	syncPair(t, h1, h2)
	syncPair(t, h1, h2)
	handOns := func(n *node) []crdt.HandedOn {
		t.Helper()
		p, err := n.r.Post(need.ID)
		if err != nil {
			t.Fatal(err)
		}
		return p.HandedOnFor(rid)
	}
	for _, n := range []*node{h1, h2} {
		if h := handOns(n); len(h) != 1 || h[0].Author != h1.r.Self() {
			t.Fatalf("hand-ons %+v: want one, by h1 (h2 saw it before it could write its own)", h)
		}
	}

	// h3 joins after the response: the contact was not sealed to it, and
	// it reads it from the hand-on.
	h3 := newNode(t)
	joinLate(t, h1, harbour, h3)
	got := responsesOf(t, h3, need.ID)
	if len(got) != 1 || got[0].ID != rid {
		t.Fatalf("the late member shows %+v", got)
	}
	if c, ok := contactOf(t, h3, need.ID, &got[0]); !ok || c != contact {
		t.Fatalf("the late member opens the contact to %q, %v", c, ok)
	}
	if h := handOns(h3); len(h) != 1 {
		t.Fatalf("the late member holds hand-ons %+v", h)
	}
	for _, n := range []*node{h1, h2, h3} {
		check(t, n, harbour)
	}
	if stateHash(t, h1, harbour) != stateHash(t, h3, harbour) {
		t.Fatal("h1 and h3 disagree")
	}

	// A follower holds the hand-on, sealed, and opens nothing.
	f := newNode(t)
	if b := bundleTo(t, h3, f, harbour, riverside); bytes.Contains(b, []byte(contact)) {
		t.Fatal("the bundle holds the contact in clear")
	}
	if got := responsesOf(t, f, need.ID); len(got) != 1 {
		t.Fatalf("the follower shows %+v", got)
	} else if c, ok := contactOf(t, f, need.ID, &got[0]); ok {
		t.Fatalf("the follower opened %q", c)
	}
	handOn := handOns(h3)[0].Op
	if !f.st.HasBlob(handOn) {
		t.Fatal("the follower does not keep the hand-on's sealed blob to forward")
	}
	f.close()
	h3.close()
	for _, n := range []*node{f, h3} {
		if files := filesHolding(t, n.dir, []byte(contact)); len(files) > 0 {
			t.Fatalf("a data dir holds the contact in clear in %v", files)
		}
	}
	*h3 = *open(t, h3.dir, h3.key, replica.Config{})
	if c, ok := contactOf(t, h3, need.ID, &responsesOf(t, h3, need.ID)[0]); !ok || c != contact {
		t.Fatalf("after a restart the late member opens %q, %v", c, ok)
	}

	// A block erases the hand-on's blob on every member's node.
	if err := h1.r.Block(ctx, harbour, riverside, true); err != nil {
		t.Fatal(err)
	}
	syncPair(t, h1, h3)
	for _, n := range []*node{h1, h3} {
		if n.st.HasBlob(handOn) {
			t.Fatal("the hand-on's blob outlived the block")
		}
		if len(responsesOf(t, n, need.ID)) != 0 {
			t.Fatal("a blocked visitor's response shows")
		}
	}
	if err := h1.r.Block(ctx, harbour, riverside, false); err != nil {
		t.Fatal(err)
	}
	syncPair(t, h1, h2)
	syncPair(t, h1, h3)

	// The visitor takes the response back: no copy is left on any
	// member's node, and the late member shows no contact.
	if _, err := r.r.Unrespond(ctx, harbour, need.ID, rid); err != nil {
		t.Fatal(err)
	}
	syncPair(t, r, h2)
	syncPair(t, h2, h1)
	syncPair(t, h2, h3)
	for _, n := range []*node{h1, h2, h3} {
		if len(responsesOf(t, n, need.ID)) != 0 {
			t.Fatal("the response shows after the unrespond")
		}
		for _, h := range handOns(n) {
			if n.st.HasBlob(h.Op) {
				t.Fatal("a hand-on's blob outlived the unrespond")
			}
		}
		if n.st.HasBlob(rid) {
			t.Fatal("the response's own blob outlived the unrespond")
		}
		check(t, n, harbour)
	}
}

// An Erase of the post erases the hand-ons of the responses made before
// it, though the hand-ons came after it: no copy outlives the erase.
func TestHandOnErasedWithThePost(t *testing.T) {
	const contact = "canary-erase-0157"
	ctx := context.Background()
	a := newAcrossGroups(t)
	r, h1, h2, riverside, harbour, need := a.r, a.h1, a.h2, a.riverside, a.harbour, a.need
	_, rid, err := r.r.RespondFrom(ctx, harbour, need.ID, replica.RespondInput{Quantity: 1, Contact: contact, From: riverside})
	if err != nil {
		t.Fatal(err)
	}
	syncPair(t, r, h1)
	syncPair(t, r, h1)
	p, err := h1.r.Post(need.ID)
	if err != nil || len(p.HandedOnFor(rid)) != 1 {
		t.Fatalf("h1 holds hand-ons %+v (%v)", p.HandOns, err)
	}
	handOn := p.HandedOnFor(rid)[0].Op
	if _, err := h1.r.Erase(ctx, harbour, need.ID); err != nil {
		t.Fatal(err)
	}
	syncPair(t, h1, h2) // h2 gets the response, the hand-on and the erase at once
	for _, n := range []*node{h1, h2} {
		if n.st.HasBlob(handOn) || n.st.HasBlob(rid) {
			t.Fatalf("a copy of the contact outlived the erase (hand-on %v, response %v)", n.st.HasBlob(handOn), n.st.HasBlob(rid))
		}
		got := responsesOf(t, n, need.ID)
		if len(got) != 1 {
			t.Fatalf("the response (not its contact) stays: %+v", got)
		}
		if c, ok := contactOf(t, n, need.ID, &got[0]); ok {
			t.Fatalf("the contact reads %q after the erase", c)
		}
		check(t, n, harbour)
	}
}

// A hand-on that does not count is refused where it could do harm: a
// stranger's is not stored at all; the visitor's own, or a member's of a
// member's response, is stored (its author is known) and hands nothing
// on: the post's hand-ons and its state hash do not change.
func TestHandOnsThatDoNotCount(t *testing.T) {
	ctx := context.Background()
	r := newNode(t)
	riverside := newGroup(t, r, "Riverside")
	h1, h2 := newNode(t), newNode(t)
	harbour := members(t, h1, h2)
	need := post(t, h1, harbour, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: "winter coats"}})
	syncPair(t, h1, h2)
	_, own, err := h2.r.Respond(ctx, harbour, need.ID, 1, "we have one", "")
	if err != nil {
		t.Fatal(err)
	}
	syncPair(t, h1, h2)
	bundleTo(t, h1, r, harbour)
	_, rid, err := r.r.RespondFrom(ctx, harbour, need.ID, replica.RespondInput{Quantity: 4, Contact: "canary-0111", From: riverside})
	if err != nil {
		t.Fatal(err)
	}
	syncPair(t, r, h1)
	syncPair(t, r, h1)
	before := stateHash(t, h1, harbour)
	handOns := func() int {
		p, err := h1.r.Post(need.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(p.HandOns)
	}
	if handOns() != 1 {
		t.Fatal("h1 did not hand the contact on")
	}
	// sign makes an op of key's log at its next seq, with a blob.
	sign := func(key ed25519.PrivateKey, seq uint64, prev crdt.ID, body crdt.HandOn) (crdt.ID, []byte) {
		blob := bytes.Repeat([]byte{1}, 80)
		body.Private = sha256.Sum256(blob)
		op := crdt.Op{Group: harbour, Seq: seq, Prev: prev, Time: crdt.HLC{Wall: time.Now().UnixMilli()}, Body: body}
		raw, err := protocol.SignOp(&op, key)
		if err != nil {
			t.Fatal(err)
		}
		return op.ID, protocol.JoinBlob(raw, blob)
	}
	headOf := func(n *node, k crdt.PublicKey) (uint64, crdt.ID) { // k's last op as h1 holds it
		v := h1.r.Sync()
		vv, err := v.VersionVector(harbour)
		if err != nil {
			t.Fatal(err)
		}
		seq := vv[k]
		id, ok := v.(interface {
			OpIDAt(crdt.ID, crdt.PublicKey, uint64) (crdt.ID, bool)
		}).OpIDAt(harbour, k, seq)
		if !ok {
			t.Fatalf("h1 holds no op %d of %s", seq, k)
		}
		return seq, id
	}
	_, stranger, _ := ed25519.GenerateKey(nil)
	_, raw := sign(stranger, 2, crdt.ID{1}, crdt.HandOn{Post: need.ID, Response: rid})
	res, err := h1.r.Ingest(ctx, [][]byte{raw})
	if err != nil || res[0].Outcome != replica.Ignored {
		t.Fatalf("a stranger's hand-on: %+v, %v", res, err)
	}
	seq, prev := headOf(r, r.r.Self())
	_, raw = sign(r.key, seq+1, prev, crdt.HandOn{Post: need.ID, Response: rid})
	if res, err := h1.r.Ingest(ctx, [][]byte{raw}); err != nil || res[0].Outcome == replica.Rejected {
		t.Fatalf("the visitor's hand-on: %+v, %v", res, err)
	}
	seq, prev = headOf(h2, h2.r.Self())
	_, raw = sign(h2.key, seq+1, prev, crdt.HandOn{Post: need.ID, Response: own})
	if res, err := h1.r.Ingest(ctx, [][]byte{raw}); err != nil || res[0].Outcome == replica.Rejected {
		t.Fatalf("a hand-on of a member's response: %+v, %v", res, err)
	}
	if handOns() != 1 || stateHash(t, h1, harbour) != before {
		t.Fatal("a hand-on that does not count changed the post")
	}
	check(t, h1, harbour)
}

// TestFormerMemberCannotVisit: a node that was a member of Harbour and
// left, and that is a member of Riverside, cannot answer Harbour's need
// from Riverside (a visit must be its key's first op in Harbour), and
// is told so and what to do, not that it is no member of Riverside.
func TestFormerMemberCannotVisit(t *testing.T) {
	ctx := context.Background()
	r := newNode(t)
	riverside := newGroup(t, r, "Riverside")
	h := newNode(t)
	harbour := newGroup(t, h, "Harbour")
	need := post(t, h, harbour, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: "winter coats", Quantity: 4}})
	joinLate(t, h, harbour, r)
	if err := r.r.Leave(ctx, harbour); err != nil {
		t.Fatal(err)
	}
	_, _, err := r.r.RespondFrom(ctx, harbour, need.ID, replica.RespondInput{Quantity: 4, Contact: "555-0101", From: riverside})
	if !errors.Is(err, replica.ErrFormerMember) || !strings.Contains(err.Error(), "new invite") {
		t.Fatalf("a former member answering from another group: %v", err)
	}
	if got := responsesOf(t, r, need.ID); len(got) != 0 {
		t.Fatalf("the refused answer is on the post: %+v", got)
	}
}
