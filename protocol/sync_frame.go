package protocol

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/mutual-aid/mutual/crdt"
)

// Catch-up sends a group's ops as frames of ops (frame.go) in Frame
// messages: [7, group bin32, frame bin]. Both directions work on the
// ops' bytes, never decoding a body: AppendOpsFrame turns stored ops
// (full form, blob joined after) into the frame EncodeFrame would write
// for them, and SplitFrameLenient turns a frame back into full forms for
// Replica.Ingest. Unlike DecodeFrame, SplitFrameLenient does not refuse
// an op of a kind this node does not know: like an op in an Ops message,
// it goes on to Ingest, which skips it; nor does it insist on the
// canonical choice of flags (catch-up keys nothing on a frame's bytes).

// AppendOpsFrame appends to dst the frame of group's ops raws, each an
// op's full encoding with its blob after it (JoinBlob), as stored. It
// fails when an op is unreadable or of another group, or the frame
// breaks a limit.
func AppendOpsFrame(dst []byte, group crdt.ID, raws [][]byte) ([]byte, error) {
	if len(raws) == 0 || len(raws) > MaxFrameOps {
		return dst, fmt.Errorf("frame: %w: %d ops, 1 to %d", ErrTooLarge, len(raws), MaxFrameOps)
	}
	start := len(dst)
	dst = append(dst, frameMagic)
	dst = binary.AppendUvarint(dst, uint64(len(raws)))
	var (
		prevAuthor crdt.PublicKey
		prevSeq    uint64
		prevID     crdt.ID
		wall       int64
	)
	for i, raw := range raws {
		full, blob, err := SplitBlob(raw)
		if err != nil {
			return dst[:start], fmt.Errorf("frame: op %d: %w", i, err)
		}
		if len(blob) > MaxBlobBytes {
			return dst[:start], fmt.Errorf("frame: op %d: %w: blob of %d bytes", i, ErrTooLarge, len(blob))
		}
		var flags byte
		if blob != nil {
			flags |= flagBlob
		}
		var p opParts
		switch opVersionOf(full) {
		case 1:
			ref, err := PeekOp(full)
			if err != nil {
				return dst[:start], fmt.Errorf("frame: op %d: %w", i, err)
			}
			if ref.Group != group {
				return dst[:start], fmt.Errorf("frame: op %d: %w", i, ErrWrongGroup)
			}
			dst = append(dst, flags|flagV1)
			dst = binary.AppendUvarint(dst, uint64(len(full)))
			dst = append(dst, full...)
			p = opParts{author: ref.Author, seq: ref.Seq}
			p.id = opID(1, full)
		case 2:
			if p, err = splitOp2(full); err != nil {
				return dst[:start], fmt.Errorf("frame: op %d: %w", i, err)
			}
			if p.groupOf() != group {
				return dst[:start], fmt.Errorf("frame: op %d: %w", i, ErrWrongGroup)
			}
			if i == 0 || prevAuthor != p.author {
				flags |= flagAuthor
			} else if prevSeq+1 == p.seq && p.prev == prevID {
				flags |= flagChained
			}
			dst = append(dst, flags, p.tag)
			if flags&flagAuthor != 0 {
				dst = append(dst, p.author[:]...)
			}
			if flags&flagChained == 0 {
				dst = binary.AppendUvarint(dst, p.seq)
				if p.seq >= 2 {
					dst = append(dst, p.prev[:]...)
				}
			}
			dst = binary.AppendVarint(dst, int64(uint64(p.wall)-uint64(wall)))
			dst = binary.AppendUvarint(dst, uint64(p.logical))
			wall = p.wall
			dst = append(dst, p.body...)
			dst = append(dst, p.sig...)
		default:
			return dst[:start], fmt.Errorf("frame: op %d: %w: unknown op version", i, ErrUnsupported)
		}
		if blob != nil {
			dst = binary.AppendUvarint(dst, uint64(len(blob)))
			dst = append(dst, blob...)
		}
		prevAuthor, prevSeq, prevID = p.author, p.seq, p.id
		if len(dst)-start > MaxFrameBytes {
			return dst[:start], fmt.Errorf("frame: %w: over %d bytes", ErrTooLarge, MaxFrameBytes)
		}
	}
	return dst, nil
}

// opParts are the parts of a version 2 op's full form, sliced out of it.
type opParts struct {
	tag     byte
	group   crdt.ID // zero in a genesis
	author  crdt.PublicKey
	seq     uint64
	prev    crdt.ID
	wall    int64
	logical uint32
	body    []byte // the msgpack array, as encoded
	sig     []byte
	id      crdt.ID
}

// groupOf is the group the op is of: a genesis op's is its own ID.
func (p *opParts) groupOf() crdt.ID {
	if crdt.Kind(p.tag&^tag2) == crdt.KindGenesis {
		return p.id
	}
	return p.group
}

// splitOp2 slices a version 2 op's full form into its parts, checking
// only its structure, and computes its ID.
func splitOp2(full []byte) (opParts, error) {
	var p opParts
	c := &cursor{b: full}
	p.tag = c.byte()
	c.fixed(p.group[:])
	c.fixed(p.author[:])
	p.seq = c.uvarint(math.MaxUint64)
	if p.seq >= 2 {
		c.fixed(p.prev[:])
	}
	var t crdt.HLC
	c.time(&t)
	p.wall, p.logical = t.Wall, t.Logical
	p.body = c.value()
	p.sig = c.skip(sigSize)
	if c.err != nil {
		return p, c.err
	}
	if c.off != len(full) {
		return p, ErrTrailing
	}
	p.id = opID(2, full)
	return p, nil
}

// SplitFrameLenient reads a frame of group's ops (frame.go) and returns
// each op's full encoding with its blob joined after it (JoinBlob), what
// Replica.Ingest reads, without decoding any body: an op of a kind this
// node does not know passes through, for Ingest to skip. It enforces the
// frame's limits and every length, and refuses an op of another group;
// signatures, bodies and blobs' hashes are Ingest's to check.
func SplitFrameLenient(group crdt.ID, b []byte) ([][]byte, error) {
	ops, _, err := splitFrame(group, b, nil)
	if err != nil {
		return nil, fmt.Errorf("frame: %w", err)
	}
	return ops, nil
}

// SplitFrameLenientWith is SplitFrameLenient for gossip frames: it also
// reads the prevs they leave out (frame_gossip.go), taking each from the
// frame or from prevOf as SplitFrameWith does, and reports which came
// from prevOf. Gossip reads a frame with it when SplitFrameWith refused
// one for an op of a kind this node does not know, so that the frame's
// other ops are judged rather than left for catch-up. It fails with a
// *NeedPrevError when prevOf misses.
func SplitFrameLenientWith(group crdt.ID, b []byte, prevOf PrevLookup) (fulls [][]byte, looked []bool, err error) {
	fulls, looked, err = splitFrame(group, b, prevOf)
	if err != nil {
		return nil, nil, fmt.Errorf("frame: %w", err)
	}
	return fulls, looked, nil
}

// splitFrame is SplitFrameLenient, and with prevOf set, reads gossip
// frames too (SplitFrameLenientWith).
func splitFrame(group crdt.ID, b []byte, prevOf PrevLookup) ([][]byte, []bool, error) {
	if len(b) > MaxFrameBytes {
		return nil, nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(b), MaxFrameBytes)
	}
	c := &cursor{b: b}
	if m := c.byte(); c.err == nil && m != frameMagic {
		return nil, nil, fmt.Errorf("%w: frame starts with byte %#x", ErrMalformed, m)
	}
	n := int(c.uvarint(MaxFrameOps))
	if c.err != nil {
		return nil, nil, c.err
	}
	if n == 0 || n > (len(b)-c.off)/minFrameOp {
		return nil, nil, fmt.Errorf("%w: %d ops in %d bytes", ErrMalformed, n, len(b))
	}
	out := make([][]byte, 0, n)
	known := byte(flagAuthor | flagChained | flagBlob | flagV1)
	g := newGossipPrevs(n, prevOf)
	if prevOf != nil {
		known |= flagPrevOut
	}
	var (
		prev opParts
		wall int64
		tmp  [2 * binary.MaxVarintLen64]byte
	)
	for i := range n {
		flags := c.byte()
		if c.err != nil {
			return nil, nil, c.err
		}
		if flags&^known != 0 {
			return nil, nil, fmt.Errorf("%w: op %d: flags %#x", ErrMalformed, i, flags)
		}
		var full []byte
		var p opParts
		if flags&flagV1 != 0 {
			if flags&(flagAuthor|flagChained|flagPrevOut) != 0 {
				return nil, nil, fmt.Errorf("%w: op %d: flags %#x", ErrMalformed, i, flags)
			}
			full = c.skip(int(c.uvarint(MaxOpBytes)))
			if c.err != nil {
				return nil, nil, c.err
			}
			if opVersionOf(full) != 1 {
				return nil, nil, fmt.Errorf("%w: op %d is not of version 1", ErrMalformed, i)
			}
			ref, err := PeekOp(full)
			if err != nil {
				return nil, nil, fmt.Errorf("op %d: %w", i, err)
			}
			if ref.Group != group {
				return nil, nil, fmt.Errorf("op %d: %w", i, ErrWrongGroup)
			}
			p = opParts{author: ref.Author, seq: ref.Seq, id: opID(1, full)}
			full = append([]byte(nil), full...)
		} else {
			p.tag = c.byte()
			if c.err == nil && (p.tag < tag2 || p.tag >= tag2+64) {
				return nil, nil, fmt.Errorf("%w: op %d: tag %#x", ErrMalformed, i, p.tag)
			}
			switch {
			case flags&flagAuthor != 0:
				c.fixed(p.author[:])
			case i == 0:
				return nil, nil, fmt.Errorf("%w: the first op has no author", ErrMalformed)
			default:
				p.author = prev.author
			}
			switch {
			case flags&flagChained != 0:
				if i == 0 || flags&flagPrevOut != 0 {
					return nil, nil, fmt.Errorf("%w: op %d: chained with flags %#x", ErrMalformed, i, flags)
				}
				p.seq, p.prev = prev.seq+1, prev.id
			case flags&flagPrevOut != 0:
				p.seq = c.uvarint(math.MaxUint64)
				if c.err == nil {
					if p.seq < 2 {
						return nil, nil, fmt.Errorf("%w: op %d: prev left out at seq %d", ErrMalformed, i, p.seq)
					}
					p.prev = g.fill(i, p.author, p.seq)
				}
			default:
				p.seq = c.uvarint(math.MaxUint64)
				if p.seq >= 2 {
					c.fixed(p.prev[:])
				}
			}
			var t crdt.HLC
			c.time(&t)
			p.wall, p.logical = int64(uint64(t.Wall)+uint64(wall)), t.Logical
			wall = p.wall
			p.body = c.value()
			p.sig = c.skip(sigSize)
			if c.err != nil {
				return nil, nil, fmt.Errorf("op %d: %w", i, c.err)
			}
			if crdt.Kind(p.tag&^tag2) != crdt.KindGenesis {
				p.group = group
			}
			full = make([]byte, 0, 1+2*keySize+len(tmp)+keySize+len(p.body)+sigSize)
			full = append(full, p.tag)
			full = append(full, p.group[:]...)
			full = append(full, p.author[:]...)
			full = binary.AppendUvarint(full, p.seq)
			if p.seq >= 2 {
				full = append(full, p.prev[:]...)
			}
			full = binary.AppendVarint(full, p.wall)
			full = binary.AppendUvarint(full, uint64(p.logical))
			full = append(full, p.body...)
			full = append(full, p.sig...)
			if len(full) > MaxOpBytes {
				return nil, nil, fmt.Errorf("op %d: %w: %d bytes, at most %d", i, ErrTooLarge, len(full), MaxOpBytes)
			}
			p.id = opID(2, full)
			if p.groupOf() != group {
				return nil, nil, fmt.Errorf("op %d: %w", i, ErrWrongGroup)
			}
		}
		if flags&flagBlob != 0 {
			blob := c.skip(int(c.uvarint(MaxBlobBytes)))
			if c.err == nil && len(blob) == 0 {
				c.fail(fmt.Errorf("%w: empty blob", ErrMalformed))
			}
			if c.err != nil {
				return nil, nil, c.err
			}
			full = JoinBlob(full, blob)
		}
		out = append(out, full)
		g.inFrame[authorSeq{p.author, p.seq}] = p.id
		prev = p
	}
	if c.off != len(b) {
		return nil, nil, ErrTrailing
	}
	if g.missing != nil {
		return nil, nil, g.missing
	}
	return out, g.looked, nil
}

// FrameWriter streams a group's ops as Frame messages without holding
// more than one: Add keeps an op (its full form, blob joined, as stored)
// for the frame being built and writes the frame out when the next op
// would take it past MaxBatchBytes or MaxBatchOps; Flush writes the
// last, partial one.
type FrameWriter struct {
	w     io.Writer
	group crdt.ID
	raws  [][]byte
	buf   []byte // op bytes of raws, copied
	// Frames and Ops count what has been written so far.
	Frames, Ops int
	// MaxBytes, if set, ends messages at fewer op bytes than
	// MaxBatchBytes (OpsWriter.MaxBytes: a relayed connection).
	MaxBytes int
}

// NewFrameWriter returns a writer of group's ops to w.
func NewFrameWriter(w io.Writer, group crdt.ID) *FrameWriter {
	return &FrameWriter{w: w, group: group}
}

// Add appends one op, first writing out the current frame if the op
// would not fit in it. The op is copied: raw may change after the call.
func (fw *FrameWriter) Add(raw []byte) error {
	if len(raw) == 0 || len(raw) > MaxOpBytes+MaxBlobBytes+3 {
		return fmt.Errorf("frame: %w: op of %d bytes", ErrTooLarge, len(raw))
	}
	limit := MaxBatchBytes
	if fw.MaxBytes > 0 && fw.MaxBytes < limit {
		limit = fw.MaxBytes
	}
	if len(fw.raws) > 0 && (len(fw.buf)+len(raw) > limit || len(fw.raws) == MaxBatchOps) {
		if err := fw.Flush(); err != nil {
			return err
		}
	}
	if fw.buf == nil {
		fw.buf = make([]byte, 0, 16<<10)
	}
	if len(fw.buf)+len(raw) > cap(fw.buf) {
		// A new buffer: the slices in raws keep the old one.
		nb := make([]byte, 0, max(2*cap(fw.buf), len(fw.buf)+len(raw)))
		fw.buf = append(nb, fw.buf...)
		off := 0
		for i, r := range fw.raws {
			fw.raws[i] = fw.buf[off : off+len(r) : off+len(r)]
			off += len(r)
		}
	}
	off := len(fw.buf)
	fw.buf = append(fw.buf, raw...)
	fw.raws = append(fw.raws, fw.buf[off:len(fw.buf):len(fw.buf)])
	return nil
}

// Flush writes the frame being built, if it holds any op.
func (fw *FrameWriter) Flush() error {
	if len(fw.raws) == 0 {
		return nil
	}
	n := len(fw.raws)
	err := WriteFrame(fw.w, &Frame{Type: MsgFrame, Group: fw.group, Ops: fw.raws})
	fw.raws, fw.buf = fw.raws[:0], fw.buf[:0]
	if err != nil {
		return err
	}
	fw.Frames++
	fw.Ops += n
	return nil
}
