package protocol

import (
	"bytes"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// writer encodes msgpack values in the canonical (smallest) form. Writes
// to a bytes.Buffer cannot fail, so its methods return nothing.
type writer struct {
	buf bytes.Buffer
	e   *msgpack.Encoder
}

func newWriter() *writer {
	w := &writer{}
	w.e = msgpack.NewEncoder(&w.buf)
	return w
}

func (w *writer) array(n int)   { _ = w.e.EncodeArrayLen(n) }
func (w *writer) uint(v uint64) { _ = w.e.EncodeUint(v) }
func (w *writer) int(v int64)   { _ = w.e.EncodeInt(v) }
func (w *writer) str(s string)  { _ = w.e.EncodeString(s) }
func (w *writer) bin(b []byte)  { _ = w.e.EncodeBytes(b) }
func (w *writer) bytes() []byte { return w.buf.Bytes() }
func (w *writer) raw(b []byte)  { w.buf.Write(b) }
func (w *writer) reset()        { w.buf.Reset() }
func (w *writer) bool(v bool)   { _ = w.e.EncodeBool(v) }
func (w *writer) strs(s []string) {
	w.array(len(s))
	for _, x := range s {
		w.str(x)
	}
}

// reader decodes msgpack values from bytes that checkFrame has already
// validated, so no length prefix can exceed the input. The first error
// sticks; later reads return zero values.
type reader struct {
	d   *msgpack.Decoder
	r   *bytes.Reader
	err error
}

func newReader(b []byte) *reader {
	r := &reader{r: bytes.NewReader(b)}
	r.d = msgpack.NewDecoder(r.r)
	return r
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %v", ErrMalformed, err)
	}
}

// array reads an array header and fails unless it has n elements.
func (r *reader) array(n int) {
	if r.err != nil {
		return
	}
	got, err := r.d.DecodeArrayLen()
	if err != nil {
		r.fail(err)
	} else if got != n {
		r.fail(fmt.Errorf("array of %d, want %d", got, n))
	}
}

// arrayMax reads an array header of at most max elements.
func (r *reader) arrayMax(max int) int {
	if r.err != nil {
		return 0
	}
	got, err := r.d.DecodeArrayLen()
	if err != nil {
		r.fail(err)
		return 0
	}
	if got < 0 || got > max {
		r.fail(fmt.Errorf("array of %d, at most %d", got, max))
		return 0
	}
	return got
}

// optional returns the length of an array of n elements followed by
// one optional string, which is left out when empty.
func optional(n int, s string) int {
	if s == "" {
		return n
	}
	return n + 1
}

// arrayRange reads an array header of min to max elements, for arrays
// whose last elements are optional (left out when empty, so that older
// encodings stay valid and keep their bytes).
func (r *reader) arrayRange(min, max int) int {
	n := r.arrayMax(max)
	if r.err == nil && n < min {
		r.fail(fmt.Errorf("array of %d, at least %d", n, min))
	}
	return n
}

func (r *reader) uint(max uint64) uint64 {
	if r.err != nil {
		return 0
	}
	v, err := r.d.DecodeUint64()
	if err != nil {
		r.fail(err)
		return 0
	}
	if v > max {
		r.fail(fmt.Errorf("%d out of range", v))
		return 0
	}
	return v
}

func (r *reader) int() int64 {
	if r.err != nil {
		return 0
	}
	v, err := r.d.DecodeInt64()
	if err != nil {
		r.fail(err)
	}
	return v
}

func (r *reader) bool() bool {
	if r.err != nil {
		return false
	}
	v, err := r.d.DecodeBool()
	if err != nil {
		r.fail(err)
	}
	return v
}

func (r *reader) str(name string, max int) string {
	if r.err != nil {
		return ""
	}
	s, err := r.d.DecodeString()
	if err != nil {
		r.fail(err)
		return ""
	}
	if err := checkText(name, s, max); err != nil {
		r.err = err
		return ""
	}
	return s
}

func (r *reader) strs(name string, maxN, maxLen int) []string {
	n := r.arrayMax(maxN)
	var out []string
	for i := 0; i < n && r.err == nil; i++ {
		out = append(out, r.str(name, maxLen))
	}
	return out
}

// fixed reads a bin value of exactly len(dst) bytes into dst.
func (r *reader) fixed(dst []byte) {
	if r.err != nil {
		return
	}
	b, err := r.d.DecodeBytes()
	if err != nil {
		r.fail(err)
		return
	}
	if len(b) != len(dst) {
		r.fail(fmt.Errorf("%d bytes, want %d", len(b), len(dst)))
		return
	}
	copy(dst, b)
}

// end fails if input remains.
func (r *reader) end() error {
	if r.err == nil && r.r.Len() != 0 {
		r.err = ErrTrailing
	}
	return r.err
}

// optFixed reads nil (leaving dst zero) or a bin value of exactly
// len(dst) bytes. A bin of zeros is read, and the re-encoding check of
// the caller refuses it: the zero value is written as nil.
func (r *reader) optFixed(dst []byte) {
	if r.err != nil {
		return
	}
	c, err := r.d.PeekCode()
	if err != nil {
		r.fail(err)
		return
	}
	if c == 0xc0 {
		_ = r.d.Skip()
		return
	}
	r.fixed(dst)
}

// optBin writes b as nil when it is all zeros, else as bin.
func (w *writer) optBin(b []byte) {
	for _, c := range b {
		if c != 0 {
			w.bin(b)
			return
		}
	}
	_ = w.e.EncodeNil()
}
