package crdt

import "slices"

// Introduction returns the ops that tell who the group's members are,
// in stamp order, the genesis first: the genesis, invites and their
// revocations, joins, admissions, role changes, leaves and federation
// settings that count. Never posts, group keys, settings or visits. A
// member's node hands them to the nodes of an ally group that cannot
// judge it yet (docs/design.md "Two allies-only groups").
func (g *Group) Introduction() []Op {
	ev := g.eval()
	var out []Op
	for _, op := range g.ops {
		switch op.Body.(type) {
		case Genesis, Join, InviteMade, Revoke, Admit, SetRole, Leave, Federation:
			if ev.valid[op.ID] || op.ID == g.ID {
				out = append(out, *op)
			}
		}
	}
	slices.SortFunc(out, func(a, b Op) int {
		switch {
		case a.ID == g.ID:
			return -1
		case b.ID == g.ID:
			return 1
		}
		return a.Stamp().Compare(b.Stamp())
	})
	return out
}
