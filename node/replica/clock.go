package replica

import (
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/mutual-aid/mutual/crdt"
)

// Clock warnings. A node whose wall clock is wrong stamps its ops wrong:
// too far ahead and its peers ignore them until their clocks catch up
// (crdt.MaxDrift); and a post edited after the clock is put right may
// lose to fields set while it was ahead. Nothing here changes what the
// node does (crdt.Clock already keeps its stamps within crdt.MaxLead of
// the wall clock); it tells the person running it, in the log.
const (
	// warnEvery rate-limits each kind of clock warning.
	warnEvery = time.Minute
	// stepTolerance is how far the wall clock may step back unremarked:
	// goroutines read it in one order and report in another.
	stepTolerance = time.Second
	// aheadOfPeers is how far ahead of the stamps on peers' live ops our
	// wall clock must be to warn: far beyond gossip latency and NTP
	// error, and well before peers start ignoring our ops (MaxDrift).
	aheadOfPeers = time.Minute
	// peerWindow is how long a peer's sample counts.
	peerWindow = 10 * time.Minute
)

// Kinds of clock warning, each rate-limited on its own.
const (
	warnStepBack = iota
	warnAheadOfPeers
	warnOwnFuture
	warnKinds
)

// clockWatch watches the wall clock as the replica reads it, and the
// stamps on peers' live ops, and warns when they look wrong.
type clockWatch struct {
	log *slog.Logger

	mu       sync.Mutex
	lastWall int64                     // Unix ms of the last reading; 0 before the first
	warned   [warnKinds]time.Time      // when each kind last warned
	peers    map[crdt.PublicKey]sample // each author's latest live op
}

// sample is how far behind our wall clock a peer's live op was stamped,
// and when it arrived.
type sample struct {
	behind int64 // ms
	at     time.Time
}

func newClockWatch(log *slog.Logger) *clockWatch {
	return &clockWatch{log: log, peers: map[crdt.PublicKey]sample{}}
}

// read notes a reading of the wall clock and warns if it stepped back.
// The wall reading is compared as Unix time: time.Time's monotonic
// reading would hide the step.
func (w *clockWatch) read(now time.Time) {
	ms := now.UnixMilli()
	w.mu.Lock()
	defer w.mu.Unlock()
	last := w.lastWall
	w.lastWall = ms
	if last != 0 && ms < last-stepTolerance.Milliseconds() {
		w.warn(now, warnStepBack, "wall clock stepped back: ops made now may be ordered before ones made earlier",
			"by", time.Duration(last-ms)*time.Millisecond, "now", now.UTC().Format(time.RFC3339))
	}
}

// ownFuture warns that this node's own last op is stamped beyond what it
// may stamp now: its clock ran ahead when the op was made.
func (w *clockWatch) ownFuture(now time.Time, stamp crdt.HLC) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.warn(now, warnOwnFuture, "this node's clock was ahead: its last op is stamped in the future; new ops are stamped from the wall clock, and until it passes that stamp, edits may lose to fields set then",
		"stamped", stamp.Time().Format(time.RFC3339), "ahead", time.Duration(stamp.Wall-now.UnixMilli())*time.Millisecond)
}

// live notes a peer's op that arrived by gossip, which is fresh: authors
// publish their ops when they make them, and pubsub forwards an op within
// seconds or never. Ops that catch-up brings are old and do not count.
//
// One peer's clock may be wrong, so the sign that ours is ahead is the
// median, over the peers heard from in the last peerWindow, of how far
// behind our wall clock their latest live op was stamped (the lower
// median: with two peers, both must be behind). A peer's clock that runs
// ahead, or stamps pushed up by its HLC, only make the warning rarer.
func (w *clockWatch) live(now time.Time, author crdt.PublicKey, stamp crdt.HLC) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.peers[author] = sample{behind: now.UnixMilli() - stamp.Wall, at: now}
	behind := make([]int64, 0, len(w.peers))
	for a, s := range w.peers {
		if d := now.Sub(s.at); d > peerWindow || d < 0 {
			delete(w.peers, a)
			continue
		}
		behind = append(behind, s.behind)
	}
	slices.Sort(behind)
	median := time.Duration(behind[(len(behind)-1)/2]) * time.Millisecond
	if median > aheadOfPeers {
		w.warn(now, warnAheadOfPeers, "wall clock is ahead of peers' stamps: this node's clock is probably fast (or theirs slow); set it right, or peers ignore this node's ops once it is more than "+crdt.MaxDrift.String()+" ahead",
			"ahead", median.Round(time.Second), "peers", len(behind))
	}
}

// warn logs msg unless the same kind was logged less than warnEvery ago.
// w.mu is held.
func (w *clockWatch) warn(now time.Time, kind int, msg string, args ...any) {
	if last := w.warned[kind]; !last.IsZero() {
		// time.Now readings carry a monotonic clock, so d is immune to
		// the wall clock's steps; a test's clock has none.
		if d := now.Sub(last); d >= 0 && d < warnEvery {
			return
		}
	}
	w.warned[kind] = now
	w.log.Warn(msg, args...)
}
