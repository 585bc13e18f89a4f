// Package store keeps a node's ops and its materialised board in Badger.
//
// Ops are the truth; everything else (post records, the board index, the
// membership index) is derived from them and written in the same Badger
// transaction as the op, so the store never holds an op without its
// index entries or the reverse. A transaction is committed with
// SyncWrites on: when Commit returns nil, the ops in it survive a crash
// or a power cut.
//
// Badger is opened through go-ds-badger, for its options and its value-log
// garbage collection; reads and writes then use Badger's own transactions
// and iterators, because the board needs ordered scans from a start key
// and binary keys, which the go-datastore Key type cannot express.
//
// The store does no merging: package replica decides what to write.
package store

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger"
	"github.com/dgraph-io/badger/options"
	lru "github.com/hashicorp/golang-lru/v2"
	dsbadger "github.com/ipfs/go-ds-badger"

	"github.com/mutual-aid/mutual/crdt"
)

// Errors.
var (
	// ErrLocked means another process has the store open.
	ErrLocked = errors.New("the data dir is in use by another mutual process")
	// ErrNotFound means no such op or post.
	ErrNotFound = errors.New("not found")
	// ErrDamaged means the store's files are damaged. The store refuses
	// to open rather than drop anything; see DamageError.
	ErrDamaged = errors.New("the store is damaged")
	// ErrFormat means the store was written in a format this version
	// does not read; see FormatError.
	ErrFormat = errors.New("the store is in another format")
)

// storeVersion is the version of the store's layout (keys.go) and of
// the post records in it (protocol.EncodePost). 1: the layout before
// versions were recorded (no v key); 2: local numbers for groups and
// authors, a post's record stored once, no op-ID pointers; 3: records
// leave out times equal to the creation time.
const storeVersion = 3

// FormatError is the error of opening a store written in another format.
type FormatError struct {
	Dir     string
	Version int // 1 for a store from before versions were recorded
}

func (e *FormatError) Error() string {
	if e.Version < storeVersion {
		return fmt.Sprintf("the store in %s is in an older format (version %d) that this version of mutual does not read (the current is %d): "+
			"run `mutual repair` to rebuild it in the current format from its ops (the old store is kept next to it)", e.Dir, e.Version, storeVersion)
	}
	return fmt.Sprintf("the store in %s is in format version %d, newer than this version of mutual reads (%d): use a newer mutual", e.Dir, e.Version, storeVersion)
}

func (e *FormatError) Unwrap() error { return ErrFormat }

// start checks the store's format version (writing it into an empty
// store if write) and loads the local numbers.
func (s *Store) start(write bool) error {
	v, err := s.get([]byte{pFormat})
	switch {
	case err == ErrNotFound:
		empty := true
		if err := s.scan(nil, nil, false, func(_, _ []byte) error { empty = false; return errStop }); err != nil && err != errStop {
			return err
		}
		if !empty {
			return &FormatError{Dir: s.dir, Version: 1}
		}
		if write {
			if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set([]byte{pFormat}, []byte{storeVersion}) }); err != nil {
				return fmt.Errorf("store: %w", err)
			}
		}
	case err != nil:
		return err
	case len(v) != 1 || v[0] != storeVersion:
		x := 0
		if len(v) == 1 {
			x = int(v[0])
		}
		return &FormatError{Dir: s.dir, Version: x}
	}
	return s.nums.load(s)
}

// DamageError says which file of a store is damaged. Opening changed
// nothing; `mutual repair` salvages every intact op.
type DamageError struct {
	Dir    string // the store
	File   string // the damaged file, if known
	Detail string
}

func (e *DamageError) Error() string {
	where := e.Dir
	if e.File != "" {
		where = e.File
	}
	return fmt.Sprintf("the store is damaged: %s: %s. Nothing was changed: run `mutual check` to see the damage, "+
		"then `mutual repair` to rebuild the store from every intact op (the damaged files are kept); peers resend the rest", where, e.Detail)
}

func (e *DamageError) Unwrap() error { return ErrDamaged }

// Config configures a Store. The zero value works.
type Config struct {
	// PostCache is how many decoded posts to keep in memory. Default 20,000.
	PostCache int
	// NoSync turns fsync off. Only for benchmarks that measure something
	// else; a node never sets it.
	NoSync bool
	// MaxTableSize sets Badger's memtable and table size; 0 means the
	// default (16 MB). Only tests that need small memtables set it.
	MaxTableSize int64
	// Logger receives Badger's warnings and errors (see badgerlog.go).
	// Nil means slog.Default().
	Logger *slog.Logger
}

// Store is a node's Badger store. Its methods are safe for concurrent
// use; the replica's writer is the only one that commits ops and posts (a
// batch's post records are computed from what the store held when the
// batch began, so two writers of posts would lose updates).
type Store struct {
	ds    *dsbadger.Datastore
	db    *badger.DB
	vault *Vault // sealed blobs of private fields (blobs.go)
	posts *lru.Cache[postKey, *crdt.Post]
	dir   string // where its files are (the original, for a copy)
	tmp   string // a copy opened by OpenReadOnly, removed by Close
	log   *slog.Logger
	// full is set once the disk was found full: every write is refused
	// from then on (after a failed write Badger's value log may end in
	// a partial record, which must stay its last), until a restart.
	full      atomic.Pointer[DiskFullError]
	reads     atomic.Uint64 // read transactions begun (Reads)
	closeOnce sync.Once
	closeErr  error

	nums     numbers      // local numbers of groups and authors (numbers.go)
	withOps  postsWithOps // the posts that have ops besides their create (postops.go)
	commitMu sync.Mutex   // one Commit at a time

	cacheMu   sync.Mutex // orders filling the post cache: see fill
	gen       uint64     // commits so far
	afterRead func()     // tests: runs between a read and its fill
}

// Writable returns nil, or the error every write gets: a
// *DiskFullError once the disk was found full.
func (s *Store) Writable() error {
	if e := s.full.Load(); e != nil {
		return e
	}
	return nil
}

// diskFull records that the disk is full, logs it once, and returns the
// error every write gets from now on.
func (s *Store) diskFull() error {
	e := &DiskFullError{Dir: s.dir, Free: freeBytes(s.dir)}
	if s.full.CompareAndSwap(nil, e) {
		s.log.Error(e.Error())
	}
	return s.full.Load()
}

// Dir returns the directory of the store's files.
func (s *Store) Dir() string { return s.dir }

// CheckFiles checks the store's files byte for byte; see CheckFiles.
func (s *Store) CheckFiles() ([]FileProblem, error) { return CheckFiles(s.dir) }

type postKey struct{ group, post crdt.ID }

// Open opens or creates the store in dir.
func Open(dir string, cfg Config) (*Store, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	routeBadgerLogs(cfg.Logger.Handler())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if problems := checkTables(dir); len(problems) > 0 {
		return nil, &DamageError{Dir: dir, File: problems[0].File, Detail: problems[0].Detail}
	}
	opts := badgerOptions(cfg)
	full := false
	if free := freeBytes(dir); free >= 0 && free < minFreeToWrite {
		// A full disk: open to read, and refuse writes. Badger cannot
		// open read-only after an unclean shutdown (which a full disk
		// causes); then it opens as usual, and nothing is written.
		full = true
		ro := opts
		ro.ReadOnly, ro.GcInterval = true, 0
		if ds, err := openBadger(dir, &ro); err == nil {
			st := newStore(dir, ds, cfg)
			if err := st.start(false); err != nil {
				ds.Close()
				return nil, err
			}
			if err := st.openVault(); err != nil {
				ds.Close()
				return nil, err
			}
			st.diskFull()
			return st, nil
		}
	}
	ds, err := openBadger(dir, &opts)
	if errors.Is(err, badger.ErrTruncateNeeded) {
		ds, err = openAfterUnfinishedWrite(dir, &opts)
	}
	if err != nil {
		if strings.Contains(err.Error(), "directory lock") {
			return nil, ErrLocked
		}
		var de *DamageError
		if errors.As(err, &de) {
			return nil, err
		}
		if isNoSpace(err) {
			return nil, &DiskFullError{Dir: dir, Free: freeBytes(dir)}
		}
		return nil, fmt.Errorf("open store: %w", err)
	}
	st := newStore(dir, ds, cfg)
	if err := st.start(!full); err != nil {
		ds.Close()
		return nil, err
	}
	if err := st.openVault(); err != nil {
		ds.Close()
		return nil, err
	}
	if full {
		st.diskFull()
	}
	return st, nil
}

func newStore(dir string, ds *dsbadger.Datastore, cfg Config) *Store {
	if cfg.PostCache <= 0 {
		cfg.PostCache = 20000
	}
	cache, _ := lru.New[postKey, *crdt.Post](cfg.PostCache)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Store{ds: ds, db: ds.DB, posts: cache, dir: filepath.Clean(dir), log: cfg.Logger}
}

// openBadger opens Badger, turning a panic on damaged files (a cut
// MANIFEST makes badger v1 slice out of range) into a DamageError.
func openBadger(dir string, opts *dsbadger.Options) (ds *dsbadger.Datastore, err error) {
	defer func() {
		if r := recover(); r != nil {
			ds, err = nil, &DamageError{Dir: dir, Detail: fmt.Sprintf("Badger cannot read it (%v)", r)}
		}
	}()
	ds, err = dsbadger.NewDatastore(filepath.Clean(dir), opts)
	if err != nil && strings.Contains(err.Error(), "manifest") {
		err = &DamageError{Dir: dir, File: filepath.Join(dir, "MANIFEST"), Detail: err.Error()}
	}
	return ds, err
}

func badgerOptions(cfg Config) dsbadger.Options {
	opts := dsbadger.DefaultOptions
	// Acknowledged means fsynced: an op whose commit returned survives a
	// crash.
	opts.SyncWrites = !cfg.NoSync
	// Badger v1 with Truncate on drops every record after the first bad
	// byte of the value log it replays, and the whole file when damage
	// lies before its replay point (dgraph-io/badger#434): acknowledged
	// ops, silently. So never: an unfinished last write is dropped by
	// openAfterUnfinishedWrite, which keeps the bytes it drops, and any
	// other damage refuses to open.
	opts.Truncate = false
	opts.ValueLogLoadingMode = options.FileIO
	// Read tables with pread rather than mmap, and keep two memtables
	// instead of five: a Raspberry Pi has little memory, and a board's
	// hot posts are in our own LRU anyway.
	opts.TableLoadingMode = options.FileIO
	opts.NumMemtables = 2
	// Keep values (ops, post records) in the value log and only keys and
	// pointers in the LSM tree, so that compactions stay small: with every
	// value in the tree, a 100,000-op catch-up peaked at 392-450 MB.
	opts.ValueThreshold = 64
	opts.GcInterval = 10 * time.Minute
	if cfg.MaxTableSize > 0 {
		opts.MaxTableSize = cfg.MaxTableSize
	}
	return opts
}

// Close closes the store. It is safe to call twice.
//
// Closing flushes Badger's memtable to a table, and on a full disk
// Badger retries that every second, forever. So Close waits a few
// seconds at most (CloseTimeout), then returns ErrCloseTimeout and leaves
// Badger to it: everything acknowledged is already in the value log,
// and the next start replays it.
func (s *Store) Close() error {
	if s == nil || s.ds == nil {
		return nil
	}
	s.closeOnce.Do(func() {
		done := make(chan error, 1)
		go func() { done <- s.ds.Close() }()
		timeout := CloseTimeout
		if s.full.Load() != nil {
			timeout = min(timeout, 2*time.Second)
		}
		select {
		case err := <-done:
			if errors.Is(err, dsbadger.ErrClosed) {
				err = nil
			}
			s.closeErr = err
		case <-time.After(timeout):
			s.closeErr = fmt.Errorf("%w after %s (is the disk full?): everything acknowledged is in the value log and replays at the next start", ErrCloseTimeout, timeout)
			s.log.Error(s.closeErr.Error())
		}
		if s.vault != nil {
			if err := s.vault.Close(); err != nil && s.closeErr == nil {
				s.closeErr = err
			}
		}
		if s.tmp != "" {
			os.RemoveAll(s.tmp)
		}
	})
	return s.closeErr
}

// CloseTimeout is how long Close waits for Badger.
var CloseTimeout = 10 * time.Second

// ErrCloseTimeout means Badger did not finish closing in time.
var ErrCloseTimeout = errors.New("the store did not finish closing")

// DiskUsage returns the bytes Badger uses on disk.
func (s *Store) DiskUsage() int64 {
	lsm, vlog := s.db.Size()
	return lsm + vlog
}
