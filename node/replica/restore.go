package replica

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/mutual-aid/mutual/crdt"
)

// ErrUnconfirmed is wrapped by the error a local change gets in a group
// that is unconfirmed: the data dir may be an old copy (Config.Restored),
// so this node may already have signed ops there past the ones it holds,
// and it must hear from another node of the group before it signs again.
var ErrUnconfirmed = errors.New("this data dir looks restored from a copy")

// confirmation is the set of unconfirmed groups. It only shrinks after
// Open: a change that found its group confirmed may go ahead.
type confirmation struct {
	mu      sync.Mutex
	pending map[crdt.ID]bool
	changed chan struct{} // closed, and replaced, when pending shrinks
}

// initConfirmation fills r.confirm after the first load: with
// cfg.Restored, every group in which this node has signed an op, and the
// groups of cfg.Unconfirmed that the store holds.
func (r *Replica) initConfirmation() {
	c := &r.confirm
	c.pending = map[crdt.ID]bool{}
	c.changed = make(chan struct{})
	for id, gs := range r.groups {
		if (r.cfg.Restored && gs.seq > 0) || slices.Contains(r.cfg.Unconfirmed, id) {
			c.pending[id] = true
		}
	}
}

// Unconfirmed returns, sorted, the groups in which this node must hear
// from another node before it signs anything.
func (r *Replica) Unconfirmed() []crdt.ID {
	r.confirm.mu.Lock()
	defer r.confirm.mu.Unlock()
	out := make([]crdt.ID, 0, len(r.confirm.pending))
	for g := range r.confirm.pending {
		out = append(out, g)
	}
	slices.SortFunc(out, crdt.ID.Compare)
	return out
}

// Confirm marks groups confirmed, and reports whether any of them was
// not. Call it when a catch-up session with a peer that offered them has
// completed (catchup.Stats.Synced): this node then holds its own latest
// ops there, as far as that peer knows them. Or when the operator says
// that no other node can hold ops of this node that it lacks.
func (r *Replica) Confirm(groups ...crdt.ID) bool {
	c := &r.confirm
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.pending)
	for _, g := range groups {
		delete(c.pending, g)
	}
	if len(c.pending) == n {
		return false
	}
	close(c.changed)
	c.changed = make(chan struct{})
	return true
}

// confirmed reports whether group is confirmed now.
func (r *Replica) confirmed(group crdt.ID) bool {
	r.confirm.mu.Lock()
	defer r.confirm.mu.Unlock()
	return !r.confirm.pending[group]
}

// awaitConfirmed returns nil once group is confirmed. While it is not, it
// waits up to Config.ConfirmWait for a catch-up session to confirm it,
// then fails with an error wrapping ErrUnconfirmed.
func (r *Replica) awaitConfirmed(ctx context.Context, group crdt.ID) error {
	var timeout <-chan time.Time
	for {
		c := &r.confirm
		c.mu.Lock()
		pending, changed := c.pending[group], c.changed
		c.mu.Unlock()
		if !pending {
			return nil
		}
		if timeout == nil {
			if r.cfg.ConfirmWait <= 0 {
				return r.unconfirmed(group)
			}
			t := time.NewTimer(r.cfg.ConfirmWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-changed:
		case <-timeout:
			return r.unconfirmed(group)
		case <-ctx.Done():
			return ctx.Err()
		case <-r.stop:
			return ErrClosed
		}
	}
}

// unconfirmed returns the error for a change refused in group: what
// happened, and what to do, in one line.
func (r *Replica) unconfirmed(group crdt.ID) error {
	name := group.Short()
	r.mu.RLock()
	if gs := r.groups[group]; gs != nil {
		name = gs.rec.Name
		if gs.g.Founded {
			name = gs.g.Name
		}
	}
	r.mu.RUnlock()
	return fmt.Errorf("%w: mutual must hear from another node of group %q before it signs anything there, "+
		"so that it does not reuse a sequence number (a fork would lose this node's later posts); "+
		"run `mutual serve` where another member's node is reachable and try again once they have synced, "+
		"or, only if no other node can have this node's changes made since the copy, `mutual serve --restored-ok`",
		ErrUnconfirmed, name)
}
