package replica

import (
	"context"
	"fmt"
	"slices"

	"github.com/mutual-aid/mutual/crdt"
)

// Members returns a group's members, past and present, sorted by key.
func (r *Replica) Members(group crdt.ID) ([]crdt.Member, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	gs := r.groups[group]
	if gs == nil {
		return nil, ErrNoGroup
	}
	return gs.g.Members(), nil
}

// Invites returns the invites recorded in a group.
func (r *Replica) Invites(group crdt.ID) ([]crdt.InviteState, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	gs := r.groups[group]
	if gs == nil {
		return nil, ErrNoGroup
	}
	return gs.g.Invites(), nil
}

// SetRole changes a member's role, or removes the member (RoleNone). The
// change applies to the member's ops after the last one this node holds
// in order (the cut), wherever they arrive later. This node must be an
// admin, and the group keeps at least one admin.
func (r *Replica) SetRole(ctx context.Context, group crdt.ID, member crdt.PublicKey, role crdt.Role) error {
	return r.setRole(ctx, group, member, role, 0)
}

// setRole is SetRole with a cut; 0 is what this node holds of the member.
func (r *Replica) setRole(ctx context.Context, group crdt.ID, member crdt.PublicKey, role crdt.Role, at uint64) error {
	_, err := r.doLocal(ctx, &localOp{group: group, build: func(gs *groupState) (crdt.Body, error) {
		g := gs.g
		if !g.IsAdmin(r.self) {
			return nil, ErrNotAdmin
		}
		if member == r.self {
			if role == crdt.RoleNone {
				return nil, fmt.Errorf("%w: to remove yourself, leave the group", ErrInvalidPost)
			}
			return nil, fmt.Errorf("%w: an admin cannot change its own role; another admin can", ErrInvalidPost)
		}
		m := g.Member(member)
		if m == nil || m.Role == crdt.RoleNone {
			return nil, ErrNoMember
		}
		if m.Role == role {
			return nil, fmt.Errorf("%w: already %s", ErrInvalidPost, role)
		}
		if m.Role == crdt.RoleAdmin && g.Admins() <= 1 {
			return nil, ErrLastAdmin
		}
		cut := gs.vv[member]
		if cut == 0 {
			return nil, ErrNoMember
		}
		if at != 0 {
			cut = min(cut, at)
		}
		return crdt.SetRole{Member: member, Role: role, Cut: cut}, nil
	}})
	return err
}

// Leave ends this node's membership of a group: its later ops there do
// not count. The last admin cannot leave.
func (r *Replica) Leave(ctx context.Context, group crdt.ID) error {
	_, err := r.doLocal(ctx, &localOp{group: group, build: func(gs *groupState) (crdt.Body, error) {
		if !gs.g.IsMember(r.self) {
			return nil, ErrNotMember
		}
		if gs.g.IsAdmin(r.self) && gs.g.Admins() <= 1 {
			return nil, ErrLastAdmin
		}
		return crdt.Leave{}, nil
	}})
	return err
}

// RevokeInvite revokes an invite of a group: joins that members witness
// after the revoke do not count. id may be a unique prefix (hex).
func (r *Replica) RevokeInvite(ctx context.Context, group crdt.ID, id crdt.ID) error {
	_, err := r.doLocal(ctx, &localOp{group: group, build: func(gs *groupState) (crdt.Body, error) {
		if !gs.g.IsAdmin(r.self) {
			return nil, ErrNotAdmin
		}
		if !slices.ContainsFunc(gs.g.Invites(), func(s crdt.InviteState) bool { return s.Invite.ID == id }) {
			return nil, ErrNoInvite
		}
		return crdt.Revoke{Invite: id}, nil
	}})
	return err
}

// Forked returns the seq at which author forked in a group, or 0.
func (r *Replica) Forked(group crdt.ID, author crdt.PublicKey) uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	gs := r.groups[group]
	if gs == nil {
		return 0
	}
	return gs.g.ForkedAt(author)
}
