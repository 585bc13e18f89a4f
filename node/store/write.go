package store

import (
	"fmt"

	"github.com/dgraph-io/badger"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// Batch collects the writes of one group commit. Build it with its
// methods, then pass it to Store.Commit: all of it lands, or none.
type Batch struct {
	blobs []Blob
	sets  []kv
	dels  [][]byte
	posts []*crdt.Post
	gone  []postKey
	size  int
}

type kv struct{ k, v []byte }

func (b *Batch) set(k, v []byte) {
	b.sets = append(b.sets, kv{k, v})
	b.size += len(k) + len(v) + 16
}

func (b *Batch) del(k []byte) {
	b.dels = append(b.dels, k)
	b.size += len(k) + 16
}

// Len returns the number of writes, and Size an estimate of their bytes.
func (b *Batch) Len() int  { return len(b.sets) + len(b.dels) }
func (b *Batch) Size() int { return b.size }

// AddOp adds an admitted op to its author's log, with its lookup and
// post-op entries, and the membership index for genesis and join ops.
func (b *Batch) AddOp(op *crdt.Op, raw []byte) {
	g := op.GroupID()
	lk := logKey(g, op.Author, op.Seq)
	b.set(lk, raw)
	b.set(key(pOp, op.ID[:]), lk)
	if crdt.IsMembership(op) {
		b.set(key(pMember, g[:], op.ID[:]), raw)
	}
	if post, ok := crdt.PostOf(op); ok {
		b.set(key(pPostOp, g[:], post[:], op.ID[:]), nil)
	}
}

// AddFork keeps a second op at an author's seq as evidence. It is not
// applied; the first op at that seq stays in the log.
func (b *Batch) AddFork(op *crdt.Op, raw []byte) {
	g := op.GroupID()
	b.set(key(pFork, g[:], op.Author[:], seqBytes(op.Seq), op.ID[:]), raw)
	b.set(key(pOp, op.ID[:]), key(pFork, g[:], op.Author[:], seqBytes(op.Seq), op.ID[:]))
}

// AddBreak records that author signed conflicting ops at seq of a
// group's log: op seq+1's Prev is not the op held at seq. Both ops stay
// in the log, as evidence anyone can check.
func (b *Batch) AddBreak(g crdt.ID, author crdt.PublicKey, seq uint64) {
	b.set(key(pBreak, g[:], author[:], seqBytes(seq)), nil)
}

// DelPost removes a post's record and its board index entry: the ops
// that made it no longer count (its author was removed past its create,
// or forked).
func (b *Batch) DelPost(prev *crdt.Post) {
	b.del(key(pPost, prev.Group[:], prev.ID[:]))
	if prev.Created {
		b.del(indexKey(prev))
	}
	b.gone = append(b.gone, postKey{prev.Group, prev.ID})
}

// PutPost writes a post's new state. prev is its state before this
// batch (nil if the store had none), so the old index entry goes.
func (b *Batch) PutPost(prev, p *crdt.Post) {
	rec := protocol.EncodePost(p)
	b.set(key(pPost, p.Group[:], p.ID[:]), rec)
	if prev != nil && prev.Created {
		if old := indexKey(prev); string(old) != string(indexKey(p)) {
			b.del(old)
		}
	}
	if p.Created {
		b.set(indexKey(p), rec)
	}
	b.posts = append(b.posts, p)
}

// PutRef records that an imported row with ref became post id.
func (b *Batch) PutRef(group crdt.ID, ref string, id crdt.ID) {
	b.set(key(pRef, group[:], []byte(ref)), id[:])
}

// PutGroup writes a group record.
func (b *Batch) PutGroup(g GroupRecord) {
	b.set(key(pGroup, g.ID[:]), encodeGroup(&g))
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
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	for _, d := range b.dels {
		if err := txn.Delete(d); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	for _, e := range b.sets {
		if err := txn.Set(e.k, e.v); err != nil {
			if err == badger.ErrTxnTooBig {
				return fmt.Errorf("store: batch of %d writes (%d bytes) is too big for one transaction: %w", b.Len(), b.size, err)
			}
			return fmt.Errorf("store: %w", err)
		}
	}
	if err := txn.Commit(); err != nil {
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
