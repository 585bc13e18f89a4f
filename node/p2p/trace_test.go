package p2p

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mutual-aid/mutual/node/loglimit"
	"github.com/mutual-aid/mutual/node/logtest"
)

// GossipSub calls DropRPC for every message a full queue drops, thousands
// a second under load: the host's logger gets each, and a node's limited
// logger writes one line a minute per peer, with the count.
func TestGossipQueueFullIsRateLimitedPerPeer(t *testing.T) {
	var out logtest.Buffer
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lim := loglimit.New(slog.NewTextHandler(&out, nil), loglimit.Config{
		Distinct: []string{"remote"},
		Now:      func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
	})
	tg := newTestGroup(t)
	cfg := loopbackConfig(t, tg.a)
	cfg.Logger = slog.New(lim)
	h := start(t, cfg, tg.replica(t, tg.a))

	p1, p2 := peer.ID("peer-one"), peer.ID("peer-two")
	const n = 100_000
	for i := 0; i < n; i++ {
		h.mesh.DropRPC(&pubsub.RPC{}, p1)
		if i%10 == 0 {
			h.mesh.DropRPC(&pubsub.RPC{}, p2)
		}
	}
	const msg = "gossip queue full"
	got := out.Lines(msg)
	if len(got) != 2 || !strings.HasSuffix(got[0], "dropped_total=1") || !strings.HasSuffix(got[1], "dropped_total=2") {
		t.Fatalf("%d drops from two peers wrote %d lines; want the first of each:\n%s", n+n/10, len(got), strings.Join(got[:min(len(got), 5)], "\n"))
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	lim.Tick()
	got = out.Lines(msg)
	// Each count line is the peer's latest drop, with the others held back.
	want := []string{
		fmt.Sprintf("dropped_total=%d suppressed=%d", n+n/10, n-2),
		fmt.Sprintf("suppressed=%d", n/10-2),
	}
	if len(got) != 4 {
		t.Fatalf("after a minute the lines are:\n%s\nwant one more per peer, with its count", strings.Join(got, "\n"))
	}
	for _, w := range want {
		if !strings.Contains(got[2]+"\n"+got[3], w) {
			t.Fatalf("after a minute the lines are:\n%s\nnone has %q", strings.Join(got, "\n"), w)
		}
	}
}
