package crdt

import "fmt"

var (
	errBadPolicy     = fmt.Errorf("%w: follow policy", ErrBadValue)
	errTooManyGroups = fmt.Errorf("%w: more than %d groups in a federation list", ErrBadValue, MaxFederationGroups)
	errGroupList     = fmt.Errorf("%w: a federation list of groups not sorted, repeated or zero", ErrInvalid)
)

// Federation is the group's admins' word on how it federates: who may
// follow it (Policy, Allies) and whose visitors' responses do not count
// (Blocked). The latest (by stamp) of an admin's Federation ops holds.
//
// Kind 32 belongs to the `follow` work (issue 10); this is the minimal
// part that blocking visitors needs (visitors.go), kept to its shape
// `[policy, allies, blocked]` so that following can build on it.
type Federation struct {
	Policy  FollowPolicy
	Allies  []ID // groups that may follow when Policy is AlliesOnly; sorted, no repeats
	Blocked []ID // groups whose visitors' responses do not count; sorted, no repeats
}

// FollowPolicy says who may follow a group.
type FollowPolicy uint8

// Follow policies.
const (
	FollowOpen       FollowPolicy = 0 // anyone who has the follow code
	FollowAlliesOnly FollowPolicy = 1 // only groups the admins list as allies
)

// KindFederation numbers Federation ops.
const KindFederation Kind = 32

// MaxFederationGroups bounds the allies and the blocked groups of one
// Federation op.
const MaxFederationGroups = 100

func (Federation) Kind() Kind { return KindFederation }

// FederationOf returns the group's federation settings: the latest
// admin's Federation op, or the zero value (open, no allies, none
// blocked).
func (g *Group) FederationOf() Federation {
	ev := g.eval()
	if ev.federation == nil {
		return Federation{}
	}
	return *ev.federation
}

// Blocked reports whether the group blocked group from's visitors.
func (g *Group) Blocked(from ID) bool { return g.eval().blocked[from] }

func checkFederation(b *Federation) error {
	if b.Policy > FollowAlliesOnly {
		return errBadPolicy
	}
	for _, l := range [][]ID{b.Allies, b.Blocked} {
		if len(l) > MaxFederationGroups {
			return errTooManyGroups
		}
		for i := range l {
			if l[i].IsZero() || i > 0 && l[i-1].Compare(l[i]) >= 0 {
				return errGroupList
			}
		}
	}
	return nil
}
