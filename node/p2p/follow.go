package p2p

import (
	"maps"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mutual-aid/mutual/crdt"
)

// Followers (docs/design.md, "Following"). A node that follows a group
// cannot derive its GossipSub topic (it comes from the group's first
// key, which members hold), so it gets new ops by catch-up: when this
// node stores new ops of a group — its own, gossip's — it runs a session
// soon with each connected peer that follows the group. A peer follows
// a group if, in its last session with this node, it was served the
// group as a follower (catchup.Stats.Followers). Ops that arrive by
// catch-up spread to every connected peer already (spread).
//
// The record is in memory only, and is not persisted on purpose: a
// restarted node learns its followers again from the first session
// with each (the one that follows the connection, whichever side starts
// it: the follower offers the group, this node serves it), and pushes
// to them from then on (TestFollowerPushedAfterMemberRestart, package
// node). What the restart costs is that first session going by vectors
// instead of settling the group by digest; an op stored while it runs
// goes in it or in the session after the mesh forms (afterMesh). A
// stored record would be stale for a follower that does not come back,
// and a follower that does reconnect re-records itself at once.

// noteFollowers records the groups served to p as a follower in the
// session that just ended, in place of those of its previous session.
func (h *Host) noteFollowers(p peer.ID, key crdt.PublicKey, groups []crdt.ID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	rec := h.peers[p]
	if rec == nil {
		if len(groups) == 0 {
			return
		}
		rec = h.record(p, key)
	}
	if len(groups) == 0 {
		rec.follows = nil
		return
	}
	rec.follows = make(map[crdt.ID]bool, len(groups))
	for _, g := range groups {
		rec.follows[g] = true
	}
}

// followsOf returns the groups served to p as a follower in its last
// session (catchup.Options.Followers: the next session exchanges their
// digests, so that a group p holds alike settles).
func (h *Host) followsOf(p peer.ID) []crdt.ID {
	h.mu.Lock()
	defer h.mu.Unlock()
	rec := h.peers[p]
	if rec == nil {
		return nil
	}
	return slices.SortedFunc(maps.Keys(rec.follows), crdt.ID.Compare)
}

// pushFollowers schedules a session, within followDelay, with every
// connected peer that follows group. Calls meanwhile join the same
// push.
func (h *Host) pushFollowers(group crdt.ID) {
	h.mu.Lock()
	if h.pushing != nil {
		h.pushing[group] = true
		h.mu.Unlock()
		return
	}
	found := false
	for p, rec := range h.peers {
		if rec.connected && (rec.follows[group] || h.relayedReader(p, rec, group)) {
			found = true
			break
		}
	}
	if !found {
		h.mu.Unlock()
		return
	}
	h.pushing = map[crdt.ID]bool{group: true}
	h.mu.Unlock()
	h.spawn(func() {
		t := time.NewTimer(followDelay)
		defer t.Stop()
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		h.mu.Lock()
		groups := h.pushing
		h.pushing = nil
		var to []peer.ID
		for p, rec := range h.peers {
			if !rec.connected {
				continue
			}
			for g := range maps.Keys(groups) {
				if rec.follows[g] || h.relayedReader(p, rec, g) {
					to = append(to, p)
					break
				}
			}
		}
		h.mu.Unlock()
		for _, p := range to {
			h.spawn(func() { h.pushTo(p) })
		}
	})
}

// pushTo runs a session with p, waiting for one that runs already to end
// (it may have begun before the ops to push were stored).
func (h *Host) pushTo(p peer.ID) {
	st, err := h.syncWith(h.ctx, p, true)
	if err != nil && h.ctx.Err() == nil {
		h.log.Debug("push to a follower failed", "remote", p, "err", err)
		return
	}
	h.pushes.Add(1)
	h.log.Debug("pushed to a follower", "remote", p, "sent", st.OpsSent)
}
