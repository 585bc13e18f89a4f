package crdt

import (
	"math"
	"time"
)

// MaxDrift is how far ahead of the receiver's wall clock an op's HLC may
// be. Ops stamped further in the future are ignored (not stored, not
// forwarded, the sender not punished): they are fetched again by catch-up
// once the receiver's clock has caught up.
const MaxDrift = 5 * time.Minute

// MaxLead is how far ahead of its own wall clock a node may stamp an op:
// it adopts a peer's later stamp (so that what it writes next is ordered
// after what it saw) only up to there. It is half of MaxDrift; the other
// half is the room left for receivers whose clocks are behind the
// sender's.
const MaxLead = MaxDrift / 2

// HLC is a hybrid logical clock timestamp: wall-clock milliseconds since
// the Unix epoch plus a logical counter that orders events within one
// millisecond or after a clock step backwards.
type HLC struct {
	Wall    int64  // Unix milliseconds
	Logical uint32 // tie breaker within Wall
}

// Compare orders timestamps by wall time, then logical counter.
func (h HLC) Compare(o HLC) int {
	switch {
	case h.Wall < o.Wall:
		return -1
	case h.Wall > o.Wall:
		return 1
	case h.Logical < o.Logical:
		return -1
	case h.Logical > o.Logical:
		return 1
	}
	return 0
}

// Time returns the wall part as a time.Time.
func (h HLC) Time() time.Time { return time.UnixMilli(h.Wall).UTC() }

// IsZero reports whether h is the zero timestamp.
func (h HLC) IsZero() bool { return h == HLC{} }

// Clock issues HLC timestamps. It is a plain value: the caller reads the
// wall clock and passes it in, so tests control time completely.
//
// A Clock never issues a stamp beyond wall+MaxLead, and never adopts one
// either: so a node always stamps its ops within what it, and any peer
// whose clock is less than MaxDrift-MaxLead behind its own, accepts. A
// clock that holds a later time — the wall clock stepped back, or was
// ahead when the last stamp was made — starts again from the wall clock.
type Clock struct {
	last HLC
}

// limit is the greatest wall time a Clock may issue at wallMillis.
func limit(wallMillis int64) int64 { return wallMillis + MaxLead.Milliseconds() }

// Now returns the timestamp for an op made at wall clock wallMillis. It is
// at least wallMillis and at most wallMillis+MaxLead. While the wall
// clock does not step back by more than MaxLead, it is strictly greater
// than every timestamp issued or adopted before. When the clock holds a
// time beyond wallMillis+MaxLead, Now starts again from wallMillis: the
// stamp may then be before ones issued earlier (see Ahead).
func (c *Clock) Now(wallMillis int64) HLC {
	lim := limit(wallMillis)
	switch {
	case wallMillis > c.last.Wall, c.last.Wall > lim:
		c.last = HLC{Wall: wallMillis}
	case c.last.Logical < math.MaxUint32:
		c.last.Logical++
	case c.last.Wall < lim:
		// The counter is spent (a peer may stamp an op so): move to the
		// next millisecond rather than wrap around.
		c.last = HLC{Wall: c.last.Wall + 1}
	default:
		// Spent at the limit too (Observe prevents it; a wall clock that
		// stepped back exactly so may not): start again.
		c.last = HLC{Wall: wallMillis}
	}
	return c.last
}

// Ahead reports whether the clock holds a time beyond what it may issue at
// wallMillis, so that the next Now starts again from the wall clock: the
// wall clock stepped back by more than MaxLead, or was that far ahead
// when the last stamp was made.
func (c *Clock) Ahead(wallMillis int64) bool { return c.last.Wall > limit(wallMillis) }

// Observe merges a timestamp seen on an op (another node's, or this
// node's own when it loads its log), so that the next Now is after it,
// if the wall clock reads wallMillis. A timestamp beyond what Now may
// issue at wallMillis is not adopted: a node does not follow a clock
// that runs more than MaxLead ahead of its own, its own past one
// included.
func (c *Clock) Observe(h HLC, wallMillis int64) {
	if h.Compare(c.last) > 0 && h.Compare(HLC{Wall: limit(wallMillis), Logical: math.MaxUint32}) < 0 {
		c.last = h
	}
}

// Last returns the last timestamp issued or adopted.
func (c *Clock) Last() HLC { return c.last }
