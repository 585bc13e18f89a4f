package store

// The vault: sealed private blobs kept outside Badger, so that erasing one
// really removes its bytes from the disk. Badger's value log and tables
// keep a deleted value until a compaction that may never come; the vault
// is one file this package writes itself, and overwrites in place.
//
// An op that carries a blob holds only SHA-256(blob) in its signed bytes,
// and only the op goes to Badger. The order is: Vault.Put returns (the
// blobs are fsynced), then the op may be committed to Badger; so an op in
// Badger always has its blob, unless the blob was erased.
//
// # File format (version 1)
//
// All integers are big-endian; CRCs are CRC-32C (Castagnoli).
//
//	header   16 bytes: "mutual vault v1\n"
//	records  one after the other, to the end of the file:
//	  op ID       32 bytes
//	  length       4 bytes: n, the data's length, at most MaxBlobBytes
//	  header CRC   4 bytes: of the op ID and the length
//	  state        1 byte:  'L' live, or 'E' erased
//	  data         n bytes: the blob; all zeros when erased
//	  CRC          4 bytes: of everything before it in the record
//
// A record is 45+n bytes. The header CRC makes a record's length
// trustworthy on its own: erasing rewrites state, data and CRC in place
// (never the op ID or the length), so a write torn by a power cut leaves
// a record whose extent is still known.
//
// Erasing an op appends an erased record of length 0 for it (a
// tombstone), fsyncs, then rewrites the op's record in place as erased
// (state 'E', zeros, new CRC) and fsyncs again. The tombstone is what
// makes an erasure durable and lets the next open recognise a record
// whose in-place rewrite was torn: a record whose CRC fails but whose op
// ID has a valid tombstone later in the file is an unfinished erasure,
// and opening finishes it. Once erased, an op ID stays erased: Put skips
// it (the replica decides erasure from signed ops, and a resent op must
// not bring its private fields back).
//
// Opening scans the whole file and keeps only an index (op ID -> offset
// and length) in memory, never blob bytes. A bad record (CRC mismatch, or
// a record cut short by the end of the file) after which no valid record
// follows is the tail of a Put that never returned (Put returns only
// after its fdatasync): it is cut off, and Recovered says so. A bad
// record followed by a valid one is damage to acknowledged data: opening
// fails with a *VaultDamageError naming its offset, and changes nothing.
// (A power cut during a Put may, rarely, leave a later record of the
// unfinished batch intact behind a torn one; that too is reported as
// damage rather than guessed at: dropping acknowledged blobs silently is
// worse than asking.)
//
// Compact rewrites the file without erased data or duplicates: live
// records as they are, one tombstone per erased op ID, into PATH.tmp,
// which it fsyncs and renames over PATH, then fsyncs the directory.
// Erase compacts by itself once the bytes compaction would free pass
// both a floor (vaultCompactMin) and the size of the live data.
//
// What erasure promises: no byte of an erased blob is left in any file of
// the data dir once Erase returns, on a file system that overwrites in
// place (ext4, xfs, apfs, ntfs). It cannot reach copies made before
// (backups, a bundle, another node's disk), nor blocks that a
// copy-on-write file system (btrfs, zfs) or an SSD's wear levelling keeps
// unreferenced until they are reused.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/mutual-aid/mutual/crdt"
)

// MaxBlobBytes is the largest blob the vault keeps.
const MaxBlobBytes = 4096

const (
	vaultMagic      = "mutual vault v1\n"
	vaultHeaderLen  = int64(len(vaultMagic))
	vaultRecHead    = 32 + 4 + 4 // op ID, length, header CRC
	vaultRecFixed   = vaultRecHead + 1 + 4
	vaultLive       = 'L'
	vaultErased     = 'E'
	vaultCompactMin = 1 << 20
)

// Vault errors.
var (
	// ErrVaultDamaged means a record of acknowledged data in the vault
	// file is damaged; see VaultDamageError.
	ErrVaultDamaged = errors.New("the vault is damaged")
	// ErrBlobTooLarge means a blob longer than MaxBlobBytes.
	ErrBlobTooLarge = fmt.Errorf("a blob is larger than %d bytes", MaxBlobBytes)
	// ErrVaultClosed means the vault was closed.
	ErrVaultClosed = errors.New("the vault is closed")
	// ErrNotVault means the file is not a vault (or of a version this
	// node does not know).
	ErrNotVault = errors.New("not a vault file of a known version")
)

// VaultDamageError names the damaged record of a vault file. Opening
// changed nothing.
type VaultDamageError struct {
	Path   string
	Offset int64 // where the first bad record starts
	Detail string
}

func (e *VaultDamageError) Error() string {
	return fmt.Sprintf("the vault %s is damaged at offset %d: %s (valid records follow, so this was acknowledged data; nothing was changed)",
		e.Path, e.Offset, e.Detail)
}

func (e *VaultDamageError) Unwrap() error { return ErrVaultDamaged }

// Blob is the sealed private part of one op.
type Blob struct {
	Op   crdt.ID
	Data []byte
}

// VaultStats describes a vault's contents.
type VaultStats struct {
	Live      int   // op IDs with a blob
	LiveBytes int64 // their blobs' bytes
	Erased    int   // op IDs erased
	// ErasedBytes is what Compact would free: erased records' zeroed
	// data, and records superseded or repeated.
	ErasedBytes int64
	FileBytes   int64
}

// VaultRecovery is what opening repaired: the caller logs it.
type VaultRecovery struct {
	// TornOffset and TornBytes: the unfinished tail that was cut off
	// (TornBytes 0: none).
	TornOffset, TornBytes int64
	// FinishedErases counts records that an erasure had not yet zeroed
	// in place (the node stopped between its two steps): now zeroed.
	FinishedErases int
	// RemovedTemp: a compaction's temporary file was left, and removed.
	RemovedTemp bool
}

func (r VaultRecovery) String() string {
	if r == (VaultRecovery{}) {
		return "nothing to repair"
	}
	s := ""
	if r.TornBytes > 0 {
		s = fmt.Sprintf("cut off %d bytes of a write that never finished at offset %d (never acknowledged)", r.TornBytes, r.TornOffset)
	}
	add := func(t string) {
		if s != "" {
			s += "; "
		}
		s += t
	}
	if r.FinishedErases > 0 {
		add(fmt.Sprintf("finished %d unfinished erasures", r.FinishedErases))
	}
	if r.RemovedTemp {
		add("removed an unfinished compaction's temporary file")
	}
	return s
}

// vaultEntry is the index's record of one op ID.
type vaultEntry struct {
	off    int64 // the record's offset (erased: the zeroed record, or a tombstone)
	n      uint32
	erased bool
}

// Vault is a file of sealed blobs, keyed by op ID. It is safe for
// concurrent use. Writers (Put, Erase, Compact) take turns; readers never
// wait for a writer's fdatasync.
type Vault struct {
	path string

	wmu sync.Mutex // serialises writers; held across their I/O

	mu        sync.RWMutex // guards the fields below; readers hold it across their ReadAt
	f         *os.File
	idx       map[crdt.ID]vaultEntry
	end       int64 // file size: where the next record goes
	liveBytes int64 // data bytes of live records
	erased    int
	closed    bool
	broken    error // a write or sync failed: the file's state is unknown
	recovered VaultRecovery

	compactMin int64
}

// OpenVault opens the vault file at path, creating it if missing. It
// scans every record; see the package comment above for what it repairs
// and what it refuses.
func OpenVault(path string) (*Vault, error) {
	tmp := path + ".tmp"
	removedTemp := false
	if _, err := os.Lstat(tmp); err == nil {
		// A compaction that never renamed: PATH is whole. The temporary
		// file holds no erased data (compaction copies none).
		if err := os.Remove(tmp); err != nil {
			return nil, err
		}
		removedTemp = true
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := lockVaultFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("vault %s: %w", path, err)
	}
	v := &Vault{path: path, f: f, idx: make(map[crdt.ID]vaultEntry), compactMin: vaultCompactMin}
	if err := v.load(); err != nil {
		f.Close()
		return nil, err
	}
	v.recovered.RemovedTemp = removedTemp
	if removedTemp {
		syncDir(filepath.Dir(path))
	}
	return v, nil
}

// Recovered reports what opening repaired.
func (v *Vault) Recovered() VaultRecovery {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.recovered
}

// load checks the header, scans the records, decides, and only then
// repairs.
func (v *Vault) load() error {
	fi, err := v.f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if size < vaultHeaderLen {
		b := make([]byte, size)
		if _, err := v.f.ReadAt(b, 0); err != nil && err != io.EOF {
			return err
		}
		if string(b) != vaultMagic[:size] {
			return fmt.Errorf("vault %s: %w", v.path, ErrNotVault)
		}
		// New, or its creation was cut short.
		if _, err := v.f.WriteAt([]byte(vaultMagic), 0); err != nil {
			return err
		}
		if err := v.f.Sync(); err != nil {
			return err
		}
		syncDir(filepath.Dir(v.path))
		v.end = vaultHeaderLen
		return nil
	}
	magic := make([]byte, vaultHeaderLen)
	if _, err := v.f.ReadAt(magic, 0); err != nil {
		return err
	}
	if string(magic) != vaultMagic {
		return fmt.Errorf("vault %s: %w", v.path, ErrNotVault)
	}

	s, err := scanVault(v.f, size)
	if err != nil {
		return err
	}
	if s.damage != nil {
		s.damage.Path = v.path
		return s.damage
	}
	// Repairs, now that the file is known to hold no damage.
	if s.tornAt >= 0 {
		if err := v.f.Truncate(s.tornAt); err != nil {
			return err
		}
		v.recovered.TornOffset, v.recovered.TornBytes = s.tornAt, size-s.tornAt
		size = s.tornAt
	}
	for _, z := range s.unzeroed {
		if err := v.zeroAt(z.off, z.id, z.n); err != nil {
			return err
		}
	}
	v.recovered.FinishedErases = len(s.unzeroed)
	if s.tornAt >= 0 || len(s.unzeroed) > 0 {
		if err := fdatasync(v.f); err != nil {
			return err
		}
	}
	v.idx, v.end = s.idx, size
	for _, e := range v.idx {
		if e.erased {
			v.erased++
		} else {
			v.liveBytes += int64(e.n)
		}
	}
	return nil
}

// vaultScan is what a scan of a vault file found.
type vaultScan struct {
	idx      map[crdt.ID]vaultEntry
	unzeroed []vaultRecord // records of erased IDs still to zero in place
	tornAt   int64         // where an unfinished tail starts, or -1
	damage   *VaultDamageError
}

type vaultRecord struct {
	off   int64
	id    crdt.ID
	n     uint32
	state byte
}

func (r vaultRecord) end() int64 { return r.off + vaultRecFixed + int64(r.n) }

type recStatus int

const (
	recOK      recStatus = iota
	recShort             // runs past the end of the file
	recBadHead           // header CRC mismatch or a length over the cap: the extent is unknown
	recBadBody           // the header is sound, the rest is not
)

// scanVault reads every record of f (size bytes) after the header. It
// changes nothing. Memory: the index and one buffer, whatever the bytes.
func scanVault(f io.ReaderAt, size int64) (*vaultScan, error) {
	r := &vaultReader{r: f, size: size}
	s := &vaultScan{idx: make(map[crdt.ID]vaultEntry), tornAt: -1}
	var (
		pending  []vaultRecord      // sound header, bad body: torn erase, torn tail or damage
		lastGood int64         = -1 // offset of the last valid record
		stopAt   int64         = -1 // where a record of unknown extent starts
		stopWhy  string
		live     = make(map[crdt.ID][]vaultRecord) // live records of IDs not (yet) seen erased, beyond the first
	)
	off := vaultHeaderLen
	for off < size {
		rec, st, err := r.record(off)
		if err != nil {
			return nil, err
		}
		switch st {
		case recOK:
			lastGood = off
			e, seen := s.idx[rec.id]
			switch {
			case rec.state == vaultErased:
				// Every live record of the ID still to zero (the node
				// stopped between an erasure's two steps) points at
				// the first; the index points there too.
				switch {
				case !seen:
					s.idx[rec.id] = vaultEntry{off: off, n: rec.n, erased: true}
				case !e.erased:
					s.unzeroed = append(s.unzeroed, vaultRecord{off: e.off, id: rec.id, n: e.n})
					s.unzeroed = append(s.unzeroed, live[rec.id]...)
					delete(live, rec.id)
					s.idx[rec.id] = vaultEntry{off: e.off, n: e.n, erased: true}
				}
			case !seen:
				s.idx[rec.id] = vaultEntry{off: off, n: rec.n}
			case e.erased:
				s.unzeroed = append(s.unzeroed, rec) // live after its tombstone: never via Put
			default:
				live[rec.id] = append(live[rec.id], rec) // a repeat; kept for a later erasure
			}
			off = rec.end()
		case recBadBody:
			pending = append(pending, rec)
			off = rec.end()
		case recShort:
			stopAt, stopWhy = off, "a record runs past the end of the file"
		case recBadHead:
			stopAt, stopWhy = off, "record header checksum mismatch"
		}
		if stopAt >= 0 {
			break
		}
	}

	// A bad body is an unfinished erasure if its ID has a valid
	// tombstone; otherwise the first one is where the trouble starts.
	problem, why := int64(-1), ""
	for _, p := range pending {
		if e, ok := s.idx[p.id]; ok && e.erased {
			s.unzeroed = append(s.unzeroed, p)
			continue
		}
		problem, why = p.off, "record checksum mismatch"
		break
	}
	if problem < 0 && stopAt >= 0 {
		problem, why = stopAt, stopWhy
	}
	if problem < 0 {
		return s, nil
	}
	valid := lastGood > problem
	if !valid && stopAt >= 0 {
		v, err := r.validFrom(stopAt + 1)
		if err != nil {
			return nil, err
		}
		valid = v >= 0
	}
	if valid {
		s.damage = &VaultDamageError{Offset: problem, Detail: why}
		return s, nil
	}
	// The tail of a Put that never returned. Nothing in the index lies
	// at or past it (no valid record does), but unfinished erasures may.
	s.tornAt = problem
	s.unzeroed = slices.DeleteFunc(s.unzeroed, func(r vaultRecord) bool { return r.off >= problem })
	return s, nil
}

// vaultReader reads records through a window of the file.
type vaultReader struct {
	r    io.ReaderAt
	size int64
	buf  []byte
	at   int64 // file offset of buf[0]
}

const vaultWindow = 64 << 10

// bytes returns n bytes at off (n at most vaultRecFixed+MaxBlobBytes), or
// nil if the file ends first. Valid until the next call.
func (r *vaultReader) bytes(off int64, n int) ([]byte, error) {
	if off < 0 || off+int64(n) > r.size {
		return nil, nil
	}
	if r.buf != nil && off >= r.at && off+int64(n) <= r.at+int64(len(r.buf)) {
		return r.buf[off-r.at : off-r.at+int64(n)], nil
	}
	want := min(int64(vaultWindow), r.size-off)
	if cap(r.buf) < vaultWindow {
		r.buf = make([]byte, vaultWindow)
	}
	r.buf = r.buf[:want]
	if _, err := r.r.ReadAt(r.buf, off); err != nil && err != io.EOF {
		r.buf = nil
		return nil, err
	}
	r.at = off
	return r.buf[:n], nil
}

// record reads the record at off.
func (r *vaultReader) record(off int64) (vaultRecord, recStatus, error) {
	h, err := r.bytes(off, vaultRecHead)
	if err != nil || h == nil {
		return vaultRecord{off: off}, recShort, err
	}
	rec, ok := vaultHead(h, off)
	if !ok {
		return rec, recBadHead, nil
	}
	b, err := r.bytes(off, vaultRecFixed+int(rec.n))
	if err != nil || b == nil {
		return rec, recShort, err
	}
	var st recStatus
	rec.state, st = vaultBody(b)
	return rec, st, nil
}

// vaultHead decodes a record's header (vaultRecHead bytes): sound if its
// CRC matches and its length is within the cap.
func vaultHead(h []byte, off int64) (vaultRecord, bool) {
	rec := vaultRecord{off: off}
	copy(rec.id[:], h[:32])
	n := binary.BigEndian.Uint32(h[32:36])
	if crc32.Checksum(h[:36], castagnoli) != binary.BigEndian.Uint32(h[36:40]) || n > MaxBlobBytes {
		return rec, false
	}
	rec.n = n
	return rec, true
}

// vaultBody checks a whole record b whose header is sound.
func vaultBody(b []byte) (byte, recStatus) {
	state := b[vaultRecHead]
	if (state != vaultLive && state != vaultErased) ||
		crc32.Checksum(b[:len(b)-4], castagnoli) != binary.BigEndian.Uint32(b[len(b)-4:]) {
		return state, recBadBody
	}
	return state, recOK
}

// validFrom returns the offset of the first valid record starting at or
// after off, or -1.
func (r *vaultReader) validFrom(off int64) (int64, error) {
	for ; off+vaultRecFixed <= r.size; off++ {
		_, st, err := r.record(off)
		if err != nil {
			return -1, err
		}
		if st == recOK {
			return off, nil
		}
	}
	return -1, nil
}

// appendVaultRecord appends the record of one blob to b.
func appendVaultRecord(b []byte, id crdt.ID, state byte, data []byte) []byte {
	start := len(b)
	b = append(b, id[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
	b = append(b, state)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// zeroAt rewrites the record at off (of op id, n data bytes) as erased:
// state, zeros and CRC; the op ID and length stay as they are.
func (v *Vault) zeroAt(off int64, id crdt.ID, n uint32) error {
	rec := appendVaultRecord(make([]byte, 0, vaultRecFixed+int(n)), id, vaultErased, make([]byte, n))
	_, err := v.f.WriteAt(rec[vaultRecHead:], off+vaultRecHead)
	return err
}

// Put appends the blobs and makes them durable with one fdatasync. Only
// after Put returns nil may the caller commit their ops. A blob of an op
// ID the vault already has is skipped (the op's hash pins its bytes), and
// so is one of an erased op ID: erased stays erased. A blob over
// MaxBlobBytes fails the whole call, and nothing is written.
func (v *Vault) Put(blobs []Blob) error {
	for _, b := range blobs {
		if len(b.Data) > MaxBlobBytes {
			return fmt.Errorf("vault: op %s: %w", b.Op.Short(), ErrBlobTooLarge)
		}
	}
	v.wmu.Lock()
	defer v.wmu.Unlock()
	if err := v.writable(); err != nil {
		return err
	}
	var (
		buf   []byte
		added = make(map[crdt.ID]vaultEntry, len(blobs))
	)
	v.mu.RLock()
	end := v.end
	for _, b := range blobs {
		if _, ok := v.idx[b.Op]; ok {
			continue
		}
		if _, ok := added[b.Op]; ok {
			continue
		}
		added[b.Op] = vaultEntry{off: end + int64(len(buf)), n: uint32(len(b.Data))}
		buf = appendVaultRecord(buf, b.Op, vaultLive, b.Data)
	}
	v.mu.RUnlock()
	if len(buf) == 0 {
		return nil
	}
	if err := v.appendSynced(buf, end); err != nil {
		return err
	}
	v.mu.Lock()
	for id, e := range added {
		v.idx[id] = e
		v.liveBytes += int64(e.n)
	}
	v.end = end + int64(len(buf))
	v.mu.Unlock()
	return nil
}

// Get returns the blob of op; false if the vault has none (never had, or
// erased). A record that fails its CRC now is a *VaultDamageError.
func (v *Vault) Get(op crdt.ID) ([]byte, bool, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.closed {
		return nil, false, ErrVaultClosed
	}
	e, ok := v.idx[op]
	if !ok || e.erased {
		return nil, false, nil
	}
	b := make([]byte, vaultRecFixed+int(e.n))
	if _, err := v.f.ReadAt(b, e.off); err != nil {
		return nil, false, fmt.Errorf("vault: %w", err)
	}
	rec, ok := vaultHead(b, e.off)
	if state, st := vaultBody(b); !ok || st != recOK || rec.id != op || state != vaultLive || rec.n != e.n {
		return nil, false, &VaultDamageError{Path: v.path, Offset: e.off, Detail: "the record of op " + op.Short() + " no longer checks"}
	}
	return b[vaultRecHead+1 : vaultRecHead+1+int(e.n)], true, nil
}

// Has reports whether the vault holds a blob of op (not erased).
func (v *Vault) Has(op crdt.ID) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	e, ok := v.idx[op]
	return ok && !e.erased
}

// Erased reports whether op's blob was erased: Put will not take it back.
func (v *Vault) Erased(op crdt.ID) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.idx[op].erased
}

// appendSynced writes buf at end, the end of the file, and fdatasyncs.
// The caller holds wmu.
func (v *Vault) appendSynced(buf []byte, end int64) error {
	if _, err := v.f.WriteAt(buf, end); err != nil {
		// Take the partial records back, so the next write appends after
		// whole ones; if even that fails, the file is not to be trusted.
		if terr := v.f.Truncate(end); terr != nil {
			v.fail(terr)
		}
		return fmt.Errorf("vault: %w", err)
	}
	if err := fdatasync(v.f); err != nil {
		// After a failed fsync the kernel may have dropped the dirty
		// pages: what is on disk is unknown until the file is opened
		// and scanned again.
		v.fail(err)
		return fmt.Errorf("vault: %w", err)
	}
	return nil
}

// Erase erases the blobs of ops: when it returns nil, no byte of them is
// left in the file. It appends a tombstone per op and fdatasyncs (the
// erasure is now durable), then overwrites each record's data in place
// with zeros and fdatasyncs again. Op IDs the vault does not hold, or
// holds erased already, are ignored. It compacts the file when erased
// bytes pass a threshold (see Compact).
func (v *Vault) Erase(ops []crdt.ID) error {
	v.wmu.Lock()
	defer v.wmu.Unlock()
	if err := v.writable(); err != nil {
		return err
	}
	var (
		todo []vaultRecord
		seen = make(map[crdt.ID]bool, len(ops))
		buf  []byte
	)
	v.mu.RLock()
	end := v.end
	for _, id := range ops {
		e, ok := v.idx[id]
		if !ok || e.erased || seen[id] {
			continue
		}
		seen[id] = true
		todo = append(todo, vaultRecord{off: e.off, id: id, n: e.n})
		buf = appendVaultRecord(buf, id, vaultErased, nil)
	}
	v.mu.RUnlock()
	if len(todo) == 0 {
		return nil
	}
	if err := v.appendSynced(buf, end); err != nil {
		return err
	}
	// From here the ops are erased: readers see so before any byte of
	// their records changes (Get holds the read lock across its read).
	v.mu.Lock()
	for _, r := range todo {
		v.idx[r.id] = vaultEntry{off: r.off, n: r.n, erased: true}
		v.liveBytes -= int64(r.n)
		v.erased++
	}
	v.end = end + int64(len(buf))
	v.mu.Unlock()
	for _, r := range todo {
		if err := v.zeroAt(r.off, r.id, r.n); err != nil {
			// The tombstones are durable: the next open finishes this.
			v.fail(err)
			return fmt.Errorf("vault: %w", err)
		}
	}
	if err := fdatasync(v.f); err != nil {
		v.fail(err)
		return fmt.Errorf("vault: %w", err)
	}
	st := v.Stats()
	if st.ErasedBytes >= v.compactMin && st.ErasedBytes >= st.LiveBytes {
		return v.compact()
	}
	return nil
}

// Compact rewrites the file with only live records and one tombstone per
// erased op ID, into PATH.tmp, fsyncs it, renames it over PATH and fsyncs
// the directory. Readers go on during the copy.
func (v *Vault) Compact() error {
	v.wmu.Lock()
	defer v.wmu.Unlock()
	if err := v.writable(); err != nil {
		return err
	}
	return v.compact()
}

func (v *Vault) compact() error {
	// Writers are excluded (wmu): the file and the index stay as they are
	// until the swap below.
	v.mu.RLock()
	entries := make([]vaultRecord, 0, len(v.idx))
	for id, e := range v.idx {
		r := vaultRecord{off: e.off, id: id, n: e.n, state: vaultLive}
		if e.erased {
			r.state, r.n = vaultErased, 0
		}
		entries = append(entries, r)
	}
	end := v.end
	v.mu.RUnlock()
	slices.SortFunc(entries, func(a, b vaultRecord) int { return int(a.off - b.off) })

	tmp := v.path + ".tmp"
	nf, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("vault: compact: %w", err)
	}
	abandon := func(err error) error {
		nf.Close()
		os.Remove(tmp)
		return fmt.Errorf("vault: compact: %w", err)
	}
	if err := lockVaultFile(nf); err != nil {
		return abandon(err)
	}
	r := &vaultReader{r: v.f, size: end}
	idx := make(map[crdt.ID]vaultEntry, len(entries))
	out := append(make([]byte, 0, 1<<16), vaultMagic...)
	written := int64(0)
	for _, e := range entries {
		at := written + int64(len(out))
		if e.state == vaultErased {
			idx[e.id] = vaultEntry{off: at, erased: true}
			out = appendVaultRecord(out, e.id, vaultErased, nil)
		} else {
			rec, st, err := r.record(e.off)
			if err != nil {
				return abandon(err)
			}
			if st != recOK || rec.id != e.id || rec.state != vaultLive {
				return abandon(&VaultDamageError{Path: v.path, Offset: e.off, Detail: "the record of op " + e.id.Short() + " no longer checks"})
			}
			b, _ := r.bytes(e.off, vaultRecFixed+int(e.n))
			idx[e.id] = vaultEntry{off: at, n: e.n}
			out = append(out, b...)
		}
		if len(out) >= 1<<16 {
			if _, err := nf.WriteAt(out, written); err != nil {
				return abandon(err)
			}
			written += int64(len(out))
			out = out[:0]
		}
	}
	if _, err := nf.WriteAt(out, written); err != nil {
		return abandon(err)
	}
	written += int64(len(out))
	if err := nf.Sync(); err != nil {
		return abandon(err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := os.Rename(tmp, v.path); err != nil {
		nf.Close()
		os.Remove(tmp)
		return fmt.Errorf("vault: compact: %w", err)
	}
	if err := syncDir(filepath.Dir(v.path)); err != nil {
		// The rename may or may not survive a crash; either file is
		// whole. Go on with the new one.
		v.broken = fmt.Errorf("vault: compact: syncing the directory: %w", err)
	}
	v.f.Close()
	v.f, v.idx, v.end = nf, idx, written
	return nil
}

// Stats describes the vault now.
func (v *Vault) Stats() VaultStats {
	v.mu.RLock()
	defer v.mu.RUnlock()
	live := len(v.idx) - v.erased
	need := vaultHeaderLen + int64(live)*vaultRecFixed + v.liveBytes + int64(v.erased)*vaultRecFixed
	return VaultStats{Live: live, LiveBytes: v.liveBytes, Erased: v.erased, ErasedBytes: v.end - need, FileBytes: v.end}
}

// Close closes the file. Closing twice is safe.
func (v *Vault) Close() error {
	v.wmu.Lock()
	defer v.wmu.Unlock()
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil
	}
	v.closed = true
	return v.f.Close()
}

// writable is nil if a writer may go on. Callers hold wmu.
func (v *Vault) writable() error {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.closed {
		return ErrVaultClosed
	}
	if v.broken != nil {
		return fmt.Errorf("vault: an earlier write failed (%w); open the vault again", v.broken)
	}
	return nil
}

func (v *Vault) fail(err error) {
	v.mu.Lock()
	if v.broken == nil {
		v.broken = err
	}
	v.mu.Unlock()
}

// syncDir fsyncs a directory, so that a file created or renamed in it
// survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
