package catchup

import (
	"errors"
	"fmt"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// pending is what phase 3 has received and not yet ingested: the ops of
// several small Ops or Frame messages, of one group or several, go to
// Replica.Ingest together, so that a session over hundreds of groups
// with a few new ops each costs a few durable commits, not one per group.
// A batch is ingested once it holds protocol.MaxBatchBytes of ops (or
// Options.MaxBatchBytes, over a relayed connection) or
// protocol.MaxBatchOps ops, and at the end of the phase; it is all or
// nothing, as one message's ops were.
type pending struct {
	raws     [][]byte
	bytes    int
	received int                                 // ops of the messages pended, for Progress
	firsts   map[crdt.ID]map[crdt.PublicKey]bool // authors whose first op is pended, by group
	groups   map[crdt.ID]bool                    // groups of the ops pended
}

// pend adds the storable ops of a message of group g to the batch and
// ingests the batch if it is full. refs and firsts are the message's
// (receiveOps): an author's first op pended in an earlier message counts
// as held.
func (ss *session) pend(rs *roundState, g crdt.ID, raws [][]byte, refs []protocol.OpRef, firsts map[crdt.PublicKey]bool) error {
	p := &rs.pending
	if p.firsts == nil {
		p.firsts = map[crdt.ID]map[crdt.PublicKey]bool{}
	}
	held := p.firsts[g]
	if held == nil {
		held = map[crdt.PublicKey]bool{}
		p.firsts[g] = held
	}
	for a := range firsts {
		held[a] = true
	}
	ops, err := ss.storable(g, raws, refs, held)
	if err != nil {
		return err
	}
	if len(ops) > 0 {
		if p.groups == nil {
			p.groups = map[crdt.ID]bool{}
		}
		p.groups[g] = true
	}
	for _, op := range ops {
		p.raws = append(p.raws, op)
		p.bytes += len(op)
	}
	p.received += len(raws)
	limit := protocol.MaxBatchBytes
	if ss.maxBatch > 0 && ss.maxBatch < limit {
		limit = ss.maxBatch // a relayed connection: store what arrived before the relay cuts it
	}
	if p.bytes >= limit || len(p.raws) >= protocol.MaxBatchOps {
		return ss.flush(rs)
	}
	return nil
}

// flush ingests the pending batch.
func (ss *session) flush(rs *roundState) error {
	p := &rs.pending
	raws, received, groups := p.raws, p.received, p.groups
	*p = pending{}
	if len(raws) > 0 {
		n, err := ss.r.Ingest(ss.ctx, raws)
		if err != nil {
			if errors.Is(err, ErrRejected) {
				return err
			}
			return fmt.Errorf("catchup: storing ops: %w", err)
		}
		rs.fresh += n
		ss.stats.NewOps += n
		if n > 0 {
			for g := range groups {
				ss.fresh[g] = true // (a batch of several groups may have brought new ops of only some)
			}
		}
	}
	ss.progress.add(received)
	return nil
}
