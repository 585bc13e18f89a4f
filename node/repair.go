package node

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/protocol"
)

// OpenLocalReadOnly opens a data dir for `mutual check`: no byte of it
// changes. It fails with ErrRunning when a node has it open, and with a
// store.DamageError when Badger cannot read it.
func OpenLocalReadOnly(dir string, logger *slog.Logger) (*Local, error) {
	id, err := LoadIdentity(dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, storeDir)
	if store.Locked(path) {
		return nil, ErrRunning
	}
	st, err := store.OpenReadOnly(path)
	if err != nil {
		return nil, err
	}
	rep, err := replica.Open(st, replica.Config{Key: id.Key, Name: id.Name, Logger: logger})
	if err != nil {
		st.Close()
		return nil, err
	}
	return &Local{Dir: dir, ID: id, Store: st, Replica: rep}, nil
}

// StoreDir returns the path of a data dir's store.
func StoreDir(dir string) string { return filepath.Join(dir, storeDir) }

// RepairReport says what Repair did.
type RepairReport struct {
	Kept     string              `json:"kept"`     // where the damaged store now is
	Groups   []RepairedGroup     `json:"groups"`   // groups in the new store
	Found    int                 `json:"found"`    // intact ops found
	Restored int                 `json:"restored"` // of those, on the new board
	Waiting  int                 `json:"waiting"`  // kept aside (author not yet known, clock ahead)
	Refused  int                 `json:"refused"`  // invalid for their group
	Invalid  int                 `json:"invalid"`  // op records that no longer decode or verify
	Damage   []store.FileProblem `json:"damage"`   // stretches that held nothing readable
}

// RepairedGroup is one group in a RepairReport.
type RepairedGroup struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Ops  int    `json:"ops"`
}

// Repair rebuilds a damaged store from every intact op in it. The old
// store is moved aside, not deleted (RepairReport.Kept); every op found
// is checked exactly as if it came from the network, and the indexes and
// boards are recomputed from them. What was lost comes back from peers
// at the next sync.
func Repair(ctx context.Context, dir string, logger *slog.Logger) (*RepairReport, error) {
	id, err := LoadIdentity(dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, storeDir)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("nothing to repair: %w", err)
	}
	if store.Locked(path) {
		return nil, fmt.Errorf("%w: stop `mutual serve` before repairing", ErrRunning)
	}
	found, err := store.Salvage(path)
	if err != nil {
		return nil, err
	}
	rep := &RepairReport{Found: len(found.Ops), Invalid: found.Invalid, Damage: found.Damage}
	rep.Kept = path + ".damaged-" + time.Now().UTC().Format("20060102-150405")
	if err := os.Rename(path, rep.Kept); err != nil {
		return nil, fmt.Errorf("moving the damaged store aside: %w", err)
	}
	restore := func(err error) error {
		// The vault first, if it moved: it holds what no peer may have.
		if rerr := os.Rename(filepath.Join(path, store.VaultFile), filepath.Join(rep.Kept, store.VaultFile)); rerr != nil && !os.IsNotExist(rerr) {
			return fmt.Errorf("%w (and moving the vault back to %s failed: %v; it is in %s)", err, rep.Kept, rerr, path)
		}
		os.RemoveAll(path)
		if rerr := os.Rename(rep.Kept, path); rerr != nil {
			return fmt.Errorf("%w (and moving the damaged store back from %s failed: %v)", err, rep.Kept, rerr)
		}
		return err
	}

	// Decode once, to learn each op's group and order them: membership
	// first, then each author's log in order, as a peer would send them.
	type entry struct {
		op  crdt.Op
		raw []byte
	}
	ops := make([]entry, 0, len(found.Ops))
	for _, raw := range found.Ops {
		op, err := protocol.DecodeStoredOp(raw)
		if err != nil {
			continue // Salvage verified it; cannot happen
		}
		ops = append(ops, entry{op, raw})
	}
	membership := func(o *crdt.Op) int {
		switch o.Body.(type) {
		case crdt.Genesis, crdt.Join:
			return 0
		}
		return 1
	}
	slices.SortFunc(ops, func(a, b entry) int {
		return cmp.Or(cmp.Compare(membership(&a.op), membership(&b.op)),
			a.op.GroupID().Compare(b.op.GroupID()), a.op.Author.Compare(b.op.Author), cmp.Compare(a.op.Seq, b.op.Seq))
	})

	// Group records: those found, and one for every other group the ops
	// name (a member if this node founded or joined it).
	var self crdt.PublicKey
	copy(self[:], id.Key.Public().(ed25519.PublicKey))
	recs := map[crdt.ID]store.GroupRecord{}
	for _, g := range found.Groups {
		recs[g.ID] = g
	}
	for _, e := range ops {
		g := e.op.GroupID()
		rec, ok := recs[g]
		if !ok {
			rec = store.GroupRecord{ID: g, Relation: store.Follower}
		}
		switch b := e.op.Body.(type) {
		case crdt.Genesis:
			if rec.Name == "" {
				rec.Name = b.Name
			}
		}
		if e.op.Author == self && membership(&e.op) == 0 {
			rec.Relation = store.Member
		}
		recs[g] = rec
	}

	// The vault (private fields, sealed) moves to the new store: it is
	// not Badger's, Salvage did not read it, and erasure must reach it.
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, restore(err)
	}
	if err := os.Rename(filepath.Join(rep.Kept, store.VaultFile), filepath.Join(path, store.VaultFile)); err != nil && !os.IsNotExist(err) {
		return nil, restore(err)
	}
	st, err := store.Open(path, store.Config{})
	if err != nil {
		return nil, restore(err)
	}
	var b store.Batch
	for _, rec := range recs {
		b.PutGroup(rec)
	}
	if err := st.Commit(&b); err != nil {
		st.Close()
		return nil, restore(err)
	}
	r, err := replica.Open(st, replica.Config{Key: id.Key, Name: id.Name, Logger: logger})
	if err != nil {
		st.Close()
		return nil, restore(err)
	}
	perGroup := map[crdt.ID]int{}
	for len(ops) > 0 {
		n := min(len(ops), 256)
		raws := make([][]byte, n)
		for i := range raws {
			raws[i] = ops[i].raw
		}
		res, err := r.Ingest(ctx, raws)
		if err != nil {
			r.Close()
			st.Close()
			return nil, restore(err)
		}
		for i, x := range res {
			switch x.Outcome {
			case replica.New, replica.Dup:
				rep.Restored++
				perGroup[ops[i].op.GroupID()]++
			case replica.Rejected:
				rep.Refused++
			default:
				rep.Waiting++
				if x.Outcome == replica.Fork {
					perGroup[ops[i].op.GroupID()]++
				}
			}
		}
		ops = ops[n:]
	}
	for _, g := range r.Groups() {
		rep.Groups = append(rep.Groups, RepairedGroup{ID: g.ID.String(), Name: g.Name, Ops: perGroup[g.ID]})
	}
	r.Close()
	if err := st.Close(); err != nil {
		return rep, err
	}
	// What repair could not read may include this node's latest ops:
	// the next start takes the data dir for a restored copy, and waits to
	// hear from a peer before it signs (see incarnation.go).
	if err := markRestored(dir); err != nil {
		return rep, fmt.Errorf("repaired, but: %w", err)
	}
	return rep, nil
}
