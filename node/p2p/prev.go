package p2p

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
	"github.com/mutual-aid/mutual/protocol"
)

// Gossip frames leave out the prev of each op that is not chained
// (protocol.EncodeGossipFrame, docs/protocol.md 2.6): the receiver takes
// it from the frame, else from the ops it holds. Here that is, in order:
//
//   - the replica's log (catchup.OpIDs), which holds only verified ops;
//   - the last op of each author that gossip brought (recentOps),
//     decoded but perhaps not stored yet: pubsub validates messages
//     concurrently, so under a burst a frame is often decoded while the
//     frame ahead of it is still in the replica's writer;
//   - else it waits, up to prevWait, for gossip to bring that op (the
//     frame ahead may be a moment behind in validation), then gives up:
//     the frame is ignored, and catch-up from its sender fills the gap
//     (lackPrev).
//
// A prev taken from a recent op that turns out forged, or from a log
// whose author forked at seq-1, rebuilds an op whose signature fails.
// That is not the sender's fault either (prevDoubted).

// prevWait bounds how long the validator waits for the op ahead of a
// frame whose prev it cannot fill.
const prevWait = 100 * time.Millisecond

// maxRecent bounds recentOps; past it, it starts afresh.
const maxRecent = 4096

// recentOps remembers, per group and author, the op of the highest seq
// that gossip brought.
type recentOps struct {
	mu   sync.Mutex
	m    map[gapKey]recentOp
	news chan struct{} // closed, and replaced, when m gains an op
}

type recentOp struct {
	seq uint64
	id  crdt.ID
}

// add records decoded ops of group.
func (r *recentOps) add(group crdt.ID, ops ...crdt.Op) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil || len(r.m) >= maxRecent {
		r.m = map[gapKey]recentOp{}
	}
	for i := range ops {
		k := gapKey{group, ops[i].Author}
		if ops[i].Seq >= r.m[k].seq {
			r.m[k] = recentOp{ops[i].Seq, ops[i].ID}
		}
	}
	if r.news != nil {
		close(r.news)
		r.news = nil
	}
}

// forget drops ops of group that turned out invalid.
func (r *recentOps) forget(group crdt.ID, ops ...crdt.Op) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range ops {
		k := gapKey{group, ops[i].Author}
		if r.m[k].id == ops[i].ID {
			delete(r.m, k)
		}
	}
}

// at returns the ID of author's op at seq if it is the last one gossip
// brought, else a channel closed when gossip brings another.
func (r *recentOps) at(group crdt.ID, author crdt.PublicKey, seq uint64) (crdt.ID, bool, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if op, ok := r.m[gapKey{group, author}]; ok && op.seq == seq {
		return op.id, true, nil
	}
	if r.news == nil {
		r.news = make(chan struct{})
	}
	return crdt.ID{}, false, r.news
}

// prevOf is the lookup that fills the prevs a gossip message on group's
// topic leaves out.
func (h *Host) prevOf(ctx context.Context, group crdt.ID) protocol.PrevLookup {
	ids, _ := h.r.(catchup.OpIDs)
	var deadline <-chan time.Time // one wait per message, however many lookups
	return func(author crdt.PublicKey, seq uint64) (crdt.ID, bool) {
		for {
			if ids != nil {
				if id, ok := ids.OpIDAt(group, author, seq); ok {
					return id, true
				}
			}
			id, ok, news := h.recent.at(group, author, seq)
			if ok {
				return id, true
			}
			if deadline == nil {
				deadline = time.After(prevWait)
			}
			select {
			case <-news:
			case <-deadline:
				return crdt.ID{}, false
			case <-ctx.Done():
				return crdt.ID{}, false
			}
		}
	}
}

// lackPrev answers a gossip message whose prev this node could not fill
// (protocol.ErrNeedPrev): the sender did nothing wrong, but the ops
// ahead were lost or are late. It is ignored, and the gap is mended by
// catch-up from the sender as for an op past a gap (mendGap), unless the
// author is unknown here: no gossip brings such an op in (unknownAuthor).
func (h *Host) lackPrev(group crdt.ID, from peer.ID, err error) {
	var need *protocol.NeedPrevError
	if !errors.As(err, &need) {
		return
	}
	op := &crdt.Op{Author: need.Author, Seq: need.Seq}
	if h.unknownAuthor(group, op) {
		h.log.Debug("gossiped op of an unknown author ignored", "group", group.Short(), "remote", from)
		return
	}
	h.lackedPrev.Add(1)
	h.log.Debug("gossiped frame ignored: its prev is not held here yet", "group", group.Short(), "remote", from, "err", err)
	h.mendGap(group, op, from)
}

// prevDoubtful reports whether an op whose prev was taken from this
// node (looked[i]) fails its signature: then the op at seq-1 here may
// not be the one its author signed after (a fork at seq-1, or a forged
// op gossip brought), and the message cannot be told from a forgery.
// Called only for a message the replica rejected, so the extra
// verification costs nothing on the usual path.
func prevDoubtful(ops []crdt.Op, looked []bool) bool {
	for i := range ops {
		if looked[i] && errors.Is(protocol.VerifyOp(&ops[i]), protocol.ErrBadSignature) {
			return true
		}
	}
	return false
}

// prevDoubted answers a message for which prevDoubtful holds: it is
// ignored, not punished, and a catch-up session with its sender, which
// carries every op in its full form, brings the ops (and the evidence of
// a fork, if there is one) or shows the sender sent junk (and the session
// punishes it).
func (h *Host) prevDoubted(group crdt.ID, from peer.ID, ops []crdt.Op, err error) {
	h.prevDoubts.Add(1)
	h.recent.forget(group, ops...)
	h.log.Info("gossiped op fails its signature with the prev held here: catching up with its sender", "group", group.Short(), "remote", from, "err", err)
	h.spawn(func() { h.syncBackground(from, "prev") })
}
