package crdt

import (
	"fmt"
	"slices"
)

// Federation is how a group federates with other groups: who may follow
// (replicate read-only) its board, and whose cross-group responses it
// refuses. Only admins' count; the latest (by stamp) wins, like Settings.
type Federation struct {
	Policy FollowPolicy
	// Allies are the groups whose members' nodes may follow this group
	// when Policy is AlliesOnly: sorted, without repeats, at most
	// MaxFederationGroups.
	Allies []ID
	// Blocked are groups whose responses this group refuses (the same
	// rules as Allies). Carried here; judged where responses are.
	Blocked []ID
}

// FollowPolicy says who may follow a group.
type FollowPolicy uint8

// Follow policies. The numbers are part of the wire format.
const (
	// FollowOpen lets any node that names the group (it knows its ID)
	// replicate it read-only. It is the policy of a group without a
	// Federation op.
	FollowOpen FollowPolicy = 0
	// FollowAllies lets only the nodes of the members of the groups
	// listed in Allies follow.
	FollowAllies FollowPolicy = 1
)

func (p FollowPolicy) String() string {
	switch p {
	case FollowOpen:
		return "open"
	case FollowAllies:
		return "allies"
	}
	return fmt.Sprintf("policy(%d)", uint8(p))
}

// MaxFederationGroups bounds Federation.Allies and Federation.Blocked.
const MaxFederationGroups = 256

// Kind implements Body.
func (Federation) Kind() Kind { return KindFederation }

// checkFederation checks a Federation body's shape.
func checkFederation(b *Federation) error {
	if b.Policy > FollowAllies {
		return fmt.Errorf("%w: follow policy %d", ErrBadValue, b.Policy)
	}
	for name, ids := range map[string][]ID{"allies": b.Allies, "blocked": b.Blocked} {
		if len(ids) > MaxFederationGroups {
			return fmt.Errorf("%w: %d %s, at most %d", ErrBadValue, len(ids), name, MaxFederationGroups)
		}
		for i, id := range ids {
			if id.IsZero() {
				return fmt.Errorf("%w: a zero group ID in %s", ErrBadValue, name)
			}
			if i > 0 && ids[i-1].Compare(id) >= 0 {
				return fmt.Errorf("%w: %s not sorted, or repeated", ErrInvalid, name)
			}
		}
	}
	return nil
}

// Federation returns the group's federation settings: the latest
// Federation op of an admin, else the zero Federation (open, no allies,
// nothing blocked). The slices are shared: do not modify them.
func (g *Group) Federation() Federation {
	if f := g.eval().federation.V; f != nil {
		return *f
	}
	return Federation{}
}

// Blocked reports whether the group blocked group from's visitors: their
// responses count nowhere in it (visitors.go).
func (g *Group) Blocked(from ID) bool { return g.eval().blocked(from) }

// blocked reports whether the federation that holds blocks group from.
func (ev *evaluation) blocked(from ID) bool {
	f := ev.federation.V
	if f == nil {
		return false
	}
	_, found := slices.BinarySearchFunc(f.Blocked, from, ID.Compare)
	return found
}
