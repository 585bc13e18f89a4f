package catchup

import (
	"errors"
	"slices"

	"github.com/mutual-aid/mutual/crdt"
)

// ErrNotAlly is MayFollow's answer to a peer that is no member of the
// group's allies when the group accepts followers from its allies only.
// Its text is the reason the peer's user sees.
var ErrNotAlly = errors.New("this group accepts followers from its allies only")

// MayFollow applies a group's federation policy to a peer that is not a
// member: any peer may follow an open group; a group that accepts
// followers from its allies only lets a peer follow if memberOf (the
// replica's view: it replicates the ally group) says the peer is a
// member of one of f.Allies. It returns nil or ErrNotAlly. Replicas
// implement Replica.MayFollow with it.
func MayFollow(f crdt.Federation, memberOf func(ally crdt.ID) bool) error {
	if f.Policy == crdt.FollowOpen {
		return nil
	}
	if slices.ContainsFunc(f.Allies, memberOf) {
		return nil
	}
	return ErrNotAlly
}

// Visitors is implemented by replicas whose groups may hold visitors:
// members of other groups that answer the group's posts (a Visit is
// their first op there; docs/design.md "Help across boards"). Such a
// peer holds ops of its own in the group and still follows it: it is
// served as a follower, not taken for a newcomer or a former member.
type Visitors interface {
	Visits(group crdt.ID, peer crdt.PublicKey) bool
}

// visits reports whether peer visits group, if r can tell.
func visits(r Replica, group crdt.ID, peer crdt.PublicKey) bool {
	v, ok := r.(Visitors)
	return ok && v.Visits(group, peer)
}
