package crdt_test

import (
	"math"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"pgregory.net/rapid"
)

// While the wall clock is sane — it runs forward, or steps back by so
// little that what the clock holds stays within MaxLead of it — Clock.Now
// is strictly increasing, never behind the wall
// clock, and after every stamp it adopted; whatever is observed in
// between, stamps far ahead of the wall clock included.
func TestClockNowStrictlyIncreasing(t *testing.T) {
	lead := crdt.MaxLead.Milliseconds()
	rapid.Check(t, func(t *rapid.T) {
		var c crdt.Clock
		var last crdt.HLC
		wall := rapid.Int64Range(1, 1<<41).Draw(t, "start")
		top := wall // the greatest wall clock reading so far
		for i := range rapid.IntRange(1, 200).Draw(t, "steps") {
			wall += rapid.Int64Range(-5000, 5000).Draw(t, "wall step")
			wall = max(wall, top-lead/2) // sane: never far behind its best
			top = max(top, wall)
			if rapid.IntRange(0, 3).Draw(t, "observe?") == 0 {
				// A peer up to MaxLead/2 ahead of the wall clock (so that
				// with the wall clock at most MaxLead/2 behind its best,
				// what was adopted stays within reach), or beyond MaxLead.
				ahead := rapid.Int64Range(-3000, lead/2).Draw(t, "seen ahead")
				if rapid.IntRange(0, 3).Draw(t, "beyond?") == 0 {
					ahead = rapid.Int64Range(lead+1, 2*lead).Draw(t, "seen beyond")
				}
				seen := crdt.HLC{Wall: wall + ahead, Logical: rapid.Uint32Range(0, 1000).Draw(t, "seen logical")}
				c.Observe(seen, wall)
				adopt := seen.Wall <= wall+lead
				if adopt && c.Last().Compare(seen) < 0 {
					t.Fatalf("Last %v is before observed %v, within MaxLead of wall %d", c.Last(), seen, wall)
				}
				if !adopt && c.Last() == seen {
					t.Fatalf("adopted %v, beyond MaxLead of wall %d", seen, wall)
				}
				if adopt && seen.Compare(last) > 0 {
					last = seen
				}
			}
			now := c.Now(wall)
			if now.Compare(last) <= 0 {
				t.Fatalf("step %d: Now(%d) = %v, not after %v", i, wall, now, last)
			}
			if now.Wall < wall {
				t.Fatalf("step %d: Now(%d) = %v, behind the wall clock", i, wall, now)
			}
			if c.Last() != now {
				t.Fatalf("Last %v, Now returned %v", c.Last(), now)
			}
			last = now
		}
	})
}

// Whatever the wall clock does (jumps a year either way) and whatever is
// observed, Now never stamps beyond wall+MaxLead nor behind the wall
// clock: a node's own ops always pass its own drift check, and a peer's
// whose clock is less than MaxDrift-MaxLead behind.
func TestClockNowWithinMaxLead(t *testing.T) {
	lead := crdt.MaxLead.Milliseconds()
	const year = 365 * 24 * 3600 * 1000
	rapid.Check(t, func(t *rapid.T) {
		var c crdt.Clock
		wall := rapid.Int64Range(1, 1<<41).Draw(t, "start")
		for i := range rapid.IntRange(1, 100).Draw(t, "steps") {
			switch rapid.IntRange(0, 4).Draw(t, "event") {
			case 0:
				wall += rapid.Int64Range(-year, year).Draw(t, "jump")
				wall = max(wall, 1)
			case 1:
				c.Observe(crdt.HLC{
					Wall:    wall + rapid.Int64Range(-year, year).Draw(t, "seen wall"),
					Logical: rapid.SampledFrom([]uint32{0, 1, math.MaxUint32 - 1, math.MaxUint32}).Draw(t, "seen logical"),
				}, wall)
			case 2:
				// A stamp at the limit with a spent counter.
				c.Observe(crdt.HLC{Wall: wall + lead, Logical: math.MaxUint32 - rapid.Uint32Range(0, 1).Draw(t, "spent")}, wall)
			default:
				wall += rapid.Int64Range(0, 10).Draw(t, "tick")
			}
			now := c.Now(wall)
			if now.Wall > wall+lead || now.Wall < wall {
				t.Fatalf("step %d: Now(%d) = %v, outside [wall, wall+MaxLead]", i, wall, now)
			}
			if c.Ahead(wall) {
				t.Fatalf("step %d: Ahead(%d) just after Now", i, wall)
			}
		}
	})
}

// A node whose clock ran far ahead, then was put right, stamps from the
// wall clock again: at once (Now restarts), and after a restart (its own
// last op, loaded, is not adopted).
func TestClockRecoversFromFutureStamps(t *testing.T) {
	const real, year = 1_700_000_000_000, 365 * 24 * 3600 * 1000
	var c crdt.Clock
	future := c.Now(real + year)
	if !c.Ahead(real) {
		t.Fatal("Ahead is false for a clock a year ahead")
	}
	if got, want := c.Now(real), (crdt.HLC{Wall: real}); got != want {
		t.Fatalf("Now(%d) after a year ahead = %+v, want %+v", int64(real), got, want)
	}
	if got, want := c.Now(real), (crdt.HLC{Wall: real, Logical: 1}); got != want {
		t.Fatalf("then Now(%d) = %+v, want %+v", int64(real), got, want)
	}

	var loaded crdt.Clock
	loaded.Observe(future, real)
	if got, want := loaded.Now(real), (crdt.HLC{Wall: real}); got != want {
		t.Fatalf("after loading a stamp a year ahead, Now(%d) = %+v, want %+v", int64(real), got, want)
	}
}

func TestClockWallBackwards(t *testing.T) {
	var c crdt.Clock
	steps := []struct {
		wall int64
		want crdt.HLC
	}{
		{100, crdt.HLC{Wall: 100}},
		{100, crdt.HLC{Wall: 100, Logical: 1}},
		{90, crdt.HLC{Wall: 100, Logical: 2}}, // the wall clock stepped back
		{50, crdt.HLC{Wall: 100, Logical: 3}},
		{101, crdt.HLC{Wall: 101}},
	}
	for _, s := range steps {
		if got := c.Now(s.wall); got != s.want {
			t.Fatalf("Now(%d) = %+v, want %+v", s.wall, got, s.want)
		}
	}
}

func TestClockObserve(t *testing.T) {
	var c crdt.Clock
	c.Now(100)
	c.Observe(crdt.HLC{Wall: 200, Logical: 7}, 150) // a peer ahead of us
	if got, want := c.Now(150), (crdt.HLC{Wall: 200, Logical: 8}); got != want {
		t.Fatalf("after observing 200.7, Now(150) = %+v, want %+v", got, want)
	}
	c.Observe(crdt.HLC{Wall: 120}, 150) // a peer behind us changes nothing
	if got, want := c.Now(150), (crdt.HLC{Wall: 200, Logical: 9}); got != want {
		t.Fatalf("after observing an older stamp, Now(150) = %+v, want %+v", got, want)
	}
	if got, want := c.Now(300), (crdt.HLC{Wall: 300}); got != want {
		t.Fatalf("Now(300) = %+v, want %+v", got, want)
	}
	lead := crdt.MaxLead.Milliseconds()
	c.Observe(crdt.HLC{Wall: 300 + lead + 1}, 300) // more than MaxLead ahead: not followed
	if got, want := c.Now(300), (crdt.HLC{Wall: 300, Logical: 1}); got != want {
		t.Fatalf("after observing a stamp beyond MaxLead, Now(300) = %+v, want %+v", got, want)
	}
	c.Observe(crdt.HLC{Wall: 300 + lead}, 300) // MaxLead ahead: followed
	if got, want := c.Now(300), (crdt.HLC{Wall: 300 + lead, Logical: 1}); got != want {
		t.Fatalf("after observing a stamp MaxLead ahead, Now(300) = %+v, want %+v", got, want)
	}
}

// A peer may stamp an op with the greatest logical counter (the wire
// allows any uint32) and a wall time within MaxDrift. After observing it,
// Now must still return a later timestamp; a counter that wraps to 0 would
// order our next op before the one we just saw.
func TestClockLogicalOverflow(t *testing.T) {
	var c crdt.Clock
	seen := crdt.HLC{Wall: 1000, Logical: math.MaxUint32}
	c.Observe(seen, 900)
	if got := c.Now(900); got.Compare(seen) <= 0 {
		t.Fatalf("Now after observing %+v = %+v, not after it", seen, got)
	}
}

func TestHLCCompare(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		gen := rapid.Custom(func(t *rapid.T) crdt.HLC {
			return crdt.HLC{Wall: rapid.Int64Range(-2, 2).Draw(t, "wall"), Logical: rapid.Uint32Range(0, 2).Draw(t, "logical")}
		})
		a, b, c := gen.Draw(t, "a"), gen.Draw(t, "b"), gen.Draw(t, "c")
		if a.Compare(b) != -b.Compare(a) {
			t.Fatal("not antisymmetric")
		}
		if (a.Compare(b) == 0) != (a == b) {
			t.Fatal("equal stamps compare unequal")
		}
		if a.Compare(b) <= 0 && b.Compare(c) <= 0 && a.Compare(c) > 0 {
			t.Fatal("not transitive")
		}
	})
}
