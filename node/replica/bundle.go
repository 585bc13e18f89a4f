package replica

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/mutual-aid/mutual/crdt"
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
	if len(groups) == 0 {
		for _, g := range r.Groups() {
			groups = append(groups, g.ID)
		}
	}
	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString(BundleMagic); err != nil {
		return 0, err
	}
	total := 0
	for _, g := range groups {
		r.mu.RLock()
		gs := r.groups[g]
		r.mu.RUnlock()
		if gs == nil {
			return total, fmt.Errorf("%w: %s", ErrNoGroup, g.Short())
		}
		ow := protocol.NewOpsWriter(bw, g)
		// Membership first, oldest first, so that an importer knows each
		// invite's issuer before the join (crdt.Storable).
		members, err := r.st.MembershipOps(g)
		if err != nil {
			return total, err
		}
		if err := sortByStamp(members); err != nil {
			return total, err
		}
		seen := map[[32]byte]bool{}
		for _, raw := range members {
			if err := ow.Add(raw); err != nil {
				return total, err
			}
			seen[opID(raw)] = true
		}
		var authors []crdt.PublicKey
		if err := r.st.LogSeqs(g, func(a crdt.PublicKey, seq uint64) {
			if len(authors) == 0 || authors[len(authors)-1] != a {
				authors = append(authors, a)
			}
		}); err != nil {
			return total, err
		}
		for _, a := range slices.Compact(authors) {
			err := r.st.OpsAfter(g, a, 0, func(_ uint64, raw []byte) error {
				if seen[opID(raw)] {
					return nil
				}
				// With its blob: a bundle goes from member to member.
				return ow.Add(r.withBlob(raw))
			})
			if err != nil {
				return total, err
			}
		}
		// And the evidence of forks, so that the importer learns them.
		evidence, err := r.st.ForkOps(g)
		if err != nil {
			return total, err
		}
		for _, raw := range evidence {
			if err := ow.Add(raw); err != nil {
				return total, err
			}
		}
		if err := ow.Flush(); err != nil {
			return total, err
		}
		total += ow.Ops
	}
	return total, bw.Flush()
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

// ImportReport says what a bundle brought.
type ImportReport struct {
	New, Had, Refused, Waiting int       // waiting: parked or not judged yet (e.g. future clock)
	Followed                   []crdt.ID // groups the bundle made this node follow
	Errors                     []string  // why ops were refused (first few)
}

// Import reads a bundle and ingests its ops as if they came from the
// network. A group this node neither belongs to nor follows is followed
// (replicated read-only) only when the bundle holds its genesis, signed
// and valid, in the group's first frame (Export writes it there): the
// ops of any other group are refused unread, so a bundle of empty or
// junk frames makes this node follow nothing. A malformed frame stops
// the import with an error; ops already stored stay (they are valid).
func (r *Replica) Import(ctx context.Context, rd io.Reader) (ImportReport, error) {
	var rep ImportReport
	br := bufio.NewReader(rd)
	magic := make([]byte, len(BundleMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != BundleMagic {
		return rep, ErrNotBundle
	}
	for {
		f, err := protocol.ReadFrame(br)
		if err == io.EOF {
			return rep, nil
		}
		if err != nil {
			return rep, fmt.Errorf("bundle: %w", err)
		}
		if f.Type != protocol.MsgOps {
			return rep, fmt.Errorf("bundle: %w: unexpected %s frame", protocol.ErrMalformed, f.Type)
		}
		if _, err := r.Group(f.Group); errors.Is(err, ErrNoGroup) {
			if !hasGenesis(f.Group, f.Ops) {
				rep.Refused += len(f.Ops)
				if len(rep.Errors) < 10 {
					rep.Errors = append(rep.Errors, fmt.Sprintf("group %s: %d ops of a group this node does not hold, without its genesis", f.Group.Short(), len(f.Ops)))
				}
				continue
			}
			if err := r.Follow(ctx, f.Group, "", nil, nil); err != nil {
				return rep, err
			}
			rep.Followed = append(rep.Followed, f.Group)
		}
		res, err := r.Ingest(ctx, f.Ops)
		if err != nil {
			return rep, err
		}
		for _, x := range res {
			switch x.Outcome {
			case New:
				rep.New++
			case Dup:
				rep.Had++
			case Rejected, Fork:
				rep.Refused++
				if len(rep.Errors) < 10 && x.Err != nil {
					rep.Errors = append(rep.Errors, fmt.Sprintf("op %s: %v", x.ID.Short(), x.Err))
				}
			default:
				rep.Waiting++
			}
		}
	}
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
