package store

import (
	"encoding/binary"
	"strings"

	"github.com/mutual-aid/mutual/crdt"
)

// Keys are binary: one prefix byte, then fixed-width fields, so that
// Badger's sorted order is the order scans need.
//
//	o op                         -> log key of the op (dedup, lookup by ID)
//	l group author seq(8, BE)    -> encoded op: each author's log, for catch-up
//	f group author seq op        -> encoded op: a fork (second op at a seq), kept as evidence
//	b group author seq           -> (empty): op seq+1's Prev is not the op at seq (a fork too)
//	q group post op              -> (empty): the ops of a post, to recompute it
//	p group post                 -> post record
//	x group kind status cat post -> post record: the board index (cat is lower-cased, length-prefixed)
//	m group op                   -> encoded op: membership ops (kinds 1–7), loaded at start
//	k group op                   -> encoded op: parked ops (no longer written; older stores)
//	r group ref                  -> post ID: imported rows, so re-imports create nothing
//	g group                      -> group record (name, how we relate to it)
const (
	pOp     = 'o'
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

func logKey(g crdt.ID, a crdt.PublicKey, seq uint64) []byte {
	return key(pLog, g[:], a[:], seqBytes(seq))
}

// categoryKey is the index form of a category: lower-cased, at most 255 bytes, length-prefixed.
func categoryKey(c string) []byte {
	c = strings.ToLower(c)
	if len(c) > 255 {
		c = c[:255]
	}
	return append([]byte{byte(len(c))}, c...)
}

func indexKey(p *crdt.Post) []byte {
	return key(pIndex, p.Group[:], []byte{byte(p.Kind), byte(p.State())}, categoryKey(p.Category.V), p.ID[:])
}
