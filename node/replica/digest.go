package replica

import (
	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// cachedDigest is a group's digest as of one generation of its state.
type cachedDigest struct {
	gen uint64
	d   protocol.Digest
}

// changed records a change to what a group's digest covers (an op
// marked in the log, a fork). r.mu is held for writing.
func (gs *groupState) changed() { gs.gen++ }

// Digest implements catchup.Replica from memory: the vector, the seqs
// held past it, the breaks and the evidence of forks, all kept in the
// group's state. It is
// computed once per change to them, so that the idle sessions of a node
// in hundreds of groups cost a map lookup per group and no store read.
func (v syncView) Digest(group crdt.ID) (protocol.Digest, error) {
	r := v.r
	r.mu.RLock()
	defer r.mu.RUnlock()
	gs := r.groups[group]
	if gs == nil {
		return protocol.Digest{}, ErrNoGroup
	}
	if c := gs.digest.Load(); c != nil && c.gen == gs.gen {
		return c.d, nil
	}
	var above []protocol.VectorEntry
	for a, seqs := range gs.above {
		for s := range seqs {
			above = append(above, protocol.VectorEntry{Author: a, Seq: s})
		}
	}
	d := protocol.GroupDigestOf(gs.vv, above, gs.breaks, gs.evidence)
	gs.digest.Store(&cachedDigest{gs.gen, d})
	return d, nil
}
