package replica

import (
	"fmt"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// Hand-ons (docs/design.md, "Help across boards": "Members who join
// later"). A visitor seals its contact to the box keys of the group's
// members of the moment (sealTo), so a member who joins later cannot
// open it. So the first member's node that opens such a contact hands
// it on: it writes a HandOn (kind 12) naming the response, its blob the
// contact sealed under the group's newest key exactly as a post's
// private fields are (protocol.SealPrivate). Every member, present or
// future, holds the group's keys (the admitting node shares them), so
// every member reads it; followers keep it sealed, as any blob.
//
// At most one hand-on per response per node: a node skips a response
// whose post already holds a hand-on that counts and whose blob it
// holds. Two members' nodes that hand one on at once write two; both
// count and open to the same contact (crdt.Post.HandOns).
//
// No copy outlives its response (erasedBlob): a hand-on's blob is erased
// with the post's blobs (an Erase, the retention), when the visitor
// takes the response back (an Unrespond, which erases the response's
// own blob too), and when the group blocks the visitor's group.

// sealedHandOn is a hand-on whose contact is still in clear: seal makes
// it a crdt.HandOn naming the blob sealed under the group key.
type sealedHandOn struct {
	crdt.HandOn
	contact string
}

// sealHandOn seals a hand-on's contact under the group's newest key.
func (r *Replica) sealHandOn(gs *groupState, b sealedHandOn) (crdt.Body, []byte, error) {
	k, ok := gs.sealingKey()
	if !ok {
		return nil, nil, ErrNoKey
	}
	blob, sum, err := protocol.SealPrivate(gs.rec.ID, k, protocol.Private{Contact: b.contact})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalidPost, err)
	}
	b.HandOn.Private = sum
	return b.HandOn, blob, nil
}

// handOns writes, after the batch's ops are applied, a hand-on for each
// visitor's response with a contact on the posts the batch changed that
// this node, a member, opens and that no hand-on it holds carries yet.
func (bt *batch) handOns() {
	r := bt.r
	for _, k := range bt.changed[:len(bt.changed):len(bt.changed)] {
		if bt.err != nil {
			return
		}
		e := bt.posts[k]
		gs := r.groups[k.g]
		if e == nil || e.cur == nil || gs == nil || !gs.g.IsMember(r.self) || !r.confirmed(k.g) {
			continue
		}
		p := e.cur
		if len(p.Responses) == 0 {
			continue // most posts: nothing to hand on, nothing to allocate
		}
		for _, resp := range p.ActiveResponses() {
			if resp.Private.IsZero() || bt.handed[resp.ID] || bt.handedHere(k, p, resp.ID) {
				continue
			}
			if v := gs.g.Visitor(resp.Author); v == nil || !v.Vouched {
				continue
			}
			if p.ErasedAt.Compare(crdt.Stamp{Time: resp.Time, Author: resp.Author, Op: resp.ID}) > 0 || settledFor(p, gs, bt.now) {
				continue
			}
			contact, ok := bt.openSealedTo(gs, k, resp.ID)
			if !ok || contact == "" {
				continue
			}
			if _, ok := gs.sealingKey(); !ok {
				continue
			}
			if bt.handed == nil {
				bt.handed = map[crdt.ID]bool{}
			}
			bt.handed[resp.ID] = true
			l := &localOp{group: k.g, build: func(*groupState) (crdt.Body, error) {
				return sealedHandOn{HandOn: crdt.HandOn{Post: p.ID, Response: resp.ID}, contact: contact}, nil
			}}
			if err := bt.local(l); err != nil {
				r.cfg.Logger.Warn("could not hand a visitor's contact on to the group", "group", k.g.Short(), "post", p.ID.Short(), "err", err)
				continue
			}
			r.cfg.Logger.Info("handed a visitor's contact on to the group's members", "group", k.g.Short(), "post", p.ID.Short())
		}
	}
}

// handedHere reports whether p holds a hand-on of resp that counts and
// whose blob this node holds (in the vault or in this batch).
func (bt *batch) handedHere(k postKey, p *crdt.Post, resp crdt.ID) bool {
	for _, h := range p.HandedOnFor(resp) {
		if bt.r.st.HasBlob(h.Op) {
			return true
		}
		for _, op := range bt.postIdx[k] {
			if op.ID == h.Op && op.Blob != nil {
				return true
			}
		}
	}
	return false
}

// openSealedTo opens the contact a visitor sealed to the members, from
// this batch or the vault: false when this node was not among them.
func (bt *batch) openSealedTo(gs *groupState, k postKey, resp crdt.ID) (string, bool) {
	r := bt.r
	if v, ok := r.revealed.Get(resp); ok {
		return v.Contact, true
	}
	var blob []byte
	for _, op := range bt.postIdx[k] {
		if op.ID == resp {
			blob = op.Blob
		}
	}
	if blob == nil {
		b, ok, err := r.st.Blob(resp)
		if err != nil || !ok {
			return "", false
		}
		blob = b
	}
	if !protocol.IsSealedTo(blob) {
		return "", false
	}
	v, err := protocol.OpenSealedTo(gs.rec.ID, blob, r.box)
	if err != nil {
		return "", false
	}
	return v.Contact, true
}

// handedOnContact opens the contact of resp from the hand-ons of it
// that count on p, with the group's keys: false when there is none this
// node holds and opens.
func (r *Replica) handedOnContact(p *crdt.Post, resp crdt.ID) (string, bool) {
	for _, h := range p.HandedOnFor(resp) {
		if v, ok := r.openPrivate(p.Group, h.Op); ok {
			return v.Contact, true
		}
	}
	return "", false
}

// responseGone reports whether the blob of op, a visitor's response or a
// hand-on of one, is to be erased by what its post p says (and, for a
// hand-on, the response's op among ops, the post's ops, when the post
// no longer holds the response: its group blocked): the response was
// taken back, erased, or its visitor's group blocked. The other rules
// (erasedBefore) apply to these blobs as to any.
func responseGone(gs *groupState, p *crdt.Post, op *crdt.Op, ops []crdt.Op) bool {
	if p == nil || gs == nil {
		return false
	}
	switch b := op.Body.(type) {
	case crdt.Respond:
		return p.TakenBack(op.ID, op.Author)
	case crdt.HandOn:
		var resp *crdt.Op
		for i := range ops {
			if ops[i].ID == b.Response {
				resp = &ops[i]
			}
		}
		if resp == nil {
			return false // not held yet: judged when it comes
		}
		if p.TakenBack(resp.ID, resp.Author) || !p.ErasedAt.Op.IsZero() && resp.Stamp().Compare(p.ErasedAt) < 0 {
			return true
		}
		v := gs.g.Visitor(resp.Author)
		return v != nil && v.Blocked
	}
	return false
}

// mayEraseMore reports whether post p of group gs may have blobs that
// responseGone erases: a response with a sealed contact was taken back,
// or the group blocks a group that visitors came from (whose responses
// are no longer on the post to tell).
func mayEraseMore(p *crdt.Post, gs *groupState) bool {
	return takenBackSealed(p) || blocksVisitors(gs)
}

// takenBackSealed reports whether a response of p with a sealed contact
// was taken back.
func takenBackSealed(p *crdt.Post) bool {
	for i := range p.Responses {
		if r := &p.Responses[i]; !r.Private.IsZero() && p.TakenBack(r.ID, r.Author) {
			return true
		}
	}
	return false
}

// blocksVisitors reports whether gs blocks a group it holds visits from.
func blocksVisitors(gs *groupState) bool {
	if gs == nil || len(gs.g.Federation().Blocked) == 0 {
		return false
	}
	for _, from := range gs.g.VisitedFrom() {
		if gs.g.Blocked(from) {
			return true
		}
	}
	return false
}
