package replica

import (
	"errors"
	"sync"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/protocol"
)

// OpIDAt implements catchup.OpIDs: the gossip validator asks it for the
// prev a gossip frame leaves out (docs/protocol.md 2.6), nearly always
// that of the author's last op here. So the writer records each author's
// last op after every commit (lastOps), under a lock of its own: the
// validator never waits for a batch being applied. Any other position is
// read from the store's log (one Badger get) and hashed.
func (v syncView) OpIDAt(group crdt.ID, author crdt.PublicKey, seq uint64) (crdt.ID, bool) {
	if id, ok := v.r.lastIDs.at(group, author, seq); ok {
		return id, true
	}
	raw, err := v.r.st.LogOp(group, author, seq)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			v.r.cfg.Logger.Debug("read an op for a gossip frame's prev", "group", group.Short(), "err", err)
		}
		return crdt.ID{}, false
	}
	return protocol.OpID(raw), true
}

// lastOps holds, per group and author, the highest seq the log has held
// since the replica opened and that op's ID. Only committed ops are
// recorded; a group forgotten (unfollowed) keeps its entries, which name
// the same ops if it is followed again (and at worst a prev taken from
// them fails a signature check, which gossip answers with catch-up).
type lastOps struct {
	mu sync.Mutex
	m  map[lastKey]lastOp
}

type lastKey struct {
	g crdt.ID
	a crdt.PublicKey
}

type lastOp struct {
	seq uint64
	id  crdt.ID
}

// record notes the ops a commit added to the log. The caller holds the
// replica's lock (marks name group states).
func (l *lastOps) record(marks []mark) {
	if len(marks) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[lastKey]lastOp{}
	}
	for _, m := range marks {
		k := lastKey{m.gs.rec.ID, m.a}
		if m.s >= l.m[k].seq {
			l.m[k] = lastOp{m.s, m.id}
		}
	}
}

// at returns the ID of the op at (g, a, seq) if it is the last one
// recorded; for any other seq only the store can tell (the log may hold
// ops from before the replica opened above the last one recorded, when a
// commit filled a gap below them).
func (l *lastOps) at(g crdt.ID, a crdt.PublicKey, seq uint64) (crdt.ID, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if last, ok := l.m[lastKey{g, a}]; ok && last.seq == seq {
		return last.id, true
	}
	return crdt.ID{}, false
}
