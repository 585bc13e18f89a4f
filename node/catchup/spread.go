package catchup

import (
	"slices"

	"github.com/mutual-aid/mutual/crdt"
)

// Shares reports whether a session with peer could pass on new ops of
// any of groups (Stats.Fresh): this node offers one of them to the peer
// (it may read the group, or a Limit offers it something: the peer
// follows it too, or may serve it), or served it one as a follower in
// their last session (followers: Options.Followers). After a session
// that brought new ops, a node spreads them with a session with each
// connected peer that Shares them; with any other, the session would
// settle or skip every group it touches, and the periodic sessions are
// there for what this view of the peer misses.
func Shares(r Replica, peer crdt.PublicKey, groups, followers []crdt.ID) bool {
	for _, g := range groups {
		if slices.Contains(followers, g) || r.MayRead(g, peer) {
			return true
		}
		if l, err := r.Limited(g, peer); err != nil || l.offers() {
			return true // (a replica that cannot tell: spread, as before)
		}
	}
	return false
}
