package protocol

import (
	"fmt"
	"math"

	"github.com/mutual-aid/mutual/crdt"
)

// Post records are how node stores a post's merged state on disk, so the
// board can be queried without replaying its ops. A record is derived
// data: it can always be rebuilt from the ops, and it is never sent. It
// is stored under its group and post ID, so it holds neither:
//
//	[version, created, kind, author, created_at, ref, updated_at,
//	 [stamp...], title, i, details, i, category, i, location, i, contact, i,
//	 quantity, i, urgency, i, expires, i, status, i, withdrawn, i,
//	 erased_at, [response...], [tombstone...], by?, [hand-on...]?]
//
// Each register is its value followed by i, its stamp index: 0 is the
// zero stamp, k > 0 the k-th stamp of the list (most registers share the
// create's stamp). erased_at is a stamp index alone. A stamp is [time,
// author, op]: time nil when it is created_at, author nil when it is the
// post's author, op nil when it is the post's create (the post ID), as
// for every register a single create op set. updated_at is nil when it
// is created_at. The private registers (location, contact) are written
// with an empty value, whatever the post holds: a record never holds a
// private field in clear (the value is in the blob of the op its stamp
// names). A response is [id, author, time, quantity, note, by?,
// private?]: private (the blob of a sealed contact, crdt.Response.Private)
// only when set, by then always written. The by fields (crdt.Post.By,
// crdt.Response.By) are left out when empty, but for the post's when
// hand-ons follow it (crdt.Post.HandOns: only when there are any), each
// [response, op, author, time].
const (
	postVersion     = 5
	postFields      = 31 // without the optional by
	maxPostRecord   = 16 << 20
	maxRecordStamps = 1 << 16
	// smallest encodings: [bin32, bin32, [int, int], int, str] and [bin32, bin32]
	minResponseBytes  = 1 + 34 + 34 + 3 + 1 + 1
	minTombstoneBytes = 1 + 34 + 34
	minHandOnBytes    = 1 + 34 + 34 + 34 + 3
)

// EncodePost encodes a post record (without its group and ID, which the
// store keeps in the record's key).
func EncodePost(p *crdt.Post) []byte {
	w := newWriter()
	n := optional(postFields, p.By)
	if len(p.HandOns) > 0 {
		n = postFields + 2
	}
	w.array(n)
	w.uint(postVersion)
	w.bool(p.Created)
	w.uint(uint64(p.Kind))
	w.bin(p.Author[:])
	writeHLC(w, p.CreatedAt)
	w.str(p.Ref)
	writeOptHLC(w, p.UpdatedAt, p.CreatedAt)

	var stamps []crdt.Stamp
	index := func(s crdt.Stamp) uint64 {
		if s == (crdt.Stamp{}) {
			return 0
		}
		for i := range stamps {
			if stamps[i] == s {
				return uint64(i + 1)
			}
		}
		stamps = append(stamps, s)
		return uint64(len(stamps))
	}
	idx := []uint64{index(p.Title.S), index(p.Details.S), index(p.Category.S), index(p.Location.S),
		index(p.Contact.S), index(p.Quantity.S), index(p.Urgency.S), index(p.Expires.S), index(p.Status.S), index(p.Withdrawn.S),
		index(p.ErasedAt)}
	w.array(len(stamps))
	for _, s := range stamps {
		w.array(3)
		writeOptHLC(w, s.Time, p.CreatedAt)
		if s.Author == p.Author {
			_ = w.e.EncodeNil()
		} else {
			w.bin(s.Author[:])
		}
		if s.Op == p.ID {
			_ = w.e.EncodeNil()
		} else {
			w.bin(s.Op[:])
		}
	}
	for i, v := range []string{p.Title.V, p.Details.V, p.Category.V, "", ""} {
		w.str(v)
		w.uint(idx[i])
	}
	for i, v := range []uint64{uint64(p.Quantity.V), uint64(p.Urgency.V), uint64(p.Expires.V), uint64(p.Status.V)} {
		if i == 2 {
			w.int(int64(v))
		} else {
			w.uint(v)
		}
		w.uint(idx[5+i])
	}
	w.bool(p.Withdrawn.V)
	w.uint(idx[9])
	w.uint(idx[10])
	w.array(len(p.Responses))
	for _, r := range p.Responses {
		n := optional(5, r.By)
		if !r.Private.IsZero() {
			n = 7
		}
		w.array(n)
		w.bin(r.ID[:])
		w.bin(r.Author[:])
		writeHLC(w, r.Time)
		w.uint(uint64(r.Quantity))
		w.str(r.Note)
		if n > 5 {
			w.str(r.By)
		}
		if n > 6 {
			w.bin(r.Private[:])
		}
	}
	w.array(len(p.Tombstones))
	for _, t := range p.Tombstones {
		w.array(2)
		w.bin(t.Response[:])
		w.bin(t.Author[:])
	}
	if n > postFields {
		w.str(p.By)
	}
	if n > postFields+1 {
		w.array(len(p.HandOns))
		for _, h := range p.HandOns {
			w.array(4)
			w.bin(h.Response[:])
			w.bin(h.Op[:])
			w.bin(h.Author[:])
			writeHLC(w, h.Time)
		}
	}
	return w.bytes()
}

// DecodePost decodes the record of post id of group g.
func DecodePost(b []byte, g, id crdt.ID) (*crdt.Post, error) {
	if err := checkFrame(b, maxPostRecord); err != nil {
		return nil, fmt.Errorf("post record: %w", err)
	}
	p := &crdt.Post{ID: id, Group: g}
	r := newReader(b)
	n := r.arrayRange(postFields, postFields+2)
	if v := r.uint(math.MaxUint8); r.err == nil && v != postVersion {
		return nil, fmt.Errorf("post record: %w: version %d", ErrUnsupported, v)
	}
	p.Created = r.bool()
	p.Kind = crdt.PostKind(r.uint(math.MaxUint8))
	r.fixed(p.Author[:])
	p.CreatedAt = readHLC(r)
	p.Ref = r.str("ref", MaxRef)
	p.UpdatedAt = readOptHLC(r, p.CreatedAt)
	stamps := make([]crdt.Stamp, r.arrayMax(maxRecordStamps))
	for i := range stamps {
		r.array(3)
		stamps[i].Time = readOptHLC(r, p.CreatedAt)
		stamps[i].Author, stamps[i].Op = p.Author, p.ID
		r.optFixed(stamps[i].Author[:])
		r.optFixed(stamps[i].Op[:])
	}
	stamp := func() crdt.Stamp {
		i := r.uint(uint64(len(stamps)))
		if i == 0 {
			return crdt.Stamp{}
		}
		return stamps[i-1]
	}
	for _, reg := range []*crdt.Reg[string]{&p.Title, &p.Details, &p.Category, &p.Location, &p.Contact} {
		reg.V = r.str("field", MaxDetails)
		reg.S = stamp()
	}
	p.Quantity.V = uint32(r.uint(math.MaxUint32))
	p.Quantity.S = stamp()
	p.Urgency.V = crdt.Urgency(r.uint(math.MaxUint8))
	p.Urgency.S = stamp()
	p.Expires.V = r.int()
	p.Expires.S = stamp()
	p.Status.V = crdt.Status(r.uint(math.MaxUint8))
	p.Status.S = stamp()
	p.Withdrawn.V = r.bool()
	p.Withdrawn.S = stamp()
	p.ErasedAt = stamp()
	// Bound counts by the smallest encoding of an element, so a record
	// cannot make us allocate more than a few times its size.
	if n := r.arrayMax(len(b) / minResponseBytes); n > 0 {
		p.Responses = make([]crdt.Response, n)
		for i := range p.Responses {
			x := &p.Responses[i]
			m := r.arrayRange(5, 7)
			r.fixed(x.ID[:])
			r.fixed(x.Author[:])
			x.Time = readHLC(r)
			x.Quantity = uint32(r.uint(math.MaxUint32))
			x.Note = r.str("note", MaxNote)
			if m >= 6 {
				x.By = r.str("by", MaxName)
			}
			if m == 7 {
				r.fixed(x.Private[:])
			}
		}
	}
	if n := r.arrayMax(len(b) / minTombstoneBytes); n > 0 {
		p.Tombstones = make([]crdt.Tombstone, n)
		for i := range p.Tombstones {
			r.array(2)
			r.fixed(p.Tombstones[i].Response[:])
			r.fixed(p.Tombstones[i].Author[:])
		}
	}
	if n > postFields {
		p.By = r.str("by", MaxName)
	}
	if n > postFields+1 {
		m := r.arrayMax(len(b) / minHandOnBytes)
		if m == 0 && r.err == nil {
			r.err = fmt.Errorf("%w: an empty list of hand-ons is left out", ErrNotCanonical)
		}
		if m > 0 {
			p.HandOns = make([]crdt.HandedOn, m)
			for i := range p.HandOns {
				h := &p.HandOns[i]
				r.array(4)
				r.fixed(h.Response[:])
				r.fixed(h.Op[:])
				r.fixed(h.Author[:])
				h.Time = readHLC(r)
			}
		}
	}
	if err := r.end(); err != nil {
		return nil, fmt.Errorf("post record: %w", err)
	}
	return p, nil
}

func writeHLC(w *writer, h crdt.HLC) {
	w.array(2)
	w.int(h.Wall)
	w.uint(uint64(h.Logical))
}

// writeOptHLC writes h, or nil when it is same (in a record: the post's
// creation time, which most of its stamps and its update time share).
func writeOptHLC(w *writer, h, same crdt.HLC) {
	if h == same {
		_ = w.e.EncodeNil()
		return
	}
	writeHLC(w, h)
}

func readOptHLC(r *reader, same crdt.HLC) crdt.HLC {
	if r.err != nil {
		return crdt.HLC{}
	}
	if c, err := r.d.PeekCode(); err == nil && c == 0xc0 {
		_ = r.d.Skip()
		return same
	}
	return readHLC(r)
}

func readHLC(r *reader) crdt.HLC {
	r.array(2)
	return crdt.HLC{Wall: r.int(), Logical: uint32(r.uint(math.MaxUint32))}
}
