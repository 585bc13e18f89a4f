package replica

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/protocol"
)

// Help across boards (docs/design.md): a member of group X answers a
// post of group Y, which this node follows, without joining Y. Its first
// op in Y's log is a Visit naming X; then Respond and Unrespond ops. The
// contact of a response is sealed to Y's members' box keys
// (protocol.SealTo), so only they open it.
//
// The node that holds Y vouches for visitors from X with X's members as
// it knows them (crdt.Group.Vouch): it follows X read-only as soon as it
// stores a visit from X (from the visitor's node first, by X's follow
// policy), and vouches again whenever X's membership
// changes, which rebuilds the posts whose responses' standing changed
// (batch.settle, as for a membership change in Y itself).

// Visitor errors.
var (
	ErrNotVisitor   = errors.New("this node is not a member of the group it would answer from")
	ErrOtherVisit   = errors.New("this node answers in that group from another group already")
	ErrFromBlocked  = errors.New("the group's admins have blocked responses from this node's group")
	ErrNoRecipients = errors.New("the group has no members this node knows of yet to seal the contact to: try again after a sync")
	// ErrFormerMember: a visit must be its author's first op in the
	// group, and this node's key wrote there as a member before.
	ErrFormerMember = errors.New("this node was a member of the group once and wrote there as a member, so it cannot answer there from another group: ask one of the group's admins for a new invite, and answer as a member")
)

// maxUnvouched bounds the visitors held in a group whose responses do
// not count although their group is not blocked (not known yet, or not
// vouching for them): strangers' visits cost a group's nodes at most
// this many logs, until the admins block their group.
const maxUnvouched = 64

// membersOf returns the current members of group g as this node knows
// them (none if it does not hold g's genesis).
func (r *Replica) membersOf(g crdt.ID) []crdt.PublicKey {
	gs := r.groups[g]
	if gs == nil || !gs.g.Founded {
		return nil
	}
	var out []crdt.PublicKey
	for _, m := range gs.g.Members() {
		if m.Role != crdt.RoleNone && gs.g.ForkedAt(m.Key) == 0 {
			out = append(out, m.Key)
		}
	}
	return out
}

// vouchAll tells every group what this node knows of the groups its
// visitors come from (at load, before the spans are taken).
func (r *Replica) vouchAll() {
	for _, gs := range r.groups {
		for _, from := range gs.g.VisitedFrom() {
			gs.g.Vouch(from, r.membersOf(from))
		}
	}
}

// visitJudge is judge's part for a visit of another node: not from a
// group the group blocked, and within maxUnvouched.
func (bt *batch) visitJudge(gs *groupState, op *crdt.Op) error {
	v, ok := op.Body.(crdt.Visit)
	if !ok {
		return nil
	}
	if gs.g.Blocked(v.From) {
		return ErrFromBlocked
	}
	if gs.g.Unvouched() >= maxUnvouched {
		return fmt.Errorf("%w: %d visitors of this group do not count yet", crdt.ErrNotMember, maxUnvouched)
	}
	return nil
}

// visited follows the group a visit comes from, if this node does not
// hold it, and vouches for the visit's author with what it knows. The
// visitor's node is a member of that group: this node offers the group
// to it as a follower (its key is the record's first source, as a
// follow code's peers are), and it serves the group read-only if the
// group's federation lets this node's members follow (an open group, or
// one that lists this group among its allies). Otherwise the visitor's
// responses stay held here: not shown, never as if verified.
func (bt *batch) visited(gs *groupState, op *crdt.Op) {
	v, ok := op.Body.(crdt.Visit)
	if !ok {
		return
	}
	r := bt.r
	if from := r.groups[v.From]; from == nil {
		rec := store.GroupRecord{ID: v.From, Relation: store.Follower, Vouched: []crdt.PublicKey{op.Author}}
		from, err := r.storedGroupState(rec)
		if err != nil {
			bt.fail(err)
			return
		}
		r.groups[v.From] = from
		bt.b.PutGroup(rec)
	} else if from.rec.Relation == store.Follower && op.Author != r.self {
		if from.sources == nil {
			from.sources = map[crdt.PublicKey]bool{}
		}
		if len(from.sources) < maxSources {
			from.sources[op.Author] = true
		}
	}
	gs.g.Vouch(v.From, r.membersOf(v.From))
}

// visitSource reports whether peer is likely to hold group from, which
// this node follows because visitors came from it: peer is a member or
// a source of a group held here that holds a visit from it. Offering
// from to such a peer tells it nothing new (the visit names from), and
// it is how a node learns the members of its visitors' groups from the
// peers it shares the visited group with, not only from the visitors'
// own nodes. The caller holds r.mu.
func (r *Replica) visitSource(from *groupState, peer crdt.PublicKey) bool {
	for _, gs := range r.groups {
		if gs == from || !gs.g.VisitedBy(from.rec.ID) {
			continue
		}
		if gs.g.IsMember(peer) || slices.Contains(gs.rec.Vouched, peer) || gs.sources[peer] {
			return true
		}
	}
	return false
}

// revouch vouches again, in every group visited from one of the groups
// whose membership this batch changed, and settles those whose
// visitors' standing changed.
func (bt *batch) revouch() {
	r := bt.r
	for from := range bt.upkeep {
		var members []crdt.PublicKey
		known := false
		for _, gs := range r.groups {
			if gs == from || !gs.g.VisitedBy(from.rec.ID) {
				continue
			}
			if !known {
				members, known = r.membersOf(from.rec.ID), true
			}
			gs.g.Vouch(from.rec.ID, members)
			if !gs.g.Evaluated() {
				bt.settle(gs, nil)
			}
		}
	}
}

// visiting reports whether this node visits the group: its first op
// there is a Visit.
func (gs *groupState) visiting(self crdt.PublicKey) bool {
	return gs.g.Visitor(self) != nil
}

// sealedRespond is a response whose contact is still in clear: seal
// makes it a crdt.Respond naming the blob sealed to the group's members.
type sealedRespond struct {
	crdt.Respond
	contact string
}

// sealTo seals a response's contact to the group's current members.
func (r *Replica) sealTo(gs *groupState, b sealedRespond) (crdt.Body, []byte, error) {
	if b.contact == "" {
		return b.Respond, nil, nil
	}
	to := recipients(gs.g)
	if len(to) == 0 {
		return nil, nil, ErrNoRecipients
	}
	blob, sum, err := protocol.SealTo(gs.rec.ID, to, protocol.Private{Contact: b.contact})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalidPost, err)
	}
	b.Respond.Private = sum
	return b.Respond, blob, nil
}

// recipients returns the box keys a contact is sealed to: every current
// member's, or, past protocol.MaxSealedTo members, the admins' and then
// the most recently joined members'.
func recipients(g *crdt.Group) []crdt.BoxKey {
	ms := slices.DeleteFunc(g.Members(), func(m crdt.Member) bool { return m.Role == crdt.RoleNone || m.Box.IsZero() })
	slices.SortFunc(ms, func(a, b crdt.Member) int {
		if a.Role != b.Role {
			return int(b.Role) - int(a.Role)
		}
		return b.JoinedAt.Compare(a.JoinedAt)
	})
	var out []crdt.BoxKey
	for _, m := range ms {
		if len(out) == protocol.MaxSealedTo {
			break
		}
		out = append(out, m.Box)
	}
	return out
}

// RespondInput is an "I can help" on another group's post.
type RespondInput struct {
	Quantity uint32
	Note     string
	By       string
	// Contact is sealed to the post's group's members: only they read it.
	Contact string
	// From is the group this node answers from, which it must be a
	// member of.
	From crdt.ID
}

// RespondFrom answers a post of a group this node follows, from group
// in.From: on its first answer in that group this node writes a Visit
// there, in the same commit. It returns the post and the response's ID.
func (r *Replica) RespondFrom(ctx context.Context, group, post crdt.ID, in RespondInput) (*crdt.Post, crdt.ID, error) {
	if _, err := r.st.Post(group, post); err != nil {
		if err == store.ErrNotFound {
			return nil, crdt.ID{}, ErrNoPost
		}
		return nil, crdt.ID{}, err
	}
	if len(in.Contact) > protocol.MaxContact {
		return nil, crdt.ID{}, fmt.Errorf("%w: contact is %d bytes, at most %d", ErrInvalidPost, len(in.Contact), protocol.MaxContact)
	}
	respond := sealedRespond{Respond: crdt.Respond{Post: post, Quantity: in.Quantity, Note: in.Note, By: in.By}, contact: in.Contact}
	l, err := r.doLocal(ctx, &localOp{group: group, visit: true, build: func(gs *groupState) (crdt.Body, error) {
		home := r.groups[in.From]
		if home == nil || !home.g.IsMember(r.self) || in.From == group {
			return nil, ErrNotVisitor
		}
		if gs.g.IsMember(r.self) {
			return respond, nil // a member answers as a member
		}
		if err := r.wouldCount(gs, home); err != nil {
			return nil, err
		}
		if v := gs.g.Visitor(r.self); v != nil {
			if v.From != in.From {
				return nil, ErrOtherVisit
			}
			return respond, nil
		}
		if gs.seq > 0 {
			return nil, ErrFormerMember // this node wrote here before, not as a visitor
		}
		return crdt.Visit{From: in.From, Name: r.Name(), Box: r.boxPub}, nil
	}, next: func(_ *groupState, done []crdt.Op) (crdt.Body, error) {
		if _, ok := done[len(done)-1].Body.(crdt.Visit); ok && len(done) == 1 {
			return respond, nil
		}
		return nil, nil
	}})
	if err != nil {
		return nil, crdt.ID{}, err
	}
	id := l.ops[len(l.ops)-1].ID
	if l.post == nil {
		p, err := r.st.Post(group, post)
		return r.Reveal(p), id, err
	}
	return r.Reveal(l.post), id, nil
}

// Visits implements catchup.Visitors: peer's first op in group is a
// visit, and it has not joined the group since.
func (v syncView) Visits(group crdt.ID, peer crdt.PublicKey) bool {
	r := v.r
	r.mu.RLock()
	defer r.mu.RUnlock()
	gs := r.groups[group]
	return gs != nil && gs.g.Visitor(peer) != nil && gs.g.Member(peer) == nil
}

// VisitorOf returns the visitor k of group g, as this node knows it, or
// nil (not a visitor, or the group is not held).
func (r *Replica) VisitorOf(g crdt.ID, k crdt.PublicKey) *crdt.Visitor {
	r.mu.RLock()
	defer r.mu.RUnlock()
	gs := r.groups[g]
	if gs == nil {
		return nil
	}
	return gs.g.Visitor(k)
}

// ResponseContact opens the contact of a response on post p: the blob
// the visitor sealed to the members, with this node's box key (only a
// member's node it was sealed to can), else a hand-on of it (handon.go)
// with the group's keys (any member's node). ok is false when there is
// none, or this node cannot open it.
func (r *Replica) ResponseContact(p *crdt.Post, resp *crdt.Response) (string, bool) {
	if resp.Private.IsZero() {
		return "", false
	}
	if c, ok := r.sealedContact(p.Group, resp); ok {
		return c, true
	}
	r.mu.RLock()
	gs := r.groups[p.Group]
	member := gs != nil && gs.rec.Relation == store.Member
	r.mu.RUnlock()
	if !member {
		return "", false
	}
	return r.handedOnContact(p, resp.ID)
}

// sealedContact opens the contact a visitor sealed to the members.
func (r *Replica) sealedContact(group crdt.ID, resp *crdt.Response) (string, bool) {
	if v, ok := r.revealed.Get(resp.ID); ok {
		return v.Contact, true
	}
	r.mu.RLock()
	gs := r.groups[group]
	member := gs != nil && gs.rec.Relation == store.Member
	r.mu.RUnlock()
	if !member {
		return "", false
	}
	blob, ok, err := r.st.Blob(resp.ID)
	if err != nil || !ok || !protocol.IsSealedTo(blob) {
		return "", false
	}
	v, err := protocol.OpenSealedTo(group, blob, r.box)
	if err != nil {
		return "", false
	}
	r.revealed.Add(resp.ID, v)
	return v.Contact, true
}

// Block stops (blocked true) or lets again count the responses of the
// visitors from group from in group: an admin's Federation op, which
// keeps the group's follow policy and allies as they are.
func (r *Replica) Block(ctx context.Context, group, from crdt.ID, blocked bool) error {
	if group == from {
		return fmt.Errorf("%w: a group cannot block itself", ErrInvalidPost)
	}
	_, err := r.doLocal(ctx, &localOp{group: group, build: func(gs *groupState) (crdt.Body, error) {
		if !gs.g.IsAdmin(r.self) {
			return nil, ErrNotAdmin
		}
		f := gs.g.Federation()
		i, found := slices.BinarySearchFunc(f.Blocked, from, crdt.ID.Compare)
		switch {
		case blocked == found:
			return nil, nil // nothing to change
		case blocked:
			if len(f.Blocked) >= crdt.MaxFederationGroups {
				return nil, fmt.Errorf("%w: a group blocks at most %d groups", ErrInvalidPost, crdt.MaxFederationGroups)
			}
			f.Blocked = slices.Insert(slices.Clone(f.Blocked), i, from)
		default:
			f.Blocked = slices.Delete(slices.Clone(f.Blocked), i, i+1)
		}
		return f, nil
	}})
	return err
}

// Federation returns a group's federation settings (crdt.Federation).
func (r *Replica) Federation(group crdt.ID) (crdt.Federation, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	gs := r.groups[group]
	if gs == nil {
		return crdt.Federation{}, ErrNoGroup
	}
	return gs.g.Federation(), nil
}
