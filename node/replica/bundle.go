package replica

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/protocol"
)

// A bundle is a file of signed ops for the sneakernet: a USB stick
// carried between nodes that never meet. It is the magic line
// BundleMagic followed by catch-up Ops frames (docs/protocol-catchup.md),
// each group's membership ops first. Importing validates every op exactly
// as if it came from the network.
const BundleMagic = "mutual-bundle/1\n"

// ErrNotBundle means a file is not a bundle.
var ErrNotBundle = errors.New("not a mutual bundle (it does not start with " + `"mutual-bundle/1"` + ")")

// Export writes a bundle of every op this node holds of the given groups
// (all its groups when none are given), and returns the number of ops.
// Post ops carry their blobs: private fields sealed to the group's keys,
// which only members' nodes can open.
func (r *Replica) Export(w io.Writer, groups []crdt.ID) (int, error) {
	return r.ExportSince(w, groups, nil)
}

// ExportSince writes a bundle of the ops of the given groups that the
// node of the summary since lacks (section 11.1 of docs/protocol.md),
// and returns the number of ops. With no groups given, the groups are
// those of the summary that this node holds (every group this node
// holds when since is nil). A nil summary means a node that holds
// nothing: the whole of each group.
//
// Each group's ops go in the order an importer can store them in one
// pass: the membership ops it lacks, oldest first (an importer keeps a
// join only once it holds its invite's issuer's first op), then each
// author's log after the seq the summary gives, then the evidence of
// forks whose ID the summary does not list.
func (r *Replica) ExportSince(w io.Writer, groups []crdt.ID, since *protocol.Summary) (int, error) {
	if len(groups) == 0 {
		groups = r.summaryGroups(since)
	}
	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString(BundleMagic); err != nil {
		return 0, err
	}
	total := 0
	for _, g := range groups {
		n, err := r.exportGroup(bw, g, since)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, bw.Flush()
}

// exportGroup writes the ops of g that since lacks.
func (r *Replica) exportGroup(w io.Writer, g crdt.ID, since *protocol.Summary) (int, error) {
	r.mu.RLock()
	gs := r.groups[g]
	r.mu.RUnlock()
	if gs == nil {
		return 0, fmt.Errorf("%w: %s", ErrNoGroup, g.Short())
	}
	var authors []crdt.PublicKey
	if err := r.st.LogSeqs(g, func(a crdt.PublicKey, seq uint64) {
		if len(authors) == 0 || authors[len(authors)-1] != a {
			authors = append(authors, a)
		}
	}); err != nil {
		return 0, err
	}
	authors = slices.Compact(authors)
	theirs, theirEvidence := resolve(since, g, authors)
	ow := protocol.NewOpsWriter(w, g)
	// Membership first, oldest first, so that an importer knows each
	// invite's issuer before the join (crdt.Storable).
	members, err := r.st.MembershipOps(g)
	if err != nil {
		return 0, err
	}
	members = slices.DeleteFunc(members, func(raw []byte) bool {
		ref, err := protocol.PeekOp(raw)
		return err == nil && ref.Seq <= theirs[ref.Author]
	})
	if err := sortByStamp(members); err != nil {
		return 0, err
	}
	seen := map[[32]byte]bool{}
	for _, raw := range members {
		if err := ow.Add(r.withBlob(raw)); err != nil {
			return ow.Ops, err
		}
		seen[opID(raw)] = true
	}
	for _, a := range authors {
		err := r.st.OpsAfter(g, a, theirs[a], func(_ uint64, raw []byte) error {
			if seen[opID(raw)] {
				return nil
			}
			// With its blob: a bundle goes from member to member.
			return ow.Add(r.withBlob(raw))
		})
		if err != nil {
			return ow.Ops, err
		}
	}
	// And the evidence of forks the importer does not list, so that it
	// learns them: each op with the one this node's log holds at its
	// (author, seq), when the importer holds an op there (it may be the
	// evidence's other branch), as catch-up sends them.
	err = r.Sync().Evidence(g, func(raw []byte) error {
		id := opID(raw)
		if seen[id] || theirEvidence[protocol.PrefixOf(id)] {
			return nil
		}
		seen[id] = true
		if err := ow.Add(raw); err != nil {
			return err
		}
		ref, err := protocol.PeekOp(raw)
		if err != nil || ref.Seq > theirs[ref.Author] {
			return nil
		}
		logged, err := r.st.LogOp(g, ref.Author, ref.Seq)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (seen[opID(logged)] || theirEvidence[protocol.PrefixOf(opID(logged))])) {
			return nil // none held there (repaired away), or sent: the evidence alone
		}
		if err != nil {
			return err
		}
		seen[opID(logged)] = true
		return ow.Add(r.withBlob(logged))
	})
	if err != nil {
		return ow.Ops, err
	}
	return ow.Ops, ow.Flush()
}

func opID(raw []byte) [32]byte { return protocol.OpID(raw) }

// sortByStamp sorts encoded ops by their stamps (HLC, author, ID).
func sortByStamp(raws [][]byte) error {
	stamps := make(map[*byte]crdt.Stamp, len(raws))
	for _, raw := range raws {
		op, err := protocol.DecodeStoredOp(raw)
		if err != nil {
			return err
		}
		stamps[&raw[0]] = op.Stamp()
	}
	slices.SortFunc(raws, func(a, b []byte) int { return stamps[&a[0]].Compare(stamps[&b[0]]) })
	return nil
}

// hasGenesis reports whether raws hold the genesis of group, valid.
func hasGenesis(group crdt.ID, raws [][]byte) bool {
	for _, raw := range raws {
		if ref, err := protocol.PeekOp(raw); err != nil || ref.Seq != 1 {
			continue // cheap: only an author's first op can be a genesis
		}
		op, err := protocol.DecodeOp(raw)
		if _, ok := op.Body.(crdt.Genesis); err == nil && ok && op.ID == group {
			return true
		}
	}
	return false
}
