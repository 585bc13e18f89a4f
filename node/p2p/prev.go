package p2p

import (
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
// it from the frame, else from its replica's log (catchup.OpIDs), which
// holds only verified ops. That saves 32 bytes where they count: a lone
// post, which a frame of one carries in 115 bytes beyond its text.
//
// The sender leaves a prev out only when the op it names went out at
// least prevSettle ago (or never went out from this node): by then its
// receivers hold it. Under a burst, pubsub validates messages
// concurrently, and a GossipSub queue may drop one; a message whose prev
// is in the message just before would often find its receiver without
// it, and one lost message would leave every later one of the burst
// unreadable until catch-up. So burst messages write their prev, as
// before, and cost 32 bytes a frame (of up to hundreds of ops) more.
//
// A receiver that lacks a prev ignores the message and catches up with
// its sender (lackPrev); one whose prev fails the signature, a fork at
// seq-1 or a forgery, does too (prevDoubted).

// prevSettle is how long after an op went out a message may leave out a
// prev that names it.
const prevSettle = time.Second

// sentOps remembers, per author, the last op this node sent on a topic
// and when.
type sentOps struct {
	mu sync.Mutex
	m  map[crdt.PublicKey]sentOp
}

type sentOp struct {
	seq uint64
	at  time.Time
}

// racing reports whether a message of ops would leave out the prev of
// an op whose op before went out less than prevSettle before now.
func (s *sentOps) racing(ops []crdt.Op, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range ops {
		if l, ok := s.m[ops[i].Author]; ok && l.seq+1 == ops[i].Seq && now.Sub(l.at) < prevSettle {
			return true
		}
	}
	return false
}

// note records that ops went out at now.
func (s *sentOps) note(ops []crdt.Op, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[crdt.PublicKey]sentOp{}
	}
	for i := range ops {
		if l := s.m[ops[i].Author]; ops[i].Seq >= l.seq {
			s.m[ops[i].Author] = sentOp{ops[i].Seq, now}
		}
	}
}

// prevOf is the lookup that fills the prevs a gossip message on group's
// topic leaves out: the replica's log.
func (h *Host) prevOf(group crdt.ID) protocol.PrevLookup {
	ids, ok := h.r.(catchup.OpIDs)
	if !ok {
		return func(crdt.PublicKey, uint64) (crdt.ID, bool) { return crdt.ID{}, false }
	}
	return func(author crdt.PublicKey, seq uint64) (crdt.ID, bool) { return ids.OpIDAt(group, author, seq) }
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
// not be the one its author signed after (a fork at seq-1), and the
// message cannot be told from a forgery.
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
func (h *Host) prevDoubted(group crdt.ID, from peer.ID, err error) {
	h.prevDoubts.Add(1)
	h.log.Info("gossiped op fails its signature with the prev held here: catching up with its sender", "group", group.Short(), "remote", from, "err", err)
	h.spawn(func() { h.syncBackground(from, "prev") })
}
