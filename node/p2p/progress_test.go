package p2p

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/node/catchup"
)

// pausingReplica holds its second Ingest until resume is closed, so that
// a test sees a catch-up session midway: one batch stored, more coming.
type pausingReplica struct {
	catchup.Replica
	mu     sync.Mutex
	calls  int
	paused chan struct{} // closed when the second Ingest waits
	resume chan struct{}
}

func (r *pausingReplica) Ingest(ctx context.Context, raws [][]byte) (int, error) {
	r.mu.Lock()
	r.calls++
	pause := r.calls == 2
	r.mu.Unlock()
	if pause {
		close(r.paused)
		select {
		case <-r.resume:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return r.Replica.Ingest(ctx, raws)
}

// A catch-up of thousands of ops shows, while it runs, how many ops have
// arrived of how many are coming, on the receiving side only, and nothing
// once it is done.
func TestCatchUpProgress(t *testing.T) {
	tg := newTestGroup(t)
	ra, rb := tg.replica(t, tg.a), tg.replica(t, tg.b)
	const n = 3000 // three Ops frames: MaxBatchBytes holds about 1,300 of these
	posts := make([][]byte, n)
	for i := range posts {
		posts[i] = tg.a.post(t, tg.id, fmt.Sprint("offered while b was away ", i))
	}
	if _, err := ra.Ingest(context.Background(), posts); err != nil {
		t.Fatal(err)
	}
	pb := &pausingReplica{Replica: rb, paused: make(chan struct{}), resume: make(chan struct{})}
	a := start(t, loopbackConfig(t, tg.a), ra)
	b := start(t, loopbackConfig(t, tg.b), pb)
	resumed := false
	defer func() {
		if !resumed {
			close(pb.resume)
		}
	}()
	connect(t, b, a)

	select {
	case <-pb.paused:
	case <-time.After(3 * time.Minute):
		t.Fatal("no second batch arrived")
	}
	s := b.Syncing(a.ID())
	if s == nil || s.Done <= 0 || s.Done >= s.Total || s.Total != n {
		t.Fatalf("b syncing from a midway = %+v, want 0 < done < total = %d", s, n)
	}
	if got := peerInfo(t, b, a.ID().String()).Syncing; got == nil || *got != *s {
		t.Fatalf("b's Peers() entry for a says syncing %+v, want %+v", got, s)
	}
	if s := a.Syncing(b.ID()); s != nil {
		t.Fatalf("a, which receives nothing, says syncing %+v from b", s)
	}

	close(pb.resume)
	resumed = true
	// Generous deadlines: under the race detector on a loaded machine,
	// checking thousands of signatures takes a while.
	waitFor(t, 3*time.Minute, "b to catch up", func() bool { return converged(tg.id, len(tg.setup)+n, ra, rb) })
	waitFor(t, time.Minute, "the session to end", func() bool { return b.Syncing(a.ID()) == nil })
	if got := peerInfo(t, b, a.ID().String()).Syncing; got != nil {
		t.Fatalf("after the session b's Peers() entry for a says syncing %+v", got)
	}
}

func peerInfo(t *testing.T, h *Host, id string) PeerInfo {
	t.Helper()
	for _, p := range h.Peers() {
		if p.ID.String() == id {
			return p
		}
	}
	t.Fatalf("%s not among the peers", id)
	return PeerInfo{}
}
