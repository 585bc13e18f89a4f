package replica

import (
	"fmt"
	"slices"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/protocol"
)

// Check recomputes a group's state from its stored ops alone, with the
// reference model (crdt.Board), and compares it with the materialised
// posts the store serves queries from, read from disk (not from the
// cache, which would hide damage on disk). It returns both hashes; they
// differ only if the store's derived records are wrong.
func (r *Replica) Check(group crdt.ID) (stored, recomputed crdt.ID, err error) {
	r.mu.RLock()
	gs := r.groups[group]
	r.mu.RUnlock()
	if gs == nil {
		return stored, recomputed, ErrNoGroup
	}
	var posts []*crdt.Post
	if err := r.st.PostsOnDisk(group, func(p *crdt.Post) error { posts = append(posts, p); return nil }); err != nil {
		return stored, recomputed, err
	}
	slices.SortFunc(posts, func(a, b *crdt.Post) int { return a.ID.Compare(b.ID) }) // the hash's order
	r.mu.RLock()
	stored = crdt.StateHash(gs.g, slices.Values(posts))
	r.mu.RUnlock()
	b := crdt.NewBoard(group)
	// Time far in the future: every stored op passed the drift check
	// when it arrived.
	const farFuture = 1 << 62
	var ferr error
	err = r.st.LogSeqs(group, func(a crdt.PublicKey, seq uint64) {
		if ferr != nil {
			return
		}
		raw, err := r.st.LogOp(group, a, seq)
		if err != nil {
			ferr = err
			return
		}
		op, err := protocol.DecodeStoredOp(raw)
		if err != nil {
			ferr = fmt.Errorf("stored op %s/%d: %w", a.String()[:12], seq, err)
			return
		}
		b.Apply(op, farFuture)
	})
	if err == nil {
		err = ferr
	}
	if err != nil {
		return stored, recomputed, err
	}
	evidence, err := r.st.ForkOps(group)
	if err != nil {
		return stored, recomputed, err
	}
	for _, raw := range evidence {
		op, err := protocol.DecodeStoredOp(raw)
		if err != nil {
			return stored, recomputed, fmt.Errorf("stored fork evidence: %w", err)
		}
		b.Apply(op, farFuture)
	}
	// Visitors count as this node vouches for them (visitors.go): the
	// groups they come from, as this node knows them now.
	r.mu.RLock()
	for _, from := range b.Group.VisitedFrom() {
		b.Vouch(from, r.membersOf(from))
	}
	r.mu.RUnlock()
	return stored, b.Hash(), nil
}

// Audit reads every stored record of a group from disk and reports, one
// line each, what does not decode or does not agree with the rest.
func (r *Replica) Audit(group crdt.ID) ([]string, error) { return r.st.Audit(group) }

// CheckFiles checks the store's files byte for byte.
func (r *Replica) CheckFiles() ([]store.FileProblem, error) { return r.st.CheckFiles() }

// Writable returns nil while the store can save, else why not (a
// *store.DiskFullError).
func (r *Replica) Writable() error { return r.st.Writable() }
