package protocol

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"github.com/mutual-aid/mutual/crdt"
)

// OpVersion is the version of the op encoding nodes write. Ops of
// version 1 (op1.go) still decode, verify and keep their IDs; a decoded
// op remembers its version (crdt.Op.Version) and re-encodes in it.
const OpVersion = 2

// Domain separation for signatures and op IDs: a signature over an op can
// never be mistaken for one over an invite, or over an op of another
// version, and a version 2 op's ID is never the hash of anything else.
const (
	opDomain1    = "mutual/op/1\n"
	opDomain     = "mutual/op/2\n"
	opIDDomain   = "mutual/op-id/2\n"
	inviteDomain = "mutual/invite/2\n"
	proofDomain  = "mutual/join-proof/1\n"
)

// ErrWrongVersion is the error of encoding an op in a version it cannot
// take.
var ErrWrongVersion = fmt.Errorf("%w: op version", ErrUnsupported)

// EncodeOp returns the canonical encoding of a signed op, in its version
// (op.Version; 0 is OpVersion). It fails if the op breaks a limit, so
// nothing is ever signed that peers would refuse.
func EncodeOp(op *crdt.Op) ([]byte, error) {
	w := newWriter()
	if err := writeOpVersion(w, op, true); err != nil {
		return nil, err
	}
	return w.bytes(), nil
}

func writeOpVersion(w *writer, op *crdt.Op, withSig bool) error {
	switch op.Version {
	case 0, OpVersion:
		return writeOp2(w, op, withSig)
	case 1:
		return writeOp1(w, op, withSig)
	}
	return fmt.Errorf("%w %d", ErrWrongVersion, op.Version)
}

// SigningBytes returns what an op's signature covers: the domain of its
// version, then its encoding without the signature (in version 2, the
// full form, group included, whatever form the op travels in).
func SigningBytes(op *crdt.Op) ([]byte, error) {
	w := newWriter()
	if op.Version == 1 {
		w.buf.WriteString(opDomain1)
	} else {
		w.buf.WriteString(opDomain)
	}
	if err := writeOpVersion(w, op, false); err != nil {
		return nil, err
	}
	return w.bytes(), nil
}

// SignOp sets op.Author and op.Sig from key, computes op.ID, and returns
// the op's encoding. It signs in op.Version (0: the current version).
func SignOp(op *crdt.Op, key ed25519.PrivateKey) ([]byte, error) {
	copy(op.Author[:], key.Public().(ed25519.PublicKey))
	msg, err := SigningBytes(op)
	if err != nil {
		return nil, err
	}
	copy(op.Sig[:], ed25519.Sign(key, msg))
	var b []byte
	if op.Version == 1 {
		if b, err = EncodeOp(op); err != nil {
			return nil, err
		}
	} else {
		// Version 2 is what the signature covers, then the signature:
		// no need to encode the op twice.
		body := msg[len(opDomain):]
		if len(body)+sigSize > MaxOpBytes { // as writeOp2 checks it
			return nil, fmt.Errorf("%w: op is over %d bytes", ErrTooLarge, MaxOpBytes)
		}
		b = append(append(make([]byte, 0, len(body)+sigSize), body...), op.Sig[:]...)
	}
	op.ID = opID(op.Version, b)
	return b, nil
}

// opID is the ID of an op whose canonical (full) encoding, blob left
// out, is b: in version 1 its SHA-256, in version 2 the SHA-256 of
// opIDDomain followed by it.
func opID(version uint8, b []byte) crdt.ID {
	if version == 1 {
		return sha256.Sum256(b)
	}
	h := sha256.New()
	h.Write([]byte(opIDDomain))
	h.Write(b)
	var id crdt.ID
	h.Sum(id[:0])
	return id
}

// DecodeOp decodes an op from a peer or a file: it enforces every limit,
// requires the canonical encoding, verifies the op's signature (and an
// invite's, in a join) by the one rule (VerifyOp) and sets op.ID.
//
// b may be followed by the op's sealed blob (one bin, see SplitBlob);
// then the op must name it (its Private is the blob's SHA-256), and
// op.Blob is set to it.
func DecodeOp(b []byte) (crdt.Op, error) {
	op, err := DecodeStoredOp(b)
	if err != nil {
		return op, err
	}
	return op, VerifyOp(&op)
}

// DecodeStoredOp decodes an op that this node verified before storing
// it (or one whose signature is checked later, by VerifyOp or VerifyOps).
// It checks the encoding, and a blob after the op as DecodeOp does, but
// not the signatures.
func DecodeStoredOp(b []byte) (crdt.Op, error) {
	raw, blob, err := SplitBlob(b)
	if err != nil {
		return crdt.Op{}, err
	}
	op, err := decodeOp(raw)
	if err != nil || blob == nil {
		return op, err
	}
	if err := setBlob(&op, blob); err != nil {
		return op, err
	}
	return op, nil
}

func setBlob(op *crdt.Op, blob []byte) error {
	if sum, ok := crdt.PrivateOf(op); !ok || sum != sha256.Sum256(blob) {
		return ErrBlobMismatch
	}
	op.Blob = blob
	return nil
}

// decodeOp decodes the canonical encoding of an op of any version this
// node reads, and sets its ID.
func decodeOp(b []byte) (crdt.Op, error) {
	var op crdt.Op
	var err error
	switch opVersionOf(b) {
	case 1:
		op, err = decodeOp1(b)
	case 2:
		op, err = decodeOp2(b)
	default:
		if len(b) == 0 {
			return op, ErrTruncated
		}
		if b[0] < tag2 {
			return op, fmt.Errorf("%w: op tag %#x", ErrUnsupported, b[0])
		}
		return op, fmt.Errorf("%w: op starts with byte %#x", ErrMalformed, b[0])
	}
	if err != nil {
		return op, err
	}
	// One op, one encoding: anything else would give it a second ID.
	w := writers.Get().(*writer)
	w.reset()
	err = writeOpVersion(w, &op, true)
	same := err == nil && bytes.Equal(w.bytes(), b)
	writers.Put(w)
	if err != nil {
		return op, err
	}
	if !same {
		return op, ErrNotCanonical
	}
	op.ID = opID(op.Version, b)
	if op.Version == OpVersion {
		op.Version = 0
	}
	return op, nil
}

// opVersionOf tells an op's version by its first byte: a version 1 op is
// a 10-element msgpack array (0x9a), a version 2 op starts with a tag
// byte 0x40|kind. Tags 0x01 to 0x3f are left for later versions; 0 is
// returned for them and any other byte.
func opVersionOf(b []byte) int {
	switch {
	case len(b) == 0:
		return 0
	case b[0] >= 0x90 && b[0] <= 0x9f, b[0] == 0xdc, b[0] == 0xdd:
		return 1 // a msgpack array: only 0x9a is canonical
	case b[0] >= tag2 && b[0] < tag2+64:
		return 2
	}
	return 0
}

// opLen returns the length of the op encoding at the start of b, or an
// error when no whole op is there.
func opLen(b []byte) (int, error) {
	switch opVersionOf(b) {
	case 1:
		return scan(b, 0)
	case 2:
		return opLen2(b)
	}
	if len(b) == 0 {
		return 0, ErrTruncated
	}
	if b[0] != 0 && b[0] < tag2 {
		return 0, fmt.Errorf("%w: op tag %#x", ErrUnsupported, b[0])
	}
	return 0, fmt.Errorf("%w: op starts with byte %#x", ErrMalformed, b[0])
}

// OpID returns the ID of an encoded op (a blob after it left out).
func OpID(raw []byte) crdt.ID {
	v := uint8(opVersionOf(raw))
	if n, err := opLen(raw); err == nil && n < len(raw) {
		raw = raw[:n]
	}
	return opID(v, raw)
}

// MaxBlobBytes bounds a sealed blob.
const MaxBlobBytes = 4096

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
	n, err := opLen(b)
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

var errNoBody = errors.New("op has no body")

// writers holds writers for encodings that are compared, not kept.
var writers = sync.Pool{New: func() any { return newWriter() }}

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
