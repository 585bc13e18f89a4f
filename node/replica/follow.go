package replica

import (
	"slices"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
	"github.com/mutual-aid/mutual/node/store"
)

// MayFollow: the group's federation policy (catchup.MayFollow), judged
// over this node's copies of the ally groups: a group's nodes follow its
// allies, so they know who their members are.
func (v syncView) MayFollow(group crdt.ID, peer crdt.PublicKey) error {
	r := v.r
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.mayFollow(group, peer)
}

// mayFollow is MayFollow with r.mu held.
func (r *Replica) mayFollow(group crdt.ID, peer crdt.PublicKey) error {
	gs := r.groups[group]
	if gs == nil {
		return ErrNoGroup
	}
	return catchup.MayFollow(gs.g.Federation(), func(ally crdt.ID) bool {
		a := r.groups[ally]
		return a != nil && a.g.IsMember(peer)
	})
}

// follows reports whether this node follows the group (replicates it
// read-only) and offers it to peer: a peer its follow code named, or
// one that offered it the group (AddSource), that may follow it too.
// The caller holds r.mu.
func (r *Replica) follows(gs *groupState, peer crdt.PublicKey) bool {
	if gs.rec.Relation != store.Follower {
		return false
	}
	if !slices.Contains(gs.rec.Vouched, peer) && !gs.sources[peer] {
		return false
	}
	return r.mayFollow(gs.rec.ID, peer) == nil
}

// AddSource records that peer holds a group this node follows (it
// offered the group in a catch-up session), so that this node offers
// the group to it from now on (memory only: the follow code's peers are
// kept with the group's record).
func (r *Replica) AddSource(group crdt.ID, peer crdt.PublicKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	gs := r.groups[group]
	if gs == nil || gs.rec.Relation != store.Follower {
		return
	}
	if gs.sources == nil {
		gs.sources = map[crdt.PublicKey]bool{}
	}
	if len(gs.sources) < maxSources {
		gs.sources[peer] = true
	}
}

// maxSources bounds the peers remembered per followed group.
const maxSources = 256
