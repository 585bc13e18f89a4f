package crdt

import (
	"slices"
)

// Stamp orders writes to a register: by HLC, then author key, then op ID.
// Two different ops never have equal stamps, so the order is total and
// every replica picks the same winner.
type Stamp struct {
	Time   HLC
	Author PublicKey
	Op     ID
}

// Compare orders stamps.
func (s Stamp) Compare(o Stamp) int {
	if c := s.Time.Compare(o.Time); c != 0 {
		return c
	}
	if c := s.Author.Compare(o.Author); c != 0 {
		return c
	}
	return s.Op.Compare(o.Op)
}

// Reg is a last-writer-wins register. The zero Reg holds T's zero value
// and loses to every write.
type Reg[T comparable] struct {
	V T
	S Stamp
}

// Set writes v at stamp s if s is after the current stamp, and reports
// whether the register changed.
func (r *Reg[T]) Set(v T, s Stamp) bool {
	if s.Compare(r.S) <= 0 {
		return false
	}
	r.V, r.S = v, s
	return true
}

// Response is one "I can help" on a post.
type Response struct {
	ID       ID // the Respond op's ID
	Author   PublicKey
	Time     HLC
	Quantity uint32
	Note     string
	By       string // Respond.By: who responded through the author's node
	Private  ID     // Respond.Private: the blob holding the responder's sealed contact
}

// Tombstone records an Unrespond: the response ID and who withdrew it.
// A response is hidden only by a tombstone from its own author.
type Tombstone struct {
	Response ID
	Author   PublicKey
}

// HandedOn is a HandOn that counts: the op whose blob holds, sealed
// under the group key, the contact of the visitor's response Response.
type HandedOn struct {
	Response ID
	Op       ID // the HandOn op: its blob
	Author   PublicKey
	Time     HLC
}

// Stamp returns the hand-on's stamp.
func (h HandedOn) Stamp() Stamp { return Stamp{Time: h.Time, Author: h.Author, Op: h.Op} }

func compareHandedOn(a, b HandedOn) int {
	if c := a.Response.Compare(b.Response); c != 0 {
		return c
	}
	return a.Op.Compare(b.Op)
}

// Post is the merged state of one need or offer.
//
// Every field is a last-writer-wins register ordered by Stamp. The
// status is two registers: Status (open, claimed, fulfilled), which any
// member may set, and Withdrawn, which only the post's author and admins
// may set (see rights.go). A post is shown withdrawn while Withdrawn
// holds true; when the author or an admin sets any other status, that
// also clears Withdrawn. Concurrent writes to each register resolve to
// the greatest (HLC, author, op ID), whatever they say, and any status
// may follow any other (a fulfilled post can be reopened).
//
// A Post exists once its create op counts; ops that arrive before it are
// kept by the caller and replayed (RebuildPost).
type Post struct {
	ID        ID
	Group     ID
	Created   bool
	Kind      PostKind
	Author    PublicKey
	CreatedAt HLC
	Ref       string
	By        string // PostCreate.By: who made the post through the author's node
	UpdatedAt HLC    // greatest HLC of any op applied

	Title    Reg[string]
	Details  Reg[string]
	Category Reg[string]
	Location Reg[string]
	Contact  Reg[string]
	Quantity Reg[uint32]
	Urgency  Reg[Urgency]
	Expires  Reg[int64]
	Status   Reg[Status]
	// Withdrawn is set by the author or an admin.
	Withdrawn Reg[bool]
	// ErasedAt is the greatest stamp of an Erase that counts: the
	// private fields of the post's ops before it are erased.
	ErasedAt Stamp

	Responses  []Response  // sorted by ID
	Tombstones []Tombstone // sorted by (Response, Author)
	// HandOns are the hand-ons of visitors' contacts that count
	// (HandOn), sorted by (Response, Op): usually none or one a
	// response, two when two members' nodes handed one on at once.
	HandOns []HandedOn
}

// NewPost returns an empty stub for a post ID.
func NewPost(group, id ID) *Post { return &Post{ID: id, Group: group} }

// Clone returns a deep copy.
func (p *Post) Clone() *Post {
	c := *p
	c.Responses = slices.Clone(p.Responses)
	c.Tombstones = slices.Clone(p.Tombstones)
	c.HandOns = slices.Clone(p.HandOns)
	return &c
}

// Apply merges one post op into p and reports whether p changed. The
// caller has checked that op targets p (PostOf) and that it counts
// (MayChange); privileged says its author is the post's author or an
// admin. Apply is commutative, associative and idempotent over ops.
func (p *Post) Apply(op *Op, privileged bool) bool {
	s := op.Stamp()
	changed := false
	switch b := op.Body.(type) {
	case PostCreate:
		if !p.Created {
			p.Created, p.Kind, p.Author, p.CreatedAt, p.Ref, p.By = true, b.PostKind, op.Author, op.Time, b.Ref, b.By
			changed = true
		}
		changed = p.setFields(AllFields, &b.Fields, s) || changed
	case PostEdit:
		changed = p.setFields(b.Set&AllFields, &b.Fields, s)
	case PostStatus:
		if b.Status == Withdrawn {
			changed = p.Withdrawn.Set(true, s)
			break
		}
		changed = p.Status.Set(b.Status, s)
		if privileged {
			changed = p.Withdrawn.Set(false, s) || changed
		}
	case Respond:
		i, found := slices.BinarySearchFunc(p.Responses, op.ID, func(r Response, id ID) int { return r.ID.Compare(id) })
		if !found {
			p.Responses = slices.Insert(p.Responses, i, Response{ID: op.ID, Author: op.Author, Time: op.Time, Quantity: b.Quantity, Note: b.Note, By: b.By, Private: b.Private})
			changed = true
		}
	case Erase:
		if s.Compare(p.ErasedAt) > 0 {
			p.ErasedAt = s
			changed = true
		}
	case HandOn:
		h := HandedOn{Response: b.Response, Op: op.ID, Author: op.Author, Time: op.Time}
		i, found := slices.BinarySearchFunc(p.HandOns, h, compareHandedOn)
		if !found {
			p.HandOns = slices.Insert(p.HandOns, i, h)
			changed = true
		}
	case Unrespond:
		t := Tombstone{Response: b.Response, Author: op.Author}
		i, found := slices.BinarySearchFunc(p.Tombstones, t, compareTombstone)
		if !found {
			p.Tombstones = slices.Insert(p.Tombstones, i, t)
			changed = true
		}
	default:
		return false
	}
	if op.Time.Compare(p.UpdatedAt) > 0 {
		p.UpdatedAt = op.Time
		changed = true
	}
	return changed
}

func compareTombstone(a, b Tombstone) int {
	if c := a.Response.Compare(b.Response); c != 0 {
		return c
	}
	return a.Author.Compare(b.Author)
}

func (p *Post) setFields(m FieldMask, f *Fields, s Stamp) bool {
	c := false
	if m&FieldTitle != 0 {
		c = p.Title.Set(f.Title, s) || c
	}
	if m&FieldDetails != 0 {
		c = p.Details.Set(f.Details, s) || c
	}
	if m&FieldCategory != 0 {
		c = p.Category.Set(f.Category, s) || c
	}
	if m&FieldLocation != 0 {
		c = p.Location.Set(f.Location, s) || c
	}
	if m&FieldContact != 0 {
		c = p.Contact.Set(f.Contact, s) || c
	}
	if m&FieldQuantity != 0 {
		c = p.Quantity.Set(f.Quantity, s) || c
	}
	if m&FieldUrgency != 0 {
		c = p.Urgency.Set(f.Urgency, s) || c
	}
	if m&FieldExpires != 0 {
		c = p.Expires.Set(f.Expires, s) || c
	}
	return c
}

// Withdrawn reports whether response r was withdrawn by its author.
func (p *Post) withdrawn(r *Response) bool {
	_, found := slices.BinarySearchFunc(p.Tombstones, Tombstone{Response: r.ID, Author: r.Author}, compareTombstone)
	return found
}

// Response returns the response id, and whether it is active (not
// withdrawn by its author); nil when the post has none such.
func (p *Post) Response(id ID) (*Response, bool) {
	i, found := slices.BinarySearchFunc(p.Responses, id, func(r Response, id ID) int { return r.ID.Compare(id) })
	if !found {
		return nil, false
	}
	return &p.Responses[i], !p.withdrawn(&p.Responses[i])
}

// TakenBack reports whether author withdrew its response resp (an
// Unrespond of its own that counts), whether or not the response is on
// the post.
func (p *Post) TakenBack(resp ID, author PublicKey) bool {
	_, found := slices.BinarySearchFunc(p.Tombstones, Tombstone{Response: resp, Author: author}, compareTombstone)
	return found
}

// HandedOnFor returns the hand-ons of response id that count, in op ID
// order.
func (p *Post) HandedOnFor(id ID) []HandedOn {
	i, _ := slices.BinarySearchFunc(p.HandOns, HandedOn{Response: id}, compareHandedOn)
	j := i
	for j < len(p.HandOns) && p.HandOns[j].Response == id {
		j++
	}
	return p.HandOns[i:j]
}

// ActiveResponses returns the responses not withdrawn by their authors.
func (p *Post) ActiveResponses() []Response {
	out := make([]Response, 0, len(p.Responses))
	for i := range p.Responses {
		if !p.withdrawn(&p.Responses[i]) {
			out = append(out, p.Responses[i])
		}
	}
	return out
}

// Claimed sums the quantities of the active responses.
func (p *Post) Claimed() uint64 {
	var n uint64
	for i := range p.Responses {
		if !p.withdrawn(&p.Responses[i]) {
			n += uint64(p.Responses[i].Quantity)
		}
	}
	return n
}

// OverClaimed reports whether the active responses promise more than the
// post's quantity. Nothing is overwritten or dropped: every response stays
// visible and the organisers decide.
func (p *Post) OverClaimed() bool {
	q := p.Quantity.V
	return q > 0 && p.Claimed() > uint64(q)
}

// Expired reports whether the post's expiry has passed at nowMillis.
func (p *Post) Expired(nowMillis int64) bool {
	return p.Expires.V != 0 && nowMillis >= p.Expires.V
}

// OnOpenBoard reports whether the post shows on the open board at
// nowMillis: created, open, and not expired. Expiry needs no op: the
// board is computed at a time passed in.
func (p *Post) OnOpenBoard(nowMillis int64) bool {
	return p.Created && p.State() == Open && !p.Expired(nowMillis)
}

// Settled returns when the post was fulfilled or withdrawn, for
// retention: the stamp of the register that makes it so, and false while
// it is open or claimed.
func (p *Post) Settled() (Stamp, bool) {
	switch {
	case p.Withdrawn.V:
		return p.Withdrawn.S, true
	case p.Status.V == Fulfilled:
		return p.Status.S, true
	}
	return Stamp{}, false
}

// State returns the status shown: Withdrawn while the Withdrawn register
// holds true, else the Status register.
func (p *Post) State() Status {
	if p.Withdrawn.V {
		return Withdrawn
	}
	return p.Status.V
}
