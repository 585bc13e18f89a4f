package crdt

import (
	"iter"
	"maps"
	"slices"
)

// Board is one group's whole state in memory: every op held, and the
// membership and posts they make. It is the reference model that the
// store-backed node must agree with, and what simulations run on. It
// computes its state from scratch from the ops held, lazily, so it is a
// pure function of the set of ops by construction.
type Board struct {
	Group *Group
	Posts map[ID]*Post // valid after Refresh (Hash and SortedPosts refresh)

	ops   map[ID]Op
	log   map[PublicKey]map[uint64][]ID // every op held at each (author, seq)
	dirty bool
}

// NewBoard returns the empty board of a group.
func NewBoard(group ID) *Board {
	return &Board{Group: NewGroup(group), Posts: map[ID]*Post{}, ops: map[ID]Op{}, log: map[PublicKey]map[uint64][]ID{}}
}

// Get implements PostSet.
func (b *Board) Get(id ID) *Post { return b.Posts[id] }

// Put implements PostSet.
func (b *Board) Put(p *Post) { b.Posts[p.ID] = p }

// Apply validates op at nowMillis and, unless it is rejected or stamped
// too far ahead, holds it. It returns the verdict and the reason for a
// non-accept. Whether the op counts is decided over every op held; the
// last result is always nil (kept for callers of the old signature).
func (b *Board) Apply(op Op, nowMillis int64) (Verdict, error, []*Post) {
	v, err := b.Group.Check(&op, nowMillis)
	if v != Accept {
		return v, err, nil
	}
	if _, dup := b.ops[op.ID]; dup {
		return Accept, nil, nil
	}
	b.ops[op.ID] = op
	seqs := b.log[op.Author]
	if seqs == nil {
		seqs = map[uint64][]ID{}
		b.log[op.Author] = seqs
	}
	seqs[op.Seq] = append(seqs[op.Seq], op.ID)
	b.Group.Hold(&op)
	b.dirty = true
	return Accept, nil, nil
}

// Vouch tells the board's group the current members of group from, as
// this replica knows them (Group.Vouch): visitors from it may count.
func (b *Board) Vouch(from ID, members []PublicKey) {
	b.Group.Vouch(from, members)
	b.dirty = true
}

// Held reports whether the board holds op id.
func (b *Board) Held(id ID) bool { _, ok := b.ops[id]; return ok }

// Refresh recomputes forks and posts from the ops held.
func (b *Board) Refresh() {
	if !b.dirty {
		return
	}
	b.dirty = false
	byPost := map[ID][]Op{}
	for a, seqs := range b.log {
		if fork := forkOf(seqs, b.ops); fork != 0 {
			b.Group.Fork(a, fork)
		}
		for _, ids := range seqs {
			if len(ids) != 1 {
				continue // a fork: neither counts
			}
			op := b.ops[ids[0]]
			if id, ok := PostOf(&op); ok {
				byPost[id] = append(byPost[id], op)
			}
		}
	}
	b.Posts = map[ID]*Post{}
	roleOf := func(op *Op) Role { return b.Group.RoleAt(op.Author, op.Seq) }
	for id, ops := range byPost {
		if p := RebuildPost(b.Group.ID, id, ops, roleOf); p != nil {
			b.Posts[id] = p
		}
	}
}

// forkOf returns the lowest seq at which an author signed conflicting
// ops — two ops at one seq, or an op whose Prev is not the op held
// before it — or 0.
func forkOf(seqs map[uint64][]ID, ops map[ID]Op) (fork uint64) {
	at := func(f uint64) {
		if fork == 0 || f < fork {
			fork = f
		}
	}
	for s, ids := range seqs {
		if len(ids) > 1 {
			at(s)
		}
		// Every op at s against the op at s-1, even when s holds two:
		// else the answer would depend on which ops arrived first.
		if prev := seqs[s-1]; len(prev) == 1 {
			for _, id := range ids {
				if ops[id].Prev != prev[0] {
					at(s - 1)
				}
			}
		}
	}
	return fork
}

// SortedPosts yields the posts in ID order.
func (b *Board) SortedPosts() iter.Seq[*Post] {
	b.Refresh()
	return func(yield func(*Post) bool) {
		for _, id := range slices.SortedFunc(maps.Keys(b.Posts), ID.Compare) {
			if !yield(b.Posts[id]) {
				return
			}
		}
	}
}

// Hash returns the board's state hash.
func (b *Board) Hash() ID {
	b.Refresh()
	return StateHash(b.Group, b.SortedPosts())
}
