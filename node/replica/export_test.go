package replica

import (
	"context"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/store"
)

// AddGroupForTest makes r hold group g (as a member would after joining)
// and ingests its genesis op.
func AddGroupForTest(r *Replica, g crdt.ID, genesis []byte) error {
	r.mu.Lock()
	r.groups[g] = newGroupState(store.GroupRecord{ID: g, Name: "bench", Relation: store.Member})
	r.mu.Unlock()
	_, err := r.Ingest(context.Background(), [][]byte{genesis})
	return err
}

// SetRoleAt is SetRole with a cut below what r holds of the member.
func SetRoleAt(ctx context.Context, r *Replica, group crdt.ID, member crdt.PublicKey, role crdt.Role, cut uint64) error {
	return r.setRole(ctx, group, member, role, cut)
}
