package replica

import "github.com/mutual-aid/mutual/crdt"

// VisitorsFull reports whether group g, as this node holds it, has as
// many visitors that do not count (their group unknown, or not vouching
// for them) as a node stores: every node of g then ignores a new
// visitor's Visit, and its responses with it, until g's admins block the
// groups those visitors come from (docs/design.md, "Help across
// boards"). n is that number; a node that vouches for more of them than
// this one can still take a visit, so this is this node's best guess.
func (r *Replica) VisitorsFull(g crdt.ID) (n int, full bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	gs := r.groups[g]
	if gs == nil {
		return 0, false
	}
	n = gs.g.Unvouched()
	return n, n >= maxUnvouched
}
