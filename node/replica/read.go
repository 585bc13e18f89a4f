package replica

import (
	"cmp"
	"errors"
	"slices"
	"strings"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/store"
)

// GroupInfo describes a group this node holds.
type GroupInfo struct {
	ID       crdt.ID
	Name     string
	Relation store.Relation
	Role     crdt.Role // this node's role; 0 while its join is not yet confirmed
	Members  []crdt.Member
	Addrs    []string // where to reach the group: an invite's or a follow code's addresses (store.GroupRecord)
	Founded  bool     // the genesis op is held
	// Refused is why a peer refused to serve this followed group (its
	// federation policy), if one did since this node started.
	Refused string
	// Federation is the group's federation settings as its ops say.
	Federation crdt.Federation
	// Helps, for a group this node follows, are the groups held here
	// whose boards count responses from its members: the node follows it
	// to vouch for them, and it cannot be unfollowed (HelpingError).
	Helps []crdt.ID
}

// Groups returns the groups this node holds, sorted by name.
func (r *Replica) Groups() []GroupInfo {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]GroupInfo, 0, len(r.groups))
	for _, gs := range r.groups {
		out = append(out, r.info(gs))
	}
	slices.SortFunc(out, func(a, b GroupInfo) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), a.ID.Compare(b.ID))
	})
	return out
}

// Group returns one group.
func (r *Replica) Group(id crdt.ID) (GroupInfo, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	gs := r.groups[id]
	if gs == nil {
		return GroupInfo{}, ErrNoGroup
	}
	return r.info(gs), nil
}

func (r *Replica) info(gs *groupState) GroupInfo {
	gi := GroupInfo{ID: gs.rec.ID, Name: gs.rec.Name, Relation: gs.rec.Relation, Members: gs.g.Members(), Addrs: gs.rec.Addrs, Founded: gs.g.Founded, Refused: gs.refused, Federation: gs.g.Federation()}
	if gs.g.Founded {
		gi.Name = gs.g.Name
	}
	if m := gs.g.Member(r.self); m != nil {
		gi.Role = m.Role
	}
	gi.Helps = r.helps(gs)
	return gi
}

// MemberName returns a member's display name in a group, or "".
func (r *Replica) MemberName(group crdt.ID, k crdt.PublicKey) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if gs := r.groups[group]; gs != nil {
		if m := gs.g.Member(k); m != nil {
			return m.Name
		}
		if v := gs.g.Visitor(k); v != nil {
			return v.Name
		}
	}
	return ""
}

// IsMember reports whether k is a member of group.
func (r *Replica) IsMember(group crdt.ID, k crdt.PublicKey) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	gs := r.groups[group]
	return gs != nil && gs.g.IsMember(k)
}

// Filter selects posts.
type Filter struct {
	Group    crdt.ID
	Kind     crdt.PostKind
	Statuses []crdt.Status // nil: all
	Category string
	Text     string // case-insensitive substring of title, details, category or location
	OpenOnly bool   // only the open board at Now: open and not expired
	Now      int64  // Unix ms, for OpenOnly; 0 = the replica's clock
}

// Posts returns the created posts that match f, newest first (by
// creation HLC, then ID, a stable order for paging).
func (r *Replica) Posts(f Filter) ([]*crdt.Post, error) {
	if f.Now == 0 {
		f.Now = r.nowMillis()
	}
	statuses := f.Statuses
	if f.OpenOnly {
		statuses = []crdt.Status{crdt.Open}
	}
	text := strings.ToLower(f.Text)
	var out []*crdt.Post
	err := r.st.Query(store.Query{Group: f.Group, Kind: f.Kind, Statuses: statuses, Category: f.Category}, func(p *crdt.Post) bool {
		if f.OpenOnly && p.Expired(f.Now) {
			return true
		}
		p = r.Reveal(p)
		if text != "" && !matches(p, text) {
			return true
		}
		out = append(out, p)
		return true
	})
	slices.SortFunc(out, ComparePosts)
	return out, err
}

// ComparePosts orders posts newest first, then by ID.
func ComparePosts(a, b *crdt.Post) int {
	return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), a.ID.Compare(b.ID))
}

func matches(p *crdt.Post, lower string) bool {
	for _, s := range []string{p.Title.V, p.Details.V, p.Category.V, p.Location.V} {
		if strings.Contains(strings.ToLower(s), lower) {
			return true
		}
	}
	return false
}

// Post returns a created post by ID from any of the node's groups.
func (r *Replica) Post(id crdt.ID) (*crdt.Post, error) {
	for _, g := range r.Groups() {
		p, err := r.st.Post(g.ID, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if p.Created {
			return r.Reveal(p), nil
		}
	}
	return nil, ErrNoPost
}

// StateHash returns a group's state hash, computed from the stored
// posts.
func (r *Replica) StateHash(group crdt.ID) (crdt.ID, error) {
	r.mu.RLock()
	gs := r.groups[group]
	r.mu.RUnlock()
	if gs == nil {
		return crdt.ID{}, ErrNoGroup
	}
	var posts []*crdt.Post
	if err := r.st.Posts(group, func(p *crdt.Post) error { posts = append(posts, p); return nil }); err != nil {
		return crdt.ID{}, err
	}
	slices.SortFunc(posts, func(a, b *crdt.Post) int { return a.ID.Compare(b.ID) }) // the hash's order
	r.mu.RLock()
	defer r.mu.RUnlock()
	return crdt.StateHash(gs.g, slices.Values(posts)), nil
}

// Forks returns the forks recorded in a group: an author that signed two
// different ops with the same seq (a copied identity, or tampering). The
// first op seen stays in the log; the other is kept as evidence.
func (r *Replica) Forks(group crdt.ID) ([]store.Fork, error) { return r.st.Forks(group) }
