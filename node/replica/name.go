package replica

// Name returns the display name that this node's genesis and join ops
// carry.
func (r *Replica) Name() string {
	if n := r.name.Load(); n != nil {
		return *n
	}
	return r.cfg.Name
}

// SetName changes the name that this node's next genesis and join ops
// carry. Ops already signed keep the name they have: the caller refuses
// a rename once the node is in a group (see httpapi's PATCH /api/v1/node).
func (r *Replica) SetName(name string) { r.name.Store(&name) }
