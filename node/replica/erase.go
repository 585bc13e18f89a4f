package replica

import (
	"context"
	"fmt"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// Erasure (docs/design.md, "Erasure"). A post's private fields live only
// in the blobs of its ops, in the vault; erasing them erases those blobs
// in place, on every member's node, and the signed ops stay. A node
// erases the blobs of a post's ops
//   - made before an Erase of the post that counts (`mutual erase`), and
//   - all of them once the post has been fulfilled or withdrawn for the
//     group's retention period (Settings; 14 days by default), by this
//     node's clock.
// Both are decided from the ops and the clock, so every member's node
// comes to the same; a blob that arrives for an erased post is not kept.

// Erase writes an Erase of a post: every member's node erases its
// private fields. Only the post's author or an admin may.
func (r *Replica) Erase(ctx context.Context, group, post crdt.ID) (*crdt.Post, error) {
	return r.postOp(ctx, group, post, crdt.Erase{Post: post})
}

// erasedBefore reports whether op's blob is to be erased by the state of
// its post p at nowMillis with the group's retention.
func erasedBefore(p *crdt.Post, op *crdt.Op, retention, nowMillis int64) bool {
	if p == nil {
		return false
	}
	if !p.ErasedAt.Op.IsZero() && op.Stamp().Compare(p.ErasedAt) < 0 {
		return true
	}
	s, settled := p.Settled()
	return settled && s.Time.Wall+retention <= nowMillis
}

// erased reports whether op's blob should not be kept: its post is
// erased as far as op goes.
func (bt *batch) erased(gs *groupState, op *crdt.Op) bool {
	id, ok := crdt.PostOf(op)
	if !ok || id == op.ID {
		return false
	}
	bt.group = gs.rec.ID
	p := bt.Get(id)
	if erasedBefore(p, op, gs.g.Retention(), bt.now) {
		return true
	}
	switch b := op.Body.(type) {
	case crdt.Respond:
		return responseGone(gs, p, op, nil)
	case crdt.HandOn:
		if p == nil {
			return false
		}
		if r, _ := p.Response(b.Response); r != nil {
			return responseGone(gs, p, op, []crdt.Op{{ID: r.ID, Author: r.Author, Time: r.Time}})
		}
		ops, err := bt.postOps(postKey{gs.rec.ID, id}) // the response is not on the post: blocked?
		if err != nil {
			bt.fail(err)
			return false
		}
		return responseGone(gs, p, op, ops)
	}
	return false
}

// toErase returns the blobs to erase after the batch commits: those of
// the posts it changed that are now erased.
func (bt *batch) toErase() []crdt.ID {
	var out []crdt.ID
	for _, k := range bt.changed {
		p := bt.posts[k].cur
		if p == nil || (p.ErasedAt.Op.IsZero() && !settledFor(p, bt.r.groups[k.g], bt.now) && !mayEraseMore(p, bt.r.groups[k.g])) {
			continue
		}
		ops, err := bt.postOps(k)
		if err != nil {
			bt.r.cfg.Logger.Warn("erasure: reading a post's ops", "post", k.id.Short(), "err", err)
			continue
		}
		out = append(out, bt.r.blobsToErase(p, ops, bt.r.groups[k.g], bt.now)...)
	}
	return out
}

func settledFor(p *crdt.Post, gs *groupState, now int64) bool {
	s, settled := p.Settled()
	return settled && gs != nil && s.Time.Wall+gs.g.Retention() <= now
}

// blobsToErase returns the IDs of the blobs held of ops, p's, that are
// to be erased at now.
func (r *Replica) blobsToErase(p *crdt.Post, ops []crdt.Op, gs *groupState, now int64) []crdt.ID {
	if gs == nil {
		return nil
	}
	var out []crdt.ID
	for i := range ops {
		if _, ok := crdt.PrivateOf(&ops[i]); ok && r.st.HasBlob(ops[i].ID) &&
			(erasedBefore(p, &ops[i], gs.g.Retention(), now) || responseGone(gs, p, &ops[i], ops)) {
			out = append(out, ops[i].ID)
		}
	}
	return out
}

// eraseBlobs erases blobs from the vault and from memory. A failure is
// logged: the next sweep tries again (the rules that chose them hold).
func (r *Replica) eraseBlobs(ids []crdt.ID) {
	if len(ids) == 0 {
		return
	}
	for _, id := range ids {
		r.revealed.Remove(id)
	}
	if err := r.st.EraseBlobs(ids); err != nil {
		r.cfg.Logger.Error("erasing private fields", "blobs", len(ids), "err", err)
		return
	}
	for _, id := range ids {
		r.revealed.Remove(id) // a read between the two removals may have cached it again
	}
	r.cfg.Logger.Info("erased private fields", "blobs", len(ids))
}

// SweepErasure erases the blobs that the rules say are gone at the
// replica's clock: the posts whose retention ran out since the last
// sweep (package node runs it at start and every hour), and any erasure
// a crash interrupted. It returns how many blobs it erased.
func (r *Replica) SweepErasure() (int, error) {
	now := r.nowMillis()
	var ids []crdt.ID
	for _, g := range r.Groups() {
		r.mu.RLock()
		gs := r.groups[g.ID]
		r.mu.RUnlock()
		if gs == nil {
			continue
		}
		var posts []*crdt.Post
		r.mu.RLock()
		blocks := blocksVisitors(gs)
		r.mu.RUnlock()
		err := r.st.Posts(g.ID, func(p *crdt.Post) error {
			if !p.ErasedAt.Op.IsZero() || settledFor(p, gs, now) || blocks || takenBackSealed(p) {
				posts = append(posts, p)
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		for _, p := range posts {
			raws, err := r.st.PostOps(g.ID, p.ID)
			if err != nil {
				return 0, err
			}
			ops := make([]crdt.Op, 0, len(raws))
			for _, raw := range raws {
				op, err := protocol.DecodeStoredOp(raw)
				if err != nil {
					return 0, err
				}
				ops = append(ops, op)
			}
			r.mu.RLock()
			ids = append(ids, r.blobsToErase(p, ops, gs, now)...)
			r.mu.RUnlock()
		}
	}
	r.eraseBlobs(ids)
	return len(ids), nil
}

// withBlob returns an op's encoding followed by its blob, if the vault
// holds one: what goes to members (catch-up, gossip, bundles).
func (r *Replica) withBlob(raw []byte) []byte {
	id := protocol.OpID(raw)
	if !r.st.HasBlob(id) {
		return raw
	}
	blob, ok, err := r.st.Blob(id)
	if err != nil || !ok {
		return raw
	}
	return protocol.JoinBlob(raw, blob)
}

// SetRetention sets how long a group's fulfilled and withdrawn posts
// keep their private fields. Only an admin may.
func (r *Replica) SetRetention(ctx context.Context, group crdt.ID, d time.Duration) error {
	ms := d.Milliseconds()
	if ms <= 0 || ms > crdt.MaxRetention {
		return fmt.Errorf("%w: retention %s: from a millisecond to ten years", ErrInvalidPost, d)
	}
	_, err := r.doLocal(ctx, &localOp{group: group, build: func(gs *groupState) (crdt.Body, error) {
		if !gs.g.IsAdmin(r.self) {
			return nil, ErrNotAdmin
		}
		return crdt.Settings{Retention: ms}, nil
	}})
	return err
}

// Retention returns a group's retention.
func (r *Replica) Retention(group crdt.ID) (time.Duration, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	gs := r.groups[group]
	if gs == nil {
		return 0, ErrNoGroup
	}
	return time.Duration(gs.g.Retention()) * time.Millisecond, nil
}
