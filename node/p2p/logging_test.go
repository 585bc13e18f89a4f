package p2p

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// A libp2p warning that repeats (the public DHT redials its bootstrap
// nodes every 2 minutes, and libp2p warns "Failed to resolve addr" for
// each /dnsaddr that does not resolve) reaches the node's log once per
// libp2pRepeatEvery, other warnings meanwhile as they come.
func TestLibp2pRepeatedWarningsDropped(t *testing.T) {
	lines := &countingHandler{}
	r := &routeHandler{}
	saved := routeTarget.Load()
	var h slog.Handler = lines
	routeTarget.Store(&h)
	t.Cleanup(func() { routeTarget.Store(saved) })

	t0 := time.Date(2026, 11, 30, 13, 0, 0, 0, time.UTC)
	send := func(at time.Duration, msg string) {
		rec := slog.NewRecord(t0.Add(at), slog.LevelWarn, msg, 0)
		if err := r.Handle(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 30 { // an hour of it, 4 a round
		for range 4 {
			send(time.Duration(i)*2*time.Minute, "Failed to resolve addr (test)")
		}
	}
	send(time.Minute, "something else (test)")
	send(libp2pRepeatEvery, "Failed to resolve addr (test)")
	got := lines.all()
	want := []string{"WARN Failed to resolve addr (test)", "WARN something else (test)", "WARN Failed to resolve addr (test)"}
	if len(got) != len(want) {
		t.Fatalf("forwarded %d lines (%q, ...), want %q", len(got), got[:min(4, len(got))], want)
	}
	for i := range want {
		if got[i][len(got[i])-len(want[i]):] != want[i] {
			t.Fatalf("forwarded %q, want %q", got, want)
		}
	}
}
