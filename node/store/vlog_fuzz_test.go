package store

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// record encodes one value-log record as Badger v1 writes it.
func record(key []byte, version uint64, value []byte, meta byte) []byte {
	k := binary.BigEndian.AppendUint64(append([]byte{}, key...), ^version)
	h := make([]byte, vlogHeaderSize)
	binary.BigEndian.PutUint32(h[0:4], uint32(len(k)))
	binary.BigEndian.PutUint32(h[4:8], uint32(len(value)))
	h[16] = meta
	b := append(append(h, k...), value...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func txn(version uint64, kv ...[]byte) []byte {
	var out []byte
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, record(kv[i], version, kv[i+1], bitTxn)...)
	}
	return append(out, record([]byte("!badger!txn"), version, []byte(strconv.FormatUint(version, 10)), bitFinTxn)...)
}

// The value-log reader reads files a damaged disk or a hostile hand may
// have written anything into: whatever the bytes, it never panics, never
// reports records outside the file, and its regions are ordered and
// inside the file.
func FuzzScanVlog(f *testing.F) {
	good := append(txn(1, []byte("lkey1"), []byte("an op")), txn(2, []byte("lkey2"), []byte("another op"))...)
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(append(append([]byte{}, good...), make([]byte, 100)...))
	f.Add([]byte{})
	f.Add(make([]byte, 18))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<20 {
			return
		}
		path := filepath.Join(t.TempDir(), "000000.vlog")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := scanVlog(path, func(e *vlogEntry) error {
			if e.Offset < 0 || e.Offset+e.Len > int64(len(b)) {
				t.Fatalf("record at %d+%d outside a %d-byte file", e.Offset, e.Len, len(b))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		last := int64(0)
		for _, r := range s.Bad {
			if r.Start < last || r.End <= r.Start || r.End > int64(len(b)) {
				t.Fatalf("bad regions out of order or outside the file: %v", s.Bad)
			}
			last = r.End
		}
		if s.ValidEnd < 0 || s.ValidEnd > int64(len(b)) {
			t.Fatalf("ValidEnd %d outside a %d-byte file", s.ValidEnd, len(b))
		}
		if s.TornTail() && s.ValidEnd == int64(len(b)) {
			t.Fatal("a torn tail of no bytes")
		}
	})
}

// The reader's verdicts on hand-made files: a whole log, an unfinished
// last transaction, and damage with valid records after it.
func TestScanVlogVerdicts(t *testing.T) {
	a := txn(1, []byte("k1"), []byte("v1"), []byte("k2"), []byte("v2"))
	b := txn(2, []byte("k3"), []byte("v3"))
	whole := append(append([]byte{}, a...), b...)
	flipped := append([]byte{}, whole...)
	flipped[len(a)/2] ^= 0xff
	for _, c := range []struct {
		name              string
		bytes             []byte
		entries           int
		validEnd          int
		damaged, tornTail bool
	}{
		{"whole", whole, 5, len(whole), false, false},
		{"last transaction without its closing record", whole[:len(whole)-len(record([]byte("!badger!txn"), 2, []byte("2"), bitFinTxn))], 4, len(a), false, true},
		{"last transaction cut in a record", whole[:len(whole)-3], 4, len(a), true, true},
		{"zeros after the last transaction", append(append([]byte{}, whole...), make([]byte, 64)...), 5, len(whole), true, true},
		{"a flipped byte before valid records", flipped, 4, 0, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "000000.vlog")
			os.WriteFile(path, c.bytes, 0o600)
			s, err := scanVlog(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if s.Entries != c.entries || s.ValidEnd != int64(c.validEnd) || s.Damaged() != c.damaged || s.TornTail() != c.tornTail {
				t.Fatalf("entries %d validEnd %d damaged %v torn %v; want %d %d %v %v (bad %v)",
					s.Entries, s.ValidEnd, s.Damaged(), s.TornTail(), c.entries, c.validEnd, c.damaged, c.tornTail, s.Bad)
			}
		})
	}
}
