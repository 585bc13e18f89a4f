package replica

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/protocol"
)

// Ingest validates ops from outside (a peer, a bundle file) exactly as the
// network path does — size, decode, signature, membership, clock drift —
// and stores the valid ones. It returns one Result per op, in order. An
// error means a local failure (nothing of the failing batch was stored).
func (r *Replica) Ingest(ctx context.Context, raws [][]byte) ([]Result, error) {
	ops := make([]decoded, len(raws))
	// In pieces, the next one decoded and verified while the writer
	// stores this one: the writer's commit and the signature checks then
	// share the cores instead of taking turns.
	piece := max(r.cfg.MaxBatch, ingestPiece)
	end := min(piece, len(raws))
	decodeAll(ops[:end], raws[:end])
	out := make([]Result, 0, len(raws))
	for start := 0; start < len(raws); {
		next := min(end+piece, len(raws))
		var wg sync.WaitGroup
		if end < next {
			wg.Add(1)
			go func() {
				defer wg.Done()
				decodeAll(ops[end:next], raws[end:next])
			}()
		}
		res, err := r.submitDecoded(ctx, ops[start:end])
		wg.Wait()
		out = append(out, res...)
		if err != nil {
			return out, err
		}
		start, end = end, next
	}
	return out, nil
}

// ingestPiece is the fewest ops Ingest decodes while the writer stores
// the ops before them.
const ingestPiece = 512

// submitDecoded hands decoded ops to the writer in requests that fit a
// group commit.
func (r *Replica) submitDecoded(ctx context.Context, ops []decoded) ([]Result, error) {
	out := make([]Result, 0, len(ops))
	for len(ops) > 0 {
		n, size := 0, 0
		for n < len(ops) && n < r.cfg.MaxBatch && (n == 0 || size+len(ops[n].raw) <= maxRequestBytes) {
			size += len(ops[n].raw)
			n++
		}
		req := &request{kind: reqIngest, ops: ops[:n:n]}
		if err := r.submit(ctx, req); err != nil {
			return out, err
		}
		out = append(out, req.results...)
		ops = ops[n:]
	}
	return out, nil
}

// rejectAny returns the first reason to reject any of ops, judging
// them all before anything is stored: decoding, and the crdt's reject
// checks, which do not depend on the group state that the writer changes
// (so judging them here, outside the writer, gives the writer's answer).
func (r *Replica) rejectAny(ops []decoded) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	now := r.nowMillis()
	for i := range ops {
		d := &ops[i]
		if d.err != nil {
			if errors.Is(d.err, protocol.ErrUnsupported) {
				continue
			}
			return fmt.Errorf("%w: op %d: %w", catchup.ErrRejected, i, d.err)
		}
		gs := r.groups[d.op.GroupID()]
		if gs == nil {
			continue
		}
		if v, err := gs.g.Check(&d.op, now); v == crdt.Reject {
			return fmt.Errorf("%w: op %s: %w", catchup.ErrRejected, d.op.ID.Short(), err)
		}
	}
	return nil
}

// Sync returns the view of the replica that catch-up and gossip use.
func (r *Replica) Sync() catchup.Replica { return syncView{r} }

type syncView struct{ r *Replica }

func (v syncView) Groups() []crdt.ID {
	v.r.mu.RLock()
	defer v.r.mu.RUnlock()
	out := make([]crdt.ID, 0, len(v.r.groups))
	for id := range v.r.groups {
		out = append(out, id)
	}
	return out
}

// MayRead: a group's ops go only to its members.
func (v syncView) MayRead(group crdt.ID, peer crdt.PublicKey) bool {
	r := v.r
	r.mu.RLock()
	defer r.mu.RUnlock()
	gs := r.groups[group]
	return gs != nil && gs.g.IsMember(peer)
}

// Limited: a newcomer, whose join does not count yet, offers its own
// ops to the members its invite code named (the issuer, other admins,
// members: up to 16), so that it gets in through whichever of them it
// meets first (that member's node witnesses the join), and tells no
// stranger which group it is joining; a former member gets the changes
// of its role, so that its node learns it was removed.
func (v syncView) Limited(group crdt.ID, peer crdt.PublicKey) (catchup.Limit, error) {
	r := v.r
	r.mu.RLock()
	defer r.mu.RUnlock()
	gs := r.groups[group]
	var l catchup.Limit
	if gs == nil {
		return l, nil
	}
	if gs.newcomer(r.self) && slices.Contains(gs.rec.Vouched, peer) {
		self := r.self
		l.Own = &self
	}
	for _, op := range gs.g.RoleChangesOf(peer) {
		raw, err := protocol.EncodeOp(&op)
		if err != nil {
			return l, err
		}
		l.Notices = append(l.Notices, raw)
	}
	if l.Own == nil && len(l.Notices) == 0 && r.isSource(gs, peer) {
		l.Follow = r.mayFollow(gs.rec.ID, peer) == nil
		l.Ask = !l.Follow // perhaps a member whose join has not reached this node (catchup.Limit)
	}
	// A visitor hands its own ops — its visit and responses, with their
	// sealed contacts — to the group's members, whether or not it would
	// serve them the group as a follower (visitors.go).
	if !l.Follow && l.Own == nil && gs.rec.Relation == store.Follower && gs.visiting(r.self) && gs.g.IsMember(peer) {
		self := r.self
		l.Own = &self
		l.Ask = false
	}
	return l, nil
}

// newcomer reports whether this node has joined the group and its join
// does not count yet.
func (gs *groupState) newcomer(self crdt.PublicKey) bool {
	return gs.rec.Relation == store.Member && gs.g.PendingJoinOf(self)
}

// Evidence sends the ops kept as evidence of forks, and for each break
// (an op whose Prev is not the op held before it) both ops of the break:
// a peer that holds the other history at that seq learns the fork from
// them, though its version vector may equal this node's.
func (v syncView) Evidence(group crdt.ID, fn func(raw []byte) error) error {
	st := v.r.st
	raws, err := st.ForkOps(group)
	if err != nil {
		return err
	}
	type pos struct {
		a   crdt.PublicKey
		seq uint64
	}
	var breaks []pos
	if err := st.Breaks(group, func(a crdt.PublicKey, seq uint64) { breaks = append(breaks, pos{a, seq}) }); err != nil {
		return err
	}
	for _, b := range breaks {
		for _, seq := range []uint64{b.seq, b.seq + 1} {
			raw, err := st.LogOp(group, b.a, seq)
			if errors.Is(err, store.ErrNotFound) {
				continue // lost to damage and repaired: peers resend it
			}
			if err != nil {
				return err
			}
			raws = append(raws, raw)
		}
	}
	for _, raw := range raws {
		if err := fn(raw); err != nil {
			return err
		}
	}
	return nil
}

func (v syncView) VersionVector(group crdt.ID) (map[crdt.PublicKey]uint64, error) {
	r := v.r
	r.mu.RLock()
	defer r.mu.RUnlock()
	gs := r.groups[group]
	if gs == nil {
		return nil, ErrNoGroup
	}
	out := make(map[crdt.PublicKey]uint64, len(gs.vv))
	for a, s := range gs.vv {
		out[a] = s
	}
	return out, nil
}

// OpsAfter sends each op with its blob, if this node has it: only
// members read a group's ops (MayRead), and the blob is sealed to them.
func (v syncView) OpsAfter(group crdt.ID, author crdt.PublicKey, after uint64, fn func(raw []byte) error) error {
	return v.r.st.OpsAfter(group, author, after, func(_ uint64, raw []byte) error { return fn(v.r.withBlob(raw)) })
}

// Topic is the group's GossipSub topic (Replica.Topic).
func (v syncView) Topic(group crdt.ID) (string, bool) { return v.r.Topic(group) }

// Ingest stores a batch from a peer all or nothing: if any op in it is
// invalid, the peer sent junk and nothing of the batch is stored.
func (v syncView) Ingest(ctx context.Context, raws [][]byte) (int, error) {
	ops := make([]decoded, len(raws))
	decodeAll(ops, raws)
	if err := v.r.rejectAny(ops); err != nil {
		return 0, err
	}
	res, err := v.r.submitDecoded(ctx, ops)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, x := range res {
		switch x.Outcome {
		case New, Parked, Fork:
			n++
		case Rejected: // not expected after rejectAny
			return n, fmt.Errorf("%w: op %s: %v", catchup.ErrRejected, x.ID.Short(), x.Err)
		}
	}
	return n, nil
}

// IngestOne is the gossip path, so a peer's op that is new here is fresh:
// its stamp tells how this node's clock compares with its author's.
func (v syncView) IngestOne(ctx context.Context, raw []byte) (crdt.Verdict, error) {
	ops := make([]decoded, 1)
	decodeAll(ops, [][]byte{raw})
	res, err := v.r.submitDecoded(ctx, ops)
	if err != nil {
		return crdt.Ignore, err
	}
	switch res[0].Outcome {
	case New:
		if op := &ops[0].op; op.Author != v.r.self {
			v.r.watch.live(v.r.now(), op.Author, op.Time)
		}
		return crdt.Accept, nil
	case Rejected:
		return crdt.Reject, fmt.Errorf("%w: %w", catchup.ErrRejected, res[0].Err)
	}
	return crdt.Ignore, res[0].Err
}

// decodeAll decodes and verifies ops on every core: signature checks are
// most of the cost of receiving an op, and they need no shared state.
// Each worker takes a chunk of ops at a time, decodes them and checks
// their signatures as one batch (protocol.VerifyOps: about twice as fast
// per signature, and an op's verdict is the one it gets alone, so one bad
// op costs its chunk a second pass, not its neighbours their place).
func decodeAll(out []decoded, raws [][]byte) {
	chunks := (len(raws) + verifyChunk - 1) / verifyChunk
	workers := min(runtime.GOMAXPROCS(0), chunks)
	var next atomic.Int64
	work := func() {
		ops := make([]crdt.Op, 0, verifyChunk)
		raws1 := make([][]byte, 0, verifyChunk)
		idx := make([]int, 0, verifyChunk)
		for {
			c := int(next.Add(1) - 1)
			if c >= chunks {
				return
			}
			ops, raws1, idx = ops[:0], raws1[:0], idx[:0]
			for i := c * verifyChunk; i < min((c+1)*verifyChunk, len(raws)); i++ {
				d := &out[i]
				d.raw = raws[i]
				d.op, d.err = protocol.DecodeStoredOp(raws[i])
				if d.err != nil {
					continue
				}
				if d.op.Blob != nil { // what is stored is the op alone; its blob goes to the vault
					d.raw, _, _ = protocol.SplitBlob(raws[i])
				}
				ops = append(ops, d.op)
				raws1 = append(raws1, d.raw)
				idx = append(idx, i)
			}
			for j, err := range protocol.VerifyEncoded(ops, raws1) {
				out[idx[j]].err = err
			}
		}
	}
	if workers <= 1 {
		work()
		return
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work()
		}()
	}
	wg.Wait()
}

// verifyChunk is how many ops a worker decodes and verifies as one batch:
// enough for batch verification to pay (its gain flattens out past a few
// dozen), few enough that both cores get work from a gossip burst.
const verifyChunk = 64
