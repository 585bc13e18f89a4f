package protocol

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"

	"github.com/mutual-aid/mutual/crdt"
)

// OpVersion is the version of the op encoding.
const OpVersion = 1

// Domain separation for signatures: a signature over an op can never be
// mistaken for one over an invite, or anything else.
const (
	opDomain     = "mutual/op/1\n"
	inviteDomain = "mutual/invite/2\n"
	proofDomain  = "mutual/join-proof/1\n"
)

// An encoded op is a msgpack array:
//
//	[version, kind, group bin32, author bin32, seq, prev bin32,
//	 wall, logical, body array, sig bin64]
//
// The signature covers opDomain followed by the same array without its
// last element (so with a 9-element header). The op ID is the SHA-256 of
// the whole encoding.
const opFields = 10

// EncodeOp returns the canonical encoding of a signed op. It fails if the
// op breaks a limit, so nothing is ever signed that peers would refuse.
func EncodeOp(op *crdt.Op) ([]byte, error) {
	w := newWriter()
	if err := writeOp(w, op, true); err != nil {
		return nil, err
	}
	return w.bytes(), nil
}

// SigningBytes returns what an op's signature covers.
func SigningBytes(op *crdt.Op) ([]byte, error) {
	w := newWriter()
	w.buf.WriteString(opDomain)
	if err := writeOp(w, op, false); err != nil {
		return nil, err
	}
	return w.bytes(), nil
}

// SignOp sets op.Author and op.Sig from key, computes op.ID, and returns
// the op's encoding.
func SignOp(op *crdt.Op, key ed25519.PrivateKey) ([]byte, error) {
	copy(op.Author[:], key.Public().(ed25519.PublicKey))
	msg, err := SigningBytes(op)
	if err != nil {
		return nil, err
	}
	copy(op.Sig[:], ed25519.Sign(key, msg))
	b, err := EncodeOp(op)
	if err != nil {
		return nil, err
	}
	op.ID = sha256.Sum256(b)
	return b, nil
}

// DecodeOp decodes an op from a peer or a file: it enforces every limit,
// requires the canonical encoding, verifies the op's signature (and an
// invite's, in a join) and sets op.ID.
//
// b may be followed by the op's sealed blob (one bin, see SplitBlob);
// then the op must name it (its Private is the blob's SHA-256), and
// op.Blob is set to it.
func DecodeOp(b []byte) (crdt.Op, error) {
	raw, blob, err := SplitBlob(b)
	if err != nil {
		return crdt.Op{}, err
	}
	op, err := decodeOp(raw)
	if err != nil {
		return op, err
	}
	if blob != nil {
		if sum, ok := crdt.PrivateOf(&op); !ok || sum != sha256.Sum256(blob) {
			return op, ErrBlobMismatch
		}
		op.Blob = blob
	}
	msg, err := SigningBytes(&op)
	if err != nil {
		return op, err
	}
	if !ed25519.Verify(op.Author[:], msg, op.Sig[:]) {
		return op, ErrBadSignature
	}
	switch b := op.Body.(type) {
	case crdt.Join:
		if err := VerifyJoin(&b, op.Author); err != nil {
			return op, err
		}
	case crdt.InviteMade:
		if err := VerifyInvite(&b.Invite); err != nil {
			return op, err
		}
	}
	return op, nil
}

// DecodeStoredOp decodes an op that this node verified before storing
// it (or one whose signature is checked later). It checks the encoding,
// and a blob after the op as DecodeOp does, but not the signatures.
func DecodeStoredOp(b []byte) (crdt.Op, error) {
	raw, blob, err := SplitBlob(b)
	if err != nil {
		return crdt.Op{}, err
	}
	op, err := decodeOp(raw)
	if err != nil || blob == nil {
		return op, err
	}
	if sum, ok := crdt.PrivateOf(&op); !ok || sum != sha256.Sum256(blob) {
		return op, ErrBlobMismatch
	}
	op.Blob = blob
	return op, nil
}

func decodeOp(b []byte) (crdt.Op, error) {
	var op crdt.Op
	if err := checkFrame(b, MaxOpBytes); err != nil {
		return op, err
	}
	r := newReader(b)
	r.array(opFields)
	if v := r.uint(math.MaxUint8); r.err == nil && v != OpVersion {
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
	// One op, one encoding: anything else would give it a second ID.
	again, err := EncodeOp(&op)
	if err != nil {
		return op, err
	}
	if !bytes.Equal(again, b) {
		return op, ErrNotCanonical
	}
	op.ID = sha256.Sum256(b)
	return op, nil
}

func writeOp(w *writer, op *crdt.Op, withSig bool) error {
	if op.Body == nil {
		return errors.New("op has no body")
	}
	if withSig {
		w.array(opFields)
	} else {
		w.array(opFields - 1)
	}
	w.uint(OpVersion)
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
		// [post, quantity, note, by?], by as in PostCreate
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

// ErrClearPrivate is the error of encoding an op whose fields hold a
// private value in clear: the node must seal it into the op's blob.
var ErrClearPrivate = errors.New("location or contact in clear in an op: they travel sealed")

// CheckFields checks a post's fields against the limits, private ones
// included (the node checks them before it seals them).
func CheckFields(f *crdt.Fields) error {
	return firstErr(
		checkText("title", f.Title, MaxTitle),
		checkText("details", f.Details, MaxDetails),
		checkText("category", f.Category, MaxCategory),
		checkText("location", f.Location, MaxLocation),
		checkText("contact", f.Contact, MaxContact),
	)
}

func checkFields(f *crdt.Fields) error {
	if f.Location != "" || f.Contact != "" {
		return ErrClearPrivate
	}
	return firstErr(
		checkText("title", f.Title, MaxTitle),
		checkText("details", f.Details, MaxDetails),
		checkText("category", f.Category, MaxCategory),
	)
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// OpID returns the ID of an encoded op: the SHA-256 of its bytes, its
// blob (if any follows) left out.
func OpID(raw []byte) crdt.ID {
	if n, err := scan(raw, 0); err == nil && n < len(raw) {
		raw = raw[:n]
	}
	return sha256.Sum256(raw)
}

// MaxBlobBytes bounds a sealed blob.
const MaxBlobBytes = 1024

// ErrBlobMismatch is the error of an op followed by a blob it does not
// name.
var ErrBlobMismatch = fmt.Errorf("%w: the blob after the op is not the one it names", ErrMalformed)

// SplitBlob splits b, an encoded op possibly followed by its sealed blob,
// into the op's encoding and the blob (nil when none follows). The blob
// is one msgpack bin of 1 to MaxBlobBytes bytes, and nothing follows it.
func SplitBlob(b []byte) (op, blob []byte, err error) {
	if len(b) > MaxOpBytes+MaxBlobBytes+3 {
		return nil, nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(b), MaxOpBytes+MaxBlobBytes+3)
	}
	n, err := scan(b, 0)
	if err != nil {
		return nil, nil, err
	}
	if n == len(b) {
		return b, nil, nil
	}
	rest := b[n:]
	var size, hdr int
	switch {
	case len(rest) >= 2 && rest[0] == 0xc4:
		size, hdr = int(rest[1]), 2
	case len(rest) >= 3 && rest[0] == 0xc5:
		size, hdr = int(rest[1])<<8|int(rest[2]), 3
	default:
		return nil, nil, ErrTrailing
	}
	if size == 0 || size > MaxBlobBytes || hdr+size != len(rest) || (hdr == 3 && size < 256) {
		return nil, nil, fmt.Errorf("%w: blob of %d bytes in %d", ErrMalformed, size, len(rest)-hdr)
	}
	return b[:n], rest[hdr:], nil
}

// JoinBlob returns an op's encoding followed by its blob (raw itself
// when blob is nil): what is sent to a node that may read the blob.
func JoinBlob(raw, blob []byte) []byte {
	if blob == nil {
		return raw
	}
	w := newWriter()
	w.raw(raw)
	w.bin(blob)
	return w.bytes()
}
