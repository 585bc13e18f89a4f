package replica_test

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/protocol"
)

// loggedOp is an op of a node's log and its encoding.
type loggedOp struct {
	op  crdt.Op
	raw []byte
}

// ownLog returns n's own ops in g, by seq.
func ownLog(t *testing.T, n *node, g crdt.ID) map[uint64]loggedOp {
	t.Helper()
	out := map[uint64]loggedOp{}
	err := n.r.Sync().OpsAfter(g, n.r.Self(), 0, func(raw []byte) error {
		op, err := protocol.DecodeOp(raw)
		out[op.Seq] = loggedOp{op, append([]byte(nil), raw...)}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// seqOf returns the seq of the op that created post p on n, and fails
// the test unless its Prev is the op before it.
func seqOf(t *testing.T, n *node, g crdt.ID, p *crdt.Post) uint64 {
	t.Helper()
	log := ownLog(t, n, g)
	for s, o := range log {
		if o.op.ID == p.ID {
			if s > 1 && log[s-1].op.ID != o.op.Prev {
				t.Errorf("op %d's Prev is not op %d", s, s-1)
			}
			return s
		}
	}
	t.Fatalf("post %s is not in its author's log", p.ID.Short())
	return 0
}

// ingest hands ops to n and fails the test unless each outcome is want.
func ingest(t *testing.T, n *node, want replica.Outcome, ops ...loggedOp) {
	t.Helper()
	raws := make([][]byte, len(ops))
	for i, o := range ops {
		raws[i] = o.raw
	}
	res, err := n.r.Ingest(context.Background(), raws)
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range res {
		if x.Outcome != want {
			t.Errorf("op %d (seq %d): %s, want %s (%v)", i, ops[i].op.Seq, x.Outcome, want, x.Err)
		}
	}
}

func noForks(t *testing.T, g crdt.ID, nodes ...*node) {
	t.Helper()
	for i, n := range nodes {
		if forks, err := n.r.Forks(g); err != nil || len(forks) > 0 {
			t.Errorf("node %d holds %d forks: %v", i, len(forks), err)
		}
	}
}

// backup copies a closed node's dir, as an operator backs up a data dir.
func backup(t *testing.T, dir string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "copy")
	if err := os.CopyFS(to, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	return to
}

func need(title string) replica.PostInput {
	return replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: title}}
}

// A node restored from an old copy of its data dir gets its later ops
// back from a peer: each moves its seq up, so that its next op follows
// the highest it ever signed, even past a gap, and across a restart.
func TestOwnOpsFromPeersAdvanceSeq(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	dir := t.TempDir()
	a := open(t, dir, key, replica.Config{})
	g := newGroup(t, a, "g")
	post(t, a, g, need("coats")) // seq 3 (1 is the genesis, 2 the group's key)
	a.close()
	old := backup(t, dir)
	a = open(t, dir, key, replica.Config{})
	defer a.close()
	for _, title := range []string{"blankets", "soup", "a van"} { // seqs 4, 5, 6
		post(t, a, g, need(title))
	}
	later := ownLog(t, a, g)

	b := open(t, old, key, replica.Config{})
	// Ops 4 and 6 come back, 5 not yet: the next op is 7, after 6.
	ingest(t, b, replica.New, later[4], later[6])
	if s := seqOf(t, b, g, post(t, b, g, need("after the restore"))); s != 7 {
		t.Errorf("the first post after the restore has seq %d, want 7", s)
	}
	// A restart takes the highest own op in the log, past the gap.
	b.close()
	b = open(t, old, key, replica.Config{})
	defer b.close()
	if s := seqOf(t, b, g, post(t, b, g, need("after a restart"))); s != 8 {
		t.Errorf("the first post after a restart has seq %d, want 8", s)
	}
	// Op 5 fills the gap, and a gets 7 and 8: no fork anywhere.
	ingest(t, b, replica.New, later[5])
	mine := ownLog(t, b, g)
	ingest(t, a, replica.New, mine[7], mine[8])
	noForks(t, g, a, b)
	check(t, b, g)
	if ha, hb := stateHash(t, a, g), stateHash(t, b, g); ha != hb {
		t.Error("a and b differ after exchanging all ops")
	}
}
