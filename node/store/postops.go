package store

import (
	"encoding/binary"
	"sync"

	"github.com/mutual-aid/mutual/crdt"
)

// postsWithOps remembers which posts of each group have ops other than
// their create (q entries), so that finding a post's other ops needs no
// Badger scan for a post that has none. That is every post whose create
// a node receives (gossip, catch-up, a bundle): ops on a post that came
// before its create are rare, and the prefix scan that looked for them
// was 7–8% of a receiving node's CPU in the 3-node burst.
//
// A group's set is loaded from its q keys the first time it is asked
// about (a key-only scan), and every q entry a commit writes is noted in
// it, loaded or not, so that a load that races a commit loses nothing:
// both add, nothing removes. Posts are kept by the first 8 bytes of
// their ID; a post that shares them with one that has ops, a commit that
// failed after noting its entries, a group forgotten since: each only
// costs the scan it would have cost before. The set never says "none"
// for a post that has a q entry.
type postsWithOps struct {
	mu     sync.Mutex
	groups map[uint64]*opsSet // by group number
}

type opsSet struct {
	loaded bool
	posts  map[uint64]struct{}
}

func postPrefix(post []byte) uint64 { return binary.BigEndian.Uint64(post[:8]) }

// note records that post (of group number gn) has a q entry.
func (p *postsWithOps) note(gn uint64, post crdt.ID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.set(gn).posts[postPrefix(post[:])] = struct{}{}
}

// set returns group gn's set, creating it unloaded. p.mu is held.
func (p *postsWithOps) set(gn uint64) *opsSet {
	if p.groups == nil {
		p.groups = map[uint64]*opsSet{}
	}
	o := p.groups[gn]
	if o == nil {
		o = &opsSet{posts: map[uint64]struct{}{}}
		p.groups[gn] = o
	}
	return o
}

// mayHaveOps reports whether post (of group number gn) may have q entries;
// false means it has none.
func (s *Store) mayHaveOps(gn uint64, post crdt.ID) (bool, error) {
	p := &s.withOps
	k := postPrefix(post[:])
	p.mu.Lock()
	if o := p.set(gn); o.loaded {
		_, ok := o.posts[k]
		p.mu.Unlock()
		return ok, nil
	}
	p.mu.Unlock()
	prefix := key(pPostOp, num(gn))
	var found []uint64
	err := s.scan(prefix, nil, false, func(key, _ []byte) error {
		if rest := key[len(prefix):]; len(rest) >= 8 {
			found = append(found, postPrefix(rest))
		}
		return nil
	})
	if err != nil {
		return true, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	o := p.set(gn)
	for _, x := range found {
		o.posts[x] = struct{}{}
	}
	o.loaded = true
	_, ok := o.posts[k]
	return ok, nil
}
