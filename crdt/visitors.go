package crdt

import (
	"maps"
	"math"
	"slices"
)

// Visitors: help across boards. A member of another group (From) may
// answer this group's posts without joining it: its first op in this
// group's log is a Visit, and its later Respond and Unrespond ops count
// with RoleVisitor while
//
//   - the group has not blocked From (Blocked), and
//   - the visitor is a member of From as this replica knows it: the
//     replica tells the group From's current members (Vouch), from its
//     own copy of From (it follows From read-only for that).
//
// Everything else a visitor writes (posts, edits, statuses, membership
// acts) counts nowhere, like a non-member's ops. A visitor that later
// joins the group with an invite is a member from its join on; its ops
// before the join keep the visitor's standing.
//
// The visitor's standing is a function of the ops held and of the
// vouching data, which comes from outside the group: two replicas that
// hold the same ops of this group but know From differently may show
// different responses. Until a replica knows From, a visitor's
// responses are held and shown nowhere, never as if verified.

// Visitor is an outsider that visits the group: what its Visit says and
// whether its responses count.
type Visitor struct {
	Key     PublicKey
	From    ID     // the visitor's own group
	Name    string // its display name
	Box     BoxKey
	Via     ID  // the Visit op
	At      HLC // when it was made
	Vouched bool
	Blocked bool // the group blocked From
}

// Vouch tells the group the current members of group from, as the
// replica knows them (nil or empty: from is not known, or has no
// members). Only visitors from a vouched group may count. It changes
// the evaluation only when the set changes and a visitor came from it.
func (g *Group) Vouch(from ID, members []PublicKey) {
	set := make(map[PublicKey]bool, len(members))
	for _, k := range members {
		set[k] = true
	}
	if len(set) == 0 {
		set = nil
	}
	if maps.Equal(g.vouch[from], set) {
		return
	}
	if set == nil {
		delete(g.vouch, from)
	} else {
		if g.vouch == nil {
			g.vouch = map[ID]map[PublicKey]bool{}
		}
		g.vouch[from] = set
	}
	if g.visitFrom[from] > 0 {
		g.ev = nil
	}
}

// VisitedBy reports whether a visit held comes from group from.
func (g *Group) VisitedBy(from ID) bool { return g.visitFrom[from] > 0 }

// VisitedFrom returns the groups that the visits held come from, sorted:
// the groups a replica needs to know to vouch for visitors.
func (g *Group) VisitedFrom() []ID {
	return slices.SortedFunc(maps.Keys(g.visitFrom), ID.Compare)
}

// Visitor returns the visitor k (whether or not it counts), or nil.
func (g *Group) Visitor(k PublicKey) *Visitor {
	ev := g.eval()
	op := ev.visitors[k]
	if op == nil {
		return nil
	}
	return g.visitor(ev, op)
}

func (g *Group) visitor(ev *evaluation, op *Op) *Visitor {
	b := op.Body.(Visit)
	v := &Visitor{Key: op.Author, From: b.From, Name: b.Name, Box: b.Box, Via: op.ID, At: op.Time}
	v.Blocked = ev.blocked(b.From)
	v.Vouched = !v.Blocked && g.vouch[b.From][op.Author] && !g.forked(op.Author, 1)
	return v
}

// Visitors returns every visitor held, sorted by key.
func (g *Group) Visitors() []Visitor {
	ev := g.eval()
	keys := slices.SortedFunc(maps.Keys(ev.visitors), PublicKey.Compare)
	out := make([]Visitor, len(keys))
	for i, k := range keys {
		out[i] = *g.visitor(ev, ev.visitors[k])
	}
	return out
}

// Unvouched returns how many visitors held do not count although their
// group is not blocked (it is not known yet, or does not vouch for
// them): what a replica bounds to keep strangers' visits from filling
// its disk. Visitors of a blocked group are left out: blocking a group
// that filled the bound makes room again.
func (g *Group) Unvouched() int {
	ev := g.eval()
	n := 0
	for _, op := range ev.visitors {
		if v := g.visitor(ev, op); !v.Vouched && !v.Blocked {
			n++
		}
	}
	return n
}

// visitorRole returns RoleVisitor if author's op at seq counts as a
// vouched visitor's: past its Visit, before any tenure of its own.
func (g *Group) visitorRole(ev *evaluation, author PublicKey, seq uint64) Role {
	op := ev.visitors[author]
	if op == nil || seq < 2 || !g.visitor(ev, op).Vouched {
		return RoleNone
	}
	if m := ev.members[author]; m != nil && m.tenures[0].start <= seq {
		return RoleNone
	}
	return RoleVisitor
}

// visitorSpans adds each vouched visitor's span to out: seq 2 up to its
// first tenure, if it has one.
func (g *Group) visitorSpans(ev *evaluation, out map[PublicKey][]Span) {
	for k, op := range ev.visitors {
		if !g.visitor(ev, op).Vouched {
			continue
		}
		end := uint64(math.MaxUint64)
		if m := ev.members[k]; m != nil {
			end = m.tenures[0].start - 1
		}
		if end < 2 {
			continue
		}
		out[k] = append([]Span{{From: 2, To: end, Role: RoleVisitor}}, out[k]...)
	}
}
