package catchup

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// MaxRounds bounds the rounds of one session. A second round happens when
// the first changed what a side may share (a newcomer's join arrived), or
// when ops arrived that could not be admitted yet next to ones that
// could; more than that waits for the next session.
const MaxRounds = 4

// MaxSessionRounds bounds the rounds of a session over all its pages
// (pages.go): 64 pages of MaxSyncGroups groups, each with its retries.
// Both sides stop there; what is left waits for the next session, which
// skips the groups found equal by their digests.
const MaxSessionRounds = 256

// Run runs one catch-up session over a bidirectional stream with the peer
// whose key is remote; both peers call it, one with initiator=true. It
// syncs every group both replicate that the other MayRead, both ways, and
// returns when both directions are done. A peer that sends junk gets an
// error wrapping ErrRejected (the caller disconnects it).
//
// Run reads and writes concurrently, so neither side blocks on a full
// pipe, and it ingests what arrives batch by batch, so a session cut
// short has stored everything up to the batch in flight. Memory is
// bounded by a few frames whatever the gap.
//
// On error or when ctx is cancelled, Run unblocks its own goroutines by
// setting a past deadline on s (net.Conn and libp2p streams have
// SetDeadline) or, failing that, closing it (io.Closer); it returns only
// when they have stopped. A stream with neither is left to the caller,
// whose Close ends them. After an error the caller resets the stream.
func Run(ctx context.Context, s io.ReadWriter, r Replica, remote crdt.PublicKey, initiator bool) (Stats, error) {
	return RunProgress(ctx, s, r, remote, initiator, &Progress{})
}

// RunProgress is Run telling p, as it goes, how many ops it has received
// of how many are coming (see Progress).
func RunProgress(ctx context.Context, s io.ReadWriter, r Replica, remote crdt.PublicKey, initiator bool, p *Progress) (Stats, error) {
	return RunOptions(ctx, s, r, remote, initiator, Options{Progress: p})
}

// Options are a session's settings beyond its peer; the zero value is
// Run's.
type Options struct {
	// Progress, if set, is told as the session goes how many ops it has
	// received of how many are coming.
	Progress *Progress
	// MaxBatchBytes, if set, ends the Ops and Frame messages this side
	// sends, and the batches it stores (batch.go), at fewer op bytes
	// than protocol.MaxBatchBytes. A session over a
	// connection that a relay cuts after a data limit sets it well under
	// that limit: a frame cut in half is lost, every whole one is stored,
	// and the next session resumes after it.
	MaxBatchBytes int
	// Followers are the groups this node served the peer as a follower
	// in their last session (its Stats.Followers). Their digests go in
	// round 1 as those of the groups offered whole, if this node would
	// serve the peer as a follower still (it is no member, MayFollow
	// allows it, it holds no op of its own there), so that a follower
	// that holds them alike settles them instead of offering its
	// vectors every session (pages.go). Every other peer learns no group
	// from this node's digests that it may not read.
	Followers []crdt.ID
}

// RunOptions is Run with Options.
func RunOptions(ctx context.Context, s io.ReadWriter, r Replica, remote crdt.PublicKey, initiator bool, o Options) (Stats, error) {
	p := o.Progress
	if p == nil {
		p = &Progress{}
	}
	ss := &session{
		maxBatch:  o.MaxBatchBytes,
		served:    o.Followers,
		progress:  p,
		ctx:       ctx,
		r:         r,
		remote:    remote,
		initiator: initiator,
		frames:    make(chan inFrame, 4),
		resume:    make(chan bool),
		done:      make(chan struct{}),
		synced:    map[crdt.ID]bool{},
		settled:   map[crdt.ID]bool{},
		pageRound: 1,
		followers: map[crdt.ID]bool{},
		answered:  map[crdt.ID]bool{},
		fresh:     map[crdt.ID]bool{},
	}
	ss.in = &countReader{r: s}
	ss.out = &countWriter{w: s}
	ss.bw = bufio.NewWriterSize(ss.out, 16<<10)
	ss.wg.Add(1)
	go ss.readLoop(bufio.NewReaderSize(ss.in, 16<<10))
	stop := context.AfterFunc(ctx, func() { abort(s) })

	err := ss.run()

	stop()
	close(ss.done)
	if err == nil || abort(s) {
		ss.wg.Wait()
	}
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("catchup: %w", ctx.Err())
	}
	ss.stats.BytesSent = ss.out.n.Load()
	ss.stats.BytesReceived = ss.in.n.Load()
	if err == nil {
		for g := range ss.settled {
			ss.synced[g] = true
		}
		ss.stats.Settled = len(ss.settled)
		ss.stats.Synced = slices.SortedFunc(maps.Keys(ss.synced), crdt.ID.Compare)
		ss.stats.Followers = slices.SortedFunc(maps.Keys(ss.followers), crdt.ID.Compare)
		ss.stats.Answered = slices.SortedFunc(maps.Keys(ss.answered), crdt.ID.Compare)
	}
	ss.stats.Fresh = slices.SortedFunc(maps.Keys(ss.fresh), crdt.ID.Compare)
	return ss.stats, err
}

// abort unblocks reads and writes on s; it reports whether it could.
func abort(s io.ReadWriter) bool {
	if d, ok := s.(interface{ SetDeadline(time.Time) error }); ok && d.SetDeadline(time.Unix(1, 0)) == nil {
		return true
	}
	if c, ok := s.(io.Closer); ok {
		_ = c.Close()
		return true
	}
	return false
}

type inFrame struct {
	f   *protocol.Frame
	err error
}

type session struct {
	ctx       context.Context
	r         Replica
	remote    crdt.PublicKey
	initiator bool

	in  *countReader
	out *countWriter
	bw  *bufio.Writer // used by one phase's sender at a time

	frames chan inFrame   // from readLoop
	resume chan bool      // readLoop waits on it after each Next frame
	done   chan struct{}  // closed when run returns
	wg     sync.WaitGroup // readLoop and the phase senders

	stats     Stats
	synced    map[crdt.ID]bool // groups whose ops the peer streamed in full
	followers map[crdt.ID]bool // groups served to the peer as a follower
	answered  map[crdt.ID]bool // groups offered that the peer answered
	fresh     map[crdt.ID]bool // groups of the batches that brought new ops (Stats.Fresh)
	progress  *Progress
	maxBatch  int // Options.MaxBatchBytes

	// Pages (pages.go): the groups both sides found equal by their
	// digests, the last group of the pages done, and the round within
	// the current page.
	settled   map[crdt.ID]bool
	after     *crdt.ID
	served    []crdt.ID        // Options.Followers
	asFollow  map[crdt.ID]bool // groups digested because the peer follows them (digests)
	pageRound int

	intro      map[crdt.ID][][]byte // groups to introduce in the next round: their membership ops (introduce)
	introduced map[crdt.ID]bool     // groups introduced in this session
}

// readLoop owns the read side: it reads frames and hands them to run. It
// pauses after a Next frame until run says whether another round follows,
// so that it never reads past the end of the session.
func (ss *session) readLoop(br *bufio.Reader) {
	defer ss.wg.Done()
	for {
		f, err := protocol.ReadFrame(br)
		select {
		case ss.frames <- inFrame{f, err}:
		case <-ss.done:
			return
		}
		if err != nil {
			return
		}
		if f.Type == protocol.MsgNext {
			select {
			case more := <-ss.resume:
				if !more {
					return
				}
			case <-ss.done:
				return
			}
		}
	}
}

// rejectf returns an error wrapping ErrRejected.
func rejectf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrRejected}, args...)...)
}

// next returns the next frame from the peer.
func (ss *session) next() (*protocol.Frame, error) {
	select {
	case in := <-ss.frames:
		switch {
		case in.err == nil:
			return in.f, nil
		case errors.Is(in.err, protocol.ErrMalformed), errors.Is(in.err, protocol.ErrUnsupported):
			return nil, fmt.Errorf("%w: %w", ErrRejected, in.err)
		case in.err == io.EOF:
			return nil, fmt.Errorf("catchup: peer closed the stream: %w", io.ErrUnexpectedEOF)
		}
		return nil, fmt.Errorf("catchup: reading: %w", in.err)
	case <-ss.ctx.Done():
		return nil, ss.ctx.Err()
	}
}

// expect returns the next frame, which must be of type t.
func (ss *session) expect(t protocol.MsgType) (*protocol.Frame, error) {
	f, err := ss.next()
	if err != nil {
		return nil, err
	}
	if f.Type != t {
		return nil, rejectf("got %s, want %s", f.Type, t)
	}
	return f, nil
}

// exchange runs one phase of a round: send in a new goroutine while recv
// reads the peer's half here, so that neither side ever blocks writing
// while the other waits for it to read.
func (ss *session) exchange(send func() error, recv func() error) error {
	sent := make(chan error, 1)
	ss.wg.Add(1)
	go func() {
		defer ss.wg.Done()
		err := send()
		if err == nil {
			err = ss.bw.Flush()
		}
		sent <- err
	}()
	if err := recv(); err != nil {
		return err // Run aborts the stream, which stops send
	}
	select {
	case err := <-sent:
		if err != nil {
			return fmt.Errorf("catchup: writing: %w", err)
		}
		return nil
	case <-ss.ctx.Done():
		return ss.ctx.Err()
	}
}

func (ss *session) write(f *protocol.Frame) error { return protocol.WriteFrame(ss.bw, f) }

func (ss *session) run() error {
	for round := uint64(1); ; round++ {
		more, err := ss.round(round)
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
		select {
		case ss.resume <- true:
		case <-ss.ctx.Done():
			return ss.ctx.Err()
		}
	}
}

// vector is a group's version vector.
type vector = map[crdt.PublicKey]uint64

// readable returns the groups this node replicates that it offers the
// peer, sorted, and the limits of those the peer may not read whole (see
// Limit). A round offers a page of them (pages.go).
func (ss *session) readable() ([]crdt.ID, map[crdt.ID]Limit, error) {
	var out []crdt.ID
	limits := map[crdt.ID]Limit{}
	for _, g := range ss.r.Groups() {
		if ss.r.MayRead(g, ss.remote) {
			out = append(out, g)
			continue
		}
		l, err := ss.r.Limited(g, ss.remote)
		if err != nil {
			return nil, nil, fmt.Errorf("catchup: limits of %s: %w", g.Short(), err)
		}
		if ops, ok := ss.intro[g]; ok && l.Own == nil && !l.Follow {
			l.Notices, l.Ask = append(l.Notices, ops...), false
		}
		if l.offers() {
			out = append(out, g)
			limits[g] = l
		}
	}
	slices.SortFunc(out, crdt.ID.Compare)
	return slices.Compact(out), limits, nil
}

// roundState is what one round learns, phase by phase, of the groups
// both sides offer and hold.
type roundState struct {
	n          uint64
	readable   []crdt.ID          // groups this node offers the peer, sorted (readable)
	offered    []crdt.ID          // of those, this round's page
	bound      *crdt.ID           // the page's last group, if a side's offer was full (pages.go)
	isOffered  map[crdt.ID]bool   // the same, as a set
	limits     map[crdt.ID]Limit  // of offered groups the peer may not read whole
	ours       map[crdt.ID]vector // the vectors offered
	replicated map[crdt.ID]bool   // every group this node replicates
	named      map[crdt.ID]bool   // every group the peer offered, replicated here or not
	theirOffer map[crdt.ID]vector // the peer's vectors of groups replicated here
	wants      map[crdt.ID]vector // what this node asked for of groups it did not offer
	theirWant  map[crdt.ID]vector // what the peer asked for of groups it did not offer
	serve      map[crdt.ID]vector // groups the peer follows and this node did not offer: this node's vectors
	refuse     map[crdt.ID]string // groups the peer may not follow: why

	received, fresh int     // ops received in phase 3, and how many were new
	pending         pending // received, not yet ingested (batch.go)
}

// round runs one round — hello (and digests), offer, want, ops, next —
// and reports whether another follows.
func (ss *session) round(n uint64) (bool, error) {
	ss.stats.Rounds++
	readable, limits, err := ss.readable()
	if err != nil {
		return false, err
	}
	rs := &roundState{n: n, readable: readable, limits: limits}
	if err := ss.greet(rs); err != nil {
		return false, err
	}
	if err := ss.offer(rs); err != nil {
		return false, err
	}
	if err := ss.want(rs); err != nil {
		return false, err
	}
	ss.progress.start(rs.coming())
	err = ss.exchangeOps(rs)
	ss.progress.stop()
	if err != nil {
		return false, err
	}
	for g := range rs.theirOffer {
		ss.synced[g] = true
	}
	return ss.another(rs)
}

// offer is phase 1: a Have per group of the round's page, End, both
// ways. A newcomer offers only its own ops: its vector names only itself.
func (ss *session) offer(rs *roundState) error {
	rs.offered = ss.page(rs.readable)
	rs.isOffered = map[crdt.ID]bool{}
	rs.ours = make(map[crdt.ID]vector, len(rs.offered))
	for _, g := range rs.offered {
		v, err := ss.r.VersionVector(g)
		if err != nil {
			return fmt.Errorf("catchup: version vector of %s: %w", g.Short(), err)
		}
		if own := rs.limits[g].Own; own != nil {
			v = vector{*own: v[*own]}
		}
		if rs.limits[g].Ask {
			v = vector{}
		}
		if len(v) > protocol.MaxVectorAuthors {
			return fmt.Errorf("catchup: group %s has %d authors, the protocol allows %d", g.Short(), len(v), protocol.MaxVectorAuthors)
		}
		rs.ours[g] = v
		rs.isOffered[g] = true
	}
	rs.replicated = map[crdt.ID]bool{}
	for _, g := range ss.r.Groups() {
		rs.replicated[g] = true
	}
	rs.theirOffer = map[crdt.ID]vector{}
	rs.named = map[crdt.ID]bool{}
	err := ss.exchange(func() error {
		for _, g := range rs.offered {
			if err := ss.writeVector(protocol.MsgHave, g, rs.ours[g]); err != nil {
				return err
			}
		}
		return ss.write(&protocol.Frame{Type: protocol.MsgEnd})
	}, func() error {
		return ss.readVectorsEach(protocol.MsgHave, func(g crdt.ID) bool { return rs.replicated[g] }, rs.theirOffer,
			func(f *protocol.Frame) { rs.named[f.Group] = true })
	})
	if err != nil {
		return err
	}
	ss.endPage(rs)
	return nil
}

// want is phase 2: for each group the peer offered that this node does
// not offer back, ask for it, then End, both ways. Only a peer whose key
// this node holds ops of in the group (a newcomer whose join it stored,
// a former member) gets this node's vector restricted to the authors it
// offered. Any other peer may be a stranger probing for groups and seqs:
// it gets an empty Want (send everything) for every group it names,
// whether this node replicates it or not, so the answer tells it
// nothing. The ops sent for a group not replicated here are read and
// dropped; those of a replicated group are ingested, which drops the ops
// of authors the group does not know. (An admitted newcomer whose
// admission has not reached this node yet is such a peer: it sends its
// whole copy, once.)
//
// A peer that offers a group this node replicates, that is not a
// member, and that offers none of its own ops there (it is no newcomer
// and no former member) is a follower: if it may follow the group
// (MayFollow), it gets the same restricted Want, so that it sends what
// it holds that this node lacks, and in phase 3 every op it lacks (its
// Have is its vector); if it may not, it gets a Refused with the reason
// instead of a Want, and nothing else about the group.
func (ss *session) want(rs *roundState) error {
	rs.wants = map[crdt.ID]vector{}
	rs.serve = map[crdt.ID]vector{}
	rs.refuse = map[crdt.ID]string{}
	for g := range rs.named {
		if rs.isOffered[g] {
			continue
		}
		want := vector{}
		if rs.replicated[g] {
			mine, err := ss.r.VersionVector(g)
			if err != nil {
				return fmt.Errorf("catchup: version vector of %s: %w", g.Short(), err)
			}
			_, known := mine[ss.remote]
			_, joining := rs.theirOffer[g][ss.remote]
			follower := !known && !joining || visits(ss.r, g, ss.remote)
			if follower {
				if err := ss.r.MayFollow(g, ss.remote); err != nil {
					rs.refuse[g] = refusal(err)
					continue
				}
				rs.serve[g] = mine
			}
			if known || follower {
				for a := range rs.theirOffer[g] {
					if mine[a] > 0 {
						want[a] = mine[a]
					}
				}
			}
		}
		rs.wants[g] = want
	}
	rs.theirWant = map[crdt.ID]vector{}
	return ss.exchange(func() error {
		groups := slices.Collect(maps.Keys(rs.wants))
		groups = slices.AppendSeq(groups, maps.Keys(rs.refuse))
		slices.SortFunc(groups, crdt.ID.Compare)
		for _, g := range groups {
			if reason, ok := rs.refuse[g]; ok {
				if err := ss.write(&protocol.Frame{Type: protocol.MsgRefused, Group: g, Reason: reason}); err != nil {
					return err
				}
				continue
			}
			if err := ss.writeVector(protocol.MsgWant, g, rs.wants[g]); err != nil {
				return err
			}
		}
		return ss.write(&protocol.Frame{Type: protocol.MsgEnd})
	}, func() error {
		return ss.readVectors(protocol.MsgWant, func(g crdt.ID) bool { return rs.isOffered[g] }, rs.theirWant)
	})
}

// refusal returns err's text as a Refused message's reason: valid UTF-8,
// at most protocol.MaxRefusedReason bytes.
func refusal(err error) string {
	r := strings.ToValidUTF8(err.Error(), "?")
	for len(r) > protocol.MaxRefusedReason {
		_, size := utf8.DecodeLastRuneInString(r)
		r = r[:len(r)-size]
	}
	return r
}

// coming returns how many ops of the groups replicated here the peer
// will send in phase 3, by the vectors: for each author in its offer,
// the seqs past what this node said it holds (its Have, or its Want).
// Evidence of forks and notices come on top; a peer that offers a
// vector but may send only notices (this node is a former member) sends
// fewer.
func (rs *roundState) coming() int64 {
	var n int64
	for g, theirs := range rs.theirOffer {
		told, ok := rs.ours[g]
		if !ok {
			told = rs.wants[g]
		}
		for a, seq := range theirs {
			if seq > told[a] {
				n += int64(seq - told[a])
			}
		}
	}
	return n
}

// exchangeOps is phase 3: each side streams what the other lacks and
// ingests what arrives, batch by batch.
func (ss *session) exchangeOps(rs *roundState) error {
	for _, g := range rs.offered {
		if !rs.limits[g].Follow {
			continue
		}
		if _, ok := rs.theirOffer[g]; ok {
			ss.followers[g] = true
		} else if _, ok := rs.theirWant[g]; ok {
			ss.followers[g] = true
		}
	}
	for g := range rs.serve {
		ss.followers[g] = true
	}
	for _, g := range rs.offered {
		_, have := rs.theirOffer[g]
		_, want := rs.theirWant[g]
		if have || want {
			ss.answered[g] = true
		}
	}
	return ss.exchange(func() error {
		for _, g := range rs.offered {
			theirs, ok := rs.theirOffer[g]
			if !ok {
				if theirs, ok = rs.theirWant[g]; !ok {
					continue // the peer does not replicate g
				}
			}
			if err := ss.sendGroup(g, rs.ours[g], theirs, rs.limits[g]); err != nil {
				return err
			}
		}
		for _, g := range slices.SortedFunc(maps.Keys(rs.serve), crdt.ID.Compare) {
			if err := ss.sendGroup(g, rs.serve[g], rs.theirOffer[g], Limit{}); err != nil {
				return err
			}
		}
		return ss.write(&protocol.Frame{Type: protocol.MsgEnd})
	}, func() error {
		for {
			f, err := ss.next()
			if err != nil {
				return err
			}
			switch f.Type {
			case protocol.MsgEnd:
				return ss.flush(rs)
			case protocol.MsgOps, protocol.MsgFrame:
			default:
				return rejectf("got %s among ops", f.Type)
			}
			if err := ss.receiveOps(rs, f); err != nil {
				return err
			}
		}
	})
}

// receiveOps checks an Ops frame and ingests its ops, if this node
// replicates the group (otherwise it asked for them only so as to
// answer as for any group). Ops come for groups the peer offered, and
// for groups this node offered to a peer that serves it as a follower.
func (ss *session) receiveOps(rs *roundState, f *protocol.Frame) error {
	if _, ok := rs.theirOffer[f.Group]; !ok && !rs.named[f.Group] && !rs.isOffered[f.Group] {
		return rejectf("ops of group %s, which was not offered", f.Group.Short())
	}
	refs := make([]protocol.OpRef, len(f.Ops))
	firsts := map[crdt.PublicKey]bool{}
	for i, raw := range f.Ops {
		ref, err := protocol.PeekOp(raw)
		if errors.Is(err, protocol.ErrUnsupported) {
			continue // a newer op version: ignored, like a newer kind
		}
		if err != nil {
			return fmt.Errorf("%w: op %d: %w", ErrRejected, i, err)
		}
		if ref.Group != f.Group {
			return rejectf("op %d of group %s in a batch of group %s", i, ref.Group.Short(), f.Group.Short())
		}
		refs[i] = ref
		if ref.Seq == 1 {
			firsts[ref.Author] = true
		}
	}
	rs.received += len(f.Ops)
	ss.stats.OpsReceived += len(f.Ops)
	if !rs.replicated[f.Group] {
		return nil
	}
	return ss.pend(rs, f.Group, f.Ops, refs, firsts)
}

// another is phase 4, next: another round on the same page if the peer
// may now read a group of it that it could not (a newcomer's join
// arrived), or if ops arrived that could not be admitted next to ones
// that were (they may be admissible now); else the next page, if any
// (pages.go).
func (ss *session) another(rs *roundState) (bool, error) {
	more := rs.fresh > 0 && rs.received > rs.fresh
	if again, err := ss.introduce(rs); err != nil {
		return false, err
	} else if again {
		more = true
	}
	now, nowLimits, err := ss.readable()
	if err != nil {
		return false, err
	}
	for _, g := range now {
		if !ss.inPage(rs, g) {
			continue
		}
		if !rs.isOffered[g] || (rs.limits[g].offers() && !nowLimits[g].offers()) {
			more = true // the peer may read more now (a newcomer's join counts)
		}
	}
	var theirMore bool
	err = ss.exchange(func() error {
		return ss.write(&protocol.Frame{Type: protocol.MsgNext, More: more})
	}, func() error {
		f, err := ss.expect(protocol.MsgNext)
		if err == nil {
			theirMore = f.More
		}
		return err
	})
	if err != nil {
		return false, err
	}
	return ss.nextRound(rs, more || theirMore), nil
}

// storable returns the ops of a batch that a replica could store: not
// of a newer version (refs[i].Seq is 0), and each either an author's
// first op, or of an author whose first op is held or in the batch. The
// others would be dropped by Ingest all the same (crdt.Storable), after
// their signatures were checked: ops signed by fresh keys, the cheapest
// flood a stranger can send, cost a peek each instead.
func (ss *session) storable(g crdt.ID, raws [][]byte, refs []protocol.OpRef, firsts map[crdt.PublicKey]bool) ([][]byte, error) {
	v, err := ss.r.VersionVector(g)
	if err != nil {
		return nil, fmt.Errorf("catchup: version vector of %s: %w", g.Short(), err)
	}
	out := raws[:0:0]
	for i, ref := range refs {
		if ref.Seq == 1 || (ref.Seq > 1 && (v[ref.Author] >= 1 || firsts[ref.Author])) {
			out = append(out, raws[i])
		}
	}
	return out, nil
}

// writeVector writes a group's vector as Have or Want frames, at least
// one.
func (ss *session) writeVector(t protocol.MsgType, g crdt.ID, v vector) error {
	f := &protocol.Frame{Type: t, Group: g}
	wrote := false
	for _, a := range slices.SortedFunc(maps.Keys(v), crdt.PublicKey.Compare) {
		f.Vector = append(f.Vector, protocol.VectorEntry{Author: a, Seq: v[a]})
		if len(f.Vector) == protocol.MaxVectorChunk {
			if err := ss.write(f); err != nil {
				return err
			}
			f.Vector, wrote = f.Vector[:0], true
		}
	}
	if len(f.Vector) > 0 || !wrote {
		return ss.write(f)
	}
	return nil
}

// readVectors reads frames of type t until End into vs, keeping the
// groups keep accepts and enforcing the limits on all of them.
func (ss *session) readVectors(t protocol.MsgType, keep func(crdt.ID) bool, vs map[crdt.ID]vector) error {
	return ss.readVectorsEach(t, keep, vs, nil)
}

// readVectorsEach is readVectors calling each, if set, with every frame
// within the limits, kept or not.
func (ss *session) readVectorsEach(t protocol.MsgType, keep func(crdt.ID) bool, vs map[crdt.ID]vector, each func(*protocol.Frame)) error {
	counts := map[crdt.ID]int{}
	for {
		f, err := ss.next()
		if err != nil {
			return err
		}
		if f.Type == protocol.MsgEnd {
			return nil
		}
		if f.Type == protocol.MsgRefused && t == protocol.MsgWant {
			if _, seen := counts[f.Group]; seen || !keep(f.Group) {
				return rejectf("refused group %s, which was not offered or was answered already", f.Group.Short())
			}
			counts[f.Group] = 0
			if ss.stats.Refused == nil {
				ss.stats.Refused = map[crdt.ID]string{}
			}
			ss.stats.Refused[f.Group] = f.Reason
			continue
		}
		if f.Type != t {
			return rejectf("got %s, want %s or end", f.Type, t)
		}
		if _, seen := counts[f.Group]; !seen && len(counts) == protocol.MaxSyncGroups {
			return rejectf("more than %d groups", protocol.MaxSyncGroups)
		}
		counts[f.Group] += len(f.Vector)
		if counts[f.Group] > protocol.MaxVectorAuthors {
			return rejectf("vector of group %s has more than %d authors", f.Group.Short(), protocol.MaxVectorAuthors)
		}
		if each != nil {
			each(f)
		}
		if !keep(f.Group) {
			if t == protocol.MsgWant {
				return rejectf("want for group %s, which was not offered", f.Group.Short())
			}
			continue
		}
		v := vs[f.Group]
		if v == nil {
			v = vector{}
			vs[f.Group] = v
		}
		for _, e := range f.Vector {
			v[e.Author] = e.Seq
		}
	}
}

// errFirstOnly stops OpsAfter after one op.
var errFirstOnly = errors.New("first op only")

// sendGroup streams the ops of g that the peer lacks: for each author in
// this node's vector, the ops after the peer's seq, then the evidence of
// forks. The first op of each author the peer does not know at all goes
// first, oldest first: those are the genesis and the joins, and a
// replica keeps a join only once it knows the invite's issuer.
//
// Each op of evidence goes with the op this node's log holds at its
// (author, seq), if the peer's vector says it has an op there: the peer
// may hold the evidence's branch in its log, and learns of the fork only
// from the other op.
//
// A peer that may not read the group gets what limit allows: a
// newcomer's own ops (ours then names only this node), or the notices
// meant for it and nothing of the log.
func (ss *session) sendGroup(g crdt.ID, ours, theirs vector, limit Limit) error {
	ow := protocol.NewFrameWriter(ss.bw, g)
	ow.MaxBytes = ss.maxBatch
	if !limit.whole() && limit.Own == nil {
		ours = nil
	}
	authors := slices.SortedFunc(maps.Keys(ours), crdt.PublicKey.Compare)
	type first struct {
		t   crdt.HLC
		raw []byte
	}
	var firsts []first
	sentFirst := map[crdt.PublicKey]uint64{}
	for _, a := range authors {
		if theirs[a] != 0 {
			continue
		}
		err := ss.r.OpsAfter(g, a, 0, func(raw []byte) error {
			ref, err := protocol.PeekOp(raw)
			if err != nil {
				return fmt.Errorf("catchup: stored op of %s is unreadable: %w", a.String()[:12], err)
			}
			sentFirst[a] = ref.Seq
			firsts = append(firsts, first{ref.Time, slices.Clone(raw)})
			return errFirstOnly
		})
		if err != nil && err != errFirstOnly {
			return err
		}
	}
	slices.SortStableFunc(firsts, func(a, b first) int { return a.t.Compare(b.t) })
	for _, f := range firsts {
		if err := ow.Add(f.raw); err != nil {
			return err
		}
	}
	for _, a := range authors {
		if err := ss.r.OpsAfter(g, a, max(theirs[a], sentFirst[a]), ow.Add); err != nil {
			return err
		}
	}
	// A peer that may not read the group gets no evidence of others'
	// forks (it holds their ops): a newcomer sends only its own, and a
	// former member gets the notices meant for it.
	for _, raw := range limit.Notices {
		if err := ow.Add(raw); err != nil {
			return err
		}
	}
	if limit.whole() || limit.Own != nil {
		if err := ss.sendEvidence(g, ow, theirs, limit.Own); err != nil {
			return err
		}
	}
	if err := ow.Flush(); err != nil {
		return err
	}
	ss.stats.OpsSent += ow.Ops
	return nil
}

// sendEvidence sends the evidence of forks in g, each op with the one it
// conflicts with when the peer may hold the evidence's branch (see
// sendGroup).
func (ss *session) sendEvidence(g crdt.ID, ow *protocol.FrameWriter, theirs vector, only *crdt.PublicKey) error {
	type pos struct {
		author crdt.PublicKey
		seq    uint64
	}
	var forks []pos
	err := ss.r.Evidence(g, func(raw []byte) error {
		ref, err := protocol.PeekOp(raw)
		if err != nil {
			return fmt.Errorf("catchup: stored evidence is unreadable: %w", err)
		}
		if only != nil && ref.Author != *only {
			return nil
		}
		if p := (pos{ref.Author, ref.Seq}); p.seq <= theirs[p.author] && !slices.Contains(forks, p) {
			forks = append(forks, p) // else the loop over the log sent that op
		}
		return ow.Add(raw)
	})
	if err != nil {
		return err
	}
	for _, p := range forks {
		err := ss.r.OpsAfter(g, p.author, p.seq-1, func(raw []byte) error {
			if ref, err := protocol.PeekOp(raw); err == nil && ref.Seq == p.seq {
				if err := ow.Add(raw); err != nil {
					return err
				}
			}
			return errFirstOnly
		})
		if err != nil && err != errFirstOnly {
			return err
		}
	}
	return nil
}

type countReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type countWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}
