package p2p

import (
	"errors"
	"fmt"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// A node sends every gossip message on a group's topic as a frame of
// the group's ops (protocol.EncodeFrame, docs/protocol.md 2.4 and
// 12.4): the ops of one group commit of their author, in the order they
// were written, or a single op as a frame of one. The frame leaves the
// group out (the topic names it), writes an author once for a run of its
// ops and leaves out the seq and prev a run gives.
//
// Decided once, not per message: a single op goes as a frame of one,
// never as itself. A version 2 op in a frame of one is 61 bytes smaller
// than alone (the 32 bytes of its group and the 32 of its prev out, a
// magic, a count and a flags byte in); only a version 1 op, which no node writes any more, would be
// smaller alone (by 5 bytes), and a node publishes only the ops it has
// just written.
//
// A receiver also reads a message that is one op in its full form, its
// blob after it (what a node of topic version 2 sent): the first byte
// tells them apart (frameMagic starts no op, docs/protocol.md 2). That
// keeps an op of a version no frame of today can carry (a later
// version's, during a rolling upgrade) an ignored op rather than a
// malformed frame whose sender is blocked.
//
// The message ID is the SHA-256 of the message (messageID), the same on
// every node; it is not the op ID of any op in it.
//
// Topic version 4 (protocol.EncodeGossipFrame): each op that is not
// chained leaves out its prev, which the receiver takes from the ops it
// holds (prev.go); a frame of one is a lone post's op in 115 bytes beyond
// its text, 32 fewer.
const frameMagic = 0xf2

// frameOpSlack is how many bytes an op may take in a frame beyond its
// full form with its blob (protocol.JoinBlob): a flags byte and a
// version 1 op's length (3 bytes at most, MaxOpBytes being 8 KiB), or a
// blob's uvarint length for its msgpack bin header (never longer). A
// version 2 op takes fewer: its group is left out.
const frameOpSlack = 1 + 3

// frameHead is a frame's magic and the longest count (MaxFrameOps).
const frameHead = 1 + 3

// encodeMessages packs raws, ops of group each with its blob after it,
// in order, into as few frames as protocol.MaxFrameOps and
// MaxFrameBytes allow. A frame leaves out the prevs a receiver can fill
// (protocol.EncodeGossipFrame) unless one names an op that went out less
// than prevSettle ago, in this call or, as sent says, before (prev.go).
func encodeMessages(group crdt.ID, raws [][]byte, sent *sentOps) ([][]byte, error) {
	if sent == nil {
		sent = &sentOps{}
	}
	now := time.Now()
	ops := make([]crdt.Op, len(raws))
	for i, raw := range raws {
		var err error
		if ops[i], err = protocol.DecodeStoredOp(raw); err != nil {
			return nil, fmt.Errorf("op %d: %w", i, err)
		}
	}
	var out [][]byte
	for len(ops) > 0 {
		n, size := 0, frameHead
		for n < len(ops) && n < protocol.MaxFrameOps {
			add := len(raws[n]) + frameOpSlack
			if n > 0 && size+add > protocol.MaxFrameBytes {
				break
			}
			size += add
			n++
		}
		encode := protocol.EncodeGossipFrame
		if sent.racing(ops[:n], now) {
			encode = protocol.EncodeFrame
		}
		f, err := encode(group, ops[:n])
		if err != nil {
			return nil, err
		}
		sent.note(ops[:n], now)
		out = append(out, f)
		ops, raws = ops[n:], raws[n:]
	}
	return out, nil
}

// decodeMessage returns the ops of a gossip message on group's topic,
// each in its full form with its blob after it (protocol.SplitFrameWith),
// and which of them took their prev from prevOf: the ops of a frame, or
// the message itself if it is not a frame (one op, which its decoder
// checks). A frame is checked whole, limits first, before anything is
// allocated for its ops; an error wraps protocol.ErrMalformed, or
// ErrNeedPrev for a prev prevOf could not fill.
//
// A frame holding an op of a kind this node does not know (a member a
// version ahead, during a rolling upgrade) is split leniently instead
// (protocol.SplitFrameLenientWith), without decoding bodies: its ops come
// back in their full forms, the unknown one included, for the validator
// to judge one by one (decodeForTopic says ErrUnsupported of the unknown
// one, which is neither stored nor punished, and the frame is not
// forwarded). Its other ops are stored at once rather than left to wait
// for catch-up.
func decodeMessage(group crdt.ID, data []byte, prevOf protocol.PrevLookup) (raws [][]byte, looked []bool, err error) {
	if len(data) == 0 || data[0] != frameMagic {
		return [][]byte{data}, []bool{false}, nil
	}
	raws, looked, err = protocol.SplitFrameWith(group, data, prevOf)
	if errors.Is(err, protocol.ErrUnsupported) {
		return protocol.SplitFrameLenientWith(group, data, prevOf)
	}
	return raws, looked, err
}
