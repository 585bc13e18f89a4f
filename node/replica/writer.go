package replica

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/dgraph-io/badger"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/protocol"
)

// Outcome is what became of one op handed to the replica.
type Outcome int

// Outcomes.
const (
	New      Outcome = iota // valid, new, stored
	Dup                     // already held
	Parked                  // valid and stored, but it does not count (yet): its author is no member at that seq, or forked
	Ignored                 // cannot be judged now (clock too far ahead, unknown group, queue full)
	Rejected                // invalid: never stored
	Fork                    // a second op at an author's seq: kept as evidence, not applied
)

func (o Outcome) String() string {
	return [...]string{"new", "duplicate", "parked", "ignored", "rejected", "fork"}[o]
}

// Result is the outcome for one op.
type Result struct {
	ID      crdt.ID
	Outcome Outcome
	Err     error
}

type reqKind int

const (
	reqIngest reqKind = iota
	reqLocal
)

type request struct {
	kind reqKind
	// ingest
	ops     []decoded
	results []Result
	// local
	local *localOp
	// answer
	err   error
	reply chan struct{}
}

type decoded struct {
	op  crdt.Op
	raw []byte
	err error // decode error: the op is rejected
}

// localOp is a change this node authors: one op, or several that are
// written in one commit, all or none (a post and its status). build and
// next run in the writer with the group state locked, so they see the
// state the ops will apply to.
type localOp struct {
	group    crdt.ID
	newGroup *store.GroupRecord // genesis or join: create the group record
	// visit: the change is a visitor's (a Visit, its responses), which
	// this node may write in a group it follows (visitors.go).
	visit bool
	build func(gs *groupState) (crdt.Body, error)
	// next, if set, returns the body of a further op of the change,
	// given the ops written so far, or nil when there is none.
	next func(gs *groupState, done []crdt.Op) (crdt.Body, error)
	// ref is PostCreate's Ref: if the group has it, build is not called
	// and nothing is written unless complete says so.
	ref string
	// complete, if set, is called when the group has ref, with the post
	// as this batch sees it (do not modify), and returns the body of an
	// op that completes the post, or nil.
	complete func(gs *groupState, p *crdt.Post) (crdt.Body, error)
	// results
	existing crdt.ID   // the post that had ref
	ops      []crdt.Op // the ops written
	post     *crdt.Post
	torn     bool // an op failed after others of the change were in the batch
}

func (r *Replica) writer() {
	defer close(r.done)
	var lg linger
	for {
		queued := len(r.reqs) > 0 // callers other than the last batch's wait
		var reqs []*request
		select {
		case req := <-r.reqs:
			reqs = append(reqs, req)
		case <-r.stop:
			for {
				select {
				case req := <-r.reqs:
					r.process([]*request{req})
				default:
					return
				}
			}
		}
		g := gathered{max: r.cfg.MaxBatch}
		g.add(reqs[0])
		reqs = r.gather(reqs, &g, 0, 0)
		if want, d := lg.wait(queued, g.locals); g.locals < want {
			reqs = r.gather(reqs, &g, want, d)
		}
		began := time.Now()
		r.process(reqs)
		lg.answered(g.locals, time.Since(began))
	}
}

// gathered counts what a batch being gathered holds.
type gathered struct {
	max        int // ops at most (Config.MaxBatch)
	ops, bytes int
	locals     int // changes of this node (API calls)
}

func (g *gathered) add(req *request) {
	n, size := req.size()
	g.ops, g.bytes = g.ops+n, g.bytes+size
	if req.kind == reqLocal {
		g.locals++
	}
}

func (g *gathered) room() bool { return g.ops < g.max && g.bytes < maxBatchBytes }

// gather adds to reqs the requests waiting, while the batch has room;
// then, until it holds want changes of this node, those that come within
// d.
func (r *Replica) gather(reqs []*request, g *gathered, want int, d time.Duration) []*request {
	for g.room() {
		select {
		case req := <-r.reqs:
			reqs = append(reqs, req)
			g.add(req)
			continue
		default:
		}
		break
	}
	if g.locals >= want || d <= 0 {
		return reqs
	}
	t := time.NewTimer(d)
	defer t.Stop()
	for g.room() && g.locals < want {
		select {
		case req := <-r.reqs:
			reqs = append(reqs, req)
			g.add(req)
		case <-t.C:
			return reqs
		case <-r.stop:
			return reqs
		}
	}
	return reqs
}

// linger decides how long the writer waits to fill a batch. Callers of
// the API each wait for their change's commit and then send the next:
// with a dozen clients, the callers that arrive during a commit form the
// next batch, the ones it answers come back during that one's, and the
// two halves take turns at the disk, each paying a whole commit. So once
// a commit has answered several changes of this node, the next batch
// waits for that many more (besides those that were already waiting), at
// most as long as that batch took to write: a change that waits costs at most
// the write it would otherwise have waited for behind the batch. A lone
// change (one post at a time, gossip from peers) never waits.
type linger struct {
	callers int           // changes of this node the last commit answered
	took    time.Duration // how long that batch took to write
}

// maxLinger caps the wait.
const maxLinger = 5 * time.Millisecond

// wait returns how many changes of this node the next batch waits for,
// and how long at most; queued: callers were waiting when the last
// commit ended (so others than its own), and locals of them are in.
func (lg *linger) wait(queued bool, locals int) (int, time.Duration) {
	if lg.callers < 2 {
		return 0, 0
	}
	want := lg.callers
	if queued {
		want += locals
	}
	return want, min(lg.took, maxLinger)
}

func (lg *linger) answered(locals int, took time.Duration) {
	lg.callers, lg.took = locals, took
}

// maxBatchBytes caps the encoded ops in one group commit, and
// maxRequestBytes those in one ingest request, so that a transaction
// (ops plus post records plus index entries, about four times the ops)
// stays well inside Badger's limit for one transaction.
const (
	maxBatchBytes   = 256 << 10
	maxRequestBytes = 128 << 10
)

func (req *request) size() (ops, bytes int) {
	if req.kind == reqIngest {
		for i := range req.ops {
			bytes += len(req.ops[i].raw)
		}
		return len(req.ops), bytes
	}
	return 1, 1024
}

// batch is the state of one group commit being built.
type batch struct {
	r         *Replica
	b         store.Batch
	wall      time.Time // the wall clock when the batch began
	now       int64     // and in Unix ms
	seen      map[crdt.ID]bool
	logged    map[logPos]crdt.ID
	marks     []mark
	posts     map[postKey]*postEntry
	changed   []postKey
	published []localPublish
	group     crdt.ID // the group of the op being applied (for Get)
	refs      map[refKey]crdt.ID
	ops       map[logPos]*crdt.Op    // the ops this batch adds to logs
	postIdx   map[postKey][]*crdt.Op // and those of them that change a post
	rebuilds  map[postKey]bool       // posts to compute again from their ops
	upkeep    map[*groupState]bool   // groups whose membership ops came: keyUpkeep
	handed    map[crdt.ID]bool       // responses this batch hands on (handon.go)
	err       error                  // a store read failed: the whole batch fails

	// created holds the posts whose create this batch adds, true if this
	// node signed it here: the store has no record of them, and of one
	// just signed no op either (nobody else knows its ID yet).
	created map[postKey]bool
}

type logPos struct {
	g   crdt.ID
	a   crdt.PublicKey
	seq uint64
}

type mark struct {
	gs *groupState
	a  crdt.PublicKey
	s  uint64
	id crdt.ID
}

type postKey struct{ g, id crdt.ID }

type refKey struct {
	g   crdt.ID
	ref string
}

type postEntry struct {
	prev, cur *crdt.Post
	dirty     bool
}

type localPublish struct {
	g   crdt.ID
	raw []byte
}

func (r *Replica) process(reqs []*request) {
	wall := r.now()
	bt := &batch{r: r, wall: wall, now: wall.UnixMilli(), seen: map[crdt.ID]bool{}, logged: map[logPos]crdt.ID{}, posts: map[postKey]*postEntry{}, refs: map[refKey]crdt.ID{}, ops: map[logPos]*crdt.Op{}, upkeep: map[*groupState]bool{}, created: map[postKey]bool{}}
	r.mu.Lock()
	for _, req := range reqs {
		switch req.kind {
		case reqIngest:
			req.results = make([]Result, len(req.ops))
			for i := range req.ops {
				d := &req.ops[i]
				if d.err != nil {
					// An op of a newer version or kind than this node knows
					// is ignored, not held against the peer that sent it.
					o := Rejected
					if errors.Is(d.err, protocol.ErrUnsupported) {
						o = Ignored
					}
					req.results[i] = Result{ID: d.op.ID, Outcome: o, Err: d.err}
					continue
				}
				req.results[i] = bt.ingest(&d.op, d.raw, false)
				bt.adoptOwn(&d.op, req.results[i])
			}
		case reqLocal:
			req.err = bt.local(req.local)
		}
	}
	bt.revouch()
	var membership []crdt.ID // the groups to announce in "group" events
	for _, gs := range slices.SortedFunc(maps.Keys(bt.upkeep), func(a, b *groupState) int { return a.rec.ID.Compare(b.rec.ID) }) {
		bt.keyUpkeep(gs)
		membership = append(membership, gs.rec.ID)
	}
	bt.handOns()
	erase := bt.toErase()
	for _, e := range bt.posts {
		switch {
		case !e.dirty:
		case e.cur != nil:
			bt.b.PutPost(e.prev, e.cur)
		case e.prev != nil:
			bt.b.DelPost(e.prev)
		}
	}
	r.mu.Unlock()

	if bt.err == nil {
		if i := slices.IndexFunc(reqs, func(req *request) bool { return req.kind == reqLocal && req.local.torn }); i >= 0 {
			r.untear(reqs, i)
			return
		}
	}

	err := bt.err
	if err == nil {
		err = r.st.Commit(&bt.b)
	}
	if err != nil {
		// Nothing of this batch is durable: forget the in-memory
		// changes too, and tell every caller.
		lerr := r.load()
		if lerr != nil {
			r.cfg.Logger.Error("reload after failed commit", "err", lerr)
		}
		if errors.Is(err, badger.ErrTxnTooBig) && len(reqs) > 1 && lerr == nil {
			// Too much for one transaction: commit it in halves.
			for _, req := range reqs {
				req.results, req.err = nil, nil
			}
			r.process(reqs[:len(reqs)/2])
			r.process(reqs[len(reqs)/2:])
			return
		}
		r.cfg.Logger.Error("commit failed", "err", err)
		for _, req := range reqs {
			req.err = fmt.Errorf("store: %w", err)
			close(req.reply)
		}
		return
	}
	r.mu.Lock()
	for _, m := range bt.marks {
		m.gs.mark(m.a, m.s)
	}
	r.lastIDs.record(bt.marks) // under r.mu, which guards gs.rec; the validator takes only lastIDs' lock
	r.mu.Unlock()
	r.eraseBlobs(erase)
	if r.cfg.OnLocalOps != nil {
		// One call per group, its ops in commit order, so that a burst of
		// posts goes out as a few gossip messages rather than one per op.
		// Before the replies: a caller told its post is stored may count
		// on it being on its way to the group's peers too (a CLI that
		// exits at once, a test that looks at what was published).
		for len(bt.published) > 0 {
			g := bt.published[0].g
			var raws [][]byte
			rest := bt.published[:0]
			for _, l := range bt.published {
				if l.g == g {
					raws = append(raws, l.raw)
				} else {
					rest = append(rest, l)
				}
			}
			bt.published = rest
			r.cfg.OnLocalOps(g, raws)
		}
	}
	for _, req := range reqs {
		if req.kind == reqLocal && req.err == nil && req.local.post != nil {
			if e := bt.posts[postKey{req.local.post.Group, req.local.post.ID}]; e != nil {
				req.local.post = e.cur
			}
		}
		close(req.reply)
	}
	listening := r.events.listening() // opening blobs for nobody costs an ingest ~2%
	for _, k := range bt.changed {
		if !listening {
			break
		}
		if p := bt.posts[k].cur; p != nil {
			r.events.publish(Event{Type: "post", Group: k.g, Post: r.Reveal(p)})
		} else {
			r.events.publish(Event{Type: "gone", Group: k.g, Post: &crdt.Post{ID: k.id, Group: k.g}})
		}
	}
	// After the posts: a page that redraws its members and author names
	// on this event finds the posts of the batch in place.
	for _, g := range membership {
		if !listening {
			break
		}
		r.events.publish(Event{Type: "group", Group: g})
	}
}

// untear answers reqs[i], a change of several ops of which some are in
// this batch and a later one failed, with its error, and writes the
// batch again without it, so that nothing of it is stored. The batch is
// not committed: the in-memory state it changed is loaded again.
func (r *Replica) untear(reqs []*request, i int) {
	torn := reqs[i]
	torn.local.ops, torn.local.post = nil, nil
	rest := slices.Delete(slices.Clone(reqs), i, i+1)
	if err := r.load(); err != nil {
		r.cfg.Logger.Error("reload after a failed change", "err", err)
		for _, req := range rest {
			req.err = fmt.Errorf("store: %w", err)
			close(req.reply)
		}
		close(torn.reply)
		return
	}
	close(torn.reply)
	for _, req := range rest {
		req.results, req.err = nil, nil
	}
	if len(rest) > 0 {
		r.process(rest)
	}
}
