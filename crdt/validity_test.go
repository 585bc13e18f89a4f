package crdt_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

// The rules of Group.Check that a peer can probe, value by value: for each
// rule (docs/protocol.md, section 8), the values at its boundary that must
// be accepted and those that must not, with the verdict and the named
// error. A hand-made bug that loosens or tightens a rule by one value
// fails here.

// probeNow is the receiver's wall clock in the rule tables.
const probeNow = 1_767_225_600_000

func probeID(s string) crdt.ID { return sha256.Sum256([]byte("probe/" + s)) }

var (
	probeFounder  = fakeKey("probe founder")
	probeAdmin    = fakeKey("probe admin")
	probeMember   = fakeKey("probe member")
	probeOutsider = fakeKey("probe outsider")
	probeGroup    = probeID("genesis")
	probeOther    = probeID("another group")
	probePost     = probeID("post")
	probePrev     = probeID("prev")
)

// fataler is what probeBoard needs of a *testing.T or a *rapid.T.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// probeBoard is a group founded a minute before probeNow, with an admin
// (not the founder) and a member, and one post by the member.
func probeBoard(t fataler) *crdt.Board {
	t.Helper()
	t0 := int64(probeNow - 60_000)
	join := func(key crdt.PublicKey, role crdt.Role, at int64) crdt.Op {
		return crdt.Op{
			ID: probeID(fmt.Sprint("join ", role)), Group: probeGroup, Author: key, Seq: 1, Time: crdt.HLC{Wall: at},
			Body: crdt.Join{Invite: crdt.Invite{Group: probeGroup, Role: role, Expires: probeNow, Issuer: probeFounder}, Name: role.String()},
		}
	}
	memberJoin := join(probeMember, crdt.RoleMember, t0+2)
	b := crdt.NewBoard(probeGroup)
	for _, op := range []crdt.Op{
		{ID: probeGroup, Author: probeFounder, Seq: 1, Time: crdt.HLC{Wall: t0}, Body: crdt.Genesis{Name: "probe", AuthorName: "founder"}},
		join(probeAdmin, crdt.RoleAdmin, t0+1),
		memberJoin,
		{ID: probePost, Group: probeGroup, Author: probeMember, Seq: 2, Prev: memberJoin.ID, Time: crdt.HLC{Wall: t0 + 3},
			Body: crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: "coats"}}},
	} {
		if v, err, _ := b.Apply(op, probeNow); v != crdt.Accept {
			t.Fatalf("setting up the board: %s: %v %v", op.Body.Kind(), v, err)
		}
	}
	return b
}

// probeOp returns a valid op with body, as the probe board accepts it,
// changed by edits: a genesis is the group's own; a join is an
// outsider's first op with an invite from the founder; anything else is
// the member's third op.
func probeOp(body crdt.Body, edits ...func(*crdt.Op)) crdt.Op {
	op := crdt.Op{ID: probeID("probe op"), Group: probeGroup, Author: probeMember, Seq: 3, Prev: probePrev,
		Time: crdt.HLC{Wall: probeNow - 1000}, Body: body}
	switch body.(type) {
	case crdt.Genesis:
		op.ID, op.Group, op.Author, op.Seq, op.Prev = probeGroup, crdt.ID{}, probeFounder, 1, crdt.ID{}
	case crdt.Join:
		op.Author, op.Seq, op.Prev = probeOutsider, 1, crdt.ID{}
	}
	for _, e := range edits {
		e(&op)
	}
	return op
}

func probeInvite(edits ...func(*crdt.Invite)) crdt.Join {
	in := crdt.Invite{Group: probeGroup, Role: crdt.RoleMember, Expires: probeNow, Issuer: probeFounder}
	for _, e := range edits {
		e(&in)
	}
	return crdt.Join{Invite: in, Name: "newcomer"}
}

func probeFields(edits ...func(*crdt.Fields)) crdt.Fields {
	f := crdt.Fields{Title: "coats"}
	for _, e := range edits {
		e(&f)
	}
	return f
}

func probeCreate(edits ...func(*crdt.Fields)) crdt.PostCreate {
	return crdt.PostCreate{PostKind: crdt.Offer, Fields: probeFields(edits...)}
}

func probeEdit(set crdt.FieldMask, edits ...func(*crdt.Fields)) crdt.PostEdit {
	return crdt.PostEdit{Post: probePost, Set: set, Fields: probeFields(edits...)}
}

func probeStatus(s crdt.Status) crdt.PostStatus { return crdt.PostStatus{Post: probePost, Status: s} }

func atWall(w int64) func(*crdt.Op)            { return func(op *crdt.Op) { op.Time.Wall = w } }
func inGroup(g crdt.ID) func(*crdt.Op)         { return func(op *crdt.Op) { op.Group = g } }
func byAuthor(k crdt.PublicKey) func(*crdt.Op) { return func(op *crdt.Op) { op.Author = k } }
func chain(seq uint64, prev crdt.ID) func(*crdt.Op) {
	return func(op *crdt.Op) { op.Seq, op.Prev = seq, prev }
}

// unknownBody is a body the crdt does not know.
type unknownBody struct{}

func (unknownBody) Kind() crdt.Kind { return 21 }

// probe is one op and what the probe board must say of it.
type probe struct {
	name string
	op   crdt.Op
	v    crdt.Verdict
	err  error // nil for Accept; else the named error it must wrap
}

func accept(name string, op crdt.Op) probe { return probe{name, op, crdt.Accept, nil} }
func reject(name string, op crdt.Op, err error) probe {
	return probe{name, op, crdt.Reject, err}
}
func ignore(name string, op crdt.Op, err error) probe { return probe{name, op, crdt.Ignore, err} }

func TestCheckRulesValueByValue(t *testing.T) {
	drift := crdt.MaxDrift.Milliseconds()
	rules := map[string][]probe{}

	// A post's status is one of four.
	for _, s := range []crdt.Status{crdt.Open, crdt.Claimed, crdt.Fulfilled, crdt.Withdrawn} {
		rules["status"] = append(rules["status"], accept(s.String(), probeOp(probeStatus(s))))
	}
	rules["status"] = append(rules["status"],
		reject("withdrawn+1", probeOp(probeStatus(crdt.Withdrawn+1)), crdt.ErrBadValue),
		reject("255", probeOp(probeStatus(255)), crdt.ErrBadValue),
	)

	// A post is a need or an offer.
	kind := func(k crdt.PostKind) crdt.Op {
		return probeOp(crdt.PostCreate{PostKind: k, Fields: probeFields()})
	}
	rules["post kind"] = []probe{
		accept("need", kind(crdt.Need)),
		accept("offer", kind(crdt.Offer)),
		reject("0", kind(0), crdt.ErrBadValue),
		reject("offer+1", kind(crdt.Offer+1), crdt.ErrBadValue),
		reject("255", kind(255), crdt.ErrBadValue),
	}

	// A post has a title: a create, and an edit that sets the title.
	noTitle := func(f *crdt.Fields) { f.Title = "" }
	rules["title"] = []probe{
		accept("create with a one-byte title", probeOp(probeCreate(func(f *crdt.Fields) { f.Title = "x" }))),
		reject("create with an empty title", probeOp(probeCreate(noTitle)), crdt.ErrBadValue),
		accept("edit of the title", probeOp(probeEdit(crdt.FieldTitle))),
		reject("edit of the title to empty", probeOp(probeEdit(crdt.FieldTitle, noTitle)), crdt.ErrBadValue),
		reject("edit of all fields, title empty", probeOp(probeEdit(crdt.AllFields, noTitle)), crdt.ErrBadValue),
		accept("edit of the details, title empty", probeOp(probeEdit(crdt.FieldDetails, noTitle))),
		accept("edit of all but the title, title empty", probeOp(probeEdit(crdt.AllFields&^crdt.FieldTitle, noTitle))),
	}

	// An edit's mask names at least one field and no unknown one.
	for bit := crdt.FieldMask(1); bit <= crdt.AllFields; bit <<= 1 {
		rules["field mask"] = append(rules["field mask"], accept(fmt.Sprintf("%#x", bit), probeOp(probeEdit(bit))))
	}
	rules["field mask"] = append(rules["field mask"],
		accept("all fields", probeOp(probeEdit(crdt.AllFields))),
		reject("0", probeOp(probeEdit(0)), crdt.ErrBadValue),
		reject("all fields+1", probeOp(probeEdit(crdt.AllFields+1)), crdt.ErrBadValue),
		reject("details and an unknown bit", probeOp(probeEdit(crdt.FieldDetails|(crdt.AllFields+1))), crdt.ErrBadValue),
		reject("top bit", probeOp(probeEdit(1<<15)), crdt.ErrBadValue),
		reject("every bit", probeOp(probeEdit(math.MaxUint16)), crdt.ErrBadValue),
	)

	// Urgency is normal, low or high, in a create and in an edit. A value
	// outside an edit's mask is judged too (section 8 names no exception).
	urgency := func(u crdt.Urgency) func(*crdt.Fields) { return func(f *crdt.Fields) { f.Urgency = u } }
	for _, u := range []crdt.Urgency{crdt.UrgencyNormal, crdt.UrgencyLow, crdt.UrgencyHigh} {
		rules["urgency"] = append(rules["urgency"],
			accept("create "+u.String(), probeOp(probeCreate(urgency(u)))),
			accept("edit "+u.String(), probeOp(probeEdit(crdt.FieldUrgency, urgency(u)))),
		)
	}
	for _, u := range []crdt.Urgency{crdt.UrgencyHigh + 1, 255} {
		rules["urgency"] = append(rules["urgency"],
			reject(fmt.Sprint("create ", uint8(u)), probeOp(probeCreate(urgency(u))), crdt.ErrBadValue),
			reject(fmt.Sprint("edit ", uint8(u)), probeOp(probeEdit(crdt.FieldUrgency, urgency(u))), crdt.ErrBadValue),
			reject(fmt.Sprint("edit ", uint8(u), " outside the mask"), probeOp(probeEdit(crdt.FieldTitle, urgency(u))), crdt.ErrBadValue),
		)
	}

	// Expiry is a time or 0 (never), never negative.
	expires := func(e int64) func(*crdt.Fields) { return func(f *crdt.Fields) { f.Expires = e } }
	for _, e := range []int64{0, 1, probeNow - 1, math.MaxInt64} {
		rules["expires"] = append(rules["expires"],
			accept(fmt.Sprint("create ", e), probeOp(probeCreate(expires(e)))),
			accept(fmt.Sprint("edit ", e), probeOp(probeEdit(crdt.FieldExpires, expires(e)))),
		)
	}
	for _, e := range []int64{-1, math.MinInt64} {
		rules["expires"] = append(rules["expires"],
			reject(fmt.Sprint("create ", e), probeOp(probeCreate(expires(e))), crdt.ErrBadValue),
			reject(fmt.Sprint("edit ", e), probeOp(probeEdit(crdt.FieldExpires, expires(e))), crdt.ErrBadValue),
			reject(fmt.Sprint("edit ", e, " outside the mask"), probeOp(probeEdit(crdt.FieldTitle, expires(e))), crdt.ErrBadValue),
		)
	}

	// An op is stamped after 1970, whatever its kind.
	for _, body := range []crdt.Body{probeStatus(crdt.Open), crdt.Genesis{Name: "probe"}, probeInvite()} {
		k := body.Kind().String()
		rules["timestamp"] = append(rules["timestamp"],
			accept(k+" at 1", probeOp(body, atWall(1))),
			reject(k+" at 0", probeOp(body, atWall(0)), crdt.ErrBadValue),
			reject(k+" at -1", probeOp(body, atWall(-1)), crdt.ErrBadValue),
			reject(k+" at min int64", probeOp(body, atWall(math.MinInt64)), crdt.ErrBadValue),
		)
	}

	// Seq counts from 1, and prev is zero exactly at seq 1.
	status := probeStatus(crdt.Claimed)
	rules["chain"] = []probe{
		accept("seq 1, no prev", probeOp(status, chain(1, crdt.ID{}))),
		accept("seq 2, prev", probeOp(status, chain(2, probePrev))),
		accept("seq max, prev", probeOp(status, chain(math.MaxUint64, probePrev))),
		reject("seq 0, no prev", probeOp(status, chain(0, crdt.ID{})), crdt.ErrBadChain),
		reject("seq 0, prev", probeOp(status, chain(0, probePrev)), crdt.ErrBadChain),
		reject("seq 1, prev", probeOp(status, chain(1, probePrev)), crdt.ErrBadChain),
		reject("seq 2, no prev", probeOp(status, chain(2, crdt.ID{})), crdt.ErrBadChain),
		reject("seq max, no prev", probeOp(status, chain(math.MaxUint64, crdt.ID{})), crdt.ErrBadChain),
		reject("join at seq 0", probeOp(probeInvite(), chain(0, crdt.ID{})), crdt.ErrBadChain),
	}

	// A genesis is its author's first op and names no group: its own ID
	// is the group's.
	genesis := crdt.Genesis{Name: "probe", AuthorName: "founder"}
	rules["genesis"] = []probe{
		accept("seq 1", probeOp(genesis)),
		accept("again, by another author", probeOp(genesis, byAuthor(probeOutsider))),
		reject("seq 2", probeOp(genesis, chain(2, probePrev)), crdt.ErrInvalid),
		reject("seq 0", probeOp(genesis, chain(0, crdt.ID{})), crdt.ErrBadChain),
		reject("seq 2 without prev", probeOp(genesis, chain(2, crdt.ID{})), crdt.ErrBadChain),
		reject("with its own group", probeOp(genesis, inGroup(probeGroup)), crdt.ErrInvalid),
		reject("with another group", probeOp(genesis, inGroup(probeOther)), crdt.ErrInvalid),
		reject("of another group", probeOp(genesis, func(op *crdt.Op) { op.ID = probeOther }), crdt.ErrWrongGroup),
	}

	// An invite grants member or admin.
	role := func(r crdt.Role) crdt.Op { return probeOp(probeInvite(func(in *crdt.Invite) { in.Role = r })) }
	rules["invite role"] = []probe{
		accept("member", role(crdt.RoleMember)),
		accept("admin", role(crdt.RoleAdmin)),
		reject("0", role(0), crdt.ErrBadValue),
		reject("admin+1", role(crdt.RoleAdmin+1), crdt.ErrBadValue),
		reject("255", role(255), crdt.ErrBadValue),
	}

	// A join is made at or before its invite expires, with an invite for
	// this group from an admin; a non-admin's invite waits (the issuer may
	// become an admin later).
	expiring := func(e int64) crdt.Join { return probeInvite(func(in *crdt.Invite) { in.Expires = e }) }
	at := int64(probeNow - 1000)
	issuer := func(k crdt.PublicKey) crdt.Join { return probeInvite(func(in *crdt.Invite) { in.Issuer = k }) }
	rules["invite"] = []probe{
		accept("made as it expires", probeOp(expiring(at), atWall(at))),
		accept("expiring never (max int64)", probeOp(expiring(math.MaxInt64))),
		reject("made 1 ms after it expired", probeOp(expiring(at-1), atWall(at)), crdt.ErrExpired),
		reject("expiry 0", probeOp(expiring(0)), crdt.ErrExpired),
		reject("expiry min int64", probeOp(expiring(math.MinInt64)), crdt.ErrExpired),
		reject("for another group", probeOp(probeInvite(func(in *crdt.Invite) { in.Group = probeOther })), crdt.ErrWrongGroup),
		reject("for no group", probeOp(probeInvite(func(in *crdt.Invite) { in.Group = crdt.ID{} })), crdt.ErrWrongGroup),
		reject("for another group, join in it too", probeOp(probeInvite(func(in *crdt.Invite) { in.Group = probeOther }), inGroup(probeOther)), crdt.ErrWrongGroup),
		accept("from the founder", probeOp(issuer(probeFounder))),
		accept("from another admin", probeOp(issuer(probeAdmin))),
		ignore("from a member", probeOp(issuer(probeMember)), crdt.ErrNotMember),
		ignore("from an outsider", probeOp(issuer(probeOutsider)), crdt.ErrNotMember),
		ignore("from the joiner itself", probeOp(issuer(probeOutsider), byAuthor(probeOutsider)), crdt.ErrNotMember),
		accept("by a member, again", probeOp(issuer(probeAdmin), byAuthor(probeMember), chain(3, probePrev))),
	}

	// Every op but a genesis names this group.
	for _, body := range []crdt.Body{
		probeCreate(), probeEdit(crdt.FieldTitle), probeStatus(crdt.Open),
		crdt.Respond{Post: probePost, Quantity: math.MaxUint32, Note: "two"},
		crdt.Unrespond{Post: probePost, Response: probeID("response")},
		probeInvite(),
	} {
		k := body.Kind().String()
		rules["group"] = append(rules["group"],
			accept(k, probeOp(body)),
			reject(k+" of another group", probeOp(body, inGroup(probeOther)), crdt.ErrWrongGroup),
			reject(k+" of no group", probeOp(body, inGroup(crdt.ID{})), crdt.ErrInvalid),
		)
	}

	// Bodies the crdt does not know.
	rules["body"] = []probe{
		reject("none", probeOp(nil), crdt.ErrInvalid),
		reject("unknown", probeOp(unknownBody{}), crdt.ErrInvalid),
	}

	// An op stamped more than MaxDrift ahead of the receiver's clock is
	// ignored; the shape is judged before the clock, the group after.
	rules["drift"] = []probe{
		accept("now", probeOp(status, atWall(probeNow))),
		accept("MaxDrift ahead", probeOp(status, atWall(probeNow+drift))),
		ignore("MaxDrift+1 ahead", probeOp(status, atWall(probeNow+drift+1)), crdt.ErrFuture),
		ignore("max int64", probeOp(status, atWall(math.MaxInt64)), crdt.ErrFuture),
		accept("genesis MaxDrift ahead", probeOp(genesis, atWall(probeNow+drift))),
		ignore("genesis MaxDrift+1 ahead", probeOp(genesis, atWall(probeNow+drift+1)), crdt.ErrFuture),
		ignore("join MaxDrift+1 ahead", probeOp(expiring(math.MaxInt64), atWall(probeNow+drift+1)), crdt.ErrFuture),
		reject("MaxDrift+1 ahead, bad status", probeOp(probeStatus(crdt.Withdrawn+1), atWall(probeNow+drift+1)), crdt.ErrBadValue),
		ignore("MaxDrift+1 ahead, another group", probeOp(status, atWall(probeNow+drift+1), inGroup(probeOther)), crdt.ErrFuture),
		reject("MaxDrift+1 ahead, no group", probeOp(status, atWall(probeNow+drift+1), inGroup(crdt.ID{})), crdt.ErrInvalid),
		reject("MaxDrift+1 ahead, genesis at seq 2", probeOp(genesis, atWall(probeNow+drift+1), chain(2, probePrev)), crdt.ErrInvalid),
		reject("MaxDrift+1 ahead, invite role 0", probeOp(probeInvite(func(in *crdt.Invite) { in.Role = 0 }), atWall(probeNow+drift+1)), crdt.ErrBadValue),
	}

	// Only members write; an unknown author's op waits for its join.
	rules["author"] = []probe{
		accept("member", probeOp(status)),
		accept("admin", probeOp(status, byAuthor(probeAdmin))),
		accept("founder", probeOp(status, byAuthor(probeFounder))),
		ignore("outsider", probeOp(status, byAuthor(probeOutsider)), crdt.ErrNotMember),
		ignore("zero key", probeOp(status, byAuthor(crdt.PublicKey{})), crdt.ErrNotMember),
		ignore("outsider's create", probeOp(probeCreate(), byAuthor(probeOutsider)), crdt.ErrNotMember),
		reject("outsider's bad status", probeOp(probeStatus(255), byAuthor(probeOutsider)), crdt.ErrBadValue),
	}

	for rule, probes := range rules {
		t.Run(rule, func(t *testing.T) {
			for _, p := range probes {
				t.Run(p.name, func(t *testing.T) { checkProbe(t, p) })
			}
		})
	}
}

func checkProbe(t *testing.T, p probe) {
	t.Helper()
	b := probeBoard(t)
	before := b.Hash()
	cv, cerr := b.Group.Check(&p.op, probeNow)
	v, err, changed := b.Apply(p.op, probeNow)
	if v != cv || fmt.Sprint(err) != fmt.Sprint(cerr) {
		t.Errorf("Check says %v (%v), Apply %v (%v)", cv, cerr, v, err)
	}
	if v != p.v {
		t.Fatalf("verdict %v (%v), want %v", v, err, p.v)
	}
	switch {
	case p.err == nil:
		if err != nil {
			t.Fatalf("accepted with error %v", err)
		}
	case !errors.Is(err, p.err):
		t.Fatalf("error %v, want %v", err, p.err)
	case v == crdt.Reject && !errors.Is(err, crdt.ErrInvalid):
		t.Fatalf("rejected with %v, which does not wrap ErrInvalid", err)
	case v == crdt.Ignore && errors.Is(err, crdt.ErrInvalid):
		t.Fatalf("ignored with %v, which wraps ErrInvalid", err)
	}
	if v != crdt.Accept && (b.Hash() != before || len(changed) > 0) {
		t.Fatalf("a %v changed the board", v)
	}
}
