package protocol

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/mutual-aid/mutual/crdt"
)

// The catch-up protocol (SyncProtocol) runs over one bidirectional
// stream as a sequence of frames. A frame is the uvarint length of its
// body followed by the body, one msgpack array whose first element is
// the message type. docs/protocol-catchup.md specifies the messages and
// the order in which peers send them; package node/catchup runs it.
//
//	Hello [1, version, round, initiator bool]
//	Have  [2, group bin32, [[author bin32, seq]...]]
//	Want  [3, group bin32, [[author bin32, seq]...]]
//	Ops   [4, group bin32, [op bin...]]
//	End   [5]
//	Next  [6, more bool]
//	Frame [7, group bin32, frame bin]          (sync_frame.go)
//	Refused [8, group bin32, reason str]
//	Digest [9, total bin16, [[group bin32, sum bin16]...]]   (sync_digest.go)

// SyncVersion is the version a Hello carries.
const SyncVersion = 1

// Catch-up limits. Decoders enforce them; writers never exceed them.
const (
	MaxFrame         = 1 << 20   // a frame body, checked before it is read
	MaxSyncGroups    = 256       // groups one side offers (Have) or asks for (Want) in a round
	MaxVectorAuthors = 1 << 16   // authors in one group's version vector, over all its frames
	MaxVectorChunk   = 1 << 14   // vector entries in one Have or Want frame
	MaxBatchBytes    = 256 << 10 // op bytes in one Ops frame (an Ops frame ends before the op that would pass it)
	MaxBatchOps      = 4096      // ops in one Ops frame
	MaxDigestGroups  = 1 << 16   // groups named in one side's Digest frames in a session
	MaxDigestChunk   = 1 << 14   // entries in one Digest frame
	MaxRefusedReason = 256       // bytes of a Refused frame's reason
)

// MsgType is a catch-up message type. The numbers are part of the wire
// format: never reuse one.
type MsgType uint8

// Message types.
const (
	MsgHello MsgType = 1 // opens a round
	MsgHave  MsgType = 2 // a group offered, with (part of) the sender's version vector
	MsgWant  MsgType = 3 // a group asked for, with the sender's vector restricted to the authors offered
	MsgOps   MsgType = 4 // a batch of encoded ops of one group
	MsgEnd   MsgType = 5 // ends a phase of a round
	MsgNext  MsgType = 6 // after the ops: whether the sender wants another round
	// MsgRefused answers, in the Want phase, a group the peer offered
	// that this node replicates but will not serve it (the group accepts
	// followers from its allies only), with the reason for its user.
	MsgRefused MsgType = 8
	MsgFrame   MsgType = 7 // a batch of ops of one group as a frame of ops (frame.go)
	MsgDigest  MsgType = 9 // summaries of the groups' vectors, compared before any Have
)

func (t MsgType) String() string {
	switch t {
	case MsgHello:
		return "hello"
	case MsgHave:
		return "have"
	case MsgWant:
		return "want"
	case MsgOps:
		return "ops"
	case MsgEnd:
		return "end"
	case MsgNext:
		return "next"
	case MsgFrame:
		return "frame"
	case MsgDigest:
		return "digest"
	case MsgRefused:
		return "refused"
	}
	return fmt.Sprintf("msg(%d)", uint8(t))
}

// VectorEntry is one element of a version vector: the author holds ops
// 1..Seq of that author, all of them.
type VectorEntry struct {
	Author crdt.PublicKey
	Seq    uint64
}

// Frame is any catch-up message; Type says which fields are used.
type Frame struct {
	Type      MsgType
	Version   uint64        // Hello
	Round     uint64        // Hello: 1, 2, ... within a session
	Initiator bool          // Hello: the sender opened the stream
	Group     crdt.ID       // Have, Want, Ops, Refused
	Vector    []VectorEntry // Have, Want: at most MaxVectorChunk
	Ops       [][]byte      // Ops, Frame: encoded ops (full form), not yet decoded or verified
	More      bool          // Next
	Total     Digest        // Digest: the digest of all the sender's group digests
	Digests   []GroupDigest // Digest: at most MaxDigestChunk
	Reason    string        // Refused: at most MaxRefusedReason bytes of UTF-8
}

// FrameReader is what ReadFrame reads from (a *bufio.Reader).
type FrameReader interface {
	io.Reader
	io.ByteReader
}

var _ FrameReader = (*bufio.Reader)(nil)

// ReadFrame reads one frame. The length prefix is checked against
// MaxFrame before anything is allocated, and the body is decoded only
// into Frame's fixed fields after a pre-scan of its msgpack tokens. It
// returns io.EOF when r ends cleanly between frames and
// io.ErrUnexpectedEOF when it ends inside one; other errors wrap
// ErrMalformed. The op slices in an Ops frame alias a buffer allocated
// for that frame alone, which nothing else writes to.
func ReadFrame(r FrameReader) (*Frame, error) {
	var n uint64
	for i := 0; ; i++ {
		c, err := r.ReadByte()
		if err != nil {
			if i > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err // the stream's error, not the peer's fault
		}
		if i == binary.MaxVarintLen64-1 && c > 1 {
			return nil, fmt.Errorf("frame length: %w: uvarint overflows 64 bits", ErrMalformed)
		}
		n |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			break
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: empty frame", ErrMalformed)
	}
	if n > MaxFrame {
		return nil, fmt.Errorf("frame: %w: %d bytes, at most %d", ErrTooLarge, n, MaxFrame)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return DecodeSyncFrame(b)
}

// DecodeSyncFrame decodes a catch-up frame body (without its length
// prefix). (DecodeFrame, in frame.go, decodes a frame of ops.)
func DecodeSyncFrame(b []byte) (*Frame, error) {
	f, err := decodeFrame(b)
	if err != nil {
		return nil, fmt.Errorf("frame: %w", err)
	}
	return f, nil
}

func decodeFrame(b []byte) (*Frame, error) {
	if err := checkFrame(b, MaxFrame); err != nil {
		return nil, err
	}
	r := newReader(b)
	n := r.arrayMax(4)
	f := &Frame{Type: MsgType(r.uint(math.MaxUint8))}
	if r.err != nil {
		return nil, r.err
	}
	want := frameElems(f.Type)
	if want == 0 {
		return nil, fmt.Errorf("%w: message type %d", ErrUnsupported, f.Type)
	}
	if n != want {
		return nil, fmt.Errorf("%w: %s has %d elements, want %d", ErrMalformed, f.Type, n, want)
	}
	switch f.Type {
	case MsgHello:
		f.Version = r.uint(math.MaxUint32)
		f.Round = r.uint(math.MaxUint32)
		f.Initiator = r.bool()
	case MsgHave, MsgWant:
		r.fixed(f.Group[:])
		if k := r.arrayMax(MaxVectorChunk); k > 0 {
			f.Vector = make([]VectorEntry, k)
			for i := range f.Vector {
				r.array(2)
				r.fixed(f.Vector[i].Author[:])
				f.Vector[i].Seq = r.uint(math.MaxUint64)
			}
		}
	case MsgOps:
		r.fixed(f.Group[:])
		k := r.arrayMax(MaxBatchOps)
		if r.err != nil {
			return nil, r.err
		}
		// The ops are sliced out of b, not copied: scan has checked that
		// every length fits.
		off := len(b) - r.r.Len()
		f.Ops = make([][]byte, 0, k)
		for range k {
			hdr, l, ok := binHeader(b[off:])
			if !ok {
				return nil, fmt.Errorf("%w: op is not bin (byte %#x)", ErrMalformed, b[off])
			}
			if l > MaxOpBytes {
				return nil, fmt.Errorf("%w: op of %d bytes, at most %d", ErrTooLarge, l, MaxOpBytes)
			}
			off += hdr
			f.Ops = append(f.Ops, b[off:off+l:off+l])
			off += l
		}
		if off != len(b) {
			return nil, ErrTrailing
		}
		return f, nil
	case MsgFrame:
		r.fixed(f.Group[:])
		if r.err != nil {
			return nil, r.err
		}
		// The frame is sliced out of b, not copied (scan has checked
		// its length); the ops are rebuilt in buffers of their own.
		off := len(b) - r.r.Len()
		hdr, l, ok := binHeader(b[off:])
		if !ok {
			return nil, fmt.Errorf("%w: frame is not bin (byte %#x)", ErrMalformed, b[off])
		}
		if off+hdr+l != len(b) {
			return nil, ErrTrailing
		}
		var err error
		if f.Ops, err = SplitFrameLenient(f.Group, b[off+hdr:]); err != nil {
			return nil, err
		}
		return f, nil
	case MsgDigest:
		r.fixed(f.Total[:])
		if k := r.arrayMax(MaxDigestChunk); k > 0 {
			f.Digests = make([]GroupDigest, k)
			for i := range f.Digests {
				r.array(2)
				r.fixed(f.Digests[i].Group[:])
				r.fixed(f.Digests[i].Sum[:])
			}
		}
	case MsgEnd:
	case MsgNext:
		f.More = r.bool()
	case MsgRefused:
		r.fixed(f.Group[:])
		f.Reason = r.str("reason", MaxRefusedReason)
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return f, nil
}

// frameElems is the length of each message's array; 0 for unknown types.
func frameElems(t MsgType) int {
	switch t {
	case MsgHello:
		return 4
	case MsgHave, MsgWant, MsgOps, MsgFrame, MsgDigest, MsgRefused:
		return 3
	case MsgEnd:
		return 1
	case MsgNext:
		return 2
	}
	return 0
}

// AppendFrame appends f, length prefix included, to dst. It fails when f
// breaks a limit, so nothing is sent that the peer would refuse.
func AppendFrame(dst []byte, f *Frame) ([]byte, error) {
	w := newWriter()
	switch f.Type {
	case MsgHello:
		w.array(4)
		w.uint(uint64(f.Type))
		w.uint(f.Version)
		w.uint(f.Round)
		w.bool(f.Initiator)
	case MsgHave, MsgWant:
		if len(f.Vector) > MaxVectorChunk {
			return dst, fmt.Errorf("%s: %w: %d vector entries, at most %d", f.Type, ErrTooLarge, len(f.Vector), MaxVectorChunk)
		}
		w.array(3)
		w.uint(uint64(f.Type))
		w.bin(f.Group[:])
		w.array(len(f.Vector))
		for _, e := range f.Vector {
			w.array(2)
			w.bin(e.Author[:])
			w.uint(e.Seq)
		}
	case MsgOps:
		if len(f.Ops) > MaxBatchOps {
			return dst, fmt.Errorf("ops: %w: %d ops, at most %d", ErrTooLarge, len(f.Ops), MaxBatchOps)
		}
		w.array(3)
		w.uint(uint64(f.Type))
		w.bin(f.Group[:])
		w.array(len(f.Ops))
		for _, op := range f.Ops {
			if len(op) > MaxOpBytes {
				return dst, fmt.Errorf("ops: %w: op of %d bytes", ErrTooLarge, len(op))
			}
			w.bin(op)
		}
	case MsgFrame:
		fr, err := AppendOpsFrame(nil, f.Group, f.Ops)
		if err != nil {
			return dst, err
		}
		w.array(3)
		w.uint(uint64(f.Type))
		w.bin(f.Group[:])
		w.bin(fr)
	case MsgDigest:
		if len(f.Digests) > MaxDigestChunk {
			return dst, fmt.Errorf("digest: %w: %d entries, at most %d", ErrTooLarge, len(f.Digests), MaxDigestChunk)
		}
		w.array(3)
		w.uint(uint64(f.Type))
		w.bin(f.Total[:])
		w.array(len(f.Digests))
		for _, d := range f.Digests {
			w.array(2)
			w.bin(d.Group[:])
			w.bin(d.Sum[:])
		}
	case MsgEnd:
		w.array(1)
		w.uint(uint64(f.Type))
	case MsgNext:
		w.array(2)
		w.uint(uint64(f.Type))
		w.bool(f.More)
	case MsgRefused:
		if err := checkText("reason", f.Reason, MaxRefusedReason); err != nil {
			return dst, fmt.Errorf("refused: %w", err)
		}
		w.array(3)
		w.uint(uint64(f.Type))
		w.bin(f.Group[:])
		w.str(f.Reason)
	default:
		return dst, fmt.Errorf("%w: message type %d", ErrUnsupported, f.Type)
	}
	body := w.bytes()
	if len(body) > MaxFrame {
		return dst, fmt.Errorf("%s: %w: %d bytes, at most %d", f.Type, ErrTooLarge, len(body), MaxFrame)
	}
	dst = binary.AppendUvarint(dst, uint64(len(body)))
	return append(dst, body...), nil
}

// WriteFrame writes f to w in one Write call.
func WriteFrame(w io.Writer, f *Frame) error {
	b, err := AppendFrame(nil, f)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// OpsWriter streams a group's ops as Ops frames without holding more
// than one frame: Add copies an op into the frame being built and writes
// the frame out when the next op would take it past MaxBatchBytes or
// MaxBatchOps; Flush writes the last, partial frame. The ops array is
// written with a 5-byte (array32) header, patched when the frame is
// complete; that is valid msgpack and DecodeFrame accepts it.
type OpsWriter struct {
	w     io.Writer
	group crdt.ID
	buf   []byte // [binary.MaxVarintLen64 bytes reserved for the length][body]
	n     int    // ops in buf
	ops   int    // op bytes in buf
	// Frames and Ops count what has been written so far.
	Frames, Ops int
	// MaxBytes, if set, ends frames at fewer op bytes than
	// MaxBatchBytes: over a relayed connection, whose relay resets it
	// after a few hundred KiB, each frame must arrive whole to count.
	MaxBytes int
}

// opsHead is the body of an Ops frame before its ops: the 3-element
// array, the type, the group and the array32 header.
const opsHead = 1 + 1 + 2 + 32 + 5

// NewOpsWriter returns a writer of group's ops to w.
func NewOpsWriter(w io.Writer, group crdt.ID) *OpsWriter {
	b := &OpsWriter{w: w, group: group}
	b.reset()
	return b
}

func (b *OpsWriter) reset() {
	if b.buf == nil {
		b.buf = make([]byte, binary.MaxVarintLen64, 4<<10) // grows with the batch
	}
	b.buf = b.buf[:binary.MaxVarintLen64]
	b.buf = append(b.buf, 0x93, byte(MsgOps), 0xc4, 32)
	b.buf = append(b.buf, b.group[:]...)
	b.buf = append(b.buf, 0xdd, 0, 0, 0, 0)
	b.n, b.ops = 0, 0
}

// Add appends one encoded op, first writing out the current frame if the
// op would not fit in it.
func (b *OpsWriter) Add(op []byte) error {
	if len(op) == 0 || len(op) > MaxOpBytes {
		return fmt.Errorf("ops: %w: op of %d bytes", ErrTooLarge, len(op))
	}
	limit := MaxBatchBytes
	if b.MaxBytes > 0 && b.MaxBytes < limit {
		limit = b.MaxBytes
	}
	if b.n > 0 && (b.ops+len(op) > limit || b.n == MaxBatchOps) {
		if err := b.Flush(); err != nil {
			return err
		}
	}
	if len(op) < 256 {
		b.buf = append(b.buf, 0xc4, byte(len(op)))
	} else {
		b.buf = append(b.buf, 0xc5, byte(len(op)>>8), byte(len(op)))
	}
	b.buf = append(b.buf, op...)
	b.n++
	b.ops += len(op)
	return nil
}

// Flush writes the frame being built, if it holds any op.
func (b *OpsWriter) Flush() error {
	if b.n == 0 {
		return nil
	}
	body := b.buf[binary.MaxVarintLen64:]
	binary.BigEndian.PutUint32(body[opsHead-4:], uint32(b.n))
	var pre [binary.MaxVarintLen64]byte
	p := binary.PutUvarint(pre[:], uint64(len(body)))
	start := binary.MaxVarintLen64 - p
	copy(b.buf[start:], pre[:p])
	n := b.n
	_, err := b.w.Write(b.buf[start:])
	b.reset()
	if err != nil {
		return err
	}
	b.Frames++
	b.Ops += n
	return nil
}

// OpRef says where an encoded op belongs.
type OpRef struct {
	Group  crdt.ID // the op's group (for a genesis op, its own ID)
	Author crdt.PublicKey
	Seq    uint64
	Time   crdt.HLC
}

// PeekOp reads an encoded op's group, author and sequence number without
// decoding the rest or verifying anything, so that a receiver can check
// that an op is where a peer says it is before paying for its signature.
func PeekOp(b []byte) (OpRef, error) {
	var ref OpRef
	raw, _, err := SplitBlob(b) // a blob may follow the op
	if err != nil {
		return ref, err
	}
	var kind crdt.Kind
	if opVersionOf(raw) == 2 {
		c := &cursor{b: raw}
		kind = crdt.Kind(c.byte() &^ tag2)
		c.fixed(ref.Group[:])
		c.fixed(ref.Author[:])
		ref.Seq = c.uvarint(math.MaxUint64)
		if ref.Seq >= 2 {
			c.skip(keySize)
		}
		c.time(&ref.Time)
		if c.err != nil {
			return ref, c.err
		}
	} else {
		if err := checkFrame(raw, MaxOpBytes); err != nil {
			return ref, err
		}
		r := newReader(raw)
		r.array(opFields)
		if v := r.uint(math.MaxUint8); r.err == nil && v != 1 {
			return ref, fmt.Errorf("%w: op version %d", ErrUnsupported, v)
		}
		kind = crdt.Kind(r.uint(math.MaxUint8))
		r.fixed(ref.Group[:])
		r.fixed(ref.Author[:])
		ref.Seq = r.uint(math.MaxUint64)
		var prev crdt.ID
		r.fixed(prev[:])
		ref.Time.Wall = r.int()
		ref.Time.Logical = uint32(r.uint(math.MaxUint32))
		if r.err != nil {
			return ref, r.err
		}
	}
	if kind == crdt.KindGenesis {
		ref.Group = OpID(raw)
	}
	return ref, nil
}

// binHeader reads the msgpack bin header at the start of b (scan has
// checked that it and its length fit): its size and the length it
// gives; false if b does not start with a bin.
func binHeader(b []byte) (hdr, l int, ok bool) {
	switch b[0] {
	case 0xc4:
		return 2, int(b[1]), true
	case 0xc5:
		return 3, int(binary.BigEndian.Uint16(b[1:])), true
	case 0xc6:
		return 5, int(binary.BigEndian.Uint32(b[1:])), true
	}
	return 0, 0, false
}
