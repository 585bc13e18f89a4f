package store

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/dgraph-io/badger"

	"github.com/mutual-aid/mutual/crdt"
)

// Local numbers: every key of a group's records names the group, and
// every log key its author, so both are named by a short number that
// this store gives them the first time a commit writes one, kept under
// n kind id. The numbers are this store's own: they never leave it, and
// a repaired or restored store numbers afresh.
const (
	numGroup  = 'g'
	numAuthor = 'a'
)

type numbers struct {
	mu      sync.RWMutex
	groups  map[crdt.ID]uint64
	authors map[crdt.PublicKey]uint64
	byNum   map[uint64]crdt.PublicKey
	next    [2]uint64 // the next group and author numbers
}

func (n *numbers) load(s *Store) error {
	n.groups, n.authors, n.byNum = map[crdt.ID]uint64{}, map[crdt.PublicKey]uint64{}, map[uint64]crdt.PublicKey{}
	return s.scan([]byte{pNumber}, nil, true, func(k, v []byte) error {
		x, w := binary.Uvarint(v)
		if len(k) != 2+32 || w != len(v) {
			return &DamageError{Dir: s.dir, Detail: fmt.Sprintf("a local number record (%x) is malformed", k)}
		}
		switch k[1] {
		case numGroup:
			n.groups[crdt.ID(k[2:])] = x
			n.next[0] = max(n.next[0], x+1)
		case numAuthor:
			a := crdt.PublicKey(k[2:])
			n.authors[a], n.byNum[x] = x, a
			n.next[1] = max(n.next[1], x+1)
		}
		return nil
	})
}

// group returns a group's number; false if no commit wrote one yet (the
// store then holds nothing keyed by it).
func (s *Store) group(g crdt.ID) (uint64, bool) {
	s.nums.mu.RLock()
	defer s.nums.mu.RUnlock()
	x, ok := s.nums.groups[g]
	return x, ok
}

func (s *Store) author(a crdt.PublicKey) (uint64, bool) {
	s.nums.mu.RLock()
	defer s.nums.mu.RUnlock()
	x, ok := s.nums.authors[a]
	return x, ok
}

// authorOf returns the author whose number is x.
func (s *Store) authorOf(x uint64) (crdt.PublicKey, bool) {
	s.nums.mu.RLock()
	defer s.nums.mu.RUnlock()
	a, ok := s.nums.byNum[x]
	return a, ok
}

// numberer gives numbers within one commit: new ones are written in its
// transaction and published only once it committed.
type numberer struct {
	s       *Store
	txn     *badger.Txn
	groups  map[crdt.ID]uint64
	authors map[crdt.PublicKey]uint64
	next    [2]uint64
	prev    [2]uint64 // the store's next numbers before publish
}

func (c *numberer) group(g crdt.ID) (uint64, error) {
	if x, ok := c.s.group(g); ok {
		return x, nil
	}
	if x, ok := c.groups[g]; ok {
		return x, nil
	}
	x := c.next[0]
	c.next[0]++
	if c.groups == nil {
		c.groups = map[crdt.ID]uint64{}
	}
	c.groups[g] = x
	return x, c.txn.Set(key(pNumber, []byte{numGroup}, g[:]), num(x))
}

func (c *numberer) author(a crdt.PublicKey) (uint64, error) {
	if x, ok := c.s.author(a); ok {
		return x, nil
	}
	if x, ok := c.authors[a]; ok {
		return x, nil
	}
	x := c.next[1]
	c.next[1]++
	if c.authors == nil {
		c.authors = map[crdt.PublicKey]uint64{}
	}
	c.authors[a] = x
	return x, c.txn.Set(key(pNumber, []byte{numAuthor}, a[:]), num(x))
}

// groupAuthor numbers an author's log in a group: both numbers, given
// if new.
func (c *numberer) groupAuthor(g0 crdt.ID, a0 crdt.PublicKey) (g, a uint64, err error) {
	if g, err = c.group(g0); err != nil {
		return 0, 0, err
	}
	a, err = c.author(a0)
	return g, a, err
}

// publish makes the numbers given in a transaction known, as it
// commits: until then no key names them, and a reader who looks one up
// finds nothing under it.
func (c *numberer) publish() {
	n := &c.s.nums
	n.mu.Lock()
	defer n.mu.Unlock()
	c.prev = n.next
	for g, x := range c.groups {
		n.groups[g] = x
	}
	for a, x := range c.authors {
		n.authors[a], n.byNum[x] = x, a
	}
	n.next = c.next
}

// unpublish takes back the numbers of a transaction that failed to
// commit (commits are serial: no other commit gave numbers meanwhile).
func (c *numberer) unpublish() {
	n := &c.s.nums
	n.mu.Lock()
	defer n.mu.Unlock()
	for g := range c.groups {
		delete(n.groups, g)
	}
	for a, x := range c.authors {
		delete(n.authors, a)
		delete(n.byNum, x)
	}
	n.next = c.prev
}
