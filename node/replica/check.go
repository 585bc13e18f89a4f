package replica

import (
	"fmt"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// Check recomputes a group's state from its stored ops alone, with the
// reference model (crdt.Board), and compares it with the materialised
// posts the store serves queries from. It returns both hashes; they
// differ only if the store's derived records are wrong.
func (r *Replica) Check(group crdt.ID) (stored, recomputed crdt.ID, err error) {
	stored, err = r.StateHash(group)
	if err != nil {
		return stored, recomputed, err
	}
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
	return stored, b.Hash(), nil
}
