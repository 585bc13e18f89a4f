package store

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// readPanic turns a panic of Badger reading a damaged record (a value
// pointer into garbage makes badger v1 slice out of range) into a
// DamageError. Reads run in the caller's goroutine (no prefetching, see
// scan), so the panic is recoverable here.
func (s *Store) readPanic(err *error) {
	if r := recover(); r != nil {
		*err = &DamageError{Dir: s.dir, Detail: fmt.Sprintf("a record cannot be read (%v)", r)}
	}
}

func (s *Store) get(k []byte) (v []byte, err error) {
	defer s.readPanic(&err)
	err = s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(k)
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	return v, err
}

// scan calls fn for each key with prefix, in order, from start (which
// must have the prefix; nil = from the beginning). The key and value are
// only valid during the call.
//
// Values are read synchronously, never with PrefetchValues: badger v1.6.2
// starts a goroutine per item to prefetch its value, and Iterator.Close
// waits for those of the items it queued but not for the current one —
// the item the loop stopped on, such as the first key past the prefix.
// That goroutine outlives the scan, and if the store closes first it
// blocks forever on the value log file's lock, which Close never releases.
func (s *Store) scan(prefix, start []byte, values bool, fn func(k, v []byte) error) (err error) {
	defer s.readPanic(&err)
	return s.db.View(func(txn *badger.Txn) error {
		return scanTxn(txn, prefix, start, values, fn)
	})
}

// scanTxn is scan within a read transaction, so that several scans can
// see one snapshot.
func scanTxn(txn *badger.Txn, prefix, start []byte, values bool, fn func(k, v []byte) error) error {
	opt := badger.DefaultIteratorOptions
	opt.PrefetchValues = false
	opt.Prefix = prefix
	it := txn.NewIterator(opt)
	defer it.Close()
	if start == nil {
		start = prefix
	}
	for it.Seek(start); it.ValidForPrefix(prefix); it.Next() {
		item := it.Item()
		var v []byte
		if values {
			var err error
			if v, err = item.ValueCopy(nil); err != nil {
				return err
			}
		}
		if err := fn(item.Key(), v); err != nil {
			return err
		}
	}
	return nil
}

// errStop ends a scan early without an error.
var errStop = errors.New("stop")

// HasOp reports whether the store holds an op (in a log or as a fork).
func (s *Store) HasOp(id crdt.ID) (bool, error) {
	_, err := s.get(key(pOp, id[:]))
	if err == ErrNotFound {
		return false, nil
	}
	return err == nil, err
}

// Op returns an op's encoding by ID.
func (s *Store) Op(id crdt.ID) ([]byte, error) {
	lk, err := s.get(key(pOp, id[:]))
	if err != nil {
		return nil, err
	}
	return s.get(lk)
}

// LogOp returns the op an author has at seq in a group's log.
func (s *Store) LogOp(g crdt.ID, a crdt.PublicKey, seq uint64) ([]byte, error) {
	return s.get(logKey(g, a, seq))
}

// OpsAfter calls fn with the encoded ops of author in group with seq >
// after, in seq order, stopping at fn's first error.
func (s *Store) OpsAfter(g crdt.ID, a crdt.PublicKey, after uint64, fn func(seq uint64, raw []byte) error) error {
	prefix := key(pLog, g[:], a[:])
	return s.scan(prefix, logKey(g, a, after+1), true, func(k, v []byte) error {
		return fn(seqOf(k), v)
	})
}

func seqOf(logKey []byte) uint64 {
	k := logKey[len(logKey)-8:]
	return uint64(k[0])<<56 | uint64(k[1])<<48 | uint64(k[2])<<40 | uint64(k[3])<<32 |
		uint64(k[4])<<24 | uint64(k[5])<<16 | uint64(k[6])<<8 | uint64(k[7])
}

// LogSeqs calls fn for every (author, seq) in a group's log, in order,
// reading keys only.
func (s *Store) LogSeqs(g crdt.ID, fn func(a crdt.PublicKey, seq uint64)) error {
	prefix := key(pLog, g[:])
	return s.scan(prefix, nil, false, func(k, _ []byte) error {
		var a crdt.PublicKey
		copy(a[:], k[1+32:1+64])
		fn(a, seqOf(k))
		return nil
	})
}

// MembershipOps returns a group's membership ops (kinds 1–7).
func (s *Store) MembershipOps(g crdt.ID) ([][]byte, error) { return s.values(key(pMember, g[:])) }

// ParkedOps returns the ops parked in a group.
func (s *Store) ParkedOps(g crdt.ID) ([][]byte, error) { return s.values(key(pPark, g[:])) }

// PostOps returns the ops of one post.
func (s *Store) PostOps(g, post crdt.ID) ([][]byte, error) {
	var out [][]byte
	err := s.scan(key(pPostOp, g[:], post[:]), nil, false, func(k, _ []byte) error {
		var id crdt.ID
		copy(id[:], k[len(k)-32:])
		raw, err := s.Op(id)
		if err != nil {
			return fmt.Errorf("op %s of post %s: %w", id.Short(), post.Short(), err)
		}
		out = append(out, raw)
		return nil
	})
	return out, err
}

func (s *Store) values(prefix []byte) ([][]byte, error) {
	var out [][]byte
	err := s.scan(prefix, nil, true, func(_, v []byte) error {
		out = append(out, v)
		return nil
	})
	return out, err
}

// Post returns a post's state. The returned post is shared with the
// cache: Clone it before changing it.
func (s *Store) Post(g, id crdt.ID) (*crdt.Post, error) {
	if p, ok := s.posts.Get(postKey{g, id}); ok {
		return p, nil
	}
	gen := s.commits()
	rec, err := s.get(key(pPost, g[:], id[:]))
	if err != nil {
		return nil, err
	}
	p, err := protocol.DecodePost(rec)
	if err != nil {
		return nil, err
	}
	if s.afterRead != nil {
		s.afterRead()
	}
	s.fill(gen, p)
	return p, nil
}

// The post cache is filled by writers (with what they committed) and by
// readers (with what they read). A reader's post may be older than what
// a writer committed meanwhile, and the writer's next batch starts from
// the cache: so a reader fills the cache only if no commit happened
// since it began reading.

// commits returns the number of commits so far.
func (s *Store) commits() uint64 {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	return s.gen
}

// fill caches p, read when commits() was gen, unless a commit came since.
func (s *Store) fill(gen uint64, p *crdt.Post) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	if s.gen == gen {
		s.posts.Add(postKey{p.Group, p.ID}, p)
	}
}

// Posts calls fn for every post of a group (stubs included) in ID order.
func (s *Store) Posts(g crdt.ID, fn func(*crdt.Post) error) error {
	gen := s.commits()
	return s.scan(key(pPost, g[:]), nil, true, func(k, v []byte) error {
		p, err := s.decodeCached(gen, g, k[len(k)-32:], v)
		if err != nil {
			return err
		}
		return fn(p)
	})
}

func (s *Store) decodeCached(gen uint64, g crdt.ID, idb, rec []byte) (*crdt.Post, error) {
	var id crdt.ID
	copy(id[:], idb)
	if p, ok := s.posts.Get(postKey{g, id}); ok {
		return p, nil
	}
	p, err := protocol.DecodePost(rec)
	if err == nil {
		s.fill(gen, p)
	}
	return p, err
}

// Query selects posts from the board index.
type Query struct {
	Group    crdt.ID
	Kind     crdt.PostKind // 0 = needs and offers
	Statuses []crdt.Status // nil = every status
	Category string        // "" = every category; matched case-insensitively
}

// Query calls fn for each created post that matches q, until fn returns
// false. Order: by kind, status, category, then ID. The index is read in
// one snapshot: a post whose status changes meanwhile is listed once.
func (s *Store) Query(q Query, fn func(*crdt.Post) bool) (err error) {
	defer s.readPanic(&err)
	kinds := []crdt.PostKind{crdt.Need, crdt.Offer}
	if q.Kind != 0 {
		kinds = []crdt.PostKind{q.Kind}
	}
	statuses := q.Statuses
	if statuses == nil {
		statuses = []crdt.Status{crdt.Open, crdt.Claimed, crdt.Fulfilled, crdt.Withdrawn}
	}
	gen := s.commits()
	err = s.db.View(func(txn *badger.Txn) error {
		for _, k := range kinds {
			for _, st := range statuses {
				prefix := key(pIndex, q.Group[:], []byte{byte(k), byte(st)})
				if q.Category != "" {
					prefix = append(prefix, categoryKey(q.Category)...)
				}
				err := scanTxn(txn, prefix, nil, true, func(key, v []byte) error {
					p, err := s.decodeIndexed(gen, q.Group, key, v)
					if err != nil {
						return err
					}
					if !fn(p) {
						return errStop
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err == errStop {
		return nil
	}
	return err
}

// decodeIndexed returns the post of a board index entry: the cached
// state if the post is still under that entry, else the entry's own
// record (the cache can be newer than the snapshot being read).
func (s *Store) decodeIndexed(gen uint64, g crdt.ID, ikey, rec []byte) (*crdt.Post, error) {
	idb := ikey[len(ikey)-32:]
	var id crdt.ID
	copy(id[:], idb)
	if p, ok := s.posts.Get(postKey{g, id}); ok {
		if bytes.Equal(indexKey(p), ikey) {
			return p, nil
		}
		return protocol.DecodePost(rec)
	}
	return s.decodeCached(gen, g, idb, rec)
}

// Ref returns the post an imported row became.
func (s *Store) Ref(g crdt.ID, ref string) (crdt.ID, bool, error) {
	v, err := s.get(key(pRef, g[:], []byte(ref)))
	if err == ErrNotFound {
		return crdt.ID{}, false, nil
	}
	if err != nil {
		return crdt.ID{}, false, err
	}
	var id crdt.ID
	copy(id[:], v)
	return id, true, nil
}

// Groups returns every group record.
func (s *Store) Groups() ([]GroupRecord, error) {
	var out []GroupRecord
	err := s.scan([]byte{pGroup}, nil, true, func(_, v []byte) error {
		g, err := decodeGroup(v)
		if err != nil {
			return fmt.Errorf("group record: %w", err)
		}
		out = append(out, g)
		return nil
	})
	return out, err
}

// Fork is evidence that an author signed two different ops at one seq.
type Fork struct {
	Author crdt.PublicKey
	Seq    uint64
	Op     crdt.ID // the op kept as evidence (the log holds the other)
}

// Breaks calls fn for every break recorded in a group (AddBreak).
func (s *Store) Breaks(g crdt.ID, fn func(a crdt.PublicKey, seq uint64)) error {
	return s.scan(key(pBreak, g[:]), nil, false, func(k, _ []byte) error {
		var a crdt.PublicKey
		copy(a[:], k[1+32:1+64])
		fn(a, seqOf(k))
		return nil
	})
}

// ForkOps returns the ops kept as evidence of forks in a group.
func (s *Store) ForkOps(g crdt.ID) ([][]byte, error) { return s.values(key(pFork, g[:])) }

// Forks lists the forks recorded in a group.
func (s *Store) Forks(g crdt.ID) ([]Fork, error) {
	var out []Fork
	err := s.scan(key(pFork, g[:]), nil, false, func(k, _ []byte) error {
		var f Fork
		rest := k[1+32:]
		copy(f.Author[:], rest[:32])
		f.Seq = seqOf(rest[:40])
		copy(f.Op[:], rest[40:])
		out = append(out, f)
		return nil
	})
	return out, err
}
