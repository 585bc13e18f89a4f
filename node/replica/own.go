package replica

import (
	"fmt"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// This node's own sequence numbers.
//
// Each op this node signs in a group takes the seq after the highest it
// ever signed there, with Prev that op's ID: two ops of one author at one
// seq are a fork, and a fork costs the author its ops from the fork point
// on. The node's own log does not always hold its highest op. After its
// data dir is restored from an old copy, its later ops come back from
// peers (catch-up, gossip, a bundle file), and each one that does moves
// gs.seq and gs.prev up (adoptOwn); until one has, restore.go holds the
// node's writes.
//
// gs.seq is the highest own seq held, not the highest contiguous one. A
// gap below it is ops this node signed and no longer holds (the copy
// lacked them, and so did the peer that sent the later ones). The node
// never signs in the gap: its next op follows the highest. The gap's ops
// come back like any missing op, as the version vector still stops below
// them.

// adoptOwn is called for each op from outside once ingest has judged it:
// an op this node signed that is now stored (whether it counts or not)
// and beyond gs.seq becomes the op
// the next one follows. It runs in the writer, before the batch commits,
// so that a local write later in the same batch follows it too; if the
// commit fails, the writer reloads the group states from the store.
func (bt *batch) adoptOwn(op *crdt.Op, res Result) {
	if op.Author != bt.r.self || (res.Outcome != New && res.Outcome != Parked) {
		return
	}
	gs := bt.r.groups[op.GroupID()]
	if gs == nil || op.Seq <= gs.seq {
		return
	}
	gs.seq, gs.prev = op.Seq, op.ID
	bt.r.clock.Observe(op.Time, bt.now)
}

// lastOwn returns this node's op with the highest seq in a group, the
// one at logSeq in the log, or nil when there is none.
func (r *Replica) lastOwn(g crdt.ID, logSeq uint64) (*crdt.Op, error) {
	if logSeq == 0 {
		return nil, nil
	}
	raw, err := r.st.LogOp(g, r.self, logSeq)
	if err != nil {
		return nil, fmt.Errorf("load own last op: %w", err)
	}
	op, err := protocol.DecodeStoredOp(raw)
	if err != nil {
		return nil, err
	}
	return &op, nil
}
