package crdt

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"iter"
)

// StateHash hashes a group's state: its membership and its posts, which
// must be yielded in ID order. Replicas that admitted the same set of ops
// have the same hash; the encoding hashed here is internal (it is never
// stored or sent) and may change between versions.
func StateHash(g *Group, posts iter.Seq[*Post]) ID {
	h := hasher{sha256.New()}
	h.bytes(g.ID[:])
	h.str(g.Name)
	h.bytes(g.Founder[:])
	h.hlc(g.Created)
	members := g.Members()
	roles := g.Spans()
	h.u64(uint64(len(members)))
	for _, m := range members {
		h.bytes(m.Key[:])
		h.str(m.Name)
		h.u64(uint64(m.Role))
		h.hlc(m.JoinedAt)
		h.Write(m.Via[:])
		h.u64(m.Cut)
		h.hlc(m.EndedAt)
		h.u64(m.Forked)
		flags := uint64(0)
		if m.Removed {
			flags |= 1
		}
		if m.Left {
			flags |= 2
		}
		h.u64(flags)
		spans := roles[m.Key]
		h.u64(uint64(len(spans)))
		for _, sp := range spans {
			h.u64(sp.From)
			h.u64(sp.To)
			h.u64(uint64(sp.Role))
		}
	}
	invites := g.Invites()
	h.u64(uint64(len(invites)))
	for _, in := range invites {
		h.Write(in.Invite.ID[:])
		h.u64(uint64(in.Used))
		if in.Revoked {
			h.u64(1)
		} else {
			h.u64(0)
		}
	}
	// The federation settings and visitors, hashed only when there are
	// any, so the hash of a group without them is what it always was.
	if g.eval().federation.V != nil {
		f := g.Federation()
		h.Write([]byte{'F'})
		h.u64(uint64(f.Policy))
		for _, l := range [][]ID{f.Allies, f.Blocked} {
			h.u64(uint64(len(l)))
			for _, id := range l {
				h.Write(id[:])
			}
		}
	}
	// Visitors (visitors.go), hashed only when there are any, so the
	// hash of a group without them is what it always was.
	if vs := g.Visitors(); len(vs) > 0 {
		h.Write([]byte{'V'})
		h.u64(uint64(len(vs)))
		for _, v := range vs {
			h.Write(v.Key[:])
			h.Write(v.From[:])
			h.str(v.Name)
			h.Write(v.Via[:])
			flags := uint64(0)
			if v.Vouched {
				flags |= 1
			}
			if v.Blocked {
				flags |= 2
			}
			h.u64(flags)
		}
	}
	for p := range posts {
		h.post(p)
	}
	var id ID
	h.Sum(id[:0])
	return id
}

// PostHash hashes one post, the same way StateHash does.
func PostHash(p *Post) ID {
	h := hasher{sha256.New()}
	h.post(p)
	var id ID
	h.Sum(id[:0])
	return id
}

type hasher struct{ hash.Hash }

func (h hasher) u64(v uint64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	h.Write(b[:])
}

func (h hasher) bytes(b []byte) { h.u64(uint64(len(b))); h.Write(b) }
func (h hasher) str(s string)   { h.u64(uint64(len(s))); h.Write([]byte(s)) }
func (h hasher) hlc(t HLC)      { h.u64(uint64(t.Wall)); h.u64(uint64(t.Logical)) }
func (h hasher) stamp(s Stamp)  { h.hlc(s.Time); h.Write(s.Author[:]); h.Write(s.Op[:]) }

func (h hasher) post(p *Post) {
	h.Write([]byte{'P'})
	h.Write(p.ID[:])
	h.Write(p.Group[:])
	if p.Created {
		h.u64(1)
	} else {
		h.u64(0)
	}
	h.u64(uint64(p.Kind))
	h.Write(p.Author[:])
	h.hlc(p.CreatedAt)
	h.str(p.Ref)
	h.str(p.By)
	h.hlc(p.UpdatedAt)
	for _, r := range []*Reg[string]{&p.Title, &p.Details, &p.Category, &p.Location, &p.Contact} {
		h.str(r.V)
		h.stamp(r.S)
	}
	h.u64(uint64(p.Quantity.V))
	h.stamp(p.Quantity.S)
	h.u64(uint64(p.Urgency.V))
	h.stamp(p.Urgency.S)
	h.u64(uint64(p.Expires.V))
	h.stamp(p.Expires.S)
	h.u64(uint64(p.Status.V))
	h.stamp(p.Status.S)
	if p.Withdrawn.V {
		h.u64(1)
	} else {
		h.u64(0)
	}
	h.stamp(p.Withdrawn.S)
	h.stamp(p.ErasedAt)
	h.u64(uint64(len(p.Responses)))
	for _, r := range p.Responses {
		h.Write(r.ID[:])
		h.Write(r.Author[:])
		h.hlc(r.Time)
		h.u64(uint64(r.Quantity))
		h.str(r.Note)
		h.str(r.By)
		if !r.Private.IsZero() { // hashed only when set: older hashes stay
			h.Write([]byte{'S'})
			h.Write(r.Private[:])
		}
	}
	h.u64(uint64(len(p.Tombstones)))
	for _, t := range p.Tombstones {
		h.Write(t.Response[:])
		h.Write(t.Author[:])
	}
	if len(p.HandOns) > 0 { // hashed only when set: older hashes stay
		h.Write([]byte{'H'})
		h.u64(uint64(len(p.HandOns)))
		for _, x := range p.HandOns {
			h.Write(x.Response[:])
			h.Write(x.Op[:])
			h.Write(x.Author[:])
			h.hlc(x.Time)
		}
	}
}
