package replica

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// ImportReport says what a bundle brought: the totals, and per group
// the counts and each refused op with why (the receipt's groups).
type ImportReport struct {
	New, Had, Refused, Waiting int       // waiting: valid but not counted (yet): an author not known, a clock ahead
	Followed                   []crdt.ID // groups the bundle made this node follow
	Errors                     []string  // why ops were refused (the first few)
	// Groups, in the order the bundle first brings an op of each.
	Groups []protocol.GroupReceipt
	// Cut, if not empty, says why the import stopped before the end of
	// the bundle (Import's error, ErrDamaged).
	Cut string
}

// ErrDamaged means a bundle stops making sense part way: it is cut
// short, or a frame is malformed or not of ops. The import stops there;
// the ops read before stay (each was valid).
var ErrDamaged = errors.New("the bundle is damaged")

// Import limits.
const (
	// maxAsideBytes caps the ops an import keeps to try again once the
	// rest of the bundle is read: ops read before their author's first
	// op, or before their group's genesis. Past it, an op is counted as
	// waiting (a second import stores it).
	maxAsideBytes = 64 << 20
	// maxImportPasses bounds the tries of the ops kept aside: each pass
	// may store the first ops that the next pass's ops need.
	maxImportPasses = 16
	// maxReportErrors bounds ImportReport.Errors.
	maxReportErrors = 10
)

// Import reads a bundle and ingests its ops as if they came from the
// network (docs/protocol.md section 11). A group this node neither
// belongs to nor follows is followed (replicated read-only) only when the
// bundle holds its genesis, signed and valid, in a frame of that group:
// the ops of any other group are refused, so a bundle of empty or junk
// frames makes this node follow nothing.
//
// The order of the ops does not matter within a bundle: an op read
// before its author's first op (or before its group's genesis) is kept
// aside and tried again once the whole bundle is read, so it counts as
// new, not waiting. A frame that cannot be read stops the import with an
// error wrapping ErrDamaged; the report then says what came before it.
func (r *Replica) Import(ctx context.Context, rd io.Reader) (ImportReport, error) {
	im := &importer{r: r, index: map[crdt.ID]int{}}
	br := bufio.NewReader(rd)
	magic := make([]byte, len(BundleMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != BundleMagic {
		return im.rep, ErrNotBundle
	}
	var cut error
	for n := 0; ; n++ {
		f, err := protocol.ReadFrame(br)
		if err == io.EOF {
			break
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			cut = fmt.Errorf("%w: the file ends inside frame %d (it is cut short): the ops from there on are missing", ErrDamaged, n)
			break
		}
		if err != nil {
			cut = fmt.Errorf("%w: frame %d: %w", ErrDamaged, n, err)
			break
		}
		if f.Type != protocol.MsgOps {
			cut = fmt.Errorf("%w: frame %d: %w: a %s frame (a bundle holds only ops frames)", ErrDamaged, n, protocol.ErrMalformed, f.Type)
			break
		}
		if err := im.frame(ctx, n, f); err != nil {
			return im.report(), err
		}
	}
	if err := im.finish(ctx); err != nil {
		return im.report(), err
	}
	rep := im.report()
	if cut != nil {
		rep.Cut = cut.Error()
	}
	return rep, cut
}

// importer is one import under way.
type importer struct {
	r     *Replica
	rep   ImportReport
	index map[crdt.ID]int // group -> its place in rep.Groups
	// aside are the ops to try again at the end, in bundle order.
	aside      []bundleOp
	asideBytes int
	parked     []bundleOp // stored, but not counted yet
}

// bundleOp is an op and where the bundle holds it.
type bundleOp struct {
	group        crdt.ID // the frame's
	frame, index int
	raw          []byte
}

func (im *importer) group(g crdt.ID) *protocol.GroupReceipt {
	i, ok := im.index[g]
	if !ok {
		i = len(im.rep.Groups)
		im.index[g] = i
		im.rep.Groups = append(im.rep.Groups, protocol.GroupReceipt{Group: g})
	}
	return &im.rep.Groups[i]
}

// frame takes one Ops frame: its group's ops, ingested as one batch.
func (im *importer) frame(ctx context.Context, n int, f *protocol.Frame) error {
	r := im.r
	ops := make([]bundleOp, 0, len(f.Ops))
	for i, raw := range f.Ops {
		op := bundleOp{f.Group, n, i, raw}
		// An op is read as its frame's group's, as catch-up reads it.
		if ref, err := protocol.PeekOp(raw); err == nil && ref.Group != f.Group {
			im.refuse(op, fmt.Sprintf("an op of group %s in a frame of group %s", ref.Group.Short(), f.Group.Short()))
			continue
		}
		ops = append(ops, op)
	}
	if len(ops) == 0 {
		return nil
	}
	if _, err := r.Group(f.Group); errors.Is(err, ErrNoGroup) {
		if !hasGenesis(f.Group, f.Ops) {
			// Its genesis may come later in the bundle.
			for _, op := range ops {
				im.keep(op)
			}
			return nil
		}
		if err := r.Follow(ctx, f.Group, "", nil, nil); err != nil {
			return err
		}
		im.rep.Followed = append(im.rep.Followed, f.Group)
	}
	_, err := im.ingest(ctx, ops)
	return err
}

// ingest stores ops of one group and counts them; ops whose author is
// not known yet are kept aside. It returns how many were stored.
func (im *importer) ingest(ctx context.Context, ops []bundleOp) (int, error) {
	raws := make([][]byte, len(ops))
	for i, op := range ops {
		raws[i] = op.raw
	}
	res, err := im.r.Ingest(ctx, raws)
	if err != nil {
		return 0, err
	}
	stored := 0
	for i, x := range res {
		op := ops[i]
		gr := im.group(op.group)
		switch x.Outcome {
		case New, Fork: // a fork's second op is stored as evidence
			gr.New++
			stored++
		case Parked:
			im.parked = append(im.parked, op)
			stored++
		case Dup:
			gr.Had++
		case Rejected:
			im.refuse(op, x.Err.Error())
		case Ignored:
			switch {
			case errors.Is(x.Err, crdt.ErrNotMember), errors.Is(x.Err, ErrNoGroup):
				im.keep(op)
			case errors.Is(x.Err, protocol.ErrUnsupported):
				im.refuse(op, "a newer op version or kind than this node reads")
			default: // a clock ahead of this node's
				gr.Waiting++
			}
		}
	}
	return stored, nil
}

// keep puts an op aside to try again at the end.
func (im *importer) keep(op bundleOp) {
	if im.asideBytes+len(op.raw) > maxAsideBytes {
		im.group(op.group).Waiting++
		return
	}
	im.asideBytes += len(op.raw)
	im.aside = append(im.aside, op)
}

// refuse counts an op as refused, and why.
func (im *importer) refuse(op bundleOp, why string) {
	gr := im.group(op.group)
	gr.Refused++
	x := protocol.Refusal{Frame: uint64(op.frame), Index: uint64(op.index), Reason: why}
	if ref, err := protocol.PeekOp(op.raw); err == nil {
		x.Op, x.Author, x.Seq = protocol.OpID(op.raw), ref.Author, ref.Seq
	}
	if len(gr.Refusals) < protocol.MaxReceiptRefusals {
		gr.Refusals = append(gr.Refusals, x)
	}
	if len(im.rep.Errors) < maxReportErrors {
		im.rep.Errors = append(im.rep.Errors, describeRefusal(x))
	}
}

// describeRefusal says which op was refused and why, in one line.
func describeRefusal(x protocol.Refusal) string {
	where := fmt.Sprintf("frame %d, op %d", x.Frame, x.Index)
	if x.Op != (crdt.ID{}) {
		where += fmt.Sprintf(" (%s, by %s, seq %d)", x.Op.Short(), crdt.ID(x.Author).Short(), x.Seq)
	}
	return where + ": " + x.Reason
}

// finish tries the ops kept aside again, until a pass stores nothing,
// then counts what is left: ops of groups still not held are refused,
// the others wait. Then the parked ops that count now are new.
func (im *importer) finish(ctx context.Context) error {
	for pass := 0; pass < maxImportPasses && len(im.aside) > 0; pass++ {
		todo := im.aside
		im.aside, im.asideBytes = nil, 0
		stored := 0
		// One batch per group, in bundle order.
		var order []crdt.ID
		byGroup := map[crdt.ID][]bundleOp{}
		for _, op := range todo {
			if _, ok := byGroup[op.group]; !ok {
				order = append(order, op.group)
			}
			byGroup[op.group] = append(byGroup[op.group], op)
		}
		for _, g := range order {
			if _, err := im.r.Group(g); errors.Is(err, ErrNoGroup) {
				im.aside = append(im.aside, byGroup[g]...)
				continue
			}
			n, err := im.ingest(ctx, byGroup[g])
			if err != nil {
				return err
			}
			stored += n
		}
		if stored == 0 {
			break
		}
	}
	for _, op := range im.aside {
		if _, err := im.r.Group(op.group); errors.Is(err, ErrNoGroup) {
			im.refuse(op, fmt.Sprintf("this node does not hold group %s, and the bundle has no valid genesis of it", op.group.Short()))
		} else {
			im.group(op.group).Waiting++
		}
	}
	im.aside = nil
	for _, op := range im.parked {
		if im.r.counts(op.raw) {
			im.group(op.group).New++
		} else {
			im.group(op.group).Waiting++
		}
	}
	im.parked = nil
	return nil
}

// counts reports whether a stored op counts: its author is a member at
// its seq.
func (r *Replica) counts(raw []byte) bool {
	ref, err := protocol.PeekOp(raw)
	if err != nil {
		return false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	gs := r.groups[ref.Group]
	return gs != nil && gs.g.RoleAt(ref.Author, ref.Seq) != crdt.RoleNone
}

// report returns the report with its totals and names filled in.
func (im *importer) report() ImportReport {
	rep := im.rep
	rep.New, rep.Had, rep.Refused, rep.Waiting = 0, 0, 0, 0
	for i := range rep.Groups {
		g := &rep.Groups[i]
		if gi, err := im.r.Group(g.Group); err == nil {
			g.Name = gi.Name
		}
		rep.New += int(g.New)
		rep.Had += int(g.Had)
		rep.Refused += int(g.Refused)
		rep.Waiting += int(g.Waiting)
	}
	return rep
}

// Receipt returns a signed receipt of an import (docs/protocol.md
// section 11.2): the report, and this node's summary of the report's
// groups after the import, for the node that made the bundle.
func (r *Replica) Receipt(rep *ImportReport) ([]byte, error) {
	rc := &protocol.Receipt{Node: r.self, Time: uint64(max(r.nowMillis(), 0)), Groups: rep.Groups, Cut: rep.Cut}
	var held []crdt.ID
	for _, g := range rep.Groups {
		if _, err := r.Group(g.Group); err == nil {
			held = append(held, g.Group)
		}
	}
	if len(held) > 0 {
		s, err := r.Summary(held)
		if err != nil {
			return nil, err
		}
		rc.Summary = *s
	}
	return protocol.EncodeReceipt(rc, r.cfg.Key)
}
