package protocol

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/mutual-aid/mutual/crdt"
)

// Version 2 of the op encoding: the form nodes write, and the full form
// that an op's signature and ID cover in every wire form (a frame,
// frame.go, leaves out what the receiver knows, and the receiver puts it
// back before checking the signature). Fixed-size fields are raw bytes,
// integers are varints (encoding/binary: uvarint; varint is zigzag), the
// body is one msgpack array:
//
//	tag     1 byte: 0x40 | kind (kinds are below 64)
//	group   32 bytes (zero in a genesis op, whose ID is the group's)
//	author  32 bytes
//	seq     uvarint
//	prev    32 bytes, only when seq >= 2 (it is zero when seq is 1)
//	wall    varint (HLC wall clock, Unix milliseconds)
//	logical uvarint, at most 2^32-1
//	body    msgpack array (bodies2 below)
//	sig     64 bytes: ed25519 over opDomain || all of the above
//
// The ID is SHA-256(opIDDomain || all of the above || sig). Every varint
// is the shortest form and the msgpack values the smallest (decoders
// re-encode and compare), so one op has one encoding and one ID.
const tag2 = 0x40

// A signature and the fixed fields, in bytes.
const (
	sigSize = 64
	keySize = 32
)

// ErrPrevAtFirst is the error of encoding an op at seq 1 with a prev,
// which version 2 cannot carry (and crdt refuses).
var ErrPrevAtFirst = fmt.Errorf("%w: an op at seq 1 has no prev", ErrMalformed)

func writeOp2(w *writer, op *crdt.Op, withSig bool) error {
	if op.Body == nil {
		return errNoBody
	}
	kind := op.Body.Kind()
	if kind == 0 || kind >= 64 {
		return fmt.Errorf("%w: op kind %d", ErrUnsupported, kind)
	}
	if op.Seq < 2 && !op.Prev.IsZero() {
		return ErrPrevAtFirst
	}
	start := w.buf.Len() // past a signing domain
	w.raw([]byte{tag2 | byte(kind)})
	w.raw(op.Group[:])
	w.raw(op.Author[:])
	writeSeqPrevTime(w, op)
	if err := writeBody2(w, op.Body); err != nil {
		return err
	}
	full := w.buf.Len() - start + sigSize // the op as sent, signature included
	if withSig {
		w.raw(op.Sig[:])
	}
	if full > MaxOpBytes {
		return fmt.Errorf("%w: op is %d bytes, over %d", ErrTooLarge, full, MaxOpBytes)
	}
	return nil
}

// writeSeqPrevTime writes seq, prev (when seq >= 2) and the HLC.
func writeSeqPrevTime(w *writer, op *crdt.Op) {
	var tmp [2 * binary.MaxVarintLen64]byte
	w.raw(binary.AppendUvarint(tmp[:0], op.Seq))
	if op.Seq >= 2 {
		w.raw(op.Prev[:])
	}
	writeTime(w, op.Time.Wall, op.Time.Logical)
}

func writeTime(w *writer, wall int64, logical uint32) {
	var tmp [2 * binary.MaxVarintLen64]byte
	b := binary.AppendVarint(tmp[:0], wall)
	w.raw(binary.AppendUvarint(b, uint64(logical)))
}

// decodeOp2 reads a version 2 op in its full form (not its signature).
// The caller checks that b is canonical.
func decodeOp2(b []byte) (crdt.Op, error) {
	var op crdt.Op
	if len(b) > MaxOpBytes {
		return op, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(b), MaxOpBytes)
	}
	c := &cursor{b: b}
	kind := crdt.Kind(c.byte() &^ tag2)
	c.fixed(op.Group[:])
	c.fixed(op.Author[:])
	op.Seq = c.uvarint(math.MaxUint64)
	if op.Seq >= 2 {
		c.fixed(op.Prev[:])
	}
	c.time(&op.Time)
	readBodySig(c, &op, kind)
	if c.err == nil && c.off != len(b) {
		return op, ErrTrailing
	}
	op.Version = OpVersion
	return op, c.err
}

// readBodySig reads an op's body and signature.
func readBodySig(c *cursor, op *crdt.Op, kind crdt.Kind) {
	if c.err != nil {
		return
	}
	body := c.value()
	if c.err != nil {
		return
	}
	r := newReader(body)
	op.Body, c.err = readBody2(r, kind)
	if c.err == nil {
		c.err = r.end()
	}
	c.fixed(op.Sig[:])
}

// opLen2 returns the length of the version 2 op at the start of b.
func opLen2(b []byte) (int, error) {
	c := &cursor{b: b}
	c.byte()
	c.skip(2 * keySize)
	if seq := c.uvarint(math.MaxUint64); seq >= 2 {
		c.skip(keySize)
	}
	var t crdt.HLC
	c.time(&t)
	c.value()
	c.skip(sigSize)
	return c.off, c.err
}

// Bodies in version 2 are as in version 1 (op1.go), but for the post
// kinds, which are one flat array whose trailing zero elements (an
// encoding of one byte: 0x00, 0xa0 or 0xc0) are left out:
//
//	post create [post kind, title, details, category, quantity, urgency, expires, ref, by, private]
//	post edit   [post bin32, set, title, details, category, quantity, urgency, expires, private]
//	respond     [post bin32, quantity, note, by, private]
//
// A decoder reads an element left out as its zero value.
//
// Kinds that exist only in version 2 (a version 1 op of such a kind is
// ErrUnsupported):
//
//	rename      [name str]
//	hand-on     [post bin32, response bin32, private bin32]
func writeBody2(w *writer, body crdt.Body) error {
	e := flat{w: newWriter()}
	switch b := body.(type) {
	case crdt.PostCreate:
		if err := firstErr(checkFields(&b.Fields), checkText("ref", b.Ref, MaxRef), checkText("by", b.By, MaxName)); err != nil {
			return err
		}
		e.w.uint(uint64(b.PostKind))
		e.mark()
		writeFlatFields(&e, &b.Fields)
		e.w.str(b.Ref)
		e.mark()
		e.w.str(b.By)
		e.mark()
		e.w.optBin(b.Private[:])
		e.mark()
	case crdt.PostEdit:
		if err := checkFields(&b.Fields); err != nil {
			return err
		}
		e.w.bin(b.Post[:])
		e.mark()
		e.w.uint(uint64(b.Set))
		e.mark()
		writeFlatFields(&e, &b.Fields)
		e.w.optBin(b.Private[:])
		e.mark()
	case crdt.Respond:
		if err := firstErr(checkText("note", b.Note, MaxNote), checkText("by", b.By, MaxName)); err != nil {
			return err
		}
		e.w.bin(b.Post[:])
		e.mark()
		e.w.uint(uint64(b.Quantity))
		e.mark()
		e.w.str(b.Note)
		e.mark()
		e.w.str(b.By)
		e.mark()
		e.w.optBin(b.Private[:])
		e.mark()
	case crdt.Rename:
		if err := checkText("name", b.Name, MaxName); err != nil {
			return err
		}
		w.array(1)
		w.str(b.Name)
		return nil
	case crdt.HandOn:
		w.array(3)
		w.bin(b.Post[:])
		w.bin(b.Response[:])
		w.bin(b.Private[:])
		return nil
	default:
		return writeBody(w, body)
	}
	e.writeTo(w)
	return nil
}

func writeFlatFields(e *flat, f *crdt.Fields) {
	e.w.str(f.Title)
	e.mark()
	e.w.str(f.Details)
	e.mark()
	e.w.str(f.Category)
	e.mark()
	e.w.uint(uint64(f.Quantity))
	e.mark()
	e.w.uint(uint64(f.Urgency))
	e.mark()
	e.w.int(f.Expires)
	e.mark()
}

func readBody2(r *reader, kind crdt.Kind) (crdt.Body, error) {
	switch kind {
	case crdt.KindPostCreate:
		var b crdt.PostCreate
		e := flatReader{r: r, n: r.arrayMax(10)}
		if e.next() {
			b.PostKind = crdt.PostKind(r.uint(math.MaxUint8))
		}
		readFlatFields(&e, &b.Fields)
		if e.next() {
			b.Ref = r.str("ref", MaxRef)
		}
		if e.next() {
			b.By = r.str("by", MaxName)
		}
		if e.next() {
			r.optFixed(b.Private[:])
		}
		return b, r.err
	case crdt.KindPostEdit:
		var b crdt.PostEdit
		e := flatReader{r: r, n: r.arrayMax(9)}
		if e.next() {
			r.fixed(b.Post[:])
		}
		if e.next() {
			b.Set = crdt.FieldMask(r.uint(math.MaxUint16))
		}
		readFlatFields(&e, &b.Fields)
		if e.next() {
			r.optFixed(b.Private[:])
		}
		return b, r.err
	case crdt.KindRespond:
		var b crdt.Respond
		e := flatReader{r: r, n: r.arrayMax(5)}
		if e.next() {
			r.fixed(b.Post[:])
		}
		if e.next() {
			b.Quantity = uint32(r.uint(math.MaxUint32))
		}
		if e.next() {
			b.Note = r.str("note", MaxNote)
		}
		if e.next() {
			b.By = r.str("by", MaxName)
		}
		if e.next() {
			r.optFixed(b.Private[:])
		}
		return b, r.err
	case crdt.KindRename:
		var b crdt.Rename
		r.array(1)
		b.Name = r.str("name", MaxName)
		return b, r.err
	case crdt.KindHandOn:
		var b crdt.HandOn
		r.array(3)
		r.fixed(b.Post[:])
		r.fixed(b.Response[:])
		r.fixed(b.Private[:])
		return b, r.err
	}
	return readBody(r, kind)
}

func readFlatFields(e *flatReader, f *crdt.Fields) {
	r := e.r
	if e.next() {
		f.Title = r.str("title", MaxTitle)
	}
	if e.next() {
		f.Details = r.str("details", MaxDetails)
	}
	if e.next() {
		f.Category = r.str("category", MaxCategory)
	}
	if e.next() {
		f.Quantity = uint32(r.uint(math.MaxUint32))
	}
	if e.next() {
		f.Urgency = crdt.Urgency(r.uint(math.MaxUint8))
	}
	if e.next() {
		f.Expires = r.int()
	}
}

// flat builds a flat array: each element is written to w, then marked.
type flat struct {
	w    *writer
	ends []int
}

func (e *flat) mark() { e.ends = append(e.ends, e.w.buf.Len()) }

// writeTo writes the array to w, its trailing zero elements left out.
func (e *flat) writeTo(w *writer) {
	b := e.w.bytes()
	n := len(e.ends)
	for n > 0 {
		start := 0
		if n > 1 {
			start = e.ends[n-2]
		}
		if el := b[start:e.ends[n-1]]; len(el) != 1 || (el[0] != 0x00 && el[0] != 0xa0 && el[0] != 0xc0) {
			break
		}
		n--
	}
	w.array(n)
	if n > 0 {
		w.raw(b[:e.ends[n-1]])
	}
}

// flatReader reads the elements of a flat array that are there.
type flatReader struct {
	r    *reader
	n, i int
}

func (e *flatReader) next() bool {
	if e.r.err != nil || e.i >= e.n {
		return false
	}
	e.i++
	return true
}

// cursor reads the raw parts of a version 2 op or frame. The first error
// sticks; later reads return zero values.
type cursor struct {
	b   []byte
	off int
	err error
}

func (c *cursor) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

func (c *cursor) byte() byte {
	if c.err != nil {
		return 0
	}
	if c.off >= len(c.b) {
		c.fail(ErrTruncated)
		return 0
	}
	c.off++
	return c.b[c.off-1]
}

func (c *cursor) skip(n int) []byte {
	if c.err != nil {
		return nil
	}
	if n > len(c.b)-c.off {
		c.fail(ErrTruncated)
		return nil
	}
	c.off += n
	return c.b[c.off-n : c.off]
}

func (c *cursor) fixed(dst []byte) { copy(dst, c.skip(len(dst))) }

// uvarint reads a uvarint of at most max; a longer form than the
// shortest is left for the caller's re-encoding check to refuse.
func (c *cursor) uvarint(max uint64) uint64 {
	if c.err != nil {
		return 0
	}
	v, n := binary.Uvarint(c.b[c.off:])
	switch {
	case n == 0:
		c.fail(ErrTruncated)
		return 0
	case n < 0:
		c.fail(fmt.Errorf("%w: varint overflows 64 bits", ErrMalformed))
		return 0
	case v > max:
		c.fail(fmt.Errorf("%w: %d out of range", ErrMalformed, v))
		return 0
	}
	c.off += n
	return v
}

func (c *cursor) varint() int64 {
	u := c.uvarint(math.MaxUint64)
	return int64(u>>1) ^ -int64(u&1)
}

func (c *cursor) time(t *crdt.HLC) {
	t.Wall = c.varint()
	t.Logical = uint32(c.uvarint(math.MaxUint32))
}

// value returns the msgpack value at the cursor, after scan has checked
// its lengths and depth.
func (c *cursor) value() []byte {
	if c.err != nil {
		return nil
	}
	n, err := scan(c.b[c.off:], 0)
	if err != nil {
		c.fail(err)
		return nil
	}
	return c.skip(n)
}
