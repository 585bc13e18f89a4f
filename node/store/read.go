package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
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

// view runs fn in a read transaction of Badger's, counted in Reads.
func (s *Store) view(fn func(txn *badger.Txn) error) error {
	s.reads.Add(1)
	return s.db.View(fn)
}

// Reads returns how many read transactions the store has begun: what a
// test counts to show that some work (an idle catch-up session) reads
// nothing from the disk.
func (s *Store) Reads() uint64 { return s.reads.Load() }

func (s *Store) get(k []byte) (v []byte, err error) {
	defer s.readPanic(&err)
	err = s.view(func(txn *badger.Txn) error {
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
	return s.view(func(txn *badger.Txn) error {
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

// Holds reports whether the store holds op id, which author signed at
// seq of group g: in the log, or kept as a fork.
func (s *Store) Holds(g crdt.ID, author crdt.PublicKey, seq uint64, id crdt.ID) (bool, error) {
	gn, ok := s.group(g)
	an, ok2 := s.author(author)
	if !ok || !ok2 {
		return false, nil
	}
	raw, err := s.get(logKey(gn, an, seq))
	if err != nil && err != ErrNotFound {
		return false, err
	}
	if err == nil && protocol.OpID(raw) == id {
		return true, nil
	}
	_, err = s.get(key(pFork, num(gn), num(an), seqBytes(seq), id[:]))
	if err == ErrNotFound {
		return false, nil
	}
	return err == nil, err
}

// LogOp returns the op an author has at seq in a group's log.
func (s *Store) LogOp(g crdt.ID, a crdt.PublicKey, seq uint64) ([]byte, error) {
	gn, ok := s.group(g)
	an, ok2 := s.author(a)
	if !ok || !ok2 {
		return nil, ErrNotFound
	}
	return s.get(logKey(gn, an, seq))
}

// OpsAfter calls fn with the encoded ops of author in group with seq >
// after, in seq order, stopping at fn's first error.
func (s *Store) OpsAfter(g crdt.ID, a crdt.PublicKey, after uint64, fn func(seq uint64, raw []byte) error) error {
	gn, ok := s.group(g)
	an, ok2 := s.author(a)
	if !ok || !ok2 {
		return nil
	}
	prefix := key(pLog, num(gn), num(an))
	return s.scan(prefix, logKey(gn, an, after+1), true, func(k, v []byte) error {
		return fn(seqOf(k), v)
	})
}

func seqOf(k []byte) uint64 { return binary.BigEndian.Uint64(k[len(k)-8:]) }

// authorSeq reads "A seq" from the front of b, and returns what follows.
func (s *Store) authorSeq(b []byte) (crdt.PublicKey, uint64, []byte, error) {
	an, rest, ok := readNum(b)
	if !ok || len(rest) < 8 {
		return crdt.PublicKey{}, 0, nil, &DamageError{Dir: s.dir, Detail: fmt.Sprintf("a key (%x) is malformed", b)}
	}
	a, ok := s.authorOf(an)
	if !ok {
		return a, 0, nil, &DamageError{Dir: s.dir, Detail: fmt.Sprintf("a key names author number %d, which the store does not know", an)}
	}
	return a, binary.BigEndian.Uint64(rest[:8]), rest[8:], nil
}

// groupScan scans the keys of group g with prefix byte p, fn getting the
// rest of each key after "p G".
func (s *Store) groupScan(p byte, g crdt.ID, values bool, fn func(rest, v []byte) error) error {
	gn, ok := s.group(g)
	if !ok {
		return nil
	}
	prefix := key(p, num(gn))
	return s.scan(prefix, nil, values, func(k, v []byte) error { return fn(k[len(prefix):], v) })
}

// LogSeqs calls fn for every (author, seq) in a group's log, in order,
// reading keys only.
func (s *Store) LogSeqs(g crdt.ID, fn func(a crdt.PublicKey, seq uint64)) error {
	return s.groupScan(pLog, g, false, func(rest, _ []byte) error {
		a, seq, _, err := s.authorSeq(rest)
		if err == nil {
			fn(a, seq)
		}
		return err
	})
}

// MembershipOps returns a group's membership ops (kinds 1–7).
func (s *Store) MembershipOps(g crdt.ID) ([][]byte, error) { return s.values(pMember, g) }

// ParkedOps returns the ops parked in a group.
func (s *Store) ParkedOps(g crdt.ID) ([][]byte, error) { return s.values(pPark, g) }

// PostOps returns the ops of one post: its create (if held) first, then
// the others in (author, seq) order.
func (s *Store) PostOps(g, post crdt.ID) ([][]byte, error) {
	gn, ok := s.group(g)
	if !ok {
		return nil, nil
	}
	var out [][]byte
	v, err := s.get(postKeyOf(gn, post))
	if err != nil && err != ErrNotFound {
		return nil, err
	}
	if err == nil {
		e, err := decodeEntry(v)
		if err != nil {
			return nil, &DamageError{Dir: s.dir, Detail: fmt.Sprintf("post %s: %v", post.Short(), err)}
		}
		if e.flags&flagCreate != 0 {
			raw, err := s.get(logKey(gn, e.author, e.seq))
			if err != nil {
				return nil, fmt.Errorf("the create op of post %s: %w", post.Short(), err)
			}
			out = append(out, raw)
		}
	}
	more, err := s.opsOnPost(gn, post)
	return append(out, more...), err
}

// OpsOnPost returns the ops of a post other than its create, in
// (author, seq) order: for a post whose create is not held yet, the ops
// that came before it.
func (s *Store) OpsOnPost(g, post crdt.ID) ([][]byte, error) {
	gn, ok := s.group(g)
	if !ok {
		return nil, nil
	}
	return s.opsOnPost(gn, post)
}

func (s *Store) opsOnPost(gn uint64, post crdt.ID) ([][]byte, error) {
	if may, err := s.mayHaveOps(gn, post); err != nil || !may {
		return nil, err
	}
	var out [][]byte
	prefix := key(pPostOp, num(gn), post[:])
	err := s.scan(prefix, nil, false, func(k, _ []byte) error {
		an, rest, ok := readNum(k[len(prefix):])
		if !ok || len(rest) != 8 {
			return &DamageError{Dir: s.dir, Detail: fmt.Sprintf("a post-op key (%x) is malformed", k)}
		}
		raw, err := s.get(logKey(gn, an, seqOf(k)))
		if err != nil {
			return fmt.Errorf("an op of post %s: %w", post.Short(), err)
		}
		out = append(out, raw)
		return nil
	})
	return out, err
}

func (s *Store) values(p byte, g crdt.ID) ([][]byte, error) {
	var out [][]byte
	err := s.groupScan(p, g, true, func(_, v []byte) error {
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
	gn, ok := s.group(g)
	if !ok {
		return nil, ErrNotFound
	}
	rec, err := s.record(gn, id)
	if err != nil {
		return nil, err
	}
	p, err := protocol.DecodePost(rec, g, id)
	if err != nil {
		return nil, err
	}
	if s.afterRead != nil {
		s.afterRead()
	}
	s.fill(gen, p)
	return p, nil
}

// record reads a post's record: from the board index, where its entry
// says, or from the entry itself. The two reads see one snapshot.
func (s *Store) record(gn uint64, id crdt.ID) (rec []byte, err error) {
	defer s.readPanic(&err)
	err = s.view(func(txn *badger.Txn) error {
		v, err := txnGet(txn, postKeyOf(gn, id))
		if err != nil {
			return err
		}
		e, err := decodeEntry(v)
		if err != nil {
			return &DamageError{Dir: s.dir, Detail: fmt.Sprintf("post %s: %v", id.Short(), err)}
		}
		switch {
		case e.flags&flagRecord != 0:
			rec = e.record
		case e.flags&flagBoard != 0:
			rec, err = txnGet(txn, indexKey(gn, e.spot, id))
			if err == ErrNotFound {
				return &DamageError{Dir: s.dir, Detail: fmt.Sprintf("post %s: its board index entry is missing", id.Short())}
			}
		default:
			err = ErrNotFound
		}
		return err
	})
	return rec, err
}

func txnGet(txn *badger.Txn, k []byte) ([]byte, error) {
	item, err := txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
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

// Posts calls fn for every post of a group (stubs included): the
// created ones in board index order, then the others in ID order. One
// snapshot; nothing is collected, so a caller that wants them in ID
// order sorts them.
func (s *Store) Posts(g crdt.ID, fn func(*crdt.Post) error) error {
	gen := s.commits()
	return s.allPosts(g, func(id crdt.ID, rec []byte) (*crdt.Post, error) {
		return s.decodeCached(gen, g, id, rec)
	}, fn)
}

// allPosts reads every post of a group in one snapshot — the created ones
// from the board index, the others from their entries.
func (s *Store) allPosts(g crdt.ID, decode func(id crdt.ID, rec []byte) (*crdt.Post, error), fn func(*crdt.Post) error) (err error) {
	defer s.readPanic(&err)
	gn, ok := s.group(g)
	if !ok {
		return nil
	}
	return s.view(func(txn *badger.Txn) error {
		prefix := key(pIndex, num(gn))
		err := scanTxn(txn, prefix, nil, true, func(k, v []byte) error {
			p, err := decode(crdt.ID(k[len(k)-32:]), v)
			if err != nil {
				return err
			}
			return fn(p)
		})
		if err != nil {
			return err
		}
		prefix = key(pPost, num(gn))
		return scanTxn(txn, prefix, nil, true, func(k, v []byte) error {
			e, err := decodeEntry(v)
			if err != nil || len(k) != len(prefix)+32 {
				return &DamageError{Dir: s.dir, Detail: fmt.Sprintf("post entry %x: malformed", k)}
			}
			if e.flags&flagRecord == 0 {
				return nil
			}
			p, err := decode(crdt.ID(k[len(prefix):]), e.record)
			if err != nil {
				return err
			}
			return fn(p)
		})
	})
}

func (s *Store) decodeCached(gen uint64, g, id crdt.ID, rec []byte) (*crdt.Post, error) {
	if p, ok := s.posts.Get(postKey{g, id}); ok {
		return p, nil
	}
	p, err := protocol.DecodePost(rec, g, id)
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
	gn, ok := s.group(q.Group)
	if !ok {
		return nil
	}
	gen := s.commits()
	err = s.view(func(txn *badger.Txn) error {
		for _, k := range kinds {
			for _, st := range statuses {
				prefix := key(pIndex, num(gn), []byte{byte(k), byte(st)})
				if q.Category != "" {
					prefix = append(prefix, categoryKey(q.Category)...)
				}
				err := scanTxn(txn, prefix, nil, true, func(key, v []byte) error {
					p, err := s.decodeIndexed(gen, q.Group, gn, key, v)
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
func (s *Store) decodeIndexed(gen uint64, g crdt.ID, gn uint64, ikey, rec []byte) (*crdt.Post, error) {
	id := crdt.ID(ikey[len(ikey)-32:])
	if p, ok := s.posts.Get(postKey{g, id}); ok {
		if bytes.Equal(indexKey(gn, indexSpot(p), id), ikey) {
			return p, nil
		}
		return protocol.DecodePost(rec, g, id)
	}
	return s.decodeCached(gen, g, id, rec)
}

// Ref returns the post an imported row became.
func (s *Store) Ref(g crdt.ID, ref string) (crdt.ID, bool, error) {
	gn, ok := s.group(g)
	if !ok {
		return crdt.ID{}, false, nil
	}
	v, err := s.get(key(pRef, num(gn), []byte(ref)))
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
	return s.groupScan(pBreak, g, false, func(rest, _ []byte) error {
		a, seq, _, err := s.authorSeq(rest)
		if err == nil {
			fn(a, seq)
		}
		return err
	})
}

// ForkOps returns the ops kept as evidence of forks in a group.
func (s *Store) ForkOps(g crdt.ID) ([][]byte, error) { return s.values(pFork, g) }

// Forks lists the forks recorded in a group.
func (s *Store) Forks(g crdt.ID) ([]Fork, error) {
	var out []Fork
	err := s.groupScan(pFork, g, false, func(rest, _ []byte) error {
		a, seq, id, err := s.authorSeq(rest)
		if err != nil || len(id) != 32 {
			return cmp.Or(err, error(&DamageError{Dir: s.dir, Detail: "a fork key is malformed"}))
		}
		out = append(out, Fork{Author: a, Seq: seq, Op: crdt.ID(id)})
		return nil
	})
	return out, err
}
