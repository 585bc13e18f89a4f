package catchup

import "sync/atomic"

// Progress is how far a session has come receiving ops, for a person
// waiting on a large catch-up ("syncing 1,200 of 5,000"). The session
// writes it; anyone may read it while it runs.
//
// The total comes from the version vectors exchanged before any op is
// sent: for each author the peer offers, the seqs past those this node
// holds. It is exact for a member catching up, the common case. Evidence
// of forks and notices come on top of it (done may pass total; Receiving
// never reports done above total), and a peer that may send only
// notices sends fewer: a session with it ends short of the total.
// Across the rounds of one session, both counts add up.
type Progress struct {
	done, total atomic.Int64
	receiving   atomic.Bool
}

// Receiving reports, while the session is receiving ops that are coming
// by the vectors, how many it has taken in (checked and stored, or
// dropped as already held or not storable) of how many are coming.
func (p *Progress) Receiving() (done, total int64, ok bool) {
	if !p.receiving.Load() {
		return 0, 0, false
	}
	done, total = p.done.Load(), p.total.Load()
	if total == 0 {
		return 0, 0, false
	}
	return min(done, total), total, true
}

// start begins a round's ops phase, with n ops coming.
func (p *Progress) start(n int64) {
	p.total.Add(n)
	p.receiving.Store(true)
}

func (p *Progress) add(n int) { p.done.Add(int64(n)) }

func (p *Progress) stop() { p.receiving.Store(false) }
