package protocol

import (
	"errors"
	"fmt"

	"github.com/mutual-aid/mutual/crdt"
)

// Gossip frames leave out the prev of an op that is not chained, too
// (flagPrevOut, docs/protocol.md 2.6): the first op of each author's run,
// which in a frame of one is the whole op. Its receiver nearly always
// holds the author's op at seq-1 already, since live gossip follows the
// author's log, and takes prev from there: the ID of the op at seq-1
// earlier in the frame if there is one, else that of the op its own log
// holds. Only a decoder given that lookup (DecodeFrameWith) reads such a
// frame; DecodeFrame and SplitFrame, which read catch-up messages and
// bundles, refuse the flag, so nothing but gossip carries it. The op's
// full form, signature and ID are unchanged: a prev taken wrongly (the
// author forked at seq-1, or the frame is forged) rebuilds an op whose
// signature fails.

// PrevLookup returns the ID of author's op at seq in the frame's group
// if the receiver holds it.
type PrevLookup func(author crdt.PublicKey, seq uint64) (crdt.ID, bool)

// ErrNeedPrev is the error of a gossip frame that leaves out a prev the
// receiver does not hold: not malformed (the sender did nothing wrong),
// but the receiver cannot rebuild the op until it holds the author's op
// at seq-1. It is wrapped by a *NeedPrevError.
var ErrNeedPrev = errors.New("protocol: frame leaves out a prev this node does not hold")

// NeedPrevError names the first op of a frame whose prev the receiver
// lacks: Author's op at Seq, whose prev is the op at Seq-1.
type NeedPrevError struct {
	Author crdt.PublicKey
	Seq    uint64
}

func (e *NeedPrevError) Error() string {
	return fmt.Sprintf("%v: %x…'s op at seq %d", ErrNeedPrev, e.Author[:4], e.Seq-1)
}

func (e *NeedPrevError) Unwrap() error { return ErrNeedPrev }

// EncodeGossipFrame is EncodeFrame for a gossip message: every version 2
// op at seq >= 2 that is not chained leaves out its prev, unless the
// frame holds another op of its author at seq-1 earlier than it (a fork
// inside the frame), whose ID the receiver would take. Only
// DecodeFrameWith reads it.
func EncodeGossipFrame(group crdt.ID, ops []crdt.Op) ([]byte, error) {
	return encodeFrame(group, ops, true)
}

// DecodeFrameWith decodes a frame as DecodeFrame does, and also a gossip
// frame (EncodeGossipFrame), taking each prev left out from an op of the
// frame before it or from prevOf. looked[i] reports whether ops[i].Prev
// came from prevOf. It checks the whole frame, then fails with a
// *NeedPrevError (ErrNeedPrev) if prevOf missed.
func DecodeFrameWith(group crdt.ID, b []byte, prevOf PrevLookup) (ops []crdt.Op, looked []bool, err error) {
	ops, _, looked, err = decodeOpFrame(group, b, prevOf)
	if err != nil {
		return nil, nil, fmt.Errorf("frame: %w", err)
	}
	return ops, looked, nil
}

// SplitFrameWith is SplitFrame for gossip frames, as DecodeFrameWith.
func SplitFrameWith(group crdt.ID, b []byte, prevOf PrevLookup) (fulls [][]byte, looked []bool, err error) {
	ops, fulls, looked, err := decodeOpFrame(group, b, prevOf)
	if err != nil {
		return nil, nil, fmt.Errorf("frame: %w", err)
	}
	for i := range fulls {
		fulls[i] = JoinBlob(fulls[i], ops[i].Blob)
	}
	return fulls, looked, nil
}

// authorSeq is a position in an author's log.
type authorSeq struct {
	a   crdt.PublicKey
	seq uint64
}

// gossipPrevs fills the prevs a gossip frame leaves out, as it is
// decoded.
type gossipPrevs struct {
	prevOf  PrevLookup
	inFrame map[authorSeq]crdt.ID // the ops decoded so far
	out     []bool                // which ops left prev out
	looked  []bool                // and took it from prevOf
	missing *NeedPrevError        // the first prevOf missed
}

func newGossipPrevs(n int, prevOf PrevLookup) *gossipPrevs {
	return &gossipPrevs{prevOf: prevOf, inFrame: make(map[authorSeq]crdt.ID, n), out: make([]bool, n), looked: make([]bool, n)}
}

// fill returns the prev of op i, author's op at seq (>= 2): the ID of
// the frame's op at seq-1 before it, else prevOf's. When neither has it,
// it notes the miss and returns zero, so that the rest of the frame is
// still checked.
func (g *gossipPrevs) fill(i int, a crdt.PublicKey, seq uint64) crdt.ID {
	if id, ok := g.inFrame[authorSeq{a, seq - 1}]; ok {
		return id
	}
	if id, ok := g.prevOf(a, seq-1); ok {
		g.looked[i] = true
		return id
	}
	if g.missing == nil {
		g.missing = &NeedPrevError{Author: a, Seq: seq}
	}
	return crdt.ID{}
}

// add records op i, decoded.
func (g *gossipPrevs) add(i int, op *crdt.Op, prevOut bool) {
	g.out[i] = prevOut
	g.inFrame[authorSeq{op.Author, op.Seq}] = op.ID
}

// prevsLeftOut says which ops of a gossip frame leave their prev out
// (appendFrame sets the flag only on those not chained): every version 2
// op at seq >= 2 whose prev the receiver would fill rightly from the
// frame (gossipPrevs.fill), or must take from its log.
func prevsLeftOut(ops []crdt.Op, ids []crdt.ID) []bool {
	out := make([]bool, len(ops))
	inFrame := make(map[authorSeq]crdt.ID, len(ops))
	for i := range ops {
		op := &ops[i]
		if op.Version != 1 && op.Seq >= 2 {
			id, ok := inFrame[authorSeq{op.Author, op.Seq - 1}]
			out[i] = !ok || id == op.Prev
		}
		inFrame[authorSeq{op.Author, op.Seq}] = ids[i]
	}
	return out
}
