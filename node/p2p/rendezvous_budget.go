package p2p

import (
	"time"

	"github.com/mutual-aid/mutual/crdt"
)

// The rendezvous schedule: which DHT query comes next, and when, within
// a budget of bytes on the wire. It only computes: the loop
// (rendezvous.go) passes the time, the groups and which of them are
// lonely (no connected reader) in, runs the query it is given and says
// what it cost.
//
// Why bytes and not queries: one query costs about 0.4 KB in a DHT of 3
// nodes and 34 KB in one of 20 (kad-dht asks the 20 nodes closest to
// the key, each answering with 20 peer records; BenchmarkDHTQueryBytes),
// so a number of queries a minute that suits one is a hundred times off
// in the other. The loop charges each query with the bytes the node's
// streams other than gossip and catch-up carried while it ran, which
// also counts whatever else ran meanwhile: it errs on the side of
// spending less.
//
// Order, first what matters most:
//  1. groups added while running (fresh): looked up at once if lonely,
//     and advertised;
//  2. lonely groups: lookups (each group's back-off doubling while they
//     find no one) and advertisements, earliest due first;
//  3. groups with a connected reader: advertisements only, every
//     advertiseReadEvery, and only out of the budget above
//     rvReserve — pex and catch-up already serve these, and the
//     reserve keeps the budget for a group that turns up or turns
//     lonely.

// Budget. Variables for tests.
var (
	// rvRate is the bytes a minute the node's own queries may cost. With
	// every node spending it, each carries about twice that (its
	// queries, and its answers to the others').
	rvRate = 12 << 10
	// rvBurst is the most the budget holds; a node starts with it full.
	rvBurst = 64 << 10
	// rvReserve: advertisements of groups with a connected reader wait
	// while the budget is below it.
	rvReserve = 48 << 10
)

// rvMinCost is the least a query is charged with, in bytes (a lookup
// in a DHT of 3 costs ≈ 300).
const rvMinCost = 256

const (
	// advertiseEvery is how often a lonely group is advertised again.
	// The records live 48 hours on the nodes that hold them (kad-dht's
	// provider validity); an hour keeps them on the nodes that are up
	// now in a network of laptops that come and go.
	advertiseEvery = time.Hour
	// advertiseReadEvery is how often a group with a connected reader
	// is advertised again: its readers advertise it too, and peer
	// exchange tells a newcomer who reaches one of them about this node.
	advertiseReadEvery = 12 * time.Hour
	// advertiseRetry is when an advertisement that failed is tried again.
	advertiseRetry = 10 * time.Minute
)

// rvKind is what a query does.
type rvKind int

const (
	rvAdvertise rvKind = iota
	rvLookup
)

func (k rvKind) String() string {
	if k == rvLookup {
		return "lookup"
	}
	return "advertise"
}

// rvTask is one query: advertise or look up one group.
type rvTask struct {
	group crdt.ID
	kind  rvKind
}

// rvGroup is the schedule's state of one group.
type rvGroup struct {
	advertised time.Time     // last advertisement; zero: never since the node (re)joined the DHT
	failed     bool          // the last advertisement failed
	looked     time.Time     // last lookup; zero: never
	lookEvery  time.Duration // wait between lookups while lonely: doubles while they find no one
	fresh      bool          // added while running, not yet advertised (and looked up, if lonely)
}

// rvSchedule is the budget and the groups' state. Not safe for
// concurrent use: the rendezvous loop owns it.
type rvSchedule struct {
	balance float64 // bytes that may be spent now; may go below zero after a costly query
	at      time.Time
	started bool // groups seen later are fresh
	groups  map[crdt.ID]*rvGroup
}

func newRVSchedule(now time.Time) *rvSchedule {
	return &rvSchedule{balance: float64(rvBurst), at: now, groups: map[crdt.ID]*rvGroup{}}
}

// refill adds what the time since the last call earned, up to rvBurst.
func (s *rvSchedule) refill(now time.Time) {
	if d := now.Sub(s.at); d > 0 {
		s.balance = min(s.balance+float64(rvRate)*d.Minutes(), float64(rvBurst))
		s.at = now
	}
}

// setGroups sets the groups the node replicates. Those not seen before
// are fresh, except at the first call (the groups the node started
// with); those gone are forgotten.
func (s *rvSchedule) setGroups(groups []crdt.ID) {
	keep := make(map[crdt.ID]bool, len(groups))
	for _, g := range groups {
		keep[g] = true
		if s.groups[g] == nil {
			s.groups[g] = &rvGroup{fresh: s.started}
		}
	}
	for g := range s.groups {
		if !keep[g] {
			delete(s.groups, g)
		}
	}
	s.started = true
}

// rejoined forgets every advertisement: the records may be gone with
// the nodes that held them. Everything is advertised again, within the
// budget.
func (s *rvSchedule) rejoined() {
	for _, st := range s.groups {
		st.advertised, st.failed = time.Time{}, false
	}
}

// due returns when t is due (the zero time: at once), and its class
// (0 fresh, 1 lonely, 2 read elsewhere); ok is false if t is not to be
// done at all now.
func (s *rvSchedule) due(st *rvGroup, kind rvKind, lonely bool) (at time.Time, class int, ok bool) {
	switch kind {
	case rvLookup:
		if !lonely {
			return time.Time{}, 0, false
		}
		if st.fresh && st.looked.IsZero() {
			return time.Time{}, 0, true
		}
		if st.looked.IsZero() {
			return time.Time{}, 1, true
		}
		return st.looked.Add(st.lookEvery), 1, true
	default:
		switch {
		case st.fresh && st.advertised.IsZero():
			return time.Time{}, 0, true
		case st.advertised.IsZero():
			at = time.Time{}
		case st.failed:
			at = st.advertised.Add(advertiseRetry)
		case lonely:
			at = st.advertised.Add(advertiseEvery)
		default:
			at = st.advertised.Add(advertiseReadEvery)
		}
		if lonely {
			return at, 1, true
		}
		return at, 2, true
	}
}

// next returns the query to make now, if one is due and the budget
// allows it; otherwise how long until one will be (ok false and wait
// zero: nothing to do at all).
func (s *rvSchedule) next(now time.Time, lonely func(crdt.ID) bool) (task rvTask, wait time.Duration, ok bool) {
	s.refill(now)
	// When the budget allows a query of each class.
	var allowed [3]time.Time
	for class := range allowed {
		floor := 0.0
		if class == 2 {
			floor = float64(rvReserve)
		}
		allowed[class] = now
		if s.balance < floor || floor == 0 && s.balance <= 0 {
			need := max(floor-s.balance, 1)
			allowed[class] = now.Add(time.Duration(need / float64(rvRate) * float64(time.Minute)))
		}
	}
	var best rvTask
	var bestReady, bestAt time.Time
	bestClass := -1 // none yet
	for g, st := range s.groups {
		l := lonely(g)
		for _, kind := range [...]rvKind{rvLookup, rvAdvertise} {
			at, class, ok := s.due(st, kind, l)
			if !ok {
				continue
			}
			ready := allowed[class]
			if at.After(ready) {
				ready = at
			}
			t := rvTask{g, kind}
			if bestClass < 0 || ready.Before(bestReady) ||
				ready.Equal(bestReady) && before(t, at, class, best, bestAt, bestClass) {
				best, bestReady, bestAt, bestClass = t, ready, at, class
			}
		}
	}
	switch {
	case bestClass < 0:
		return rvTask{}, 0, false
	case bestReady.After(now):
		return rvTask{}, bestReady.Sub(now), false
	}
	return best, 0, true
}

// before orders tasks that may run at the same time: by class, then
// the earliest due, then by group, a group's lookup before its
// advertisement (a lookup connects the node; an advertisement helps
// others find it).
func before(a rvTask, aAt time.Time, aClass int, b rvTask, bAt time.Time, bClass int) bool {
	switch {
	case aClass != bClass:
		return aClass < bClass
	case !aAt.Equal(bAt):
		return aAt.Before(bAt)
	case a.group != b.group:
		return string(a.group[:]) < string(b.group[:])
	}
	return a.kind == rvLookup && b.kind != rvLookup
}

// done records a query made: its cost in bytes, and whether it
// succeeded (an advertisement stored, a lookup connected to someone).
func (s *rvSchedule) done(now time.Time, t rvTask, cost int64, success bool) {
	s.refill(now)
	s.balance -= float64(cost)
	st := s.groups[t.group]
	if st == nil {
		return
	}
	switch t.kind {
	case rvLookup:
		st.looked = now
		if success {
			st.lookEvery = rendezvousMin
		} else {
			st.lookEvery = min(max(2*st.lookEvery, rendezvousMin), rendezvousMax)
		}
	default:
		// A fresh group was looked up first if lonely (a group's lookup
		// goes before its advertisement): it is fresh no more.
		st.advertised, st.failed, st.fresh = now, !success, false
	}
}
