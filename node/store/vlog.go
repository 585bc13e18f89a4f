package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Badger v1 writes every entry to its value log first: each record is
//
//	header (18 bytes: klen u32, vlen u32, expiresAt u64, meta u8, userMeta u8)
//	key (klen bytes, ending in an 8-byte version)  value (vlen bytes)
//	CRC-32C (4 bytes, big-endian) of header, key and value
//
// and the records of one transaction carry bitTxn, followed by a record
// with bitFinTxn whose value is the transaction's version in decimal. So
// the value logs alone hold every op the store ever accepted; this file
// reads them without Badger, to check them byte for byte and to salvage
// ops from a damaged store. Badger itself never checks these CRCs when
// it reads a value, and never reads old log files at start.

const (
	vlogHeaderSize = 18
	vlogMaxKey     = 1 << 16  // Badger's own limit on a key
	vlogMaxValue   = 64 << 20 // far above anything this store writes
	bitDelete      = 1 << 0
	bitTxn         = 1 << 6
	bitFinTxn      = 1 << 7
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// vlogEntry is one record of a value log. Key and Value are only valid
// during the callback that receives them.
type vlogEntry struct {
	Offset  int64
	Len     int64
	Key     []byte // without Badger's version suffix
	Version uint64
	Value   []byte
	Meta    byte
}

// badRegion is a stretch of a value log whose bytes are no valid record.
type badRegion struct{ Start, End int64 }

// vlogScan is what one read of a value log found.
type vlogScan struct {
	Path    string
	Size    int64
	Entries int
	Bad     []badRegion
	// ValidEnd is the end of the last complete transaction in the run of
	// valid records from the start of the file: where Badger's replay
	// would stop.
	ValidEnd int64
	// tail reports whether everything after ValidEnd is what an
	// unfinished write leaves: records of one transaction without its
	// closing record, then at most one bad region running to the end.
	tail bool
}

// Damaged reports whether any byte of the file is not a valid record.
func (s *vlogScan) Damaged() bool { return len(s.Bad) > 0 }

// tornTailLimit is the most an unfinished write can leave at the end of
// the last value log: more than any single commit of this store.
const tornTailLimit = 8 << 20

// TornTail reports whether the file ends in an unfinished write and
// nothing else is wrong with it. Such a tail was never acknowledged: a
// commit returns only after all of its records, including the closing
// one, are on disk.
func (s *vlogScan) TornTail() bool {
	return s.ValidEnd < s.Size && s.Size-s.ValidEnd <= tornTailLimit && s.tail
}

// scanVlog reads every record of a value log, calling fn (if not nil)
// for each valid one. After a bad record it looks for the next valid one
// byte by byte, so that one damaged stretch does not hide the records
// after it.
func scanVlog(path string, fn func(*vlogEntry) error) (*vlogScan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	s := &vlogScan{Path: path, Size: fi.Size(), tail: true}
	w := &window{r: f, size: s.Size}
	var (
		off      int64
		badStart int64 = -1
		prefix         = true // still in the run of valid records from the start
		inTxn    bool
		txnVer   uint64
		e        vlogEntry
	)
	for off < s.Size {
		n, ok := w.entry(off, &e)
		if !ok {
			if badStart < 0 {
				badStart = off
			}
			prefix = false
			off++
			continue
		}
		if badStart >= 0 {
			// Valid records after bad bytes: more than an unfinished write.
			s.Bad = append(s.Bad, badRegion{badStart, off})
			badStart, s.tail = -1, false
		}
		s.Entries++
		if prefix {
			switch {
			case e.Meta&bitFinTxn != 0:
				v, perr := strconv.ParseUint(string(e.Value), 10, 64)
				if perr != nil || !inTxn || v != txnVer {
					prefix, s.tail = false, false
					break
				}
				inTxn = false
				s.ValidEnd = off + n
			case e.Meta&bitTxn != 0:
				if inTxn && e.Version != txnVer {
					// A transaction began before the last one closed:
					// Badger's replay stops at the unclosed one.
					prefix, s.tail = false, false
					break
				}
				inTxn, txnVer = true, e.Version
			default:
				if inTxn {
					prefix, s.tail = false, false
					break
				}
				s.ValidEnd = off + n
			}
		}
		if fn != nil {
			if err := fn(&e); err != nil {
				return s, err
			}
		}
		off += n
	}
	if badStart >= 0 {
		s.Bad = append(s.Bad, badRegion{badStart, s.Size})
	}
	return s, nil
}

// window reads a file through a buffer of a few MB, so that looking for
// the next valid record after damage costs no system call per byte.
type window struct {
	r     io.ReaderAt
	size  int64
	buf   []byte
	start int64
}

const windowSize = 4 << 20

// bytes returns n bytes at off, or false if the file ends first.
func (w *window) bytes(off int64, n int) ([]byte, bool) {
	if off < 0 || n < 0 || off+int64(n) > w.size {
		return nil, false
	}
	if off >= w.start && off+int64(n) <= w.start+int64(len(w.buf)) {
		return w.buf[off-w.start : off-w.start+int64(n)], true
	}
	size := max(n, windowSize)
	if rest := w.size - off; int64(size) > rest {
		size = int(rest)
	}
	if cap(w.buf) < size {
		w.buf = make([]byte, size)
	}
	w.buf = w.buf[:size]
	if _, err := w.r.ReadAt(w.buf, off); err != nil && !errors.Is(err, io.EOF) {
		w.buf = w.buf[:0]
		return nil, false
	}
	w.start = off
	return w.buf[:n], true
}

// entry parses the record at off into e and returns its length, or false
// if the bytes there are no valid record.
func (w *window) entry(off int64, e *vlogEntry) (int64, bool) {
	h, ok := w.bytes(off, vlogHeaderSize)
	if !ok {
		return 0, false
	}
	klen := binary.BigEndian.Uint32(h[0:4])
	vlen := binary.BigEndian.Uint32(h[4:8])
	if klen < 8 || klen > vlogMaxKey || vlen > vlogMaxValue {
		return 0, false
	}
	n := vlogHeaderSize + int(klen) + int(vlen) + 4
	rec, ok := w.bytes(off, n)
	if !ok {
		return 0, false
	}
	body := rec[:n-4]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(rec[n-4:]) {
		return 0, false
	}
	key := body[vlogHeaderSize : vlogHeaderSize+int(klen)]
	*e = vlogEntry{
		Offset:  off,
		Len:     int64(n),
		Key:     key[:len(key)-8],
		Version: ^binary.BigEndian.Uint64(key[len(key)-8:]), // Badger stores MaxUint64 - ts
		Value:   body[vlogHeaderSize+int(klen):],
		Meta:    body[16],
	}
	return int64(n), true
}

// vlogFiles lists a store's value logs in order.
func vlogFiles(dir string) ([]string, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.vlog"))
	if err != nil {
		return nil, err
	}
	sort.Slice(names, func(i, j int) bool { return vlogID(names[i]) < vlogID(names[j]) })
	return names, nil
}

func vlogID(path string) uint64 {
	id, _ := strconv.ParseUint(strings.TrimSuffix(filepath.Base(path), ".vlog"), 10, 32)
	return id
}

func (r badRegion) String() string {
	return fmt.Sprintf("bytes %d–%d", r.Start, r.End)
}
