package store

import (
	"encoding/binary"
	"errors"
)

// A post entry (p G post) is small, so that it lives in Badger's tables
// next to its key, and a post's record is stored once:
//
//	flags, [author number, seq] if flagCreate, [spot length, spot] if
//	flagBoard, record if flagRecord (to the end)
//
// all numbers uvarints. The create op's position lets PostOps find it
// without an entry of its own (a post's other ops each have a q entry).
// A created post's record is in the board index, at the spot named; a
// post not on the board (ops on it came before its create, or its create
// no longer counts) keeps its record here.
const (
	flagCreate = 1 << iota
	flagBoard
	flagRecord
)

type postEntry struct {
	flags  byte
	author uint64 // the create op's author number and seq (flagCreate)
	seq    uint64
	spot   []byte // where the record is in the board index (flagBoard)
	record []byte // the record (flagRecord)
}

var errBadEntry = errors.New("malformed post entry")

func (e *postEntry) encode() []byte {
	b := []byte{e.flags}
	if e.flags&flagCreate != 0 {
		b = binary.AppendUvarint(b, e.author)
		b = binary.AppendUvarint(b, e.seq)
	}
	if e.flags&flagBoard != 0 {
		b = binary.AppendUvarint(b, uint64(len(e.spot)))
		b = append(b, e.spot...)
	}
	if e.flags&flagRecord != 0 {
		b = append(b, e.record...)
	}
	return b
}

func decodeEntry(b []byte) (postEntry, error) {
	var e postEntry
	if len(b) == 0 || b[0]&^(flagCreate|flagBoard|flagRecord) != 0 || b[0]&flagBoard != 0 && b[0]&flagRecord != 0 {
		return e, errBadEntry
	}
	e.flags, b = b[0], b[1:]
	var ok bool
	if e.flags&flagCreate != 0 {
		if e.author, b, ok = readNum(b); !ok {
			return e, errBadEntry
		}
		if e.seq, b, ok = readNum(b); !ok {
			return e, errBadEntry
		}
	}
	if e.flags&flagBoard != 0 {
		var n uint64
		if n, b, ok = readNum(b); !ok || n > uint64(len(b)) {
			return e, errBadEntry
		}
		e.spot, b = b[:n], b[n:]
	}
	if e.flags&flagRecord != 0 {
		e.record, b = b, nil
	}
	if len(b) != 0 {
		return e, errBadEntry
	}
	return e, nil
}
