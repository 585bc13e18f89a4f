package store

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// Batch collects the writes of one group commit. Build it with its
// methods, then pass it to Store.Commit: all of it lands, or none. Its
// keys are made at Commit, where groups and authors get their local
// numbers (numbers.go); so the zero Batch is ready to use.
type Batch struct {
	blobs []Blob
	steps []func(*committer) error
	posts []*crdt.Post
	gone  []postKey
	size  int
}

// committer applies a batch's steps in one transaction.
type committer struct {
	numberer
}

func (c *committer) set(k, v []byte) error { return c.txn.Set(k, v) }

// entry returns a post's entry as this transaction sees it.
func (c *committer) entry(k []byte) (postEntry, bool, error) {
	item, err := c.txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return postEntry{}, false, nil
	}
	if err != nil {
		return postEntry{}, false, err
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return postEntry{}, false, err
	}
	e, err := decodeEntry(v)
	return e, true, err
}

// putEntry writes a post's entry, or deletes it when it says nothing.
func (c *committer) putEntry(k []byte, e postEntry) error {
	if e.flags == 0 {
		return c.txn.Delete(k)
	}
	return c.txn.Set(k, e.encode())
}

func (b *Batch) step(size int, f func(*committer) error) {
	b.steps = append(b.steps, f)
	b.size += size + 16
}

// Len returns the number of writes, and Size an estimate of their bytes.
func (b *Batch) Len() int  { return len(b.steps) }
func (b *Batch) Size() int { return b.size }

// AddOp adds an admitted op to its author's log, with the membership
// index for membership ops, and for an op on a post, what lets PostOps
// find it: a create's position in its post's entry, any other op's q
// entry.
func (b *Batch) AddOp(op *crdt.Op, raw []byte) {
	g0 := op.GroupID()
	post, onPost := crdt.PostOf(op)
	_, create := op.Body.(crdt.PostCreate)
	b.step(len(raw)+16, func(c *committer) error {
		g, a, err := c.groupAuthor(g0, op.Author)
		if err != nil {
			return err
		}
		if err := c.set(logKey(g, a, op.Seq), raw); err != nil {
			return err
		}
		if crdt.IsMembership(op) {
			if err := c.set(key(pMember, num(g), op.ID[:]), raw); err != nil {
				return err
			}
		}
		switch {
		case create:
			// A post's entry is first written with its create (a record
			// needs the create: crdt.RebuildPost), so a create being
			// added finds none to read.
			e := postEntry{flags: flagCreate, author: a, seq: op.Seq}
			return c.putEntry(postKeyOf(g, post), e)
		case onPost:
			c.s.withOps.note(g, post) // before the commit: see postsWithOps
			return c.set(key(pPostOp, num(g), post[:], num(a), seqBytes(op.Seq)), nil)
		}
		return nil
	})
}

// AddFork keeps a second op at an author's seq as evidence. It is not
// applied; the first op at that seq stays in the log.
func (b *Batch) AddFork(op *crdt.Op, raw []byte) {
	g0 := op.GroupID()
	b.step(len(raw)+50, func(c *committer) error {
		g, a, err := c.groupAuthor(g0, op.Author)
		if err != nil {
			return err
		}
		return c.set(key(pFork, num(g), num(a), seqBytes(op.Seq), op.ID[:]), raw)
	})
}

// AddBreak records that author signed conflicting ops at seq of a
// group's log: op seq+1's Prev is not the op held at seq. Both ops stay
// in the log, as evidence anyone can check.
func (b *Batch) AddBreak(g0 crdt.ID, author crdt.PublicKey, seq uint64) {
	b.step(16, func(c *committer) error {
		g, a, err := c.groupAuthor(g0, author)
		if err != nil {
			return err
		}
		return c.set(key(pBreak, num(g), num(a), seqBytes(seq)), nil)
	})
}

// DelPost removes a post's record and its board index entry: the ops
// that made it no longer count (its author was removed past its create,
// or forked). Its entry keeps where its create op is.
func (b *Batch) DelPost(prev *crdt.Post) {
	g0, id := prev.Group, prev.ID
	b.step(64, func(c *committer) error {
		g, err := c.group(g0)
		if err != nil {
			return err
		}
		pk := postKeyOf(g, id)
		e, _, err := c.entry(pk)
		if err != nil {
			return err
		}
		if e.flags&flagBoard != 0 {
			if err := c.txn.Delete(indexKey(g, e.spot, id)); err != nil {
				return err
			}
		}
		e.flags &^= flagBoard | flagRecord
		e.spot, e.record = nil, nil
		return c.putEntry(pk, e)
	})
	b.gone = append(b.gone, postKey{prev.Group, prev.ID})
}

// PutPost writes a post's new state: a created post's record into the
// board index (where its entry says it is, and its old index entry
// goes), any other's into its entry.
func (b *Batch) PutPost(prev, p *crdt.Post) {
	rec := protocol.EncodePost(p)
	b.step(len(rec)+64, func(c *committer) error {
		g, err := c.group(p.Group)
		if err != nil {
			return err
		}
		pk := postKeyOf(g, p.ID)
		e, _, err := c.entry(pk)
		if err != nil {
			return err
		}
		spot := indexSpot(p)
		if e.flags&flagBoard != 0 && !(p.Created && string(e.spot) == string(spot)) {
			if err := c.txn.Delete(indexKey(g, e.spot, p.ID)); err != nil {
				return err
			}
		}
		e.flags &^= flagBoard | flagRecord
		e.spot, e.record = nil, nil
		if p.Created {
			if err := c.set(indexKey(g, spot, p.ID), rec); err != nil {
				return err
			}
			e.flags |= flagBoard
			e.spot = spot
		} else {
			e.flags |= flagRecord
			e.record = rec
		}
		return c.putEntry(pk, e)
	})
	b.posts = append(b.posts, p)
}

// PutRef records that an imported row with ref became post id.
func (b *Batch) PutRef(group crdt.ID, ref string, id crdt.ID) {
	b.step(len(ref)+40, func(c *committer) error {
		g, err := c.group(group)
		if err != nil {
			return err
		}
		return c.set(key(pRef, num(g), []byte(ref)), id[:])
	})
}

// PutGroup writes a group record.
func (b *Batch) PutGroup(g GroupRecord) {
	rec := encodeGroup(&g)
	b.step(len(rec)+33, func(c *committer) error {
		return c.set(key(pGroup, g.ID[:]), rec)
	})
}

// Commit writes the batch in one Badger transaction and waits for it to
// be on disk. Only after Commit returns nil may the ops in it be
// acknowledged to anyone.
func (s *Store) Commit(b *Batch) error {
	if b.Len() == 0 {
		return nil
	}
	if err := s.Writable(); err != nil {
		return err
	}
	// The blobs first: an op in Badger has its blob (unless erased).
	if len(b.blobs) > 0 && s.vault != nil {
		if err := s.vault.Put(b.blobs); err != nil {
			if isNoSpace(err) {
				return s.diskFull()
			}
			return fmt.Errorf("store: vault: %w", err)
		}
	}
	// One commit at a time: a commit's new local numbers, and a post
	// entry it reads and rewrites, must not race another's.
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	s.nums.mu.RLock()
	c := &committer{numberer{s: s, txn: txn, next: s.nums.next}}
	s.nums.mu.RUnlock()
	for _, f := range b.steps {
		if err := f(c); err != nil {
			if err == badger.ErrTxnTooBig {
				return fmt.Errorf("store: batch of %d writes (%d bytes) is too big for one transaction: %w", b.Len(), b.size, err)
			}
			return fmt.Errorf("store: %w", err)
		}
	}
	// New numbers are known before the commit, so that no reader sees a
	// key whose number it cannot resolve; taken back if it fails.
	c.publish()
	if err := txn.Commit(); err != nil {
		c.unpublish()
		if isNoSpace(err) {
			return s.diskFull()
		}
		return fmt.Errorf("store: commit: %w", err)
	}
	s.cacheMu.Lock()
	s.gen++
	for _, p := range b.posts {
		s.posts.Add(postKey{p.Group, p.ID}, p)
	}
	for _, k := range b.gone {
		s.posts.Remove(k)
	}
	s.cacheMu.Unlock()
	return nil
}
