package replica

// The node's display name goes into the ops that put it in a group (a
// genesis or a join op); other members learn it from there. It can
// change while the replica runs (PATCH /api/v1/node), before the node is
// in a group.

// SetName sets the name that this node's next genesis or join op
// carries. It does not change ops already signed.
func (r *Replica) SetName(name string) {
	r.name.Store(&name)
}

// Name returns the node's display name: the last SetName, else
// Config.Name.
func (r *Replica) Name() string {
	if p := r.name.Load(); p != nil {
		return *p
	}
	return r.cfg.Name
}
