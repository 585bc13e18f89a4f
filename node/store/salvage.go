package store

import (
	"fmt"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// Salvaged is what could be read back from a damaged store.
type Salvaged struct {
	// Ops holds every distinct op found that decodes and whose signature
	// verifies, wherever it was read from: ops are self-authenticating.
	Ops [][]byte
	// Groups holds the latest group record of each group found.
	Groups []GroupRecord
	// Damage lists the stretches that held no valid record.
	Damage []FileProblem
	// Invalid counts op records that no longer decode or verify.
	Invalid int
}

// Salvage reads every record of every value log in dir, stepping over
// damaged stretches, and returns the ops and group records in them. It
// only reads. Badger writes every entry to its value log before anything
// else, so the logs hold every op the store accepted; what they lost is
// reported in Damage, for peers to send again.
func Salvage(dir string) (*Salvaged, error) {
	files, err := vlogFiles(dir)
	if err != nil {
		return nil, err
	}
	out := &Salvaged{}
	seen := map[crdt.ID]bool{}
	type versioned struct {
		v   uint64
		rec GroupRecord
		del bool
	}
	groups := map[crdt.ID]versioned{}
	for i, f := range files {
		s, err := scanVlog(f, func(e *vlogEntry) error {
			if len(e.Key) == 0 || e.Meta&bitFinTxn != 0 {
				return nil
			}
			switch e.Key[0] {
			case pLog, pMember, pPark, pFork:
				if e.Meta&bitDelete != 0 {
					return nil // a parked op admitted later: it is in the log too
				}
				op, err := protocol.DecodeOp(e.Value)
				if err != nil {
					out.Invalid++
					return nil
				}
				if !seen[op.ID] {
					seen[op.ID] = true
					out.Ops = append(out.Ops, append([]byte(nil), e.Value...))
				}
			case pGroup:
				if len(e.Key) != 1+32 {
					return nil
				}
				var id crdt.ID
				copy(id[:], e.Key[1:])
				if old, ok := groups[id]; ok && old.v > e.Version {
					return nil
				}
				rec, err := decodeGroup(e.Value)
				if e.Meta&bitDelete == 0 && (err != nil || rec.ID != id) {
					return nil
				}
				groups[id] = versioned{e.Version, rec, e.Meta&bitDelete != 0}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("salvage %s: %w", f, err)
		}
		for _, b := range s.Bad {
			p := FileProblem{File: f, Detail: b.String() + " unreadable"}
			if i == len(files)-1 && s.TornTail() {
				p.Unfinished, p.Detail = true, b.String()+": an unfinished write, never acknowledged"
			}
			out.Damage = append(out.Damage, p)
		}
	}
	for _, g := range groups {
		if !g.del {
			out.Groups = append(out.Groups, g.rec)
		}
	}
	return out, nil
}
