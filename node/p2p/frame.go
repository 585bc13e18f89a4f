package p2p

import (
	"encoding/binary"
	"fmt"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// The gossip message of a group's topic is either one op (its encoding,
// with its sealed blob after it: what protocol.DecodeOp reads) or a
// frame of several ops of the group: the ops of one group commit of
// their author, in the order they were written.
//
//	frame  0xc1 (a byte no msgpack value starts with, so that no op is
//	       mistaken for a frame), then a uvarint count (2 to
//	       maxFrameOps), then count times: a uvarint length and that many
//	       bytes of one op (with its blob)
//
// A frame is at most maxFrameBytes. The message ID is the SHA-256 of the
// message, which for a single op is its op ID.
const (
	frameMagic    = 0xc1
	maxFrameOps   = 4096
	maxFrameBytes = 512 << 10
)

// errFrame wraps every reason a frame is malformed.
var errFrame = fmt.Errorf("%w: gossip frame", protocol.ErrMalformed)

// encodeMessages packs raws, ops of group, in order, into as few gossip
// messages as the frame limits allow: a single op alone is sent as
// itself. (The group is for the frame of op version 2, which leaves it
// out of the wire form; this one carries whole ops.)
func encodeMessages(_ crdt.ID, raws [][]byte) [][]byte {
	var out [][]byte
	for len(raws) > 0 {
		n, size := 0, 1+binary.MaxVarintLen32
		for n < len(raws) && n < maxFrameOps {
			add := binary.MaxVarintLen32 + len(raws[n])
			if n > 0 && size+add > maxFrameBytes {
				break
			}
			size += add
			n++
		}
		if n == 1 {
			out = append(out, raws[0])
		} else {
			out = append(out, encodeFrame(raws[:n], size))
		}
		raws = raws[n:]
	}
	return out
}

func encodeFrame(raws [][]byte, size int) []byte {
	b := make([]byte, 0, size)
	b = append(b, frameMagic)
	b = binary.AppendUvarint(b, uint64(len(raws)))
	for _, raw := range raws {
		b = binary.AppendUvarint(b, uint64(len(raw)))
		b = append(b, raw...)
	}
	return b
}

// decodeMessage returns the ops of a gossip message on group's topic:
// the message itself if it is not a frame, else the ops of the frame,
// which alias data. It checks the frame's limits and its every length
// against the bytes that remain before it allocates anything; the ops
// themselves are checked by their decoder.
func decodeMessage(_ crdt.ID, data []byte) ([][]byte, error) {
	if len(data) == 0 || data[0] != frameMagic {
		return [][]byte{data}, nil
	}
	if len(data) > maxFrameBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", errFrame, len(data), maxFrameBytes)
	}
	rest := data[1:]
	count, k := binary.Uvarint(rest)
	if k <= 0 || k != uvarintLen(count) {
		return nil, fmt.Errorf("%w: no count", errFrame)
	}
	rest = rest[k:]
	// An op is more than 64 bytes (a signature alone is 64): a count the
	// bytes cannot hold is refused before the slice is made.
	if count < 2 || count > maxFrameOps || count > uint64(len(rest)/65) {
		return nil, fmt.Errorf("%w: %d ops in %d bytes", errFrame, count, len(data))
	}
	out := make([][]byte, 0, count)
	for i := uint64(0); i < count; i++ {
		n, k := binary.Uvarint(rest)
		if k <= 0 || k != uvarintLen(n) || n == 0 || n > uint64(len(rest)-k) {
			return nil, fmt.Errorf("%w: op %d: length beyond the frame", errFrame, i)
		}
		rest = rest[k:]
		out = append(out, rest[:n:n])
		rest = rest[n:]
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("%w: %d bytes after the last op", errFrame, len(rest))
	}
	return out, nil
}

// uvarintLen is the length of v's shortest uvarint: a longer one would
// give the same frame a second encoding.
func uvarintLen(v uint64) int {
	var b [binary.MaxVarintLen64]byte
	return len(binary.AppendUvarint(b[:0], v))
}
