package crdt

import (
	"errors"
	"fmt"
	"maps"
	"slices"
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
// errors are ErrFuture, ErrNotMember and ErrPendingFull.
var (
	ErrInvalid     = errors.New("invalid op")
	ErrWrongGroup  = fmt.Errorf("%w: op is for another group", ErrInvalid)
	ErrBadChain    = fmt.Errorf("%w: seq and prev do not agree", ErrInvalid)
	ErrBadValue    = fmt.Errorf("%w: field value out of range", ErrInvalid)
	ErrExpired     = fmt.Errorf("%w: invite had expired when the join was made", ErrInvalid)
	ErrFuture      = errors.New("op is stamped too far in the future")
	ErrNotMember   = errors.New("author is not (yet) a member of the group")
	ErrPendingFull = errors.New("too many ops waiting for their authors' joins")
)

// MaxPending bounds the ops a group keeps parked while their authors'
// joins are unknown. Past it, such ops are ignored; catch-up offers them
// again later.
const MaxPending = 4096

// Member is a member of a group.
type Member struct {
	Key      PublicKey
	Name     string
	Role     Role
	JoinedAt HLC
	Via      ID // the op that made the member (genesis or the join with the highest role)
	nameAt   Stamp
}

// Group is a group's membership state: who may write to its board. It is
// derived from the genesis op and the join ops; like a post it is a pure
// function of the set of ops admitted.
type Group struct {
	ID      ID
	Name    string
	Founder PublicKey
	Created HLC
	Founded bool // the genesis op has been seen

	members map[PublicKey]*Member
	parked  map[ID]Op // ops waiting for their author's (or invite issuer's) admission
}

// NewGroup returns the state of group id before any op.
func NewGroup(id ID) *Group {
	return &Group{ID: id, members: map[PublicKey]*Member{}, parked: map[ID]Op{}}
}

// Member returns a member, or nil.
func (g *Group) Member(k PublicKey) *Member { return g.members[k] }

// IsMember reports whether k may write to the board.
func (g *Group) IsMember(k PublicKey) bool { return g.members[k] != nil }

// IsAdmin reports whether k is an admin.
func (g *Group) IsAdmin(k PublicKey) bool {
	m := g.members[k]
	return m != nil && m.Role == RoleAdmin
}

// Members returns the members sorted by key.
func (g *Group) Members() []Member {
	keys := slices.SortedFunc(maps.Keys(g.members), PublicKey.Compare)
	out := make([]Member, len(keys))
	for i, k := range keys {
		out[i] = *g.members[k]
	}
	return out
}

// Parked returns the number of ops waiting for an admission.
func (g *Group) Parked() int { return len(g.parked) }

// Check validates op against the group at the receiver's wall clock
// nowMillis. It does not change g. Structural checks that need no state
// (sizes, signatures, invite signatures) are package protocol's job and
// have been done before.
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
	case Genesis:
		return Accept, nil
	case Join:
		if b.Invite.Group != g.ID {
			return Reject, ErrWrongGroup
		}
		if op.Time.Wall > b.Invite.Expires {
			return Reject, ErrExpired
		}
		if !g.IsAdmin(b.Invite.Issuer) {
			return Ignore, ErrNotMember
		}
		return Accept, nil
	}
	if !g.IsMember(op.Author) {
		return Ignore, ErrNotMember
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
	switch b := op.Body.(type) {
	case Genesis:
		if !op.Group.IsZero() || op.Seq != 1 {
			return fmt.Errorf("%w: genesis must have no group and seq 1", ErrInvalid)
		}
		return nil
	case Join:
		if b.Invite.Role != RoleMember && b.Invite.Role != RoleAdmin {
			return fmt.Errorf("%w: role %d", ErrBadValue, b.Invite.Role)
		}
	case PostCreate:
		if b.PostKind != Need && b.PostKind != Offer {
			return fmt.Errorf("%w: post kind %d", ErrBadValue, b.PostKind)
		}
		if b.Fields.Title == "" {
			return fmt.Errorf("%w: a post needs a title", ErrBadValue)
		}
		return checkFields(&b.Fields)
	case PostEdit:
		if b.Set == 0 || b.Set&^AllFields != 0 {
			return fmt.Errorf("%w: field mask %#x", ErrBadValue, b.Set)
		}
		if b.Set&FieldTitle != 0 && b.Fields.Title == "" {
			return fmt.Errorf("%w: a post needs a title", ErrBadValue)
		}
		return checkFields(&b.Fields)
	case PostStatus:
		if b.Status > Withdrawn {
			return fmt.Errorf("%w: status %d", ErrBadValue, b.Status)
		}
	case Respond, Unrespond:
	default:
		return fmt.Errorf("%w: unknown body", ErrInvalid)
	}
	if op.Group.IsZero() {
		return fmt.Errorf("%w: no group", ErrInvalid)
	}
	return nil
}

func checkFields(f *Fields) error {
	if f.Urgency > UrgencyHigh {
		return fmt.Errorf("%w: urgency %d", ErrBadValue, f.Urgency)
	}
	if f.Expires < 0 {
		return fmt.Errorf("%w: negative expiry", ErrBadValue)
	}
	return nil
}

// Admit takes an op that Check accepted or ignored for want of a member,
// and returns the ops now ready to apply to posts: op itself if its author
// is a member, plus any parked ops that op released. Genesis and join ops
// change the membership here; they are returned too (ApplyPost skips
// them), so the caller can persist every admitted op in one place.
//
// An op that cannot be admitted yet is parked (up to MaxPending) and
// Admit returns nil and ErrNotMember, or ErrPendingFull when full.
func (g *Group) Admit(op Op) ([]Op, error) {
	if !g.admissible(&op) {
		if _, dup := g.parked[op.ID]; dup {
			return nil, ErrNotMember
		}
		if len(g.parked) >= MaxPending {
			return nil, ErrPendingFull
		}
		g.parked[op.ID] = op
		return nil, ErrNotMember
	}
	ready := []Op{op}
	if !g.admitMembership(&op) {
		return ready, nil
	}
	// Membership grew: release what waited for it, until nothing moves.
	for {
		moved := false
		for _, id := range slices.SortedFunc(maps.Keys(g.parked), ID.Compare) {
			p := g.parked[id]
			if !g.admissible(&p) {
				continue
			}
			delete(g.parked, id)
			ready = append(ready, p)
			if g.admitMembership(&p) {
				moved = true
			}
		}
		if !moved {
			return ready, nil
		}
	}
}

func (g *Group) admissible(op *Op) bool {
	switch b := op.Body.(type) {
	case Genesis:
		return true
	case Join:
		return g.IsAdmin(b.Invite.Issuer)
	}
	return g.IsMember(op.Author)
}

// admitMembership applies a genesis or join op and reports whether the
// set of members or admins changed.
func (g *Group) admitMembership(op *Op) bool {
	switch b := op.Body.(type) {
	case Genesis:
		if g.Founded {
			return false
		}
		g.Founded, g.Name, g.Founder, g.Created = true, b.Name, op.Author, op.Time
		return g.addMember(op, b.AuthorName, RoleAdmin)
	case Join:
		return g.addMember(op, b.Name, b.Invite.Role)
	}
	return false
}

// addMember merges a membership: the highest role wins, the name is a
// last-writer-wins register, and the join time is the earliest.
func (g *Group) addMember(op *Op, name string, role Role) bool {
	m := g.members[op.Author]
	s := op.Stamp()
	if m == nil {
		g.members[op.Author] = &Member{Key: op.Author, Name: name, Role: role, JoinedAt: op.Time, Via: op.ID, nameAt: s}
		return true
	}
	grew := false
	if role > m.Role || (role == m.Role && op.ID.Compare(m.Via) < 0) {
		grew = role > m.Role
		m.Role, m.Via = role, op.ID
	}
	if op.Time.Compare(m.JoinedAt) < 0 {
		m.JoinedAt = op.Time
	}
	if s.Compare(m.nameAt) > 0 {
		m.Name, m.nameAt = name, s
	}
	return grew
}
