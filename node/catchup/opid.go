package catchup

import "github.com/mutual-aid/mutual/crdt"

// OpIDs is implemented by replicas that can tell, cheaply, which op they
// hold at a position of an author's log. Gossip frames leave out the
// prev of an op that is not chained (docs/protocol.md 2.6): the receiver
// takes it from its log, through OpIDAt. A replica without it gets every
// such frame from catch-up instead.
type OpIDs interface {
	// OpIDAt returns the ID of author's op at seq in group's log, if
	// held (an op kept as evidence of a fork does not count). It is
	// called by the gossip validator for nearly every message: it must
	// be cheap and must not wait for the replica's writer.
	OpIDAt(group crdt.ID, author crdt.PublicKey, seq uint64) (crdt.ID, bool)
}
