package catchup

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// MemoryReplica is the in-memory twin of the node's Badger-backed
// replica: it holds encoded ops per (group, author, seq) — its "durable
// log" — and one crdt.Board per group. It is safe for concurrent use.
//
// What it stores follows the node's rules (crdt.Storable):
//   - the genesis; a join whose invite's issuer is known (the log holds
//     an op of it); any op of an author whose log is known, members or
//     not: whether an op counts is the board's question, decided over
//     everything held, so every replica holding the same ops agrees;
//   - its own ops, always (a newcomer holds only its join until it meets
//     the group);
//   - a second, different op for an (author, seq) already held is a
//     fork: kept aside as evidence, sent on to peers, and handed to the
//     board, which voids the author's ops from there on.
type MemoryReplica struct {
	self crdt.PublicKey
	now  func() int64

	mu     sync.Mutex
	groups map[crdt.ID]*memGroup
	cache  *OpCache
	forks  int
}

type memGroup struct {
	board    *crdt.Board
	authors  map[crdt.PublicKey]*memAuthor
	ids      map[crdt.ID]struct{}    // ops in the log or kept as evidence
	evidence [][]byte                // forked ops
	vouched  map[crdt.PublicKey]bool // a newcomer's: the members its invite code named
	sources  map[crdt.PublicKey]bool // a follower's: the peers it offers the group to
	followed bool                    // added by Follow: read-only, no topic until this node is a member
}

type memAuthor struct {
	seqs   []uint64 // sorted
	ops    map[uint64]memOp
	contig uint64
}

type memOp struct {
	id  crdt.ID
	raw []byte
}

// NewMemoryReplica returns an empty replica for the node whose key is
// self; now returns the node's wall clock in Unix milliseconds.
func NewMemoryReplica(self crdt.PublicKey, now func() int64) *MemoryReplica {
	return &MemoryReplica{self: self, now: now, groups: map[crdt.ID]*memGroup{}}
}

// AddGroup starts replicating a group (creating it, joining it or
// following it). Adding a group twice does nothing.
func (m *MemoryReplica) AddGroup(id crdt.ID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.groups[id] == nil {
		m.groups[id] = newMemGroup(id)
	}
}

// Follow starts replicating a group read-only, as a follower, and
// offers it (Limited: Follow) to the peers in via, which are expected to
// hold it: those its follow code named, or that offered it the group.
// Following a group already held only adds to via.
func (m *MemoryReplica) Follow(id crdt.ID, via ...crdt.PublicKey) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.groups[id]
	if g == nil {
		g = newMemGroup(id)
		m.groups[id] = g
	}
	if g.sources == nil {
		g.sources = map[crdt.PublicKey]bool{}
	}
	g.followed = true
	for _, k := range via {
		g.sources[k] = true
	}
}

// AddSource records that peer holds a group this replica follows (a
// node found under the group's rendezvous key), so that it offers the
// group to that peer from now on, as to the peers given to Follow. It
// reports whether the replica follows the group.
func (m *MemoryReplica) AddSource(id crdt.ID, peer crdt.PublicKey) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.groups[id]
	if g == nil || !g.followed {
		return false
	}
	g.sources[peer] = true
	return true
}

// Unfollow forgets a group: its ops and its record.
func (m *MemoryReplica) Unfollow(id crdt.ID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.groups, id)
}

// MayFollow implements Replica: the group's federation policy
// (catchup.MayFollow), judged over this replica's boards.
func (m *MemoryReplica) MayFollow(group crdt.ID, peer crdt.PublicKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mayFollow(group, peer)
}

// mayFollow is MayFollow with m.mu held.
func (m *MemoryReplica) mayFollow(group crdt.ID, peer crdt.PublicKey) error {
	g := m.groups[group]
	if g == nil {
		return ErrUnknownGroup
	}
	g.board.Refresh()
	return MayFollow(g.board.Group.Federation(), func(ally crdt.ID) bool {
		a := m.groups[ally]
		if a == nil {
			return false
		}
		a.board.Refresh()
		return a.board.Group.IsMember(peer)
	})
}

func newMemGroup(id crdt.ID) *memGroup {
	return &memGroup{
		board:   crdt.NewBoard(id),
		authors: map[crdt.PublicKey]*memAuthor{},
		ids:     map[crdt.ID]struct{}{},
	}
}

// SetOpCache makes the replica share c, a cache of verified ops, with
// other replicas in the process; see OpCache.
func (m *MemoryReplica) SetOpCache(c *OpCache) {
	m.mu.Lock()
	m.cache = c
	m.mu.Unlock()
}

// Add stores a local op (or, in tests, any op to seed a replica with). An
// op authored by this node is trusted to be signed (it signed it just
// now) and is not verified again, and is stored whatever crdt.Storable
// says. Add fails when the op is invalid or stamped too far ahead; an op
// of an author unknown here is dropped, as Ingest drops it.
func (m *MemoryReplica) Add(raw []byte) error {
	op, err := protocol.DecodeStoredOp(raw)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	if op.Author != m.self {
		v, err := m.IngestOne(context.Background(), raw)
		if v == crdt.Reject || (v == crdt.Ignore && err != nil && !errors.Is(err, crdt.ErrNotMember)) {
			return err
		}
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.groups[op.GroupID()]
	if g == nil {
		return ErrUnknownGroup
	}
	m.cache.put(op)
	if _, v, err := m.apply(g, &op, raw, m.now(), true); v != crdt.Accept && !errors.Is(err, crdt.ErrNotMember) {
		return err
	}
	return nil
}

// Groups implements Replica.
func (m *MemoryReplica) Groups() []crdt.ID {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.SortedFunc(maps.Keys(m.groups), crdt.ID.Compare)
}

// MayRead implements Replica: peer is a member of the group on this
// replica's board.
// Topic names a group's topic as the node does, with the group ID in the
// place of its first key: the twin keeps no keys. A group it follows
// (Follow) has none while this node is no member of it: a follower's
// node cannot derive the topic, and gets new ops by catch-up only.
func (m *MemoryReplica) Topic(group crdt.ID) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.groups[group]
	if !ok {
		return "", false
	}
	if g.followed {
		g.board.Refresh()
		if !g.board.Group.IsMember(m.self) {
			return "", false
		}
	}
	return protocol.Topic(group, group), true
}

func (m *MemoryReplica) MayRead(group crdt.ID, peer crdt.PublicKey) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.groups[group]
	if g == nil {
		return false
	}
	g.board.Refresh() // the forks, which the membership depends on
	return g.board.Group.IsMember(peer)
}

// Vouch records the members a newcomer's invite code named (the issuer
// among them): the peers to which it offers its own ops.
func (m *MemoryReplica) Vouch(group crdt.ID, members ...crdt.PublicKey) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.groups[group]
	if g == nil {
		return
	}
	if g.vouched == nil {
		g.vouched = map[crdt.PublicKey]bool{}
	}
	for _, k := range members {
		g.vouched[k] = true
	}
}

// Limited implements Replica: a newcomer offers its own ops to the
// members its invite code named (Vouch); a former member gets the
// changes of its role; a follower offers the group to its sources
// (Follow) that may follow it, and asks the others for it (Ask).
func (m *MemoryReplica) Limited(group crdt.ID, peer crdt.PublicKey) (Limit, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var l Limit
	g := m.groups[group]
	if g == nil {
		return l, nil
	}
	g.board.Refresh()
	if g.board.Group.PendingJoinOf(m.self) && g.vouched[peer] {
		self := m.self
		l.Own = &self
	}
	for _, op := range g.board.Group.RoleChangesOf(peer) {
		raw, err := protocol.EncodeOp(&op)
		if err != nil {
			return l, err
		}
		l.Notices = append(l.Notices, raw)
	}
	if l.Own == nil && len(l.Notices) == 0 && g.sources[peer] {
		l.Follow = m.mayFollow(group, peer) == nil
		l.Ask = !l.Follow
	}
	return l, nil
}

// Evidence implements Replica.
func (m *MemoryReplica) Evidence(group crdt.ID, fn func(raw []byte) error) error {
	m.mu.Lock()
	g := m.groups[group]
	if g == nil {
		m.mu.Unlock()
		return ErrUnknownGroup
	}
	ev := slices.Clone(g.evidence)
	m.mu.Unlock()
	for _, raw := range ev {
		if err := fn(raw); err != nil {
			return err
		}
	}
	return nil
}

// ErrUnknownGroup is returned for a group the replica does not replicate.
var ErrUnknownGroup = errors.New("catchup: group not replicated here")

// VersionVector implements Replica.
func (m *MemoryReplica) VersionVector(group crdt.ID) (map[crdt.PublicKey]uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.groups[group]
	if g == nil {
		return nil, ErrUnknownGroup
	}
	v := make(map[crdt.PublicKey]uint64, len(g.authors))
	for k, a := range g.authors {
		v[k] = a.contig
	}
	return v, nil
}

// Digest implements Replica, computing it afresh: the twin has no store
// to spare reads of.
func (m *MemoryReplica) Digest(group crdt.ID) (protocol.Digest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.groups[group]
	if g == nil {
		return protocol.Digest{}, ErrUnknownGroup
	}
	v := make(map[crdt.PublicKey]uint64, len(g.authors))
	var above []protocol.VectorEntry
	for k, a := range g.authors {
		v[k] = a.contig
		for _, s := range a.seqs {
			if s > a.contig {
				above = append(above, protocol.VectorEntry{Author: k, Seq: s})
			}
		}
	}
	ev := make([]crdt.ID, len(g.evidence))
	for i, raw := range g.evidence {
		ev[i] = protocol.OpID(raw)
	}
	return protocol.GroupDigestOf(v, above, nil, ev), nil
}

// OpsAfter implements Replica. It copies references to a few ops at a
// time under the lock and calls fn without it.
func (m *MemoryReplica) OpsAfter(group crdt.ID, author crdt.PublicKey, after uint64, fn func(raw []byte) error) error {
	var chunk [][]byte
	for {
		chunk = chunk[:0]
		m.mu.Lock()
		g := m.groups[group]
		if g == nil {
			m.mu.Unlock()
			return ErrUnknownGroup
		}
		if a := g.authors[author]; a != nil {
			i, _ := slices.BinarySearch(a.seqs, after+1)
			for ; i < len(a.seqs) && len(chunk) < 256; i++ {
				chunk = append(chunk, a.ops[a.seqs[i]].raw)
				after = a.seqs[i]
			}
		}
		m.mu.Unlock()
		for _, raw := range chunk {
			if err := fn(raw); err != nil {
				return err
			}
		}
		if len(chunk) < 256 || after == math.MaxUint64 {
			return nil
		}
	}
}

// decoded is an op with its encoding, after decoding and verification.
type decoded struct {
	op  crdt.Op
	raw []byte
}

// decode decodes and verifies raws, skipping those already in the log
// (their bytes hash to an op ID held: they were verified when stored).
func (m *MemoryReplica) decode(raws [][]byte) ([]decoded, error) {
	m.mu.Lock()
	cache := m.cache
	held := func(id crdt.ID) bool {
		for _, g := range m.groups {
			if _, ok := g.ids[id]; ok {
				return true
			}
		}
		return false
	}
	ids := make([]crdt.ID, len(raws))
	skip := make([]bool, len(raws))
	for i, raw := range raws {
		ids[i] = protocol.OpID(raw)
		skip[i] = held(ids[i])
	}
	m.mu.Unlock()
	out := make([]decoded, 0, len(raws))
	for i, raw := range raws {
		if skip[i] {
			continue
		}
		op, ok := cache.get(ids[i])
		if !ok {
			var err error
			op, err = protocol.DecodeOp(raw)
			if errors.Is(err, protocol.ErrUnsupported) {
				continue // a newer version or kind: skipped, not held against the peer
			}
			if err != nil {
				return nil, fmt.Errorf("%w: op %d: %w", ErrRejected, i, err)
			}
			cache.put(op)
		}
		out = append(out, decoded{op, raw})
	}
	return out, nil
}

// Ingest implements Replica. The ops are decoded and verified first;
// then, under the lock, judged all together (the crdt's reject checks do
// not depend on the state), so that one invalid op leaves everything
// unchanged; then applied in order.
func (m *MemoryReplica) Ingest(ctx context.Context, raws [][]byte) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	ops, err := m.decode(raws)
	if err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for i := range ops {
		g := m.groups[ops[i].op.GroupID()]
		if g == nil {
			continue
		}
		if v, err := g.board.Group.Check(&ops[i].op, now); v == crdt.Reject {
			return 0, fmt.Errorf("%w: op %s: %w", ErrRejected, ops[i].op.ID.Short(), err)
		}
	}
	fresh := 0
	for i := range ops {
		g := m.groups[ops[i].op.GroupID()]
		if g == nil {
			continue
		}
		n, _, _ := m.apply(g, &ops[i].op, ops[i].raw, now, false)
		fresh += n
	}
	return fresh, nil
}

// IngestOne implements Replica.
func (m *MemoryReplica) IngestOne(ctx context.Context, raw []byte) (crdt.Verdict, error) {
	if err := ctx.Err(); err != nil {
		return crdt.Ignore, err
	}
	ops, err := m.decode([][]byte{raw})
	if err != nil {
		return crdt.Reject, err
	}
	if len(ops) == 0 {
		return crdt.Ignore, nil // held already
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.groups[ops[0].op.GroupID()]
	if g == nil {
		return crdt.Ignore, ErrUnknownGroup
	}
	n, v, err := m.apply(g, &ops[0].op, raw, m.now(), false)
	switch {
	case v == crdt.Reject:
		return v, fmt.Errorf("%w: %w", ErrRejected, err)
	case v == crdt.Accept && n == 0:
		return crdt.Ignore, nil
	}
	return v, err
}

// apply judges and stores one decoded op. It returns how many ops it
// stored (0 or 1) and the verdict: a fork, stored as evidence, is
// ignored (gossip does not forward it; catch-up sends the evidence). The
// caller holds m.mu.
func (m *MemoryReplica) apply(g *memGroup, op *crdt.Op, raw []byte, now int64, local bool) (int, crdt.Verdict, error) {
	if _, ok := g.ids[op.ID]; ok {
		return 0, crdt.Accept, nil
	}
	v, err := g.board.Group.Check(op, now)
	if v != crdt.Accept {
		return 0, v, err
	}
	known := func(k crdt.PublicKey) bool {
		a := g.authors[k]
		return a != nil && a.contig > 0
	}
	if !local && !crdt.Storable(op, known) {
		return 0, crdt.Ignore, crdt.ErrNotMember
	}
	g.board.Apply(*op, now)
	g.ids[op.ID] = struct{}{}
	if a := g.authors[op.Author]; a != nil {
		if held, ok := a.ops[op.Seq]; ok && held.id != op.ID {
			m.forks++
			g.evidence = append(g.evidence, raw)
			return 1, crdt.Ignore, nil
		}
	}
	m.store(g, op, raw)
	return 1, crdt.Accept, nil
}

func (m *MemoryReplica) store(g *memGroup, op *crdt.Op, raw []byte) {
	a := g.authors[op.Author]
	if a == nil {
		a = &memAuthor{ops: map[uint64]memOp{}}
		g.authors[op.Author] = a
	}
	if n := len(a.seqs); n == 0 || a.seqs[n-1] < op.Seq {
		a.seqs = append(a.seqs, op.Seq)
	} else {
		i, _ := slices.BinarySearch(a.seqs, op.Seq)
		a.seqs = slices.Insert(a.seqs, i, op.Seq)
	}
	a.ops[op.Seq] = memOp{id: op.ID, raw: raw}
	for {
		if _, ok := a.ops[a.contig+1]; !ok {
			break
		}
		a.contig++
	}
}

// Hash returns the state hash of a group's board (zero for a group not
// replicated).
func (m *MemoryReplica) Hash(group crdt.ID) crdt.ID {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.groups[group]
	if g == nil {
		return crdt.ID{}
	}
	return g.board.Hash()
}

// Len returns the number of ops of a group in the log.
func (m *MemoryReplica) Len(group crdt.ID) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if g := m.groups[group]; g != nil {
		return len(g.ids)
	}
	return 0
}

// Forks returns how many forked ops (a second op for an author and seq)
// were seen and kept as evidence.
func (m *MemoryReplica) Forks() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.forks
}

// Restart simulates a restart of the node: everything not in the log
// (others' parked ops, the boards) is dropped and the boards are rebuilt
// from the log alone, as the node rebuilds from its store.
func (m *MemoryReplica) Restart() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, old := range m.groups {
		g := newMemGroup(id)
		g.vouched = old.vouched // kept with the group's record, as the node keeps it
		g.sources, g.followed = old.sources, old.followed
		m.groups[id] = g
		var ops []decoded
		for _, a := range old.authors {
			for _, seq := range a.seqs {
				raw := a.ops[seq].raw
				op, err := protocol.DecodeStoredOp(raw)
				if err != nil {
					return fmt.Errorf("catchup: restart: stored op: %w", err)
				}
				ops = append(ops, decoded{op, raw})
			}
		}
		ops = append(ops, decodedAll(old.evidence)...)
		for i := range ops {
			// Stored ops passed the drift check once: do not judge it again.
			m.apply(g, &ops[i].op, ops[i].raw, math.MaxInt64/2, true)
		}
	}
	return nil
}

func decodedAll(raws [][]byte) []decoded {
	out := make([]decoded, 0, len(raws))
	for _, raw := range raws {
		if op, err := protocol.DecodeStoredOp(raw); err == nil {
			out = append(out, decoded{op, raw})
		}
	}
	return out
}

// OpCache remembers ops that decoded and verified, keyed by their ID (the
// SHA-256 of their encoding, so a hit means exactly those bytes were
// verified). MemoryReplicas that share one verify each distinct op once:
// a simulation of many nodes in one process spends its time on the
// protocol instead of on ed25519. A nil *OpCache caches nothing.
type OpCache struct {
	mu  sync.Mutex
	ops map[crdt.ID]crdt.Op
}

// NewOpCache returns an empty cache.
func NewOpCache() *OpCache { return &OpCache{ops: map[crdt.ID]crdt.Op{}} }

// opCacheMax bounds a cache; past it, the cache starts over.
const opCacheMax = 1 << 18

func (c *OpCache) get(id crdt.ID) (crdt.Op, bool) {
	if c == nil {
		return crdt.Op{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	op, ok := c.ops[id]
	return op, ok
}

func (c *OpCache) put(op crdt.Op) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ops) >= opCacheMax {
		clear(c.ops)
	}
	c.ops[op.ID] = op
}

// Introduction implements Introducer: X's membership ops, if this node
// is a member of X, X accepts followers from its allies only, and one
// of them is a group this node follows that the peer holds and is a
// member of (MayIntroduce; the peers given to Follow stand for those
// its follow code named).
func (m *MemoryReplica) Introduction(group crdt.ID, remote crdt.PublicKey, holds func(ally crdt.ID) bool) ([][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.groups[group]
	if g == nil || g.followed {
		return nil, nil
	}
	g.board.Refresh()
	if !g.board.Group.IsMember(m.self) {
		return nil, nil
	}
	f := g.board.Group.Federation()
	if f.Policy != crdt.FollowAllies || !slices.ContainsFunc(f.Allies, func(ally crdt.ID) bool {
		a := m.groups[ally]
		if a == nil || !a.followed {
			return false
		}
		a.board.Refresh()
		return MayIntroduce(holds(ally), a.board.Group.Founded, a.board.Group.IsMember(remote), a.sources[remote])
	}) {
		return nil, nil
	}
	return EncodeOps(g.board.Group.Introduction())
}
