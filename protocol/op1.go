package protocol

import (
	"fmt"
	"math"

	"github.com/mutual-aid/mutual/crdt"
)

// Version 1 of the op encoding, which nodes wrote before version 2: it
// still decodes and verifies, and a version 1 op keeps its ID.
//
// A version 1 op is a msgpack array:
//
//	[1, kind, group bin32, author bin32, seq, prev bin32,
//	 wall, logical, body array, sig bin64]
//
// The signature covers opDomain1 followed by the same array without its
// last element (so with a 9-element header). The op ID is the SHA-256 of
// the whole encoding.
const opFields = 10

// decodeOp1 reads a version 1 op (not its signature) and checks that b is
// its canonical encoding.
func decodeOp1(b []byte) (crdt.Op, error) {
	var op crdt.Op
	if err := checkFrame(b, MaxOpBytes); err != nil {
		return op, err
	}
	r := newReader(b)
	r.array(opFields)
	if v := r.uint(math.MaxUint8); r.err == nil && v != 1 {
		return op, fmt.Errorf("%w: op version %d", ErrUnsupported, v)
	}
	kind := crdt.Kind(r.uint(math.MaxUint8))
	r.fixed(op.Group[:])
	r.fixed(op.Author[:])
	op.Seq = r.uint(math.MaxUint64)
	r.fixed(op.Prev[:])
	op.Time.Wall = r.int()
	op.Time.Logical = uint32(r.uint(math.MaxUint32))
	if r.err != nil {
		return op, r.err
	}
	body, err := readBody(r, kind)
	if err != nil {
		return op, err
	}
	op.Body = body
	r.fixed(op.Sig[:])
	if err := r.end(); err != nil {
		return op, err
	}
	op.Version = 1
	return op, nil
}

func writeOp1(w *writer, op *crdt.Op, withSig bool) error {
	if op.Body == nil {
		return errNoBody
	}
	if withSig {
		w.array(opFields)
	} else {
		w.array(opFields - 1)
	}
	w.uint(1)
	w.uint(uint64(op.Body.Kind()))
	w.bin(op.Group[:])
	w.bin(op.Author[:])
	w.uint(op.Seq)
	w.bin(op.Prev[:])
	w.int(op.Time.Wall)
	w.uint(uint64(op.Time.Logical))
	if err := writeBody(w, op.Body); err != nil {
		return err
	}
	if withSig {
		w.bin(op.Sig[:])
	}
	if w.buf.Len() > MaxOpBytes {
		return fmt.Errorf("%w: op is %d bytes, at most %d", ErrTooLarge, w.buf.Len(), MaxOpBytes)
	}
	return nil
}

func writeBody(w *writer, body crdt.Body) error {
	switch b := body.(type) {
	case crdt.Genesis:
		if err := firstErr(checkText("group name", b.Name, MaxName), checkText("name", b.AuthorName, MaxName)); err != nil {
			return err
		}
		w.array(5)
		w.str(b.Name)
		w.bin(b.Nonce[:])
		w.str(b.AuthorName)
		w.bin(b.Box[:])
		w.bin(b.Key[:])
	case crdt.Join:
		if err := checkText("name", b.Name, MaxName); err != nil {
			return err
		}
		w.array(4)
		writeInvite(w, &b.Invite, true)
		w.str(b.Name)
		w.bin(b.Proof[:])
		w.bin(b.Box[:])
	case crdt.InviteMade:
		w.array(1)
		writeInvite(w, &b.Invite, true)
	case crdt.Revoke:
		w.array(1)
		w.bin(b.Invite[:])
	case crdt.Admit:
		w.array(1)
		w.bin(b.Join[:])
	case crdt.SetRole:
		w.array(3)
		w.bin(b.Member[:])
		w.uint(uint64(b.Role))
		w.uint(b.Cut)
	case crdt.Leave:
		w.array(0)
	case crdt.GroupKey:
		if len(b.Shares) > crdt.MaxShares {
			return fmt.Errorf("%w: %d shares, at most %d", ErrTooLarge, len(b.Shares), crdt.MaxShares)
		}
		w.array(2)
		w.bin(b.Key[:])
		w.array(len(b.Shares))
		for i := range b.Shares {
			w.array(2)
			w.bin(b.Shares[i].Member[:])
			w.bin(b.Shares[i].Sealed[:])
		}
	case crdt.Erase:
		w.array(1)
		w.bin(b.Post[:])
	case crdt.Settings:
		w.array(1)
		w.int(b.Retention)
	case crdt.PostCreate:
		if err := firstErr(checkFields(&b.Fields), checkText("ref", b.Ref, MaxRef), checkText("by", b.By, MaxName)); err != nil {
			return err
		}
		w.array(5)
		w.uint(uint64(b.PostKind))
		writeFields(w, &b.Fields)
		w.str(b.Ref)
		w.str(b.By)
		w.optBin(b.Private[:])
	case crdt.PostEdit:
		if err := checkFields(&b.Fields); err != nil {
			return err
		}
		w.array(4)
		w.bin(b.Post[:])
		w.uint(uint64(b.Set))
		writeFields(w, &b.Fields)
		w.optBin(b.Private[:])
	case crdt.PostStatus:
		w.array(2)
		w.bin(b.Post[:])
		w.uint(uint64(b.Status))
	case crdt.Respond:
		if err := firstErr(checkText("note", b.Note, MaxNote), checkText("by", b.By, MaxName)); err != nil {
			return err
		}
		// [post, quantity, note, by?], by as in PostCreate; a sealed
		// contact (private) exists only in version 2
		if !b.Private.IsZero() {
			return fmt.Errorf("%w: a response's private blob in a version 1 op", ErrUnsupported)
		}
		w.array(optional(3, b.By))
		w.bin(b.Post[:])
		w.uint(uint64(b.Quantity))
		w.str(b.Note)
		if b.By != "" {
			w.str(b.By)
		}
	case crdt.Unrespond:
		w.array(2)
		w.bin(b.Post[:])
		w.bin(b.Response[:])
	case crdt.Federation:
		writeFederation(w, &b)
	case crdt.Visit:
		if err := checkText("name", b.Name, MaxName); err != nil {
			return err
		}
		w.array(3)
		w.bin(b.From[:])
		w.str(b.Name)
		w.bin(b.Box[:])
	default:
		return fmt.Errorf("%w: body %T", ErrUnsupported, body)
	}
	return nil
}

func readBody(r *reader, kind crdt.Kind) (crdt.Body, error) {
	var body crdt.Body
	switch kind {
	case crdt.KindGenesis:
		var b crdt.Genesis
		r.array(5)
		b.Name = r.str("group name", MaxName)
		r.fixed(b.Nonce[:])
		b.AuthorName = r.str("name", MaxName)
		r.fixed(b.Box[:])
		r.fixed(b.Key[:])
		body = b
	case crdt.KindJoin:
		var b crdt.Join
		r.array(4)
		readInvite(r, &b.Invite)
		b.Name = r.str("name", MaxName)
		r.fixed(b.Proof[:])
		r.fixed(b.Box[:])
		body = b
	case crdt.KindInvite:
		var b crdt.InviteMade
		r.array(1)
		readInvite(r, &b.Invite)
		body = b
	case crdt.KindRevoke:
		var b crdt.Revoke
		r.array(1)
		r.fixed(b.Invite[:])
		body = b
	case crdt.KindAdmit:
		var b crdt.Admit
		r.array(1)
		r.fixed(b.Join[:])
		body = b
	case crdt.KindSetRole:
		var b crdt.SetRole
		r.array(3)
		r.fixed(b.Member[:])
		b.Role = crdt.Role(r.uint(math.MaxUint8))
		b.Cut = r.uint(math.MaxUint64)
		body = b
	case crdt.KindLeave:
		r.array(0)
		body = crdt.Leave{}
	case crdt.KindGroupKey:
		var b crdt.GroupKey
		r.array(2)
		r.fixed(b.Key[:])
		n := r.arrayMax(crdt.MaxShares)
		if n > 0 {
			b.Shares = make([]crdt.Share, n)
		}
		for i := 0; i < n && r.err == nil; i++ {
			r.array(2)
			r.fixed(b.Shares[i].Member[:])
			r.fixed(b.Shares[i].Sealed[:])
		}
		body = b
	case crdt.KindErase:
		var b crdt.Erase
		r.array(1)
		r.fixed(b.Post[:])
		body = b
	case crdt.KindSettings:
		var b crdt.Settings
		r.array(1)
		b.Retention = r.int()
		body = b
	case crdt.KindPostCreate:
		var b crdt.PostCreate
		r.array(5)
		b.PostKind = crdt.PostKind(r.uint(math.MaxUint8))
		readFields(r, &b.Fields)
		b.Ref = r.str("ref", MaxRef)
		b.By = r.str("by", MaxName)
		r.optFixed(b.Private[:])
		body = b
	case crdt.KindPostEdit:
		var b crdt.PostEdit
		r.array(4)
		r.fixed(b.Post[:])
		b.Set = crdt.FieldMask(r.uint(math.MaxUint16))
		readFields(r, &b.Fields)
		r.optFixed(b.Private[:])
		body = b
	case crdt.KindPostStatus:
		var b crdt.PostStatus
		r.array(2)
		r.fixed(b.Post[:])
		b.Status = crdt.Status(r.uint(math.MaxUint8))
		body = b
	case crdt.KindRespond:
		var b crdt.Respond
		n := r.arrayRange(3, 4)
		r.fixed(b.Post[:])
		b.Quantity = uint32(r.uint(math.MaxUint32))
		b.Note = r.str("note", MaxNote)
		if n == 4 {
			b.By = r.str("by", MaxName)
		}
		body = b
	case crdt.KindUnrespond:
		var b crdt.Unrespond
		r.array(2)
		r.fixed(b.Post[:])
		r.fixed(b.Response[:])
		body = b
	case crdt.KindFederation:
		body = readFederation(r)
	case crdt.KindVisit:
		var b crdt.Visit
		r.array(3)
		r.fixed(b.From[:])
		b.Name = r.str("name", MaxName)
		r.fixed(b.Box[:])
		body = b
	default:
		return nil, fmt.Errorf("%w: op kind %d", ErrUnsupported, kind)
	}
	return body, r.err
}

// writeFields writes the public fields; the private ones (location,
// contact) are never encoded in an op: checkFields refuses them.
func writeFields(w *writer, f *crdt.Fields) {
	w.array(6)
	w.str(f.Title)
	w.str(f.Details)
	w.str(f.Category)
	w.uint(uint64(f.Quantity))
	w.uint(uint64(f.Urgency))
	w.int(f.Expires)
}

func readFields(r *reader, f *crdt.Fields) {
	r.array(6)
	f.Title = r.str("title", MaxTitle)
	f.Details = r.str("details", MaxDetails)
	f.Category = r.str("category", MaxCategory)
	f.Quantity = uint32(r.uint(math.MaxUint32))
	f.Urgency = crdt.Urgency(r.uint(math.MaxUint8))
	f.Expires = r.int()
}
