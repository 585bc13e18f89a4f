package replica

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
	"github.com/mutual-aid/mutual/protocol"
)

// Ingest validates ops from outside (a peer, a bundle file) exactly as the
// network path does — size, decode, signature, membership, clock drift —
// and stores the valid ones. It returns one Result per op, in order. An
// error means a local failure (nothing of the failing batch was stored).
func (r *Replica) Ingest(ctx context.Context, raws [][]byte) ([]Result, error) {
	out := make([]Result, 0, len(raws))
	for len(raws) > 0 {
		n, size := 0, 0
		for n < len(raws) && n < r.cfg.MaxBatch && (n == 0 || size+len(raws[n]) <= maxRequestBytes) {
			size += len(raws[n])
			n++
		}
		req := &request{kind: reqIngest, ops: make([]decoded, n)}
		decodeAll(req.ops, raws[:n])
		if err := r.submit(ctx, req); err != nil {
			return out, err
		}
		out = append(out, req.results...)
		raws = raws[n:]
	}
	return out, nil
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

// MayRead: a group's ops go only to its members, and to the admin whose
// invite this node joined with (so that a newcomer can hand over its
// join before it knows the group).
func (v syncView) MayRead(group crdt.ID, peer crdt.PublicKey) bool {
	r := v.r
	r.mu.RLock()
	defer r.mu.RUnlock()
	gs := r.groups[group]
	if gs == nil {
		return false
	}
	if gs.g.IsMember(peer) {
		return true
	}
	return gs.inviter == peer && gs.inviter != crdt.PublicKey{}
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

func (v syncView) OpsAfter(group crdt.ID, author crdt.PublicKey, after uint64, fn func(raw []byte) error) error {
	return v.r.st.OpsAfter(group, author, after, func(_ uint64, raw []byte) error { return fn(raw) })
}

func (v syncView) Ingest(ctx context.Context, raws [][]byte) (int, error) {
	res, err := v.r.Ingest(ctx, raws)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, x := range res {
		switch x.Outcome {
		case New:
			n++
		case Rejected:
			return n, fmt.Errorf("%w: op %s: %v", catchup.ErrRejected, x.ID.Short(), x.Err)
		}
	}
	return n, nil
}

func (v syncView) IngestOne(ctx context.Context, raw []byte) (crdt.Verdict, error) {
	res, err := v.r.Ingest(ctx, [][]byte{raw})
	if err != nil {
		return crdt.Ignore, err
	}
	switch res[0].Outcome {
	case New:
		return crdt.Accept, nil
	case Rejected:
		return crdt.Reject, res[0].Err
	}
	return crdt.Ignore, res[0].Err
}

// decodeAll decodes and verifies ops on every core: signature checks are
// most of the cost of receiving an op, and they need no shared state.
func decodeAll(out []decoded, raws [][]byte) {
	workers := min(runtime.GOMAXPROCS(0), len(raws)/16+1)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(raws); i += workers {
				d := &out[i]
				d.raw = raws[i]
				d.op, d.err = protocol.DecodeOp(raws[i])
			}
		}()
	}
	wg.Wait()
}
