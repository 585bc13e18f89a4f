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
)

// Config configures a Store. The zero value works.
type Config struct {
	// PostCache is how many decoded posts to keep in memory. Default 20,000.
	PostCache int
	// NoSync turns fsync off. Only for benchmarks that measure something
	// else; a node never sets it.
	NoSync bool
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
	posts *lru.Cache[postKey, *crdt.Post]
}

type postKey struct{ group, post crdt.ID }

// Open opens or creates the store in dir.
func Open(dir string, cfg Config) (*Store, error) {
	if cfg.PostCache <= 0 {
		cfg.PostCache = 20000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	routeBadgerLogs(cfg.Logger.Handler())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	opts := dsbadger.DefaultOptions
	// Acknowledged means fsynced: an op whose commit returned survives a
	// crash. With SyncWrites on, Truncate only ever drops a torn tail that
	// no commit acknowledged.
	opts.SyncWrites = !cfg.NoSync
	opts.Truncate = true
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
	ds, err := dsbadger.NewDatastore(filepath.Clean(dir), &opts)
	if err != nil {
		if strings.Contains(err.Error(), "directory lock") {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("open store: %w", err)
	}
	cache, _ := lru.New[postKey, *crdt.Post](cfg.PostCache)
	return &Store{ds: ds, db: ds.DB, posts: cache}, nil
}

// Close closes the store. It is safe to call twice.
func (s *Store) Close() error {
	if s == nil || s.ds == nil {
		return nil
	}
	err := s.ds.Close()
	if errors.Is(err, dsbadger.ErrClosed) {
		return nil
	}
	return err
}

// DiskUsage returns the bytes Badger uses on disk.
func (s *Store) DiskUsage() int64 {
	lsm, vlog := s.db.Size()
	return lsm + vlog
}
