package store

import (
	"fmt"

	"github.com/dgraph-io/badger"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// ForgetGroup removes everything the store holds of a group — its ops
// (log, forks, breaks), posts, indexes, refs and record — and erases the
// blobs of its ops from the vault (unfollowing a group). The group's
// local number stays reserved. It deletes in several transactions when
// the group is large, so it first marks the group's record Forgetting:
// a crash half-way leaves a record so marked, and whoever opens the
// store next calls ForgetGroup again to finish (replica.Open does). The
// record goes last.
func (s *Store) ForgetGroup(g crdt.ID) error {
	if err := s.Writable(); err != nil {
		return err
	}
	if err := s.markForgetting(g); err != nil {
		return err
	}
	if gn, ok := s.group(g); ok {
		var blobs []crdt.ID
		err := s.scan(key(pLog, num(gn)), nil, true, func(_, v []byte) error {
			if raw, _, err := protocol.SplitBlob(v); err == nil {
				if id := protocol.OpID(raw); s.HasBlob(id) {
					blobs = append(blobs, id)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := s.EraseBlobs(blobs); err != nil {
			return fmt.Errorf("store: erase the blobs of group %s: %w", g.Short(), err)
		}
		for _, p := range []byte{pLog, pFork, pBreak, pPostOp, pPost, pIndex, pMember, pPark, pRef} {
			if err := s.deletePrefix(key(p, num(gn))); err != nil {
				return err
			}
		}
	}
	if err := s.deletePrefix(key(pGroup, g[:])); err != nil {
		return err
	}
	s.cacheMu.Lock()
	s.gen++
	s.posts.Purge()
	s.cacheMu.Unlock()
	return nil
}

// markForgetting rewrites g's record, if there is one, as Forgetting.
func (s *Store) markForgetting(g crdt.ID) error {
	recs, err := s.Groups()
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if rec.ID != g || rec.Relation == Forgetting {
			continue
		}
		rec.Relation = Forgetting
		var b Batch
		b.PutGroup(rec)
		return s.Commit(&b)
	}
	return nil
}

// deletePrefix deletes every key with prefix, in transactions of at most
// a few thousand deletes.
func (s *Store) deletePrefix(prefix []byte) error {
	for {
		var keys [][]byte
		err := s.scan(prefix, nil, false, func(k, _ []byte) error {
			keys = append(keys, append([]byte(nil), k...))
			if len(keys) == 4096 {
				return errEnough
			}
			return nil
		})
		if err != nil && err != errEnough {
			return err
		}
		if len(keys) == 0 {
			return nil
		}
		s.commitMu.Lock()
		err = s.db.Update(func(txn *badger.Txn) error {
			for _, k := range keys {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		s.commitMu.Unlock()
		if err != nil {
			if isNoSpace(err) {
				return s.diskFull()
			}
			return fmt.Errorf("store: forget: %w", err)
		}
	}
}

var errEnough = fmt.Errorf("enough")
