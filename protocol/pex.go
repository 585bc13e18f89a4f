package protocol

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/mutual-aid/mutual/crdt"
)

// Peer exchange (PexProtocol, docs/protocol.md 12.6): a node tells a
// peer that may read some of its groups where other nodes that may read
// them are, so that the members of a group find each other on a routed
// mesh where mDNS does not cross subnets. One message per stream, framed
// like a catch-up frame (uvarint length, then the body):
//
//	Pex [1, [[key bin32, [addr bin...], [group bin32...]]...]]
//
// key is the peer's ed25519 public key (its peer ID follows from it),
// addr a multiaddr in its binary form without the /p2p suffix, group a
// group that both that peer and the receiver may read in the sender's
// view.

// PexVersion is the first element of a Pex message.
const PexVersion = 1

// Peer exchange limits. DecodePex enforces them; AppendPex never
// exceeds them.
const (
	MaxPex          = 64 << 10 // a Pex body, checked before it is read
	MaxPexPeers     = 64       // peers in one message
	MaxPexAddrs     = 8        // addresses of one peer
	MaxPexAddrBytes = 256      // one binary multiaddr
	MaxPexGroups    = 64       // groups named for one peer
)

// PexPeer is one peer in a Pex message.
type PexPeer struct {
	Key    crdt.PublicKey
	Addrs  [][]byte // binary multiaddrs, unchecked: the receiver parses them
	Groups []crdt.ID
}

// AppendPex appends a Pex message, length prefix included, to dst. It
// fails when peers break a limit.
func AppendPex(dst []byte, peers []PexPeer) ([]byte, error) {
	if len(peers) > MaxPexPeers {
		return dst, fmt.Errorf("pex: %w: %d peers, at most %d", ErrTooLarge, len(peers), MaxPexPeers)
	}
	w := newWriter()
	w.array(2)
	w.uint(PexVersion)
	w.array(len(peers))
	for _, p := range peers {
		if len(p.Addrs) > MaxPexAddrs || len(p.Groups) > MaxPexGroups {
			return dst, fmt.Errorf("pex: %w: %d addresses and %d groups, at most %d and %d", ErrTooLarge, len(p.Addrs), len(p.Groups), MaxPexAddrs, MaxPexGroups)
		}
		w.array(3)
		w.bin(p.Key[:])
		w.array(len(p.Addrs))
		for _, a := range p.Addrs {
			if len(a) == 0 || len(a) > MaxPexAddrBytes {
				return dst, fmt.Errorf("pex: %w: address of %d bytes", ErrTooLarge, len(a))
			}
			w.bin(a)
		}
		w.array(len(p.Groups))
		for _, g := range p.Groups {
			w.bin(g[:])
		}
	}
	body := w.bytes()
	if len(body) > MaxPex {
		return dst, fmt.Errorf("pex: %w: %d bytes, at most %d", ErrTooLarge, len(body), MaxPex)
	}
	dst = binary.AppendUvarint(dst, uint64(len(body)))
	return append(dst, body...), nil
}

// PexSize is the encoded size of one peer in a Pex message, at most: a
// sender adds peers while the message stays under MaxPex.
func PexSize(p PexPeer) int {
	n := 1 + 2 + 32 + 3 + 3
	for _, a := range p.Addrs {
		n += 3 + len(a)
	}
	return n + len(p.Groups)*(2+32)
}

// ReadPex reads one Pex message: its length is checked against MaxPex
// before anything is allocated.
func ReadPex(r FrameReader) ([]PexPeer, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, fmt.Errorf("pex: length: %w", err)
	}
	if n == 0 || n > MaxPex {
		return nil, fmt.Errorf("pex: %w: %d bytes, at most %d", ErrTooLarge, n, MaxPex)
	}
	b := make([]byte, n)
	if _, err := readFull(r, b); err != nil {
		return nil, fmt.Errorf("pex: %w", err)
	}
	return DecodePex(b)
}

func readFull(r FrameReader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			if n == len(b) {
				return n, nil
			}
			return n, err
		}
	}
	return n, nil
}

// DecodePex decodes a Pex body (without its length prefix), after a
// pre-scan of its msgpack tokens, into fixed fields only. A message of
// another version is ErrUnsupported.
func DecodePex(b []byte) ([]PexPeer, error) {
	if err := checkFrame(b, MaxPex); err != nil {
		return nil, fmt.Errorf("pex: %w", err)
	}
	r := newReader(b)
	r.array(2)
	if v := r.uint(math.MaxUint32); r.err == nil && v != PexVersion {
		return nil, fmt.Errorf("pex: %w: version %d", ErrUnsupported, v)
	}
	n := r.arrayMax(MaxPexPeers)
	var out []PexPeer
	for i := 0; i < n && r.err == nil; i++ {
		var p PexPeer
		r.array(3)
		r.fixed(p.Key[:])
		k := r.arrayMax(MaxPexAddrs)
		for j := 0; j < k && r.err == nil; j++ {
			p.Addrs = append(p.Addrs, r.binMax(MaxPexAddrBytes))
		}
		k = r.arrayMax(MaxPexGroups)
		for j := 0; j < k && r.err == nil; j++ {
			var g crdt.ID
			r.fixed(g[:])
			p.Groups = append(p.Groups, g)
		}
		out = append(out, p)
	}
	if err := r.end(); err != nil {
		return nil, fmt.Errorf("pex: %w", err)
	}
	return out, nil
}

// binMax reads a bin value of 1 to max bytes.
func (r *reader) binMax(max int) []byte {
	if r.err != nil {
		return nil
	}
	b, err := r.d.DecodeBytes()
	if err != nil {
		r.fail(err)
		return nil
	}
	if len(b) == 0 || len(b) > max {
		r.fail(fmt.Errorf("bin of %d bytes, 1 to %d", len(b), max))
		return nil
	}
	return b
}
