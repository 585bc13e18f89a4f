package replica

import (
	"testing"
	"time"
)

// After a commit that answered several changes of this node, the next
// batch waits for that many (their callers send the next ones), plus
// those that were already waiting; a lone change never waits, and the
// wait is capped.
func TestLingerWaitsForTheLastCommitsCallers(t *testing.T) {
	var lg linger
	if want, d := lg.wait(false, 1); want != 0 || d != 0 {
		t.Fatalf("before any commit: wait for %d, %v", want, d)
	}
	lg.answered(1, time.Millisecond)
	if want, d := lg.wait(true, 1); want != 0 || d != 0 {
		t.Fatalf("after a lone change: wait for %d, %v", want, d)
	}
	lg.answered(8, 2*time.Millisecond)
	if want, d := lg.wait(false, 1); want != 8 || d != 2*time.Millisecond {
		t.Fatalf("after 8 changes, none waiting: wait for %d, %v; want 8, 2ms", want, d)
	}
	if want, _ := lg.wait(true, 7); want != 15 {
		t.Fatalf("after 8 changes, 7 waiting: wait for %d; want 15", want)
	}
	lg.answered(16, time.Second)
	if _, d := lg.wait(false, 1); d != maxLinger {
		t.Fatalf("after a slow commit: wait %v; want %v", d, maxLinger)
	}
}

// gather takes what waits, then waits for the changes it is told to
// (not for ingest requests), and stops waiting when the replica closes.
func TestGatherWaitsForChangesOnly(t *testing.T) {
	r := &Replica{cfg: Config{MaxBatch: 512}, reqs: make(chan *request, 8), stop: make(chan struct{})}
	local := func() *request { return &request{kind: reqLocal, local: &localOp{}} }
	r.reqs <- local()
	r.reqs <- &request{kind: reqIngest, ops: make([]decoded, 3)}
	g := gathered{max: r.cfg.MaxBatch}
	reqs := r.gather(nil, &g, 0, 0)
	if len(reqs) != 2 || g.locals != 1 || g.ops != 4 {
		t.Fatalf("took %d requests, %d changes, %d ops; want 2, 1, 4", len(reqs), g.locals, g.ops)
	}
	go func() {
		r.reqs <- &request{kind: reqIngest, ops: make([]decoded, 1)}
		r.reqs <- local()
		r.reqs <- local()
	}()
	reqs = r.gather(reqs, &g, 3, time.Minute)
	if len(reqs) != 5 || g.locals != 3 {
		t.Fatalf("took %d requests, %d changes; want 5, 3", len(reqs), g.locals)
	}
	close(r.stop)
	if reqs = r.gather(reqs, &g, 10, time.Minute); len(reqs) != 5 {
		t.Fatalf("took %d requests after close; want 5", len(reqs))
	}
}
