package p2p

import (
	"fmt"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
)

// rvSim drives a schedule on a made-up clock: each query takes 50 ms
// and costs cost bytes; lookups find no one, advertisements succeed.
type rvSim struct {
	s      *rvSchedule
	now    time.Time
	t0     time.Time
	lonely map[crdt.ID]bool
	cost   int64
	spent  int64
	log    []rvTask
	at     []time.Time
}

func newRVSim(groups []crdt.ID, lonely map[crdt.ID]bool, cost int64) *rvSim {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	s := newRVSchedule(t0)
	s.setGroups(groups)
	return &rvSim{s: s, now: t0, t0: t0, lonely: lonely, cost: cost}
}

// run makes queries until d has passed, checking the budget before
// each: what was spent before a query starts never exceeds the burst
// plus what the time since the start earned.
func (m *rvSim) run(t *testing.T, d time.Duration) {
	t.Helper()
	end := m.now.Add(d)
	for m.now.Before(end) {
		task, wait, ok := m.s.next(m.now, func(g crdt.ID) bool { return m.lonely[g] })
		if !ok {
			if wait == 0 {
				wait = rendezvousMax
			}
			m.now = m.now.Add(wait)
			continue
		}
		earned := float64(rvBurst) + float64(rvRate)*m.now.Sub(m.t0).Minutes()
		if float64(m.spent) > earned {
			t.Fatalf("at %v: %d bytes spent before query %d, budget %.0f", m.now.Sub(m.t0), m.spent, len(m.log), earned)
		}
		m.log = append(m.log, task)
		m.at = append(m.at, m.now)
		m.now = m.now.Add(50 * time.Millisecond)
		m.spent += m.cost
		m.s.done(m.now, task, m.cost, task.kind == rvAdvertise)
	}
}

func testIDs(n int) []crdt.ID {
	ids := make([]crdt.ID, n)
	for i := range ids {
		copy(ids[i][:], fmt.Sprintf("group %04d", i))
	}
	return ids
}

// The schedule spends its budget on lonely groups first, then on a
// group added while running, and on the groups read elsewhere only out
// of the budget above the reserve; it never spends more than it earns.
func TestRendezvousScheduleOrderAndBudget(t *testing.T) {
	ids := testIDs(300)
	lonely := map[crdt.ID]bool{ids[7]: true, ids[150]: true, ids[299]: true}
	const cost = 1 << 10
	m := newRVSim(ids, lonely, cost)
	m.run(t, 10*time.Second)

	// The lonely groups come first: each looked up, then advertised.
	want := []rvTask{
		{ids[7], rvLookup}, {ids[7], rvAdvertise},
		{ids[150], rvLookup}, {ids[150], rvAdvertise},
		{ids[299], rvLookup}, {ids[299], rvAdvertise},
	}
	if len(m.log) < len(want) {
		t.Fatalf("%d queries in 10 s, want at least %d", len(m.log), len(want))
	}
	for i, w := range want {
		if m.log[i] != w {
			t.Fatalf("query %d: %v of %s, want %v of %s", i, m.log[i].kind, m.log[i].group.Short(), w.kind, w.group.Short())
		}
	}
	// Then groups read elsewhere, advertised only down to the reserve:
	// the burst above it, and what 10 s earn.
	rest := len(m.log) - len(want)
	if most := (rvBurst-rvReserve)/cost + 3; rest > most {
		t.Fatalf("%d advertisements of groups read elsewhere in 10 s, want at most %d", rest, most)
	}
	for _, task := range m.log[len(want):] {
		if lonely[task.group] || task.kind != rvAdvertise {
			t.Fatalf("after the lonely groups: %v of %s", task.kind, task.group.Short())
		}
	}

	// A group added while running goes before the others at once, even
	// with the budget down at the reserve: lonely, looked up and
	// advertised; read elsewhere, advertised.
	fresh, freshRead := crdt.ID{0xf1}, crdt.ID{0xf2}
	lonely[fresh] = true
	m.s.setGroups(append(ids, fresh, freshRead))
	n := len(m.log)
	m.run(t, 200*time.Millisecond)
	got := m.log[n:]
	if len(got) < 3 || got[0] != (rvTask{fresh, rvLookup}) || got[1] != (rvTask{fresh, rvAdvertise}) || got[2] != (rvTask{freshRead, rvAdvertise}) {
		t.Fatalf("after adding two groups: %v", got)
	}

	// A group that turns lonely is looked up before the advertisements
	// of groups read elsewhere go on.
	lonely[ids[42]] = true
	n = len(m.log)
	m.run(t, 10*time.Second)
	if len(m.log) == n || m.log[n] != (rvTask{ids[42], rvLookup}) {
		t.Fatalf("after a group turned lonely: %v", m.log[n:])
	}

	// Over two days: every group is advertised (12 hours apart at most
	// for those read elsewhere, once an hour for the lonely ones), the
	// lonely groups' lookups back off to rendezvousMax, and the spending
	// stays within the budget (checked before every query by run).
	m.run(t, 48*time.Hour)
	last := map[rvTask]time.Time{}
	gap := map[rvTask]time.Duration{}
	lookups := map[crdt.ID]int{}
	for i, task := range m.log {
		if i > 0 && m.at[i].Sub(m.t0) > time.Hour {
			if prev, ok := last[task]; ok {
				gap[task] = max(gap[task], m.at[i].Sub(prev))
			}
		}
		last[task] = m.at[i]
		if task.kind == rvLookup && m.at[i].Sub(m.t0) > 24*time.Hour {
			lookups[task.group]++
		}
	}
	for _, g := range append(ids, fresh, freshRead) {
		adv := rvTask{g, rvAdvertise}
		if m.now.Sub(last[adv]) > advertiseReadEvery+time.Hour {
			t.Fatalf("group %s last advertised %v before the end", g.Short(), m.now.Sub(last[adv]))
		}
		limit := advertiseReadEvery + time.Hour
		if lonely[g] {
			limit = advertiseEvery + time.Minute
		}
		if gap[adv] > limit {
			t.Fatalf("group %s (lonely %v): %v between advertisements", g.Short(), lonely[g], gap[adv])
		}
	}
	for g := range lonely {
		// One lookup per rendezvousMax (±1) over the second day.
		if n, most := lookups[g], int(24*time.Hour/rendezvousMax)+1; n == 0 || n > most {
			t.Fatalf("lonely group %s: %d lookups on the second day, want 1..%d", g.Short(), n, most)
		}
	}
	t.Logf("%d queries in 48 h over %d groups, %d KB", len(m.log), len(ids)+2, m.spent>>10)
}

// When the node rejoins the DHT every group is advertised again, within
// the budget: a burst at once, then at the rate.
func TestRendezvousScheduleRejoin(t *testing.T) {
	ids := testIDs(400)
	const cost = 450 // an advertisement in a DHT of 3 (BenchmarkDHTQueryBytes)
	m := newRVSim(ids, map[crdt.ID]bool{}, cost)
	m.run(t, 2*time.Hour)
	n := len(m.log)
	if n != len(ids) {
		t.Fatalf("%d queries in the first 2 hours, want one advertisement per group (%d)", n, len(ids))
	}
	m.s.rejoined()
	m.run(t, time.Hour)
	again := map[crdt.ID]bool{}
	for _, task := range m.log[n:] {
		again[task.group] = true
	}
	if len(again) != len(ids) {
		t.Fatalf("%d groups advertised again within an hour of rejoining, want %d", len(again), len(ids))
	}
	// Within the budget: 400 × 450 B, less the burst above the reserve,
	// at rvRate.
	minutes := m.at[len(m.log)-1].Sub(m.at[n]).Minutes()
	if want := float64(len(ids)*cost-(rvBurst-rvReserve))/float64(rvRate) - 1; minutes < want {
		t.Fatalf("re-advertised in %.1f min, faster than the budget allows (%.1f min)", minutes, want)
	}
	t.Logf("400 groups re-advertised in %.1f min after rejoining", minutes)
}
