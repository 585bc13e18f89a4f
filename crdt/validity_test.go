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
//
// Check judges an op by what it shows by itself: its shape, its group and
// its clock. Whether an accepted op counts (its author a member, an admin,
// the invite still good when the join was witnessed) is decided from every
// op held, so an outsider's op, a join of an expired invite or a role change
// by a plain member are all accepted here: held, and judged by the
// membership rules (laws_test.go and the transcripts in testdata/).

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
	probeInviteID = probeID("invite")
)

// fataler is what probeBoard needs of a *testing.T or a *rapid.T.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// probeBoard is a group founded a minute before probeNow, with an admin
// (not the founder) and a member, both witnessed by the founder, and one
// post by the member.
func probeBoard(t fataler) *crdt.Board {
	t.Helper()
	t0 := int64(probeNow - 60_000)
	genesis := crdt.Op{ID: probeGroup, Author: probeFounder, Seq: 1, Time: crdt.HLC{Wall: t0}, Body: crdt.Genesis{Name: "probe", AuthorName: "founder"}}
	join := func(key crdt.PublicKey, role crdt.Role, at int64) crdt.Op {
		in := crdt.Invite{ID: probeID(fmt.Sprint("invite ", role)), Group: probeGroup, Role: role, Expires: probeNow,
			Key: fakeKey(fmt.Sprint("one-time ", role)), Issuer: probeFounder}
		return crdt.Op{ID: probeID(fmt.Sprint("join ", role)), Group: probeGroup, Author: key, Seq: 1, Time: crdt.HLC{Wall: at},
			Body: crdt.Join{Invite: in, Name: role.String()}}
	}
	adminJoin, memberJoin := join(probeAdmin, crdt.RoleAdmin, t0+1), join(probeMember, crdt.RoleMember, t0+2)
	admitAdmin := crdt.Op{ID: probeID("admit admin"), Group: probeGroup, Author: probeFounder, Seq: 2, Prev: genesis.ID,
		Time: crdt.HLC{Wall: t0 + 3}, Body: crdt.Admit{Join: adminJoin.ID}}
	admitMember := crdt.Op{ID: probeID("admit member"), Group: probeGroup, Author: probeFounder, Seq: 3, Prev: admitAdmin.ID,
		Time: crdt.HLC{Wall: t0 + 4}, Body: crdt.Admit{Join: memberJoin.ID}}
	post := crdt.Op{ID: probePost, Group: probeGroup, Author: probeMember, Seq: 2, Prev: memberJoin.ID, Time: crdt.HLC{Wall: t0 + 5},
		Body: crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: "coats"}}}
	b := crdt.NewBoard(probeGroup)
	for _, op := range []crdt.Op{genesis, adminJoin, memberJoin, admitAdmin, admitMember, post} {
		if v, err, _ := b.Apply(op, probeNow); v != crdt.Accept {
			t.Fatalf("setting up the board: %s: %v %v", op.Body.Kind(), v, err)
		}
	}
	b.Refresh()
	if !b.Group.IsAdmin(probeAdmin) || !b.Group.IsMember(probeMember) || b.Group.IsAdmin(probeMember) || b.Posts[probePost] == nil {
		t.Fatalf("the probe board is not what its comment says: %+v", b.Group.Members())
	}
	return b
}

// probeOp returns a valid op with body, as the probe board accepts it,
// changed by edits: a genesis is the group's own; a join is an
// outsider's first op; an invite, a revoke and a role change are the
// founder's third op (an invite's author is its issuer); anything else
// is the member's third op.
func probeOp(body crdt.Body, edits ...func(*crdt.Op)) crdt.Op {
	op := crdt.Op{ID: probeID("probe op"), Group: probeGroup, Author: probeMember, Seq: 3, Prev: probePrev,
		Time: crdt.HLC{Wall: probeNow - 1000}, Body: body}
	switch b := body.(type) {
	case crdt.Genesis:
		op.ID, op.Group, op.Author, op.Seq, op.Prev = probeGroup, crdt.ID{}, probeFounder, 1, crdt.ID{}
	case crdt.Join:
		op.Author, op.Seq, op.Prev = probeOutsider, 1, crdt.ID{}
	case crdt.InviteMade:
		op.Author = b.Invite.Issuer
	case crdt.Revoke, crdt.SetRole:
		op.Author = probeFounder
	}
	for _, e := range edits {
		e(&op)
	}
	return op
}

func probeInvite(edits ...func(*crdt.Invite)) crdt.Invite {
	in := crdt.Invite{ID: probeInviteID, Group: probeGroup, Role: crdt.RoleMember, Expires: probeNow, Key: fakeKey("probe one-time"), Issuer: probeFounder}
	for _, e := range edits {
		e(&in)
	}
	return in
}

func probeJoin(edits ...func(*crdt.Invite)) crdt.Join {
	return crdt.Join{Invite: probeInvite(edits...), Name: "newcomer"}
}

func probeInviteMade(edits ...func(*crdt.Invite)) crdt.InviteMade {
	return crdt.InviteMade{Invite: probeInvite(edits...)}
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

func probeSetRole(member crdt.PublicKey, role crdt.Role, cut uint64) crdt.SetRole {
	return crdt.SetRole{Member: member, Role: role, Cut: cut}
}

// probeBodies returns a valid body of every kind, in kind order.
func probeBodies() []crdt.Body {
	return []crdt.Body{
		crdt.Genesis{Name: "probe", AuthorName: "founder"},
		probeJoin(),
		probeInviteMade(),
		crdt.Revoke{Invite: probeInviteID},
		crdt.Admit{Join: probeID("join 1")},
		probeSetRole(probeMember, crdt.RoleAdmin, 2),
		crdt.Leave{},
		crdt.Rename{Name: "probe"},
		probeCreate(),
		probeEdit(crdt.FieldTitle),
		probeStatus(crdt.Claimed),
		crdt.Respond{Post: probePost, Quantity: math.MaxUint32, Note: "two"},
		crdt.Unrespond{Post: probePost, Response: probeID("response")},
	}
}

// laterBodies are the bodies of the kinds that are never an author's
// first op: all but genesis and join.
func laterBodies() []crdt.Body { return probeBodies()[2:] }

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

// blanks are texts made only of white space (the Unicode White_Space
// property, which strings.TrimSpace trims): as a title or a group name
// they are refused like the empty text.
var blanks = []string{" ", "\t", "\n\v\f\r", "\u0085", "\u00a0", "\u1680", "\u2000", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", " \t\u3000 "}

// notBlanks are texts with something that is not white space.
var notBlanks = []string{"x", " x ", "\u3000x", "\u200b" /* zero width space: not White_Space */, "\u00ad" /* soft hyphen */}

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

	// A post has a title: a create, and an edit that sets the title. A
	// title of white space only is no title.
	title := func(s string) func(*crdt.Fields) { return func(f *crdt.Fields) { f.Title = s } }
	rules["title"] = []probe{
		accept("create with a one-byte title", probeOp(probeCreate(title("x")))),
		reject("create with an empty title", probeOp(probeCreate(title(""))), crdt.ErrBadValue),
		accept("edit of the title", probeOp(probeEdit(crdt.FieldTitle))),
		reject("edit of the title to empty", probeOp(probeEdit(crdt.FieldTitle, title(""))), crdt.ErrBadValue),
		reject("edit of all fields, title empty", probeOp(probeEdit(crdt.AllFields, title(""))), crdt.ErrBadValue),
		accept("edit of the details, title empty", probeOp(probeEdit(crdt.FieldDetails, title("")))),
		accept("edit of all but the title, title empty", probeOp(probeEdit(crdt.AllFields&^crdt.FieldTitle, title("")))),
	}
	for _, s := range blanks {
		rules["title"] = append(rules["title"],
			reject(fmt.Sprintf("create with title %q", s), probeOp(probeCreate(title(s))), crdt.ErrBadValue),
			reject(fmt.Sprintf("edit of the title to %q", s), probeOp(probeEdit(crdt.FieldTitle, title(s))), crdt.ErrBadValue),
			reject(fmt.Sprintf("edit of all fields, title %q", s), probeOp(probeEdit(crdt.AllFields, title(s))), crdt.ErrBadValue),
			accept(fmt.Sprintf("edit of the details, title %q", s), probeOp(probeEdit(crdt.FieldDetails, title(s)))),
		)
	}
	for _, s := range notBlanks {
		rules["title"] = append(rules["title"],
			accept(fmt.Sprintf("create with title %q", s), probeOp(probeCreate(title(s)))),
			accept(fmt.Sprintf("edit of the title to %q", s), probeOp(probeEdit(crdt.FieldTitle, title(s)))),
		)
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
	// outside an edit's mask is judged too (section 3: it must still be in
	// range).
	urgency := func(u crdt.Urgency) func(*crdt.Fields) { return func(f *crdt.Fields) { f.Urgency = u } }
	for _, u := range []crdt.Urgency{crdt.UrgencyNormal, crdt.UrgencyLow, crdt.UrgencyHigh} {
		rules["urgency"] = append(rules["urgency"],
			accept("create "+u.String(), probeOp(probeCreate(urgency(u)))),
			accept("edit "+u.String(), probeOp(probeEdit(crdt.FieldUrgency, urgency(u)))),
			accept("edit "+u.String()+" outside the mask", probeOp(probeEdit(crdt.FieldTitle, urgency(u)))),
		)
	}
	for _, u := range []crdt.Urgency{crdt.UrgencyHigh + 1, 255} {
		rules["urgency"] = append(rules["urgency"],
			reject(fmt.Sprint("create ", uint8(u)), probeOp(probeCreate(urgency(u))), crdt.ErrBadValue),
			reject(fmt.Sprint("edit ", uint8(u)), probeOp(probeEdit(crdt.FieldUrgency, urgency(u))), crdt.ErrBadValue),
			reject(fmt.Sprint("edit ", uint8(u), " outside the mask"), probeOp(probeEdit(crdt.FieldTitle, urgency(u))), crdt.ErrBadValue),
		)
	}

	// Expiry is a time or 0 (never), never negative; outside an edit's
	// mask too.
	expires := func(e int64) func(*crdt.Fields) { return func(f *crdt.Fields) { f.Expires = e } }
	for _, e := range []int64{0, 1, probeNow - 1, math.MaxInt64} {
		rules["expires"] = append(rules["expires"],
			accept(fmt.Sprint("create ", e), probeOp(probeCreate(expires(e)))),
			accept(fmt.Sprint("edit ", e), probeOp(probeEdit(crdt.FieldExpires, expires(e)))),
			accept(fmt.Sprint("edit ", e, " outside the mask"), probeOp(probeEdit(crdt.FieldTitle, expires(e)))),
		)
	}
	for _, e := range []int64{-1, math.MinInt64} {
		rules["expires"] = append(rules["expires"],
			reject(fmt.Sprint("create ", e), probeOp(probeCreate(expires(e))), crdt.ErrBadValue),
			reject(fmt.Sprint("edit ", e), probeOp(probeEdit(crdt.FieldExpires, expires(e))), crdt.ErrBadValue),
			reject(fmt.Sprint("edit ", e, " outside the mask"), probeOp(probeEdit(crdt.FieldTitle, expires(e))), crdt.ErrBadValue),
		)
	}

	// An edit, a status, a response and an unresponse name a post, and
	// an unresponse names a response: an ID, not zero. Any other ID is
	// accepted (the post may come later, or never).
	zero := crdt.ID{}
	rules["post target"] = []probe{
		accept("edit of a post not held", probeOp(crdt.PostEdit{Post: probeOther, Set: crdt.FieldTitle, Fields: probeFields()})),
		reject("edit of no post", probeOp(crdt.PostEdit{Post: zero, Set: crdt.FieldTitle, Fields: probeFields()}), crdt.ErrBadValue),
		accept("status of a post not held", probeOp(crdt.PostStatus{Post: probeOther, Status: crdt.Claimed})),
		reject("status of no post", probeOp(crdt.PostStatus{Post: zero, Status: crdt.Claimed}), crdt.ErrBadValue),
		reject("withdrawal of no post", probeOp(crdt.PostStatus{Post: zero, Status: crdt.Withdrawn}), crdt.ErrBadValue),
		accept("response to a post not held", probeOp(crdt.Respond{Post: probeOther})),
		reject("response to no post", probeOp(crdt.Respond{Post: zero}), crdt.ErrBadValue),
		accept("unresponse of a post and response not held", probeOp(crdt.Unrespond{Post: probeOther, Response: probeOther})),
		reject("unresponse of no post", probeOp(crdt.Unrespond{Post: zero, Response: probeID("response")}), crdt.ErrBadValue),
		reject("unresponse of no response", probeOp(crdt.Unrespond{Post: probePost, Response: zero}), crdt.ErrBadValue),
		reject("unresponse of neither", probeOp(crdt.Unrespond{}), crdt.ErrBadValue),
	}

	// An op is stamped after 1970, whatever its kind.
	for _, body := range probeBodies() {
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
		accept("seq 2, prev", probeOp(status, chain(2, probePrev))),
		accept("seq max, prev", probeOp(status, chain(math.MaxUint64, probePrev))),
		reject("seq 0, no prev", probeOp(status, chain(0, crdt.ID{})), crdt.ErrBadChain),
		reject("seq 0, prev", probeOp(status, chain(0, probePrev)), crdt.ErrBadChain),
		reject("seq 1, prev", probeOp(status, chain(1, probePrev)), crdt.ErrBadChain),
		reject("seq 2, no prev", probeOp(status, chain(2, crdt.ID{})), crdt.ErrBadChain),
		reject("seq max, no prev", probeOp(status, chain(math.MaxUint64, crdt.ID{})), crdt.ErrBadChain),
		accept("join at seq 1, no prev", probeOp(probeJoin())),
		accept("join at seq 2, prev (a rejoin)", probeOp(probeJoin(), chain(2, probePrev))),
		reject("join at seq 0", probeOp(probeJoin(), chain(0, crdt.ID{})), crdt.ErrBadChain),
		reject("join at seq 1, prev", probeOp(probeJoin(), chain(1, probePrev)), crdt.ErrBadChain),
		reject("join at seq 2, no prev", probeOp(probeJoin(), chain(2, crdt.ID{})), crdt.ErrBadChain),
	}

	// An author's first op in a group is its genesis or its join: no
	// other kind at seq 1.
	for _, body := range laterBodies() {
		k := body.Kind().String()
		rules["first op"] = append(rules["first op"],
			reject(k+" at seq 1", probeOp(body, chain(1, crdt.ID{})), crdt.ErrInvalid),
			accept(k+" at seq 2", probeOp(body, chain(2, probePrev))),
		)
	}
	rules["first op"] = append(rules["first op"],
		reject("an outsider's status at seq 1", probeOp(status, byAuthor(probeOutsider), chain(1, crdt.ID{})), crdt.ErrInvalid),
		reject("a status at seq 1 by no key", probeOp(status, byAuthor(crdt.PublicKey{}), chain(1, crdt.ID{})), crdt.ErrInvalid),
	)

	// A genesis is its author's first op and names no group: its own ID
	// is the group's. The group has a name that is not only white space.
	genesis := crdt.Genesis{Name: "probe", AuthorName: "founder"}
	named := func(n string) crdt.Genesis { return crdt.Genesis{Name: n, AuthorName: "founder"} }
	rules["genesis"] = []probe{
		accept("seq 1", probeOp(genesis)),
		accept("again, by another author", probeOp(genesis, byAuthor(probeOutsider))),
		accept("with no founder name", probeOp(crdt.Genesis{Name: "probe"})),
		reject("seq 2", probeOp(genesis, chain(2, probePrev)), crdt.ErrInvalid),
		reject("seq 0", probeOp(genesis, chain(0, crdt.ID{})), crdt.ErrBadChain),
		reject("seq 2 without prev", probeOp(genesis, chain(2, crdt.ID{})), crdt.ErrBadChain),
		reject("with its own group", probeOp(genesis, inGroup(probeGroup)), crdt.ErrInvalid),
		reject("with another group", probeOp(genesis, inGroup(probeOther)), crdt.ErrInvalid),
		reject("of another group", probeOp(genesis, func(op *crdt.Op) { op.ID = probeOther }), crdt.ErrWrongGroup),
		reject("with an empty name", probeOp(named("")), crdt.ErrBadValue),
	}
	for _, s := range blanks {
		rules["genesis"] = append(rules["genesis"], reject(fmt.Sprintf("named %q", s), probeOp(named(s)), crdt.ErrBadValue))
	}
	for _, s := range notBlanks {
		rules["genesis"] = append(rules["genesis"], accept(fmt.Sprintf("named %q", s), probeOp(named(s))))
	}

	// An invite, in a join and in an invite record, grants member or admin
	// and expires after 1970. Whether it had expired when a member
	// witnessed the join is a question for the membership, not for Check.
	inJoin := func(e func(*crdt.Invite)) crdt.Op { return probeOp(probeJoin(e)) }
	inRecord := func(e func(*crdt.Invite)) crdt.Op { return probeOp(probeInviteMade(e)) }
	for where, mk := range map[string]func(func(*crdt.Invite)) crdt.Op{"join": inJoin, "invite": inRecord} {
		role := func(r crdt.Role) func(*crdt.Invite) { return func(in *crdt.Invite) { in.Role = r } }
		rules["invite role"] = append(rules["invite role"],
			accept(where+" member", mk(role(crdt.RoleMember))),
			accept(where+" admin", mk(role(crdt.RoleAdmin))),
			reject(where+" 0", mk(role(0)), crdt.ErrBadValue),
			reject(where+" admin+1", mk(role(crdt.RoleAdmin+1)), crdt.ErrBadValue),
			reject(where+" 255", mk(role(255)), crdt.ErrBadValue),
		)
		expiring := func(e int64) func(*crdt.Invite) { return func(in *crdt.Invite) { in.Expires = e } }
		rules["invite expires"] = append(rules["invite expires"],
			accept(where+" 1", mk(expiring(1))),
			accept(where+" 1 ms before the op", mk(expiring(probeNow-1001))),
			accept(where+" max int64", mk(expiring(math.MaxInt64))),
			reject(where+" 0", mk(expiring(0)), crdt.ErrBadValue),
			reject(where+" -1", mk(expiring(-1)), crdt.ErrBadValue),
			reject(where+" min int64", mk(expiring(math.MinInt64)), crdt.ErrBadValue),
		)
		uses := func(u uint32) func(*crdt.Invite) { return func(in *crdt.Invite) { in.Uses = u } }
		rules["invite uses"] = append(rules["invite uses"],
			accept(where+" unlimited", mk(uses(0))),
			accept(where+" once", mk(uses(1))),
			accept(where+" max", mk(uses(math.MaxUint32))),
		)
		group := func(g crdt.ID) func(*crdt.Invite) { return func(in *crdt.Invite) { in.Group = g } }
		rules["invite group"] = append(rules["invite group"],
			accept(where+" for this group", mk(group(probeGroup))),
			reject(where+" for another group", mk(group(probeOther)), crdt.ErrWrongGroup),
			reject(where+" for no group", mk(group(crdt.ID{})), crdt.ErrWrongGroup),
		)
	}
	rules["invite group"] = append(rules["invite group"],
		reject("join for another group, in it too", probeOp(probeJoin(func(in *crdt.Invite) { in.Group = probeOther }), inGroup(probeOther)), crdt.ErrWrongGroup),
		reject("invite for another group, in it too", probeOp(probeInviteMade(func(in *crdt.Invite) { in.Group = probeOther }), inGroup(probeOther)), crdt.ErrWrongGroup),
	)

	// A join may carry anyone's invite: whether its issuer was an admin
	// is decided when a member witnesses it.
	issuer := func(k crdt.PublicKey) func(*crdt.Invite) { return func(in *crdt.Invite) { in.Issuer = k } }
	rules["join"] = []probe{
		accept("from the founder", probeOp(probeJoin(issuer(probeFounder)))),
		accept("from another admin", probeOp(probeJoin(issuer(probeAdmin)))),
		accept("from a member", probeOp(probeJoin(issuer(probeMember)))),
		accept("from an outsider", probeOp(probeJoin(issuer(probeOutsider)))),
		accept("from the joiner itself", probeOp(probeJoin(issuer(probeOutsider)), byAuthor(probeOutsider))),
		accept("by a member, again", probeOp(probeJoin(issuer(probeAdmin)), byAuthor(probeMember), chain(3, probePrev))),
		accept("with no name", probeOp(crdt.Join{Invite: probeInvite()})),
	}

	// An invite is recorded in its issuer's log, by anyone who signs
	// invites (whether that was an admin is the membership's question).
	rules["invite made"] = []probe{
		accept("by the founder, its issuer", probeOp(probeInviteMade(issuer(probeFounder)))),
		accept("by a member, its issuer", probeOp(probeInviteMade(issuer(probeMember)))),
		accept("by an outsider, its issuer", probeOp(probeInviteMade(issuer(probeOutsider)))),
		reject("by an admin, the founder's", probeOp(probeInviteMade(issuer(probeFounder)), byAuthor(probeAdmin)), crdt.ErrInvalid),
		reject("by the founder, a member's", probeOp(probeInviteMade(issuer(probeMember)), byAuthor(probeFounder)), crdt.ErrInvalid),
		reject("by the founder, no key's", probeOp(probeInviteMade(issuer(crdt.PublicKey{})), byAuthor(probeFounder)), crdt.ErrInvalid),
	}

	// A revoke names an invite, an admit a join: by an ID, not zero.
	rules["revoke"] = []probe{
		accept("an invite", probeOp(crdt.Revoke{Invite: probeInviteID})),
		accept("an invite never seen", probeOp(crdt.Revoke{Invite: probeOther})),
		accept("by a member", probeOp(crdt.Revoke{Invite: probeInviteID}, byAuthor(probeMember))),
		reject("no invite", probeOp(crdt.Revoke{}), crdt.ErrBadValue),
	}
	rules["admit"] = []probe{
		accept("a join", probeOp(crdt.Admit{Join: probeID("join 1")})),
		accept("a join never seen", probeOp(crdt.Admit{Join: probeOther})),
		accept("by an outsider", probeOp(crdt.Admit{Join: probeID("join 1")}, byAuthor(probeOutsider))),
		reject("no join", probeOp(crdt.Admit{}), crdt.ErrBadValue),
	}

	// A role change names another key, a role (0 removes) and a cut of
	// at least 1.
	rules["set role"] = []probe{
		accept("remove", probeOp(probeSetRole(probeMember, crdt.RoleNone, 2))),
		accept("member", probeOp(probeSetRole(probeMember, crdt.RoleMember, 2))),
		accept("admin", probeOp(probeSetRole(probeMember, crdt.RoleAdmin, 2))),
		reject("admin+1", probeOp(probeSetRole(probeMember, crdt.RoleAdmin+1, 2)), crdt.ErrBadValue),
		reject("255", probeOp(probeSetRole(probeMember, 255, 2)), crdt.ErrBadValue),
		accept("cut 1", probeOp(probeSetRole(probeMember, crdt.RoleNone, 1))),
		accept("cut max", probeOp(probeSetRole(probeMember, crdt.RoleNone, math.MaxUint64))),
		reject("cut 0", probeOp(probeSetRole(probeMember, crdt.RoleNone, 0)), crdt.ErrBadValue),
		reject("cut 0, promotion", probeOp(probeSetRole(probeMember, crdt.RoleAdmin, 0)), crdt.ErrBadValue),
		accept("of a key never seen", probeOp(probeSetRole(probeOutsider, crdt.RoleNone, 1))),
		accept("of no key", probeOp(probeSetRole(crdt.PublicKey{}, crdt.RoleNone, 1))),
		accept("by a member", probeOp(probeSetRole(probeAdmin, crdt.RoleNone, 1), byAuthor(probeMember))),
		reject("the founder removing itself", probeOp(probeSetRole(probeFounder, crdt.RoleNone, 2)), crdt.ErrInvalid),
		reject("the founder making itself admin", probeOp(probeSetRole(probeFounder, crdt.RoleAdmin, 2)), crdt.ErrInvalid),
		reject("a member promoting itself", probeOp(probeSetRole(probeMember, crdt.RoleAdmin, 2), byAuthor(probeMember)), crdt.ErrInvalid),
		reject("no key on itself", probeOp(probeSetRole(crdt.PublicKey{}, crdt.RoleMember, 2), byAuthor(crdt.PublicKey{})), crdt.ErrInvalid),
	}

	// A leave is an op like any other after the first.
	rules["leave"] = []probe{
		accept("by a member", probeOp(crdt.Leave{})),
		accept("by the founder", probeOp(crdt.Leave{}, byAuthor(probeFounder))),
		accept("by an outsider", probeOp(crdt.Leave{}, byAuthor(probeOutsider))),
	}

	// A rename's name is one line of text, trimmed, not blank (as a node
	// writes it), whoever signs it: whether it counts is the membership's
	// to decide.
	renamed := func(s string) crdt.Rename { return crdt.Rename{Name: s} }
	rules["rename"] = []probe{
		accept("by a member", probeOp(renamed("Bob B."))),
		accept("by the founder", probeOp(renamed("Alice"), byAuthor(probeFounder))),
		accept("by an outsider", probeOp(renamed("Eve"), byAuthor(probeOutsider))),
		accept("not Latin", probeOp(renamed("Zoë ☂ زينب"))),
		accept("a zero width space inside", probeOp(renamed("a\u200bb"))),
		reject("empty", probeOp(renamed("")), crdt.ErrBadValue),
		reject("as first op", probeOp(renamed("Bob"), chain(1, crdt.ID{})), crdt.ErrInvalid),
	}
	for _, s := range blanks {
		rules["rename"] = append(rules["rename"], reject(fmt.Sprintf("to %q", s), probeOp(renamed(s)), crdt.ErrBadValue))
	}
	for _, s := range []string{" Bob", "Bob ", "Bob\u00a0", "\u3000Bob", "Bob\n"} {
		rules["rename"] = append(rules["rename"], reject(fmt.Sprintf("untrimmed %q", s), probeOp(renamed(s)), crdt.ErrBadValue))
	}
	for _, s := range []string{"Bob\x00", "a\tb", "a\x7fb", "a\u0085b", "a\u202eb", "a\u2066b", "a\u200fb", "a\u061cb", "a\u2028b"} {
		rules["rename"] = append(rules["rename"], reject(fmt.Sprintf("with a control character: %q", s), probeOp(renamed(s)), crdt.ErrBadValue))
	}

	// Every op but a genesis names this group. An op that names no group
	// is refused for its shape, before its clock is looked at: stamped
	// too far ahead, it is still rejected, not ignored.
	for _, body := range probeBodies()[1:] {
		k := body.Kind().String()
		rules["group"] = append(rules["group"],
			accept(k, probeOp(body)),
			reject(k+" of another group", probeOp(body, inGroup(probeOther)), crdt.ErrWrongGroup),
			reject(k+" of no group", probeOp(body, inGroup(crdt.ID{})), crdt.ErrInvalid),
			reject(k+" of no group, MaxDrift+1 ahead", probeOp(body, inGroup(crdt.ID{}), atWall(probeNow+drift+1)), crdt.ErrInvalid),
		)
	}

	// Bodies the crdt does not know.
	rules["body"] = []probe{
		reject("none", probeOp(nil), crdt.ErrInvalid),
		reject("unknown", probeOp(unknownBody{}), crdt.ErrInvalid),
	}

	// An op stamped more than MaxDrift ahead of the receiver's clock is
	// ignored, whatever its kind; the shape is judged before the clock,
	// the group after.
	for _, body := range probeBodies() {
		k := body.Kind().String()
		rules["drift"] = append(rules["drift"],
			accept(k+" now", probeOp(body, atWall(probeNow))),
			accept(k+" MaxDrift ahead", probeOp(body, atWall(probeNow+drift))),
			ignore(k+" MaxDrift+1 ahead", probeOp(body, atWall(probeNow+drift+1)), crdt.ErrFuture),
			ignore(k+" max int64", probeOp(body, atWall(math.MaxInt64)), crdt.ErrFuture),
		)
	}
	ahead := atWall(probeNow + drift + 1)
	rules["drift"] = append(rules["drift"],
		reject("MaxDrift+1 ahead, bad status", probeOp(probeStatus(crdt.Withdrawn+1), ahead), crdt.ErrBadValue),
		reject("MaxDrift+1 ahead, status at seq 1", probeOp(status, ahead, chain(1, crdt.ID{})), crdt.ErrInvalid),
		reject("MaxDrift+1 ahead, genesis at seq 2", probeOp(genesis, ahead, chain(2, probePrev)), crdt.ErrInvalid),
		reject("MaxDrift+1 ahead, invite role 0", probeOp(probeJoin(func(in *crdt.Invite) { in.Role = 0 }), ahead), crdt.ErrBadValue),
		reject("MaxDrift+1 ahead, cut 0", probeOp(probeSetRole(probeMember, crdt.RoleNone, 0), ahead), crdt.ErrBadValue),
		reject("MaxDrift+1 ahead, blank title", probeOp(probeCreate(title(" ")), ahead), crdt.ErrBadValue),
		reject("MaxDrift+1 ahead, status of no post", probeOp(crdt.PostStatus{Status: crdt.Claimed}, ahead), crdt.ErrBadValue),
		ignore("MaxDrift+1 ahead, another group", probeOp(status, ahead, inGroup(probeOther)), crdt.ErrFuture),
		ignore("MaxDrift+1 ahead, join with an invite for another group", probeOp(probeJoin(func(in *crdt.Invite) { in.Group = probeOther }), ahead), crdt.ErrFuture),
		ignore("MaxDrift+1 ahead, genesis of another group", probeOp(genesis, ahead, func(op *crdt.Op) { op.ID = probeOther }), crdt.ErrFuture),
	)

	// Anyone's op is accepted (held); whether it counts is the
	// membership's question.
	rules["author"] = []probe{
		accept("member", probeOp(status)),
		accept("admin", probeOp(status, byAuthor(probeAdmin))),
		accept("founder", probeOp(status, byAuthor(probeFounder))),
		accept("outsider", probeOp(status, byAuthor(probeOutsider))),
		accept("zero key", probeOp(status, byAuthor(crdt.PublicKey{}))),
		accept("outsider's create", probeOp(probeCreate(), byAuthor(probeOutsider))),
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
	before, held := b.Hash(), b.Held(p.op.ID)
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
	if v != crdt.Accept && (b.Hash() != before || len(changed) > 0 || b.Held(p.op.ID) != held) {
		t.Fatalf("a %v changed the board", v)
	}
	if v == crdt.Accept && !b.Held(p.op.ID) {
		t.Fatal("accepted but not held")
	}
}
