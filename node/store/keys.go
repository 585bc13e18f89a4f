package store

import (
	"encoding/binary"
	"strings"

	"github.com/mutual-aid/mutual/crdt"
)

// Keys are binary: one prefix byte, then fields, so that Badger's sorted
// order is the order scans need. A group (G) and an author (A) are named
// in keys by a short local number (a uvarint, usually one byte; see
// numbers.go), not by their 32 bytes: a key is written twice (value log
// and table), and the 300-byte post's keys were a quarter of its bytes.
// A uvarint is prefix-free, so a prefix scan of one group or author
// never strays into another's keys. seq is 8 bytes big-endian, so an
// author's log is in seq order.
//
//	l G A seq                  -> encoded op: each author's log, for catch-up
//	f G A seq op               -> encoded op: a fork (second op at a seq), kept as evidence
//	b G A seq                  -> (empty): op seq+1's Prev is not the op at seq (a fork too)
//	q G post A seq             -> (empty): an op on a post other than its create, to recompute it
//	p G post                   -> post entry: where its create op is in the log, and where its
//	                              record is (the board index key, or the record itself for a
//	                              post not on the board) (postentry.go)
//	x G kind status cat post   -> post record: the board index (cat is lower-cased, length-prefixed)
//	m G op                     -> encoded op: membership ops (kinds 1–7), loaded at start
//	k G op                     -> encoded op: parked ops (never written by this version)
//	r G ref                    -> post ID: imported rows, so re-imports create nothing
//	g group                    -> group record (name, how we relate to it)
//	n kind id                  -> local number of a group (kind 'g') or an author ('a')
//	v                          -> the store's format version (storeVersion)
//
// An op is found by its log position (author, seq), never by its ID:
// who asks for an op by ID (dedup) has the op, and so its position.
const (
	pLog    = 'l'
	pFork   = 'f'
	pBreak  = 'b'
	pPostOp = 'q'
	pPost   = 'p'
	pIndex  = 'x'
	pMember = 'm'
	pPark   = 'k'
	pRef    = 'r'
	pGroup  = 'g'
	pNumber = 'n'
	pFormat = 'v'
)

func key(prefix byte, parts ...[]byte) []byte {
	n := 1
	for _, p := range parts {
		n += len(p)
	}
	k := make([]byte, 0, n)
	k = append(k, prefix)
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

func seqBytes(seq uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq)
	return b[:]
}

// num is the key form of a local number.
func num(n uint64) []byte { return binary.AppendUvarint(nil, n) }

// readNum reads a local number from the front of b; ok is false if b
// does not start with one.
func readNum(b []byte) (n uint64, rest []byte, ok bool) {
	n, w := binary.Uvarint(b)
	if w <= 0 {
		return 0, b, false
	}
	return n, b[w:], true
}

// logKey is the key of the op an author (number a) holds at seq in group
// (number g).
func logKey(g, a, seq uint64) []byte {
	return key(pLog, num(g), num(a), seqBytes(seq))
}

// categoryKey is the index form of a category: lower-cased, at most 255 bytes, length-prefixed.
func categoryKey(c string) []byte {
	c = strings.ToLower(c)
	if len(c) > 255 {
		c = c[:255]
	}
	return append([]byte{byte(len(c))}, c...)
}

// indexSpot is where a post's record sits in the board index: the part
// of its index key between the group and the post ID.
func indexSpot(p *crdt.Post) []byte {
	return append([]byte{byte(p.Kind), byte(p.State())}, categoryKey(p.Category.V)...)
}

func indexKey(g uint64, spot []byte, post crdt.ID) []byte {
	return key(pIndex, num(g), spot, post[:])
}

func postKeyOf(g uint64, post crdt.ID) []byte { return key(pPost, num(g), post[:]) }
