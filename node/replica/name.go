package replica

import (
	"context"
	"fmt"
	"slices"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/protocol"
)

// Name returns the display name that this node's genesis and join ops
// carry.
func (r *Replica) Name() string {
	if n := r.name.Load(); n != nil {
		return *n
	}
	return r.cfg.Name
}

// SetName changes the name that this node's next genesis and join ops
// carry. Ops already signed keep the name they have; Rename also tells
// the groups the node is in.
func (r *Replica) SetName(name string) { r.name.Store(&name) }

// Rename sets this node's display name: in a Rename op (crdt kind 11)
// in every group it is a member of, or has asked to join, whose members
// know it by another name (one op per group, so the other members' nodes
// show the new name once they sync), and in the genesis and join ops it
// signs from now on. It returns the groups it wrote a Rename in. The
// name must be trimmed, one line, not blank (crdt.CheckName) and at most
// protocol.MaxName bytes (ErrInvalidPost otherwise).
//
// The groups are renamed one by one: if one fails, the error says which
// and the groups before it keep the new name; renaming again finishes the
// others (a group that has the name already gets no op).
func (r *Replica) Rename(ctx context.Context, name string) ([]crdt.ID, error) {
	if err := crdt.CheckName(name); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPost, err)
	}
	if len(name) > protocol.MaxName {
		return nil, fmt.Errorf("%w: a name of %d bytes, at most %d", ErrInvalidPost, len(name), protocol.MaxName)
	}
	r.mu.RLock()
	var groups []crdt.ID
	for id, gs := range r.groups {
		if gs.rec.Relation == store.Member && gs.inGroup(r.self) {
			groups = append(groups, id)
		}
	}
	r.mu.RUnlock()
	slices.SortFunc(groups, crdt.ID.Compare)
	current := r.Name()
	var renamed []crdt.ID
	for _, g := range groups {
		l, err := r.doLocal(ctx, &localOp{group: g, build: func(gs *groupState) (crdt.Body, error) {
			if !gs.inGroup(r.self) {
				return nil, nil // left or removed since
			}
			known := current // a newcomer's pending join carries the node's name
			if m := gs.g.Member(r.self); m != nil && m.Role != crdt.RoleNone {
				known = m.Name
			}
			if known == name {
				return nil, nil
			}
			return crdt.Rename{Name: name}, nil
		}})
		if err != nil {
			return renamed, fmt.Errorf("renaming this node in group %s: %w", g.Short(), err)
		}
		if len(l.ops) > 0 {
			renamed = append(renamed, g)
		}
	}
	r.SetName(name)
	return renamed, nil
}

// inGroup reports whether self is a member of the group, or waits for a
// member to witness its join: a rename of its counts (then).
func (gs *groupState) inGroup(self crdt.PublicKey) bool {
	return gs.g.IsMember(self) || gs.g.PendingJoinOf(self)
}
