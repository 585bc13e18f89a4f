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
