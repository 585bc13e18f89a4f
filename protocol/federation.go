package protocol

import (
	"math"

	"github.com/mutual-aid/mutual/crdt"
)

// Federation (kind 32) body: [policy uint, allies [group bin32...],
// blocked [group bin32...]]. The lists' order and limits are the crdt's
// to judge (sorted, no repeats, at most crdt.MaxFederationGroups); a
// decoder refuses longer lists before reading them.
func writeFederation(w *writer, b *crdt.Federation) {
	w.array(3)
	w.uint(uint64(b.Policy))
	for _, ids := range [][]crdt.ID{b.Allies, b.Blocked} {
		w.array(len(ids))
		for _, id := range ids {
			w.bin(id[:])
		}
	}
}

func readFederation(r *reader) crdt.Federation {
	var b crdt.Federation
	r.array(3)
	b.Policy = crdt.FollowPolicy(r.uint(math.MaxUint8))
	for _, ids := range []*[]crdt.ID{&b.Allies, &b.Blocked} {
		n := r.arrayMax(crdt.MaxFederationGroups)
		if n > 0 && r.err == nil {
			*ids = make([]crdt.ID, n)
		}
		for i := 0; i < n && r.err == nil; i++ {
			r.fixed((*ids)[i][:])
		}
	}
	return b
}
