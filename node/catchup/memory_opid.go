package catchup

import "github.com/mutual-aid/mutual/crdt"

// OpIDAt implements OpIDs.
func (m *MemoryReplica) OpIDAt(group crdt.ID, author crdt.PublicKey, seq uint64) (crdt.ID, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.groups[group]
	if g == nil {
		return crdt.ID{}, false
	}
	a := g.authors[author]
	if a == nil {
		return crdt.ID{}, false
	}
	op, ok := a.ops[seq]
	return op.id, ok
}
