package protocol

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/mutual-aid/mutual/crdt"
)

// A frame carries several ops of one group in fewer bytes than their
// encodings side by side: the group is left out (the receiver knows it:
// a gossip topic, a catch-up message, a bundle section), an author is
// written once for a run of its ops, and in such a run prev and seq are
// left out (prev is the ID of the op before, seq one more than its).
// Each op is rebuilt in its full form (op2.go), whose bytes its signature
// and ID cover, so an op's ID never depends on how it travelled.
//
//	magic  1 byte: 0xf2
//	count  uvarint, 1 to MaxFrameOps
//	count times:
//	  flags  1 byte, of
//	         0x01 author follows (set for the first op, and for an op whose
//	              author is not that of the op before; clear otherwise)
//	         0x02 chained: seq and prev left out (set whenever the op before
//	              is the same author's op at seq-1 and prev is its ID;
//	              clear otherwise)
//	         0x04 the op's sealed blob follows it
//	         0x08 a version 1 op, whole: uvarint length, then its encoding
//	              (0x01 and 0x02 clear)
//	         0x10 prev left out (gossip only, frame_gossip.go): seq is
//	              written, prev is not; the receiver takes it from the
//	              op at seq-1 earlier in the frame, else from its log
//	  version 2: tag, [author], [seq uvarint, [prev]], wall delta varint
//	         (the wall minus that of the op before; of 0 for the first),
//	         logical uvarint, body, sig: the parts of the full form
//	  blob   uvarint length (1 to MaxBlobBytes), then the blob
//
// Decoders refuse any other bytes for the same ops (they re-encode and
// compare), and every limit of a single op holds for each op in a frame.
const frameMagic = 0xf2

// Frame limits.
const (
	MaxFrameOps   = 4096
	MaxFrameBytes = 512 << 10
)

const (
	flagAuthor  = 0x01
	flagChained = 0x02
	flagBlob    = 0x04
	flagV1      = 0x08
	flagPrevOut = 0x10 // gossip frames only (frame_gossip.go)
)

// minFrameOp is the fewest bytes an op takes in a frame (flags, tag,
// time, body, sig), which bounds a frame's count before anything is
// allocated.
const minFrameOp = 1 + 1 + 2 + 1 + sigSize

// ErrWrongGroup is the error of an op framed in a group it is not of.
var ErrWrongGroup = fmt.Errorf("%w: op of another group", ErrMalformed)

// EncodeFrame encodes ops of group (a genesis op is of the group its ID
// is) as one frame, in the order given: put each author's ops together
// in seq order to get the most from it. Ops carry their blobs (op.Blob)
// along. It fails when an op or the frame breaks a limit.
func EncodeFrame(group crdt.ID, ops []crdt.Op) ([]byte, error) {
	return encodeFrame(group, ops, false)
}

func encodeFrame(group crdt.ID, ops []crdt.Op, gossip bool) ([]byte, error) {
	if len(ops) == 0 || len(ops) > MaxFrameOps {
		return nil, fmt.Errorf("frame: %w: %d ops, 1 to %d", ErrTooLarge, len(ops), MaxFrameOps)
	}
	ids := make([]crdt.ID, len(ops))
	for i := range ops {
		full, err := EncodeOp(&ops[i])
		if err != nil {
			return nil, fmt.Errorf("frame: op %d: %w", i, err)
		}
		ids[i] = opID(ops[i].Version, full)
		if ids[i] != ops[i].ID && !ops[i].ID.IsZero() {
			return nil, fmt.Errorf("frame: op %d: its ID is not that of its encoding", i)
		}
		if g := groupOf(&ops[i], ids[i]); g != group {
			return nil, fmt.Errorf("frame: op %d: %w", i, ErrWrongGroup)
		}
		if b := ops[i].Blob; b != nil {
			if sum, ok := crdt.PrivateOf(&ops[i]); !ok || sum != sha256.Sum256(b) {
				return nil, fmt.Errorf("frame: op %d: %w", i, ErrBlobMismatch)
			}
		}
	}
	var out []bool
	if gossip {
		out = prevsLeftOut(ops, ids)
	}
	return appendFrame(group, ops, ids, out)
}

// groupOf is op.GroupID with the op's ID given.
func groupOf(op *crdt.Op, id crdt.ID) crdt.ID {
	if _, ok := op.Body.(crdt.Genesis); ok {
		return id
	}
	return op.Group
}

// appendFrame encodes a frame of ops whose IDs are ids. out, if not nil,
// says which ops leave their prev out (flagPrevOut) when they are not
// chained.
func appendFrame(group crdt.ID, ops []crdt.Op, ids []crdt.ID, out []bool) ([]byte, error) {
	w := newWriter()
	var tmp [binary.MaxVarintLen64]byte
	w.raw([]byte{frameMagic})
	w.raw(binary.AppendUvarint(tmp[:0], uint64(len(ops))))
	var wall int64
	for i := range ops {
		op := &ops[i]
		var flags byte
		if op.Blob != nil {
			if len(op.Blob) > MaxBlobBytes {
				return nil, fmt.Errorf("frame: op %d: %w: blob of %d bytes", i, ErrTooLarge, len(op.Blob))
			}
			flags |= flagBlob
		}
		if op.Version == 1 {
			full, err := EncodeOp(op)
			if err != nil {
				return nil, err
			}
			w.raw([]byte{flags | flagV1})
			w.raw(binary.AppendUvarint(tmp[:0], uint64(len(full))))
			w.raw(full)
		} else {
			if i == 0 || ops[i-1].Author != op.Author {
				flags |= flagAuthor
			} else if ops[i-1].Seq+1 == op.Seq && op.Prev == ids[i-1] {
				flags |= flagChained
			}
			if out != nil && out[i] && flags&flagChained == 0 && op.Seq >= 2 {
				flags |= flagPrevOut
			}
			if op.Body == nil {
				return nil, errNoBody
			}
			w.raw([]byte{flags, tag2 | byte(op.Body.Kind())})
			if flags&flagAuthor != 0 {
				w.raw(op.Author[:])
			}
			if flags&flagChained == 0 {
				w.raw(binary.AppendUvarint(tmp[:0], op.Seq))
				if op.Seq >= 2 && flags&flagPrevOut == 0 {
					w.raw(op.Prev[:])
				}
			}
			writeTime(w, int64(uint64(op.Time.Wall)-uint64(wall)), op.Time.Logical)
			wall = op.Time.Wall
			if err := writeBody2(w, op.Body); err != nil {
				return nil, err
			}
			w.raw(op.Sig[:])
		}
		if op.Blob != nil {
			w.raw(binary.AppendUvarint(tmp[:0], uint64(len(op.Blob))))
			w.raw(op.Blob)
		}
		if w.buf.Len() > MaxFrameBytes {
			return nil, fmt.Errorf("frame: %w: over %d bytes", ErrTooLarge, MaxFrameBytes)
		}
	}
	return bytes.Clone(w.bytes()), nil
}

// DecodeFrame decodes a frame of group's ops: it enforces every limit,
// rebuilds each op's full form, sets its ID and blob, and checks that it
// is of group and that b is the canonical frame of these ops. It does
// not verify signatures: VerifyOps does, for the whole frame at once.
func DecodeFrame(group crdt.ID, b []byte) ([]crdt.Op, error) {
	ops, _, _, err := decodeOpFrame(group, b, nil)
	if err != nil {
		return nil, fmt.Errorf("frame: %w", err)
	}
	return ops, nil
}

// SplitFrame decodes a frame as DecodeFrame does and returns each op's
// full (stand-alone) encoding, its blob after it (JoinBlob): what
// DecodeOp and a replica's Ingest read.
func SplitFrame(group crdt.ID, b []byte) ([][]byte, error) {
	ops, fulls, _, err := decodeOpFrame(group, b, nil)
	if err != nil {
		return nil, fmt.Errorf("frame: %w", err)
	}
	for i := range fulls {
		fulls[i] = JoinBlob(fulls[i], ops[i].Blob)
	}
	return fulls, nil
}

// decodeOpFrame decodes a frame. prevOf is nil but for a gossip frame,
// whose ops may leave prev out (flagPrevOut): it returns which ops took
// their prev from prevOf, and a *NeedPrevError when prevOf misses, once
// the whole frame has been checked otherwise.
func decodeOpFrame(group crdt.ID, b []byte, prevOf PrevLookup) ([]crdt.Op, [][]byte, []bool, error) {
	if len(b) > MaxFrameBytes {
		return nil, nil, nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(b), MaxFrameBytes)
	}
	c := &cursor{b: b}
	if m := c.byte(); c.err == nil && m != frameMagic {
		return nil, nil, nil, fmt.Errorf("%w: frame starts with byte %#x", ErrMalformed, m)
	}
	n := int(c.uvarint(MaxFrameOps))
	if c.err != nil {
		return nil, nil, nil, c.err
	}
	if n == 0 || n > (len(b)-c.off)/minFrameOp {
		return nil, nil, nil, fmt.Errorf("%w: %d ops in %d bytes", ErrMalformed, n, len(b))
	}
	ops := make([]crdt.Op, n)
	fulls := make([][]byte, n)
	ids := make([]crdt.ID, n)
	known := byte(flagAuthor | flagChained | flagBlob | flagV1)
	var g *gossipPrevs
	if prevOf != nil {
		known |= flagPrevOut
		g = newGossipPrevs(n, prevOf)
	}
	var wall int64
	for i := range ops {
		op := &ops[i]
		flags := c.byte()
		if c.err != nil {
			return nil, nil, nil, c.err
		}
		if flags&^known != 0 {
			return nil, nil, nil, fmt.Errorf("%w: op %d: flags %#x", ErrMalformed, i, flags)
		}
		if flags&flagV1 != 0 {
			if flags&(flagAuthor|flagChained|flagPrevOut) != 0 {
				return nil, nil, nil, fmt.Errorf("%w: op %d: flags %#x", ErrMalformed, i, flags)
			}
			full := c.skip(int(c.uvarint(MaxOpBytes)))
			if c.err != nil {
				return nil, nil, nil, c.err
			}
			if opVersionOf(full) != 1 {
				return nil, nil, nil, fmt.Errorf("%w: op %d is not of version 1", ErrMalformed, i)
			}
			var err error
			if *op, err = decodeOp(full); err != nil {
				return nil, nil, nil, fmt.Errorf("op %d: %w", i, err)
			}
			fulls[i] = full
		} else {
			tag := c.byte()
			if c.err == nil && (tag < tag2 || tag >= tag2+64) {
				return nil, nil, nil, fmt.Errorf("%w: op %d: tag %#x", ErrMalformed, i, tag)
			}
			kind := crdt.Kind(tag &^ tag2)
			switch {
			case flags&flagAuthor != 0:
				c.fixed(op.Author[:])
			case i == 0:
				return nil, nil, nil, fmt.Errorf("%w: the first op has no author", ErrMalformed)
			default:
				op.Author = ops[i-1].Author
			}
			switch {
			case flags&flagChained != 0:
				if i == 0 || flags&flagPrevOut != 0 {
					return nil, nil, nil, fmt.Errorf("%w: op %d: chained with flags %#x", ErrMalformed, i, flags)
				}
				op.Seq, op.Prev = ops[i-1].Seq+1, ids[i-1]
			case flags&flagPrevOut != 0:
				op.Seq = c.uvarint(math.MaxUint64)
				if c.err == nil {
					if op.Seq < 2 {
						return nil, nil, nil, fmt.Errorf("%w: op %d: prev left out at seq %d", ErrMalformed, i, op.Seq)
					}
					op.Prev = g.fill(i, op.Author, op.Seq)
				}
			default:
				op.Seq = c.uvarint(math.MaxUint64)
				if op.Seq >= 2 {
					c.fixed(op.Prev[:])
				}
			}
			c.time(&op.Time)
			op.Time.Wall = int64(uint64(op.Time.Wall) + uint64(wall))
			wall = op.Time.Wall
			if kind != crdt.KindGenesis {
				op.Group = group
			}
			readBodySig(c, op, kind)
			if c.err != nil {
				return nil, nil, nil, fmt.Errorf("op %d: %w", i, c.err)
			}
			full, err := EncodeOp(op)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("op %d: %w", i, err)
			}
			if len(full) > MaxOpBytes {
				return nil, nil, nil, fmt.Errorf("op %d: %w: %d bytes, at most %d", i, ErrTooLarge, len(full), MaxOpBytes)
			}
			fulls[i] = full
			op.ID = opID(OpVersion, full)
		}
		ids[i] = op.ID
		if g != nil {
			g.add(i, op, flags&flagPrevOut != 0)
		}
		if groupOf(op, op.ID) != group {
			return nil, nil, nil, fmt.Errorf("op %d: %w", i, ErrWrongGroup)
		}
		if flags&flagBlob != 0 {
			blob := c.skip(int(c.uvarint(MaxBlobBytes)))
			if c.err == nil && len(blob) == 0 {
				c.fail(fmt.Errorf("%w: empty blob", ErrMalformed))
			}
			if c.err != nil {
				return nil, nil, nil, c.err
			}
			if err := setBlob(op, blob); err != nil {
				return nil, nil, nil, fmt.Errorf("op %d: %w", i, err)
			}
		}
	}
	if c.off != len(b) {
		return nil, nil, nil, ErrTrailing
	}
	// One set of ops (and the same prevs left out), one frame.
	var out, looked []bool
	if g != nil {
		out, looked = g.out, g.looked
	}
	again, err := appendFrame(group, ops, ids, out)
	if err != nil {
		return nil, nil, nil, err
	}
	if !bytes.Equal(again, b) {
		return nil, nil, nil, ErrNotCanonical
	}
	if g != nil && g.missing != nil {
		return nil, nil, nil, g.missing
	}
	return ops, fulls, looked, nil
}
