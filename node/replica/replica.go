// Package replica is a node's copy of its groups' boards: it validates
// ops from anywhere (this node's user, gossip, catch-up, a bundle file),
// stores them durably, merges them with package crdt, and answers
// queries.
//
// One goroutine, the writer, owns every change. Callers decode and
// verify ops in their own goroutines (signature checks are the costly
// part and run in parallel), then hand them to the writer, which takes
// every request waiting at that moment into one batch, validates and
// merges them against the group state, writes ops and derived records in
// one Badger transaction, waits for the fsync, and only then answers.
// That is group commit: sixteen concurrent posts cost one fsync, not
// sixteen, and nothing is acknowledged before it is on disk.
package replica

import (
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/protocol"
)

// Errors.
var (
	ErrClosed      = errors.New("replica is closed")
	ErrNoGroup     = errors.New("no such group on this node")
	ErrNoPost      = errors.New("no such post")
	ErrNotAdmin    = errors.New("only an admin of the group can do that")
	ErrNotMember   = errors.New("this node is not a member of the group")
	ErrInviteUsed  = errors.New("this node is already a member of that group")
	ErrInviteAgain = errors.New("this node joined with that invite before: coming back needs a new invite")
	ErrInviteOld   = errors.New("the invite has expired")
	ErrInvalidPost = errors.New("invalid post")
	ErrNotAllowed  = errors.New("only the post's author or an admin may edit, withdraw or erase it")
	ErrLastAdmin   = errors.New("the group's last admin cannot be removed, demoted or leave: make someone else an admin first")
	ErrNoMember    = errors.New("no such member in the group")
	ErrNoInvite    = errors.New("no such invite in the group")
)

// Config configures a Replica.
type Config struct {
	Key  ed25519.PrivateKey // the node's identity; its public key authors this node's ops
	Name string             // the node's display name, used in genesis and join ops
	// Now is the wall clock; default time.Now. Tests pass their own.
	Now func() time.Time
	// MaxBatch caps the ops in one group commit. Default 512.
	MaxBatch int
	// OnLocalOps, if set, is called after each commit that holds ops
	// this node authored (to publish them by gossip), before the
	// commit's callers are answered: once per group,
	// with that group's ops in the order they were written (each with
	// its blob, protocol.JoinBlob). It must not block for long, nor keep
	// raws beyond the ops' bytes, which are never modified.
	OnLocalOps func(group crdt.ID, raws [][]byte)
	Logger     *slog.Logger

	// Restored says that the data dir may be an old copy (package node
	// finds out; see docs/design.md, "Restored data dirs"): this node may
	// have signed ops that the store lacks. Every group in which it has
	// signed an op is then unconfirmed until Confirm: a change there
	// waits for it, then fails with ErrUnconfirmed, so that the node
	// never signs twice at one seq.
	Restored bool
	// Unconfirmed lists more unconfirmed groups: those of an earlier
	// start that found a copy, which no peer has confirmed since.
	Unconfirmed []crdt.ID
	// ConfirmWait is how long a change in an unconfirmed group waits
	// for Confirm. Zero: it fails at once, which is right where nothing
	// can confirm it (a command run without `mutual serve`).
	ConfirmWait time.Duration
}

// Replica holds a node's groups. Its methods are safe for concurrent use.
type Replica struct {
	cfg  Config
	st   *store.Store
	self crdt.PublicKey
	reqs chan *request
	stop chan struct{}
	done chan struct{}
	once sync.Once

	mu     sync.RWMutex // guards groups and everything in them
	groups map[crdt.ID]*groupState
	clock  crdt.Clock // writer only
	watch  *clockWatch

	events  broadcaster
	confirm confirmation // see restore.go
	lastIDs lastOps      // each author's last op, for gossip's prevs (opid.go)

	name atomic.Pointer[string] // set by SetName; else cfg.Name

	box      *ecdh.PrivateKey // this node's key for receiving group keys (sealing.go)
	boxPub   crdt.BoxKey
	revealed *lru.Cache[crdt.ID, protocol.Private] // opened blobs, by op ID: memory only
}

// groupState is a group as the writer sees it. vv and above are the log
// positions the store holds, which the writer trusts to skip dedup's
// reads (batch.judge): whoever makes a group state for a group whose ops
// the store may hold marks them from its log (load, storedGroupState).
type groupState struct {
	rec   store.GroupRecord
	g     *crdt.Group
	vv    map[crdt.PublicKey]uint64          // contiguous seqs held
	above map[crdt.PublicKey]map[uint64]bool // seqs held past the contiguous ones
	seq   uint64                             // this node's last seq in the group
	prev  crdt.ID                            // and that op's ID
	// What the stored posts reflect: the membership's spans and forks.
	spans map[crdt.PublicKey][]crdt.Span
	forks map[crdt.PublicKey]uint64
	// The group keys shared with this node, opened (memory only).
	keys map[crdt.KeyID][protocol.GroupKeySize]byte
	// The digest for catch-up (digest.go): gen counts the changes to
	// what it covers (vv, above, the breaks and the evidence of forks,
	// as the store holds them); digest caches the digest of one gen.
	breaks   []protocol.VectorEntry
	evidence []crdt.ID
	gen      uint64
	digest   atomic.Pointer[cachedDigest]
	// A followed group's peers known to hold it (memory only).
	sources map[crdt.PublicKey]bool
	refused string // why a peer refused to serve this followed group, if one did
}

// storedGroupState is newGroupState for a group that this node starts
// to hold (a follow, a visitor's group) with the log positions the store
// may hold of it marked, as load marks them: ops kept from before (an
// unfollow that a crash cut short), which the writer's dedup must know.
func (r *Replica) storedGroupState(rec store.GroupRecord) (*groupState, error) {
	gs := newGroupState(rec)
	if err := r.st.LogSeqs(rec.ID, gs.mark); err != nil {
		return nil, err
	}
	return gs, nil
}

func newGroupState(rec store.GroupRecord) *groupState {
	return &groupState{rec: rec, g: crdt.NewGroup(rec.ID), vv: map[crdt.PublicKey]uint64{}, above: map[crdt.PublicKey]map[uint64]bool{},
		spans: map[crdt.PublicKey][]crdt.Span{}, forks: map[crdt.PublicKey]uint64{}}
}

// Open loads a replica from a store. The store stays the caller's to
// close, after Close.
func Open(st *store.Store, cfg Config) (*Replica, error) {
	if len(cfg.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("replica: no key")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 512
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Replica{
		cfg:    cfg,
		st:     st,
		reqs:   make(chan *request, 1024),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		groups: map[crdt.ID]*groupState{},
		watch:  newClockWatch(cfg.Logger),
	}
	copy(r.self[:], cfg.Key.Public().(ed25519.PublicKey))
	r.box, r.boxPub = protocol.BoxKeyOf(cfg.Key)
	r.revealed, _ = lru.New[crdt.ID, protocol.Private](4096)
	if err := r.load(); err != nil {
		return nil, err
	}
	r.initConfirmation()
	go r.writer()
	return r, nil
}

// Close stops the writer after the requests already queued. Safe twice.
func (r *Replica) Close() error {
	r.once.Do(func() { close(r.stop) })
	<-r.done
	r.events.closeAll()
	return nil
}

// Self returns this node's public key.
func (r *Replica) Self() crdt.PublicKey { return r.self }

// Store returns the underlying store (for checks and benchmarks).
func (r *Replica) Store() *store.Store { return r.st }

// load rebuilds the in-memory group states from the store.
func (r *Replica) load() error {
	recs, err := r.st.Groups()
	if err != nil {
		return err
	}
	wall := r.now()
	now := wall.UnixMilli()
	groups := map[crdt.ID]*groupState{}
	for _, rec := range recs {
		if rec.Relation == store.Forgetting {
			// An unfollow cut short: finish it (a store opened read-only
			// just leaves the group out).
			if err := r.st.ForgetGroup(rec.ID); err != nil && r.st.Writable() == nil {
				return fmt.Errorf("finish forgetting group %s: %w", rec.ID.Short(), err)
			}
			continue
		}
		gs := newGroupState(rec)
		raws, err := r.st.MembershipOps(rec.ID)
		if err != nil {
			return err
		}
		for _, raw := range raws {
			op, err := protocol.DecodeStoredOp(raw)
			if err != nil {
				return fmt.Errorf("load group %s: %w", rec.ID.Short(), err)
			}
			gs.g.Hold(&op)
		}
		var ownSeq uint64 // the highest, which may be past a gap: see own.go
		err = r.st.LogSeqs(rec.ID, func(a crdt.PublicKey, seq uint64) {
			gs.mark(a, seq)
			if a == r.self {
				ownSeq = max(ownSeq, seq)
			}
		})
		if err != nil {
			return err
		}
		forks, err := r.st.Forks(rec.ID)
		if err != nil {
			return err
		}
		for _, f := range forks {
			gs.g.Fork(f.Author, f.Seq)
			gs.evidence = append(gs.evidence, f.Op)
		}
		err = r.st.Breaks(rec.ID, func(a crdt.PublicKey, seq uint64) {
			gs.g.Fork(a, seq)
			gs.breaks = append(gs.breaks, protocol.VectorEntry{Author: a, Seq: seq})
		})
		if err != nil {
			return err
		}
		gs.spans, gs.forks = gs.g.Spans(), gs.g.Forks()
		r.openKeys(gs)
		own, err := r.lastOwn(rec.ID, ownSeq)
		if err != nil {
			return err
		}
		if own != nil {
			gs.seq, gs.prev = own.Seq, own.ID
			// Not adopted if it is beyond what this node may stamp now:
			// it was made while the clock ran ahead.
			if own.Time.Wall > now+crdt.MaxLead.Milliseconds() {
				r.watch.ownFuture(wall, own.Time)
			}
			r.clock.Observe(own.Time, now)
		}
		groups[rec.ID] = gs
	}
	r.mu.Lock()
	r.groups = groups
	// What the stored posts reflect: visitors vouched for by the groups
	// they come from, as this node knows them.
	r.vouchAll()
	for _, gs := range groups {
		gs.spans = gs.g.Spans()
	}
	r.mu.Unlock()
	return nil
}

// mark records that the log holds (a, seq).
func (gs *groupState) mark(a crdt.PublicKey, seq uint64) {
	c := gs.vv[a]
	if seq <= c {
		return
	}
	gs.changed()
	if seq != c+1 {
		m := gs.above[a]
		if m == nil {
			m = map[uint64]bool{}
			gs.above[a] = m
		}
		m[seq] = true
		return
	}
	c = seq
	for m := gs.above[a]; m[c+1]; c++ {
		delete(m, c+1)
	}
	if len(gs.above[a]) == 0 {
		delete(gs.above, a)
	}
	gs.vv[a] = c
}

// now reads the wall clock, and notices when it steps back.
func (r *Replica) now() time.Time {
	t := r.cfg.Now()
	r.watch.read(t)
	return t
}

func (r *Replica) nowMillis() int64 { return r.now().UnixMilli() }

// submit hands a request to the writer and waits for its answer.
func (r *Replica) submit(ctx context.Context, req *request) error {
	req.reply = make(chan struct{})
	select {
	case r.reqs <- req:
	case <-r.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-req.reply:
		return req.err
	case <-r.done:
		return ErrClosed
	}
}
