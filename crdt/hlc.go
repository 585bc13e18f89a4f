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
type Clock struct {
	last HLC
}

// Now returns a timestamp strictly greater than every timestamp issued
// or observed so far, and at least wallMillis.
func (c *Clock) Now(wallMillis int64) HLC {
	switch {
	case wallMillis > c.last.Wall:
		c.last = HLC{Wall: wallMillis}
	case c.last.Logical == math.MaxUint32:
		// The counter is spent (a peer may stamp an op so): move to the
		// next millisecond rather than wrap around.
		c.last = HLC{Wall: c.last.Wall + 1}
	default:
		c.last.Logical++
	}
	return c.last
}

// Observe merges a timestamp seen on another node's op, so that the next
// Now is after it. Callers observe only ops that passed the drift check.
func (c *Clock) Observe(h HLC) {
	if h.Compare(c.last) > 0 {
		c.last = h
	}
}

// Last returns the greatest timestamp issued or observed.
func (c *Clock) Last() HLC { return c.last }
