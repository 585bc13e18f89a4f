package protocol

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/mutual-aid/mutual/crdt"
)

// Proof of holding (HoldsProtocol, docs/protocol.md 12.8): before a
// node that follows a group takes a node found under the group's
// rendezvous key for one that holds the group (and offers it the group,
// naming its ID), it asks that node to prove it knows the group ID.
// Anyone may write a provider record under the key; only those who know
// the ID can answer. One ask and one answer per stream, each framed like
// a catch-up frame (uvarint length, then the body):
//
//	HoldsAsk    [1, digest bin32, nonce bin32]
//	HoldsAnswer [1, proof bin32]   or   [1, nil]   ("no")
//
// digest is the group's RendezvousDigest, nonce 32 random bytes fresh
// for the ask, proof HoldsProof(group, nonce, answerer's key, asker's
// key): the keys are the two nodes' ed25519 public keys (their peer IDs
// follow from them), as each sees the other on the connection. Binding
// both keys stops a node from passing on a proof a real holder made for
// another asker, or from relaying the asker's question to a holder.

// HoldsVersion is the first element of both messages.
const HoldsVersion = 1

// MaxHolds bounds a HoldsAsk or HoldsAnswer body (both are under 80
// bytes), checked before it is read.
const MaxHolds = 128

// holdsDomain separates holding proofs from every other MAC or hash
// keyed by a group ID.
const holdsDomain = "mutual/holds/1\n"

// HoldsAsk asks a node whether it holds the group whose rendezvous
// digest is Digest.
type HoldsAsk struct {
	Digest [32]byte
	Nonce  [32]byte
}

// HoldsAnswer answers a HoldsAsk: Holds with its Proof, or not (Proof
// zero).
type HoldsAnswer struct {
	Holds bool
	Proof [32]byte
}

// HoldsProof returns HMAC-SHA256 with the group ID (32 bytes) as key
// over "mutual/holds/1\n" ‖ nonce ‖ answerer ‖ asker (15 + 3×32 bytes).
func HoldsProof(group crdt.ID, nonce [32]byte, answerer, asker crdt.PublicKey) [32]byte {
	m := hmac.New(sha256.New, group[:])
	m.Write([]byte(holdsDomain))
	m.Write(nonce[:])
	m.Write(answerer[:])
	m.Write(asker[:])
	var out [32]byte
	m.Sum(out[:0])
	return out
}

// VerifyHolds reports whether proof is the one the node with key
// answerer makes for asker's nonce about group, in constant time.
func VerifyHolds(group crdt.ID, nonce [32]byte, answerer, asker crdt.PublicKey, proof [32]byte) bool {
	want := HoldsProof(group, nonce, answerer, asker)
	return hmac.Equal(want[:], proof[:])
}

// AppendHoldsAsk appends a HoldsAsk, length prefix included, to dst.
func AppendHoldsAsk(dst []byte, a HoldsAsk) []byte {
	w := newWriter()
	w.array(3)
	w.uint(HoldsVersion)
	w.bin(a.Digest[:])
	w.bin(a.Nonce[:])
	return appendFramed(dst, w.bytes())
}

// AppendHoldsAnswer appends a HoldsAnswer, length prefix included, to
// dst: "no" is written as nil, whatever a.Proof holds.
func AppendHoldsAnswer(dst []byte, a HoldsAnswer) []byte {
	w := newWriter()
	w.array(2)
	w.uint(HoldsVersion)
	if a.Holds {
		w.bin(a.Proof[:])
	} else {
		_ = w.e.EncodeNil()
	}
	return appendFramed(dst, w.bytes())
}

func appendFramed(dst, body []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(body)))
	return append(dst, body...)
}

// ReadHoldsAsk reads one HoldsAsk; its length is checked against
// MaxHolds before anything is allocated.
func ReadHoldsAsk(r FrameReader) (HoldsAsk, error) {
	b, err := readHolds(r)
	if err != nil {
		return HoldsAsk{}, err
	}
	return DecodeHoldsAsk(b)
}

// ReadHoldsAnswer reads one HoldsAnswer, as ReadHoldsAsk.
func ReadHoldsAnswer(r FrameReader) (HoldsAnswer, error) {
	b, err := readHolds(r)
	if err != nil {
		return HoldsAnswer{}, err
	}
	return DecodeHoldsAnswer(b)
}

func readHolds(r FrameReader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, fmt.Errorf("holds: length: %w", err)
	}
	if n == 0 || n > MaxHolds {
		return nil, fmt.Errorf("holds: %w: %d bytes, at most %d", ErrTooLarge, n, MaxHolds)
	}
	b := make([]byte, n)
	if _, err := readFull(r, b); err != nil {
		return nil, fmt.Errorf("holds: %w", err)
	}
	return b, nil
}

// DecodeHoldsAsk decodes a HoldsAsk body (without its length prefix),
// after a pre-scan of its msgpack tokens. Another version is
// ErrUnsupported.
func DecodeHoldsAsk(b []byte) (HoldsAsk, error) {
	var a HoldsAsk
	if err := checkFrame(b, MaxHolds); err != nil {
		return a, fmt.Errorf("holds: %w", err)
	}
	r := newReader(b)
	r.array(3)
	if v := r.uint(math.MaxUint32); r.err == nil && v != HoldsVersion {
		return a, fmt.Errorf("holds: %w: version %d", ErrUnsupported, v)
	}
	r.fixed(a.Digest[:])
	r.fixed(a.Nonce[:])
	if err := r.end(); err != nil {
		return HoldsAsk{}, fmt.Errorf("holds: %w", err)
	}
	if !canonical(AppendHoldsAsk(nil, a), b) {
		return HoldsAsk{}, fmt.Errorf("holds: %w", ErrNotCanonical)
	}
	return a, nil
}

// DecodeHoldsAnswer decodes a HoldsAnswer body (without its length
// prefix), as DecodeHoldsAsk.
func DecodeHoldsAnswer(b []byte) (HoldsAnswer, error) {
	var a HoldsAnswer
	if err := checkFrame(b, MaxHolds); err != nil {
		return a, fmt.Errorf("holds: %w", err)
	}
	r := newReader(b)
	r.array(2)
	if v := r.uint(math.MaxUint32); r.err == nil && v != HoldsVersion {
		return a, fmt.Errorf("holds: %w: version %d", ErrUnsupported, v)
	}
	if r.err == nil {
		c, err := r.d.PeekCode()
		switch {
		case err != nil:
			r.fail(err)
		case c == 0xc0:
			_ = r.d.Skip()
		default:
			r.fixed(a.Proof[:])
			a.Holds = true
		}
	}
	if err := r.end(); err != nil {
		return HoldsAnswer{}, fmt.Errorf("holds: %w", err)
	}
	if !canonical(AppendHoldsAnswer(nil, a), b) {
		return HoldsAnswer{}, fmt.Errorf("holds: %w", ErrNotCanonical)
	}
	return a, nil
}

// canonical reports whether framed (a message with its one-byte length
// prefix) holds body: a message has one encoding only.
func canonical(framed, body []byte) bool {
	return len(framed) == len(body)+1 && string(framed[1:]) == string(body)
}
