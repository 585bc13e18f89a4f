package replica

import (
	"errors"
	"maps"
	"math"
	"slices"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/protocol"
)

// How one op goes through the writer (batch.ingest):
//
//  1. judge:  duplicate? group known? crdt Check (reject, or ignore a
//     future stamp)? worth storing (crdt.Storable: its author is known)?
//  2. chain:  a second op at its (author, seq) is a fork: kept as
//     evidence, and the author's ops from there on stop counting. An op
//     whose Prev is not the op held before it, or that the op held after
//     it does not name, is a fork too (a "break").
//  3. store:  into the author's log, with its indexes; its sealed blob
//     (on a member's node, unless its post is erased) into the batch's
//     blobs, which the commit fsyncs to the vault before Badger.
//  4. count:  the membership takes the op, if it is one. Then settle:
//     if the membership is unchanged, the op is merged into its post;
//     if it changed (a membership op, a fork), every op whose standing
//     changed is found by comparing spans and forks, and the posts they
//     touch are rebuilt from their ops.
//  5. witness: a join this node may witness gets an Admit from it, and
//     the group keys this node holds (sealing.go).
//
// A membership op also opens the group keys shared with this node, and
// marks the group for keyUpkeep once the batch's ops are in.
//
// The store is read only where it may hold something: steps 1 and 2
// read a log position only if the group state marks it held (logged), and
// a create that step 3 adds marks its post created, which step 4 builds
// without reading its record (it has none yet) or, for a create this node
// just signed, its ops (nobody else knows its ID).
//
// Everything lands in one batch, committed at once: a failed commit
// reloads the in-memory state from the store.

// ingest validates one op and adds what it changes to the batch.
func (bt *batch) ingest(op *crdt.Op, raw []byte, own bool) Result {
	res := Result{ID: op.ID}
	gs, outcome, err := bt.judge(op, own)
	if gs == nil {
		res.Outcome, res.Err = outcome, err
		return res
	}
	bt.seen[op.ID] = true
	if bt.forked(gs, op, raw) {
		res.Outcome = Fork
		return res
	}
	bt.link(gs, op)
	bt.addLog(gs, op, raw, own)
	gs.g.Hold(op)
	bt.visited(gs, op)
	bt.settle(gs, op)
	if bt.err != nil {
		res.Outcome, res.Err = Ignored, bt.err
		return res
	}
	if crdt.IsMembership(op) {
		bt.r.openKeys(gs)
		bt.upkeep[gs] = true
	}
	if _, ok := op.Body.(crdt.Join); ok && !own {
		bt.witness(gs, op)
	}
	res.Outcome = New
	if gs.g.RoleAt(op.Author, op.Seq) == crdt.RoleNone {
		res.Outcome = Parked // stored, but it does not count (yet)
	}
	return res
}

// judge decides whether op goes any further. It returns the group state
// if it does, else the outcome and why.
func (bt *batch) judge(op *crdt.Op, own bool) (*groupState, Outcome, error) {
	if bt.err != nil {
		return nil, Ignored, bt.err
	}
	if bt.seen[op.ID] {
		return nil, Dup, nil
	}
	gs := bt.r.groups[op.GroupID()]
	// The store can hold op only at its log position, or as a fork there
	// (kept only where the log holds an op): a position the group state
	// says is empty needs no read. That is every new op of a live burst.
	if gs == nil || gs.logged(op.Author, op.Seq) {
		if has, err := bt.r.st.Holds(op.GroupID(), op.Author, op.Seq, op.ID); err != nil {
			bt.err = err
			return nil, Ignored, err
		} else if has {
			return nil, Dup, nil
		}
	}
	if gs == nil {
		return nil, Ignored, ErrNoGroup
	}
	switch v, err := gs.g.Check(op, bt.now); v {
	case crdt.Reject:
		return nil, Rejected, err
	case crdt.Ignore:
		return nil, Ignored, err
	}
	if !own && !crdt.Storable(op, func(k crdt.PublicKey) bool { return bt.holds(gs, k, 1) }) {
		return nil, Ignored, crdt.ErrNotMember
	}
	if !own {
		if err := bt.visitJudge(gs, op); err != nil {
			return nil, Ignored, err
		}
	}
	return gs, New, nil
}

// forked keeps op as evidence if its log position holds another op.
func (bt *batch) forked(gs *groupState, op *crdt.Op, raw []byte) bool {
	if !bt.holds(gs, op.Author, op.Seq) {
		return false
	}
	other, err := bt.logHolds(logPos{gs.rec.ID, op.Author, op.Seq})
	if err != nil {
		bt.fail(err)
		return true
	}
	if other.IsZero() || other == op.ID {
		return false
	}
	bt.b.AddFork(op, raw)
	bt.r.cfg.Logger.Warn("fork: an author signed two ops at one seq", "group", gs.rec.ID.Short(), "author", op.Author.String()[:12], "seq", op.Seq)
	gs.g.Fork(op.Author, op.Seq)
	gs.evidence = append(gs.evidence, op.ID)
	gs.changed()
	// Its Prev counts too (crdt.Board checks every op at a seq against
	// the one before): else the fork's seq would depend on arrival order.
	if op.Seq > 1 && bt.holds(gs, op.Author, op.Seq-1) {
		if prev, err := bt.logHolds(logPos{gs.rec.ID, op.Author, op.Seq - 1}); err != nil {
			bt.fail(err)
		} else if !prev.IsZero() && prev != op.Prev {
			bt.broken(gs, op.Author, op.Seq-1)
		}
	}
	bt.settle(gs, nil)
	return true
}

// link checks op's Prev against the ops held next to it.
func (bt *batch) link(gs *groupState, op *crdt.Op) {
	g := gs.rec.ID
	if op.Seq > 1 && bt.holds(gs, op.Author, op.Seq-1) {
		if prev, err := bt.logHolds(logPos{g, op.Author, op.Seq - 1}); err != nil {
			bt.fail(err)
		} else if !prev.IsZero() && prev != op.Prev {
			bt.broken(gs, op.Author, op.Seq-1)
		}
	}
	if bt.holds(gs, op.Author, op.Seq+1) {
		if next := bt.logOp(logPos{g, op.Author, op.Seq + 1}); next != nil && next.Prev != op.ID {
			bt.broken(gs, op.Author, op.Seq)
		}
	}
}

func (bt *batch) broken(gs *groupState, author crdt.PublicKey, seq uint64) {
	bt.b.AddBreak(gs.rec.ID, author, seq)
	bt.r.cfg.Logger.Warn("fork: an author's ops disagree on its history", "group", gs.rec.ID.Short(), "author", author.String()[:12], "seq", seq)
	gs.g.Fork(author, seq)
	gs.breaks = append(gs.breaks, protocol.VectorEntry{Author: author, Seq: seq})
	gs.changed()
}

// settle brings the posts in line with the group's membership after op
// (nil: after a fork) was stored; what the posts reflect is gs.spans and
// gs.forks.
func (bt *batch) settle(gs *groupState, op *crdt.Op) {
	if bt.err != nil {
		return
	}
	if gs.g.Evaluated() {
		if op != nil {
			bt.merge(gs, op) // same membership: only this op is new
		}
		return
	}
	// The membership changed: find every op whose standing changed, and
	// rebuild the posts they touch.
	spans, forks := gs.g.Spans(), gs.g.Forks()
	authors := map[crdt.PublicKey]bool{}
	for _, m := range []map[crdt.PublicKey][]crdt.Span{gs.spans, spans} {
		for a := range m {
			authors[a] = true
		}
	}
	for a := range forks {
		authors[a] = true
	}
	for a := range authors {
		for _, r := range changed(gs.spans[a], gs.forks[a], spans[a], forks[a]) {
			bt.restand(gs, a, r[0], r[1])
		}
	}
	gs.spans, gs.forks = spans, forks
	if op != nil {
		if id, ok := crdt.PostOf(op); ok {
			bt.rebuild(gs, id)
		}
	}
	bt.flushRebuilds(gs)
}

// merge applies one op that just came within its author's head.
func (bt *batch) merge(gs *groupState, op *crdt.Op) {
	role := gs.g.RoleAt(op.Author, op.Seq)
	if role == crdt.RoleNone {
		return
	}
	bt.r.clock.Observe(op.Time, bt.now)
	id, ok := crdt.PostOf(op)
	if !ok {
		return
	}
	switch op.Body.(type) {
	case crdt.PostCreate:
		// Ops on the post may have come before it: build it from all.
		bt.recompute(gs, postKey{gs.rec.ID, id})
		return
	case crdt.HandOn:
		// It counts for a visitor's response that counts: the post's
		// ops tell (crdt.ApplyPost).
		bt.recompute(gs, postKey{gs.rec.ID, id})
		return
	case crdt.Respond:
		if role == crdt.RoleVisitor { // a hand-on of it may have come first
			bt.recompute(gs, postKey{gs.rec.ID, id})
			return
		}
	}
	bt.group = gs.rec.ID
	if p := crdt.ApplyPost(bt, op, role); p != nil {
		bt.touched(postKey{gs.rec.ID, p.ID})
	}
}

// restand marks for rebuilding the posts that author's ops from..to
// touch: their standing changed.
func (bt *batch) restand(gs *groupState, author crdt.PublicKey, from, to uint64) {
	mark := func(op *crdt.Op) {
		if id, ok := crdt.PostOf(op); ok {
			bt.rebuild(gs, id)
		}
	}
	err := bt.r.st.OpsAfter(gs.rec.ID, author, from-1, func(seq uint64, raw []byte) error {
		if seq > to {
			return errStop
		}
		op, err := protocol.DecodeStoredOp(raw)
		if err != nil {
			return err
		}
		mark(&op)
		return nil
	})
	if err != nil && err != errStop {
		bt.fail(err)
		return
	}
	for pos, op := range bt.ops {
		if pos.g == gs.rec.ID && pos.a == author && pos.seq >= from && pos.seq <= to {
			mark(op)
		}
	}
}

var errStop = errors.New("stop")

// rebuild queues post id to be computed again from its ops.
func (bt *batch) rebuild(gs *groupState, id crdt.ID) {
	if bt.rebuilds == nil {
		bt.rebuilds = map[postKey]bool{}
	}
	bt.rebuilds[postKey{gs.rec.ID, id}] = true
}

// flushRebuilds computes every queued post from its ops, with each op's
// standing now.
func (bt *batch) flushRebuilds(gs *groupState) {
	for _, k := range slices.SortedFunc(maps.Keys(bt.rebuilds), func(a, b postKey) int { return a.id.Compare(b.id) }) {
		if k.g != gs.rec.ID {
			continue
		}
		delete(bt.rebuilds, k)
		if !bt.recompute(gs, k) {
			return
		}
	}
}

// recompute computes post k from its ops, with each op's standing now.
// It returns false if a store read failed (bt.err).
func (bt *batch) recompute(gs *groupState, k postKey) bool {
	ops, err := bt.postOps(k)
	if err != nil {
		bt.fail(err)
		return false
	}
	p := crdt.RebuildPost(k.g, k.id, ops, func(op *crdt.Op) crdt.Role { return gs.g.RoleAt(op.Author, op.Seq) })
	bt.group = k.g
	bt.Get(k.id) // load what the store holds, to replace its index entry
	e := bt.posts[k]
	if e == nil {
		if p == nil {
			return true
		}
		e = &postEntry{}
		bt.posts[k] = e
	}
	if p == nil && e.cur == nil {
		return true
	}
	e.cur = p
	bt.touched(k)
	return true
}

func (bt *batch) touched(k postKey) {
	e := bt.posts[k]
	if !e.dirty {
		bt.changed = append(bt.changed, k)
	}
	e.dirty = true
}

// postOps returns the ops of a post held in the store and in this batch.
func (bt *batch) postOps(k postKey) ([]crdt.Op, error) {
	var raws [][]byte
	var err error
	switch own, created := bt.created[k]; {
	case !created:
		raws, err = bt.r.st.PostOps(k.g, k.id)
	case !own: // ops on it may have come before its create
		raws, err = bt.r.st.OpsOnPost(k.g, k.id)
	}
	if err != nil {
		return nil, err
	}
	seen := map[crdt.ID]bool{}
	out := make([]crdt.Op, 0, len(raws)+len(bt.postIdx[k]))
	for _, raw := range raws {
		op, err := protocol.DecodeStoredOp(raw)
		if err != nil {
			return nil, err
		}
		seen[op.ID] = true
		out = append(out, op)
	}
	for _, op := range bt.postIdx[k] {
		if !seen[op.ID] {
			out = append(out, *op)
		}
	}
	return out, nil
}

// witness writes an Admit for join if this node is a member, the invite
// has not expired by this node's clock, and nobody has witnessed it yet.
func (bt *batch) witness(gs *groupState, join *crdt.Op) {
	g := gs.g
	in := join.Body.(crdt.Join).Invite
	if bt.err != nil || g.Counts(join.ID) || !g.IsMember(bt.r.self) || bt.now > in.Expires || !g.IsAdmin(in.Issuer) || g.Witnessed(join.ID) {
		return
	}
	if !bt.r.confirmed(gs.rec.ID) {
		return // a restored data dir signs nothing before it hears from a peer
	}
	if m := g.Member(join.Author); m != nil && m.Role != crdt.RoleNone {
		return
	}
	shares := bt.r.witnessShares(gs, join)
	l := &localOp{group: gs.rec.ID, build: func(*groupState) (crdt.Body, error) { return crdt.Admit{Join: join.ID}, nil },
		next: func(_ *groupState, done []crdt.Op) (crdt.Body, error) {
			if i := len(done) - 1; i < len(shares) {
				return shares[i], nil
			}
			return nil, nil
		}}
	if err := bt.local(l); err != nil {
		bt.r.cfg.Logger.Warn("could not witness a join", "group", gs.rec.ID.Short(), "err", err)
	}
}

func (bt *batch) fail(err error) {
	if bt.err == nil {
		bt.err = err
	}
}

// addLog adds op to its author's log, with what finds it (store.AddOp),
// its import ref and its blob.
func (bt *batch) addLog(gs *groupState, op *crdt.Op, raw []byte, own bool) {
	pos := logPos{gs.rec.ID, op.Author, op.Seq}
	bt.logged[pos] = op.ID
	c := *op
	bt.ops[pos] = &c
	if id, ok := crdt.PostOf(op); ok {
		k := postKey{gs.rec.ID, id}
		if bt.postIdx == nil {
			bt.postIdx = map[postKey][]*crdt.Op{}
		}
		bt.postIdx[k] = append(bt.postIdx[k], &c)
	}
	if c, ok := op.Body.(crdt.PostCreate); ok {
		bt.created[postKey{gs.rec.ID, op.ID}] = own
		if _, dup := bt.refs[refKey{gs.rec.ID, c.Ref}]; c.Ref != "" && !dup {
			bt.b.PutRef(gs.rec.ID, c.Ref, op.ID)
			bt.refs[refKey{gs.rec.ID, c.Ref}] = op.ID
		}
	}
	bt.b.AddOp(op, raw)
	// A blob is kept, sealed, by members' and followers' nodes alike (a
	// follower can never open it, but forwards it: store and forward,
	// docs/design.md "Following"), and not for a post erased as far as op
	// goes.
	if op.Blob != nil && !bt.erased(gs, op) {
		bt.b.AddBlob(op.ID, op.Blob)
	}
	bt.marks = append(bt.marks, mark{gs, op.Author, op.Seq, op.ID})
}

// holds reports whether the log (or this batch) holds author's op at seq.
// Ops held past a gap in an author's log count too.
func (bt *batch) holds(gs *groupState, author crdt.PublicKey, seq uint64) bool {
	if gs.logged(author, seq) {
		return true
	}
	_, ok := bt.logged[logPos{gs.rec.ID, author, seq}]
	return ok
}

// logged reports whether the store's log holds author's op at seq (ops
// held past a gap count too): the group state marks every position a
// commit fills (mark), and load marks every position the log holds.
func (gs *groupState) logged(author crdt.PublicKey, seq uint64) bool {
	return seq <= gs.vv[author] || gs.above[author][seq]
}

// logHolds returns the ID of the op held at a log position, or zero.
func (bt *batch) logHolds(pos logPos) (crdt.ID, error) {
	if id, ok := bt.logged[pos]; ok {
		return id, nil
	}
	raw, err := bt.r.st.LogOp(pos.g, pos.a, pos.seq)
	if errors.Is(err, store.ErrNotFound) {
		return crdt.ID{}, nil
	}
	if err != nil {
		return crdt.ID{}, err
	}
	return protocol.OpID(raw), nil
}

// logOp returns the op held at a log position, or nil.
func (bt *batch) logOp(pos logPos) *crdt.Op {
	if op := bt.ops[pos]; op != nil {
		return op
	}
	raw, err := bt.r.st.LogOp(pos.g, pos.a, pos.seq)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		bt.fail(err)
		return nil
	}
	op, err := protocol.DecodeStoredOp(raw)
	if err != nil {
		bt.fail(err)
		return nil
	}
	return &op
}

// Get implements crdt.PostSet over the store and this batch: a post is
// read from the store once per batch and changed on a private copy.
func (bt *batch) Get(id crdt.ID) *crdt.Post {
	k := postKey{bt.group, id}
	if e := bt.posts[k]; e != nil {
		return e.cur
	}
	if _, ok := bt.created[k]; ok {
		return nil // the store has no record of it
	}
	p, err := bt.r.st.Post(bt.group, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		bt.fail(err)
		return nil
	}
	bt.posts[k] = &postEntry{prev: p, cur: p.Clone()}
	return bt.posts[k].cur
}

// Put implements crdt.PostSet.
func (bt *batch) Put(p *crdt.Post) {
	k := postKey{bt.group, p.ID}
	if e := bt.posts[k]; e != nil {
		e.cur = p
		return
	}
	bt.posts[k] = &postEntry{cur: p}
}

// changed returns the runs of seqs whose standing differs between (old
// spans, old fork) and (new spans, new fork), as [from, to] pairs. A
// fork of 0 is none.
func changed(old []crdt.Span, oldFork uint64, cur []crdt.Span, curFork uint64) [][2]uint64 {
	bounds := []uint64{1}
	for _, f := range []uint64{oldFork, curFork} {
		if f != 0 {
			bounds = append(bounds, f)
		}
	}
	for _, ss := range [][]crdt.Span{old, cur} {
		for _, sp := range ss {
			bounds = append(bounds, sp.From)
			if sp.To != math.MaxUint64 {
				bounds = append(bounds, sp.To+1)
			}
		}
	}
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)
	role := func(spans []crdt.Span, fork, s uint64) crdt.Role {
		if fork != 0 && s >= fork {
			return crdt.RoleNone
		}
		return crdt.RoleIn(spans, s)
	}
	var out [][2]uint64
	for i, b := range bounds {
		end := uint64(math.MaxUint64)
		if i+1 < len(bounds) {
			end = bounds[i+1] - 1
		}
		if role(old, oldFork, b) != role(cur, curFork, b) {
			if n := len(out); n > 0 && out[n-1][1]+1 == b {
				out[n-1][1] = end
			} else {
				out = append(out, [2]uint64{b, end})
			}
		}
	}
	return out
}
