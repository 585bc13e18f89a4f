package crdt

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"unicode"
)

// Verdict is the outcome of validating an op, as in GossipSub: accept it,
// reject it (it is invalid forever; whoever sent it is penalised), or
// ignore it (it cannot be judged yet; keep or drop it, punish nobody).
type Verdict int

// Verdicts.
const (
	Accept Verdict = iota
	Reject
	Ignore
)

func (v Verdict) String() string {
	switch v {
	case Accept:
		return "accept"
	case Reject:
		return "reject"
	}
	return "ignore"
}

// Validation errors. Reject-class errors wrap ErrInvalid; Ignore-class
// errors are ErrFuture and ErrNotMember.
var (
	ErrInvalid    = errors.New("invalid op")
	ErrWrongGroup = fmt.Errorf("%w: op is for another group", ErrInvalid)
	ErrBadChain   = fmt.Errorf("%w: seq and prev do not agree", ErrInvalid)
	ErrBadValue   = fmt.Errorf("%w: field value out of range", ErrInvalid)
	ErrFuture     = errors.New("op is stamped too far in the future")
	ErrNotMember  = errors.New("author is not (yet) known in the group")
)

// Group is a group's membership: who may write to its board, with which
// role, for which of their ops. Like a post it is a pure function of the
// ops held — here the membership ops (genesis, join, invite, revoke,
// admit, role, leave) and the forks: the seqs at which authors signed
// conflicting ops. See membership.go for the rules.
//
// The caller feeds it: Hold for each membership op it stores, Fork when
// an author is found to have signed two histories. Everything else is
// derived, on demand.
type Group struct {
	ID       ID
	Name     string
	Founder  PublicKey
	Created  HLC
	Founded  bool  // the genesis op has been seen
	FirstKey KeyID // the genesis's Key, from which the topic is derived

	ops   map[ID]*Op           // membership ops held, valid or not
	forks map[PublicKey]uint64 // per author: the lowest seq at which it signed conflicting ops
	ev    *evaluation          // nil when something changed since the last evaluation
	// evMu makes eval safe for concurrent readers: a replica reads a
	// group under a read lock, and the first reader after a change
	// computes (and stores) the evaluation. Changes need the caller's
	// exclusive lock as before.
	evMu sync.Mutex

	// visitFrom counts the visits held per group they come from.
	visitFrom map[ID]int
	// vouch holds, per other group that visitors came from, its current
	// members as the replica knows them (Vouch); a group absent here is
	// not known, and its visitors do not count.
	vouch map[ID]map[PublicKey]bool
}

// NewGroup returns the state of group id before any op.
func NewGroup(id ID) *Group {
	return &Group{ID: id, ops: map[ID]*Op{}, forks: map[PublicKey]uint64{}}
}

// IsMembership reports whether op belongs to the group rather than to a
// post: the membership (kinds 1–7), group keys, settings and renames.
func IsMembership(op *Op) bool {
	switch op.Body.(type) {
	case Genesis, Join, InviteMade, Revoke, Admit, SetRole, Leave, GroupKey, Settings, Rename, Visit, Federation:
		return true
	}
	return false
}

// Hold adds a membership op that the caller has stored. Other ops are
// ignored. Holding an op twice does nothing.
func (g *Group) Hold(op *Op) {
	if !IsMembership(op) || g.ops[op.ID] != nil {
		return
	}
	c := *op
	g.ops[op.ID] = &c
	if v, ok := op.Body.(Visit); ok {
		if g.visitFrom == nil {
			g.visitFrom = map[ID]int{}
		}
		g.visitFrom[v.From]++
	}
	if gen, ok := op.Body.(Genesis); ok && op.ID == g.ID && !g.Founded {
		g.Founded, g.Name, g.Founder, g.Created, g.FirstKey = true, gen.Name, op.Author, op.Time, gen.Key
	}
	if !g.forked(op.Author, op.Seq) {
		g.ev = nil
	}
}

// Fork records that author signed conflicting ops at seq: two ops at
// seq, or an op at seq+1 whose Prev is not the op held at seq. The
// author's ops from seq on do not count, on every replica that learns it.
func (g *Group) Fork(author PublicKey, seq uint64) {
	if seq == 0 {
		seq = 1
	}
	if f, ok := g.forks[author]; ok && f <= seq {
		return
	}
	g.forks[author] = seq
	g.ev = nil
}

// forked reports whether author's op at seq is at or past its fork.
func (g *Group) forked(author PublicKey, seq uint64) bool {
	f, ok := g.forks[author]
	return ok && seq >= f
}

// ForkedAt returns the seq at which author forked, or 0.
func (g *Group) ForkedAt(author PublicKey) uint64 { return g.forks[author] }

// Forks returns the authors known to have forked, with the fork seqs.
func (g *Group) Forks() map[PublicKey]uint64 { return maps.Clone(g.forks) }

// HeldOp returns a held membership op, or nil.
func (g *Group) HeldOp(id ID) *Op { return g.ops[id] }

// Check validates op against the group at the receiver's wall clock
// nowMillis, as far as that can be decided from the op alone: its shape,
// its group, and that it is not stamped too far in the future. It does
// not change g. Whether the op counts (its author's membership, role and
// the post rules) is decided when the group is evaluated, from every op
// held, so that the order ops arrive in never matters. Structural checks
// that need no state (sizes, signatures, the invite and its proof) are
// package protocol's job and have been done before.
func (g *Group) Check(op *Op, nowMillis int64) (Verdict, error) {
	if err := checkShape(op); err != nil {
		return Reject, err
	}
	if op.Time.Wall > nowMillis+MaxDrift.Milliseconds() {
		return Ignore, ErrFuture
	}
	if op.GroupID() != g.ID {
		return Reject, ErrWrongGroup
	}
	switch b := op.Body.(type) {
	case Join:
		if b.Invite.Group != g.ID {
			return Reject, ErrWrongGroup
		}
	case InviteMade:
		if b.Invite.Group != g.ID {
			return Reject, ErrWrongGroup
		}
	}
	return Accept, nil
}

// checkShape checks what an op must satisfy whatever the state.
func checkShape(op *Op) error {
	if op.Time.Wall <= 0 {
		return fmt.Errorf("%w: timestamp before 1970", ErrBadValue)
	}
	if op.Seq == 0 || (op.Seq == 1) != op.Prev.IsZero() {
		return ErrBadChain
	}
	switch op.Body.(type) {
	case Genesis, Join, Visit:
	default:
		if op.Seq == 1 {
			return fmt.Errorf("%w: an author's first op in a group is its genesis, join or visit", ErrInvalid)
		}
	}
	switch b := op.Body.(type) {
	case Genesis:
		if !op.Group.IsZero() || op.Seq != 1 {
			return fmt.Errorf("%w: genesis must have no group and seq 1", ErrInvalid)
		}
		if blank(b.Name) {
			return fmt.Errorf("%w: a group needs a name", ErrBadValue)
		}
		return nil
	case Join:
		if err := checkInvite(&b.Invite); err != nil {
			return err
		}
	case InviteMade:
		if err := checkInvite(&b.Invite); err != nil {
			return err
		}
		if b.Invite.Issuer != op.Author {
			return fmt.Errorf("%w: an invite is recorded by its issuer", ErrInvalid)
		}
	case Revoke:
		if b.Invite.IsZero() {
			return fmt.Errorf("%w: revoke of no invite", ErrBadValue)
		}
	case Admit:
		if b.Join.IsZero() {
			return fmt.Errorf("%w: admit of no join", ErrBadValue)
		}
	case SetRole:
		if b.Role > RoleAdmin {
			return fmt.Errorf("%w: role %d", ErrBadValue, b.Role)
		}
		if b.Cut == 0 {
			return fmt.Errorf("%w: a role change needs a cut of at least 1", ErrBadValue)
		}
		if b.Member == op.Author {
			return fmt.Errorf("%w: a member changes its own role only by leaving", ErrInvalid)
		}
	case Leave:
	case Rename:
		if err := CheckName(b.Name); err != nil {
			return err
		}
	case Federation:
		if err := checkFederation(&b); err != nil {
			return err
		}
	case Visit:
		if op.Seq != 1 {
			return fmt.Errorf("%w: a visit is its author's first op in the group", ErrInvalid)
		}
		if b.From.IsZero() || b.From == op.Group {
			return fmt.Errorf("%w: a visit comes from another group", ErrBadValue)
		}
	case GroupKey:
		if b.Key.IsZero() {
			return fmt.Errorf("%w: group key with no ID", ErrBadValue)
		}
		if len(b.Shares) == 0 || len(b.Shares) > MaxShares {
			return fmt.Errorf("%w: %d shares in a group key op, 1 to %d", ErrBadValue, len(b.Shares), MaxShares)
		}
		for i := 1; i < len(b.Shares); i++ {
			if b.Shares[i-1].Member.Compare(b.Shares[i].Member) >= 0 {
				return fmt.Errorf("%w: shares not sorted by member, or repeated", ErrInvalid)
			}
		}
	case Settings:
		if b.Retention <= 0 || b.Retention > MaxRetention {
			return fmt.Errorf("%w: retention %d ms", ErrBadValue, b.Retention)
		}
	case Erase:
		if err := checkTarget(b.Post); err != nil {
			return err
		}
	case PostCreate:
		if b.PostKind != Need && b.PostKind != Offer {
			return fmt.Errorf("%w: post kind %d", ErrBadValue, b.PostKind)
		}
		if blank(b.Fields.Title) {
			return fmt.Errorf("%w: a post needs a title", ErrBadValue)
		}
		if err := checkFields(&b.Fields); err != nil {
			return err
		}
	case PostEdit:
		if err := checkTarget(b.Post); err != nil {
			return err
		}
		if b.Set == 0 || b.Set&^AllFields != 0 {
			return fmt.Errorf("%w: field mask %#x", ErrBadValue, b.Set)
		}
		if b.Set&FieldTitle != 0 && blank(b.Fields.Title) {
			return fmt.Errorf("%w: a post needs a title", ErrBadValue)
		}
		if err := checkFields(&b.Fields); err != nil {
			return err
		}
	case PostStatus:
		if err := checkTarget(b.Post); err != nil {
			return err
		}
		if b.Status > Withdrawn {
			return fmt.Errorf("%w: status %d", ErrBadValue, b.Status)
		}
	case Respond:
		if err := checkTarget(b.Post); err != nil {
			return err
		}
	case Unrespond:
		if err := checkTarget(b.Post); err != nil {
			return err
		}
		if b.Response.IsZero() {
			return fmt.Errorf("%w: unrespond of no response", ErrBadValue)
		}
	case HandOn:
		if err := checkTarget(b.Post); err != nil {
			return err
		}
		if b.Response.IsZero() {
			return fmt.Errorf("%w: hand-on of no response", ErrBadValue)
		}
		if b.Private.IsZero() {
			return fmt.Errorf("%w: hand-on with no sealed contact", ErrBadValue)
		}
	default:
		return fmt.Errorf("%w: unknown body", ErrInvalid)
	}
	if op.Group.IsZero() {
		return fmt.Errorf("%w: no group", ErrInvalid)
	}
	return nil
}

// checkTarget checks the post an op changes: an ID, not zero.
func checkTarget(post ID) error {
	if post.IsZero() {
		return fmt.Errorf("%w: no post", ErrBadValue)
	}
	return nil
}

// blank reports whether s is empty or only white space (the Unicode
// White_Space property): as a title or a group name, it is no name.
func blank(s string) bool { return strings.TrimSpace(s) == "" }

// CheckName checks a member's display name as a Rename carries it: not
// blank, no white space at either end (a node trims what it is given),
// and no control or bidi formatting characters, since every member's
// list shows it on one line beside the others. Its length and encoding
// are package protocol's to check (protocol.MaxName).
func CheckName(s string) error {
	if blank(s) {
		return fmt.Errorf("%w: a name must not be blank", ErrBadValue)
	}
	if strings.TrimSpace(s) != s {
		return fmt.Errorf("%w: a name must not start or end with white space", ErrBadValue)
	}
	for _, r := range s {
		if unicode.IsControl(r) || IsBidiControl(r) {
			return fmt.Errorf("%w: a name holds control or formatting character %U", ErrBadValue, r)
		}
	}
	return nil
}

// IsBidiControl reports the characters that reorder the text around
// them (embeddings, overrides, isolates, marks) or break it into lines.
func IsBidiControl(r rune) bool {
	switch {
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F, r == 0x061C, r == 0x2028, r == 0x2029:
		return true
	}
	return false
}

func checkInvite(in *Invite) error {
	if in.Role != RoleMember && in.Role != RoleAdmin {
		return fmt.Errorf("%w: invite role %d", ErrBadValue, in.Role)
	}
	if in.Expires <= 0 {
		return fmt.Errorf("%w: invite expiry %d", ErrBadValue, in.Expires)
	}
	return nil
}

func checkFields(f *Fields) error {
	if f.Location != "" || f.Contact != "" {
		return fmt.Errorf("%w: private field in clear", ErrInvalid)
	}
	if f.Urgency > UrgencyHigh {
		return fmt.Errorf("%w: urgency %d", ErrBadValue, f.Urgency)
	}
	if f.Expires < 0 {
		return fmt.Errorf("%w: negative expiry", ErrBadValue)
	}
	return nil
}

// Storable reports whether a replica should keep op, which Check
// accepted: the genesis; a join whose invite's issuer is known; a visit
// (the replica limits those: docs/design.md "Help across boards"); any
// other op of a known author. known reports whether the replica holds
// the first op of a key in the group. So a stranger's ops cost a
// replica nothing until someone the group knows vouches for it, and ops
// that arrive before their author's join are dropped and sent again by
// catch-up (which sends each author's first op first).
func Storable(op *Op, known func(PublicKey) bool) bool {
	switch b := op.Body.(type) {
	case Genesis:
		return true
	case Join:
		return known(b.Invite.Issuer) && (op.Seq == 1 || known(op.Author))
	case Visit:
		return true
	}
	return known(op.Author)
}
