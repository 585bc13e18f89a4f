package crdt_test

import (
	"math"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"pgregory.net/rapid"
)

// Clock.Now is strictly increasing and never behind the wall clock passed
// in, whatever the wall clock does (steps back, stands still, jumps) and
// whatever timestamps are observed in between.
func TestClockNowStrictlyIncreasing(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var c crdt.Clock
		var last crdt.HLC
		wall := rapid.Int64Range(1, 1<<41).Draw(t, "start")
		for i := range rapid.IntRange(1, 200).Draw(t, "steps") {
			wall += rapid.Int64Range(-5000, 5000).Draw(t, "wall step")
			if rapid.IntRange(0, 3).Draw(t, "observe?") == 0 {
				seen := crdt.HLC{
					Wall:    wall + rapid.Int64Range(-3000, 3000).Draw(t, "seen wall"),
					Logical: rapid.Uint32Range(0, 1000).Draw(t, "seen logical"),
				}
				c.Observe(seen)
				if c.Last().Compare(seen) < 0 {
					t.Fatalf("Last %v is before observed %v", c.Last(), seen)
				}
				if seen.Compare(last) > 0 {
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
	c.Observe(crdt.HLC{Wall: 200, Logical: 7}) // a peer ahead of us
	if got, want := c.Now(150), (crdt.HLC{Wall: 200, Logical: 8}); got != want {
		t.Fatalf("after observing 200.7, Now(150) = %+v, want %+v", got, want)
	}
	c.Observe(crdt.HLC{Wall: 120}) // a peer behind us changes nothing
	if got, want := c.Now(150), (crdt.HLC{Wall: 200, Logical: 9}); got != want {
		t.Fatalf("after observing an older stamp, Now(150) = %+v, want %+v", got, want)
	}
	if got, want := c.Now(300), (crdt.HLC{Wall: 300}); got != want {
		t.Fatalf("Now(300) = %+v, want %+v", got, want)
	}
}

// A peer may stamp an op with the greatest logical counter (the wire
// allows any uint32) and a wall time within MaxDrift. After observing it,
// Now must still return a later timestamp; a counter that wraps to 0 would
// order our next op before the one we just saw.
func TestClockLogicalOverflow(t *testing.T) {
	var c crdt.Clock
	seen := crdt.HLC{Wall: 1000, Logical: math.MaxUint32}
	c.Observe(seen)
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
