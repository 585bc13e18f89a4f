package replica

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
	"github.com/mutual-aid/mutual/node/store"
)

// MayFollow: the group's federation policy (catchup.MayFollow), judged
// over this node's copies of the ally groups: a group's nodes follow its
// allies, so they know who their members are.
func (v syncView) MayFollow(group crdt.ID, peer crdt.PublicKey) error {
	r := v.r
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.mayFollow(group, peer)
}

// mayFollow is MayFollow with r.mu held.
func (r *Replica) mayFollow(group crdt.ID, peer crdt.PublicKey) error {
	gs := r.groups[group]
	if gs == nil {
		return ErrNoGroup
	}
	return catchup.MayFollow(gs.g.Federation(), func(ally crdt.ID) bool {
		a := r.groups[ally]
		return a != nil && a.g.IsMember(peer)
	})
}

// isSource reports whether this node follows the group (replicates it
// read-only) and expects peer to hold it: its follow code named the
// peer, the peer offered it the group (AddSource), or the peer shares a
// group with this node's visit to it (visitSource). It offers the group
// to such a peer, whole if the peer may follow it too, else with an
// empty vector (catchup.Limit.Ask). The caller holds r.mu.
func (r *Replica) isSource(gs *groupState, peer crdt.PublicKey) bool {
	return gs.rec.Relation == store.Follower && (slices.Contains(gs.rec.Vouched, peer) || gs.sources[peer] || r.visitSource(gs, peer))
}

// AddSource records that peer holds a group this node follows (it
// offered the group in a catch-up session), so that this node offers
// the group to it from now on (memory only: the follow code's peers are
// kept with the group's record). It reports whether the peer is a
// source of the group now.
func (r *Replica) AddSource(group crdt.ID, peer crdt.PublicKey) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	gs := r.groups[group]
	if gs == nil || gs.rec.Relation != store.Follower {
		return false
	}
	if gs.sources == nil {
		gs.sources = map[crdt.PublicKey]bool{}
	}
	if len(gs.sources) < maxSources {
		gs.sources[peer] = true
	}
	return gs.sources[peer]
}

// AddSource is Replica.AddSource, for the p2p host: a node found under
// a followed group's rendezvous key holds the group.
func (v syncView) AddSource(group crdt.ID, peer crdt.PublicKey) bool {
	return v.r.AddSource(group, peer)
}

// maxSources bounds the peers remembered per followed group.
const maxSources = 256

// ErrFollower is wrapped by FollowerError: this node follows the group
// read-only and may not write to it.
var ErrFollower = errors.New("this node follows the group read-only")

// FollowerError refuses a write to a group this node follows.
type FollowerError struct{ Group string }

func (e *FollowerError) Error() string {
	return fmt.Sprintf("you follow %s read-only; join it with an invite to post", e.Group)
}

func (e *FollowerError) Unwrap() error { return ErrFollower }

// name is the group's name as shown: the genesis's, else the record's,
// else its short ID.
func (gs *groupState) name() string {
	switch {
	case gs.g.Founded:
		return gs.g.Name
	case gs.rec.Name != "":
		return gs.rec.Name
	}
	return gs.rec.ID.Short()
}

// Follow makes this node replicate a group's board read-only: it
// records the group with no op yet (the genesis arrives by catch-up, and
// the group ID, the genesis's hash, verifies it), with the addresses a
// follow code gave and the peers they name, to which it offers the
// group. The board arrives from peers, or from a bundle. Following a
// group this node holds already adds the addresses and peers to a
// followed group's record and does nothing to a member's.
func (r *Replica) Follow(ctx context.Context, group crdt.ID, name string, addrs []string, via []crdt.PublicKey) error {
	if group.IsZero() {
		return fmt.Errorf("%w: no group ID", ErrInvalidPost)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := store.GroupRecord{ID: group, Name: name, Relation: store.Follower, Addrs: addrs, Vouched: via}
	if gs := r.groups[group]; gs != nil {
		if gs.rec.Relation != store.Follower {
			return nil
		}
		rec = gs.rec
		for _, a := range addrs {
			if !slices.Contains(rec.Addrs, a) && len(rec.Addrs) < maxSources {
				rec.Addrs = append(rec.Addrs, a)
			}
		}
		for _, k := range via {
			if !slices.Contains(rec.Vouched, k) && len(rec.Vouched) < maxSources {
				rec.Vouched = append(rec.Vouched, k)
			}
		}
		if rec.Name == "" {
			rec.Name = name
		}
	}
	var b store.Batch
	b.PutGroup(rec)
	if err := r.st.Commit(&b); err != nil {
		return err
	}
	if gs := r.groups[group]; gs != nil {
		gs.rec = rec
		return nil
	}
	gs, err := r.storedGroupState(rec)
	if err != nil {
		return err
	}
	r.groups[group] = gs
	return nil
}

// ErrMemberUnfollow refuses to unfollow a group this node is a member of.
var ErrMemberUnfollow = errors.New("this node is a member of the group, not a follower: leave it instead (mutual leave)")

// ErrHelping is wrapped by HelpingError: the group cannot be unfollowed
// while boards held here count its members' responses.
var ErrHelping = errors.New("the group's members answer a board this node holds")

// HelpingError refuses to unfollow a group whose members answer the
// needs of groups this node holds (docs/design.md "Help across boards":
// the node follows the group to know its members, and vouches for its
// visitors with that copy). Forgetting the group would hide their
// responses on those boards: an admin blocks the group there first.
type HelpingError struct {
	Group string   // the helping group's name
	Helps []string // the names of the boards it answers
}

func (e *HelpingError) Error() string {
	return fmt.Sprintf("%s's members answer the needs of %s: this node follows %s to know who its members are, and without it their responses there would be hidden; to stop following it, an admin of %s blocks it first (mutual group block)",
		e.Group, strings.Join(e.Helps, ", "), e.Group, strings.Join(e.Helps, ", "))
}

func (e *HelpingError) Unwrap() error { return ErrHelping }

// helps returns the groups held here whose boards count responses from
// the members of gs, a group this node follows: each holds a visit from
// gs and does not block it. The caller holds r.mu.
func (r *Replica) helps(gs *groupState) []crdt.ID {
	if gs.rec.Relation != store.Follower {
		return nil
	}
	var out []crdt.ID
	for id, o := range r.groups {
		if o != gs && o.g.VisitedBy(gs.rec.ID) && !o.g.Blocked(gs.rec.ID) {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, crdt.ID.Compare)
	return out
}

// Unfollow forgets a followed group: its ops, its posts, the blobs of
// its ops and its record. A member's group is refused
// (ErrMemberUnfollow), and so is a group whose members answer boards
// held here (HelpingError).
func (r *Replica) Unfollow(ctx context.Context, group crdt.ID) error {
	r.mu.Lock()
	gs := r.groups[group]
	switch {
	case gs == nil:
		r.mu.Unlock()
		return ErrNoGroup
	case gs.rec.Relation != store.Follower:
		r.mu.Unlock()
		return ErrMemberUnfollow
	}
	if helps := r.helps(gs); len(helps) > 0 {
		e := &HelpingError{Group: gs.name()}
		for _, id := range helps {
			e.Helps = append(e.Helps, r.groups[id].name())
		}
		r.mu.Unlock()
		return e
	}
	delete(r.groups, group)
	r.mu.Unlock()
	// The writer may hold a batch of this group's ops: wait for it, so
	// that nothing of the group is written after it is forgotten.
	if err := r.submit(ctx, &request{kind: reqIngest}); err != nil {
		return err
	}
	return r.st.ForgetGroup(group)
}

// SetRefused records why a peer refused to serve a followed group (a
// Refused message), or clears it (reason ""): the page and `mutual
// groups` show it. Memory only.
func (r *Replica) SetRefused(group crdt.ID, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if gs := r.groups[group]; gs != nil && gs.rec.Relation == store.Follower {
		gs.refused = reason
	}
}

// SetFederation writes the group's federation settings (crdt.Federation:
// who may follow it, its allies, the groups whose responses it refuses).
// Only an admin may. The lists are sorted and their repeats dropped here.
func (r *Replica) SetFederation(ctx context.Context, group crdt.ID, f crdt.Federation) error {
	for _, l := range []*[]crdt.ID{&f.Allies, &f.Blocked} {
		*l = slices.Clone(*l)
		slices.SortFunc(*l, crdt.ID.Compare)
		*l = slices.Compact(*l)
		if len(*l) > crdt.MaxFederationGroups {
			return fmt.Errorf("%w: at most %d groups in a list", ErrInvalidPost, crdt.MaxFederationGroups)
		}
		if slices.Contains(*l, crdt.ID{}) {
			return fmt.Errorf("%w: a zero group ID", ErrInvalidPost)
		}
	}
	if f.Policy > crdt.FollowAllies {
		return fmt.Errorf("%w: follow policy %d", ErrInvalidPost, f.Policy)
	}
	_, err := r.doLocal(ctx, &localOp{group: group, build: func(gs *groupState) (crdt.Body, error) {
		if !gs.g.IsAdmin(r.self) {
			return nil, ErrNotAdmin
		}
		return f, nil
	}})
	return err
}

// Introduction implements catchup.Introducer: the group's membership
// ops, if this node is a member of it, it accepts followers from its
// allies only, and one of them is a group this node follows that the
// peer holds and is a member of (catchup.MayIntroduce: by this node's
// copy of the ally's membership, or before it has one, by the ally's
// follow code naming the peer; docs/design.md "Two allies-only groups").
func (v syncView) Introduction(group crdt.ID, remote crdt.PublicKey, holds func(ally crdt.ID) bool) ([][]byte, error) {
	r := v.r
	r.mu.RLock()
	defer r.mu.RUnlock()
	gs := r.groups[group]
	if gs == nil || gs.rec.Relation != store.Member || !gs.g.IsMember(r.self) {
		return nil, nil
	}
	f := gs.g.Federation()
	if f.Policy != crdt.FollowAllies || !slices.ContainsFunc(f.Allies, func(ally crdt.ID) bool {
		a := r.groups[ally]
		if a == nil || a.rec.Relation != store.Follower {
			return false
		}
		return catchup.MayIntroduce(holds(ally), a.g.Founded, a.g.IsMember(remote), slices.Contains(a.rec.Vouched, remote))
	}) {
		return nil, nil
	}
	return catchup.EncodeOps(gs.g.Introduction())
}
