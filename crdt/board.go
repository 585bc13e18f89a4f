package crdt

import (
	"iter"
	"maps"
	"slices"
)

// PostSet is where ApplyPost finds and keeps posts. Board keeps them in a
// map; package node loads the posts a batch of ops touches from its store
// into memory first, so ApplyPost never waits on I/O.
type PostSet interface {
	Get(id ID) *Post // nil when the set has no such post
	Put(p *Post)
}

// ApplyPost merges an admitted op into the post it targets, creating a
// stub if the post is unknown, and returns the post when it changed (nil
// otherwise, and for ops that target no post).
func ApplyPost(posts PostSet, op *Op) *Post {
	id, ok := PostOf(op)
	if !ok {
		return nil
	}
	p := posts.Get(id)
	if p == nil {
		p = NewPost(op.GroupID(), id)
	}
	if !p.Apply(op) {
		return nil
	}
	posts.Put(p)
	return p
}

// Board is one group's whole state in memory: membership plus posts. It
// is the reference model that the store-backed node must agree with, and
// what simulations run on.
type Board struct {
	Group *Group
	Posts map[ID]*Post
}

// NewBoard returns the empty board of a group.
func NewBoard(group ID) *Board {
	return &Board{Group: NewGroup(group), Posts: map[ID]*Post{}}
}

// Get implements PostSet.
func (b *Board) Get(id ID) *Post { return b.Posts[id] }

// Put implements PostSet.
func (b *Board) Put(p *Post) { b.Posts[p.ID] = p }

// Apply validates op at nowMillis and merges it. It returns the verdict,
// the reason for a non-accept, and the posts that changed.
func (b *Board) Apply(op Op, nowMillis int64) (Verdict, error, []*Post) {
	v, err := b.Group.Check(&op, nowMillis)
	if v == Reject || (v == Ignore && err != ErrNotMember) {
		return v, err, nil
	}
	ready, err := b.Group.Admit(op)
	var changed []*Post
	for i := range ready {
		if p := ApplyPost(b, &ready[i]); p != nil {
			changed = append(changed, p)
		}
	}
	if err != nil {
		return Ignore, err, changed
	}
	return Accept, nil, changed
}

// SortedPosts yields the posts in ID order.
func (b *Board) SortedPosts() iter.Seq[*Post] {
	return func(yield func(*Post) bool) {
		for _, id := range slices.SortedFunc(maps.Keys(b.Posts), ID.Compare) {
			if !yield(b.Posts[id]) {
				return
			}
		}
	}
}

// Hash returns the board's state hash.
func (b *Board) Hash() ID { return StateHash(b.Group, b.SortedPosts()) }
