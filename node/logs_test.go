package node_test

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node"
	"github.com/mutual-aid/mutual/node/logtest"
	"github.com/mutual-aid/mutual/node/replica"
)

var suppressedAttr = regexp.MustCompile(`suppressed=(\d+)`)

// occurrences returns how many lines a rate-limited log stands for: each
// line is one occurrence plus the ones its suppressed= count says were
// dropped.
func occurrences(tb testing.TB, lines []string) int {
	tb.Helper()
	n := 0
	for _, l := range lines {
		n++
		if m := suppressedAttr.FindStringSubmatch(l); m != nil {
			k, err := strconv.Atoi(m[1])
			if err != nil {
				tb.Fatal(err)
			}
			n += k
		}
	}
	return n
}

// checkLimited fails unless lines holds at most one line of a kind per
// started minute of elapsed, plus the summary line written at shutdown.
func checkLimited(tb testing.TB, what string, lines []string, elapsed time.Duration) {
	tb.Helper()
	limit := 1 + int(elapsed/time.Minute) + 1
	if len(lines) > limit {
		show := lines
		if len(show) > 5 {
			show = show[:5]
		}
		tb.Fatalf("%d %q lines in %v (at most %d wanted); the first:\n%s",
			len(lines), what, elapsed.Round(time.Millisecond), limit, strings.Join(show, "\n"))
	}
}

// A node with no peers whose publish queue overflows under a burst of
// local posts writes "publish queue full" once, and the number of ops it
// stood for in a suppressed= count, not one line per op.
func TestServeRateLimitsPublishQueueFull(t *testing.T) {
	if testing.Short() {
		t.Skip("floods a real node")
	}
	const msg = "publish queue full"
	release := node.HoldPublisher()
	defer release()
	var logs logtest.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *node.Node, 1)
	done := make(chan error, 1)
	go func() {
		done <- node.Serve(ctx, node.ServeConfig{
			Dir: t.TempDir(), Listen: loopback, HTTP: "127.0.0.1:0", NoMDNS: true, Logger: logger,
			Ready: func(_, _ string, n *node.Node) { ready <- n },
			// The publisher sends a group's queued commits as one frame,
			// faster than the writer commits: held, its short queue fills.
			PublishQueue: 2,
		})
	}()
	var n *node.Node
	select {
	case n = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve: not ready after 30 s")
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	}
	defer stop()

	rep := n.Local.Replica
	g, err := rep.CreateGroup(context.Background(), "flood")
	if err != nil {
		t.Fatal(err)
	}
	// Many concurrent writers make the replica's writer commit often,
	// into a two-commit queue of a held publisher. Post until the queue
	// overflows,
	// then keep the burst going a while.
	t0 := time.Now()
	var posted, extra atomic.Int64
	overflowed := func() bool { return len(logs.Lines(msg)) > 0 }
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(t0) < 60*time.Second {
				if overflowed() && extra.Add(1) > 4000 {
					return
				}
				i := posted.Add(1)
				_, _, err := rep.CreatePost(context.Background(), g, replica.PostInput{
					Kind: crdt.Need, Fields: crdt.Fields{Title: fmt.Sprint("coats ", i)},
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	if !overflowed() {
		t.Fatalf("%d posts in %v did not fill the publish queue", posted.Load(), elapsed)
	}
	stop()
	lines := logs.Lines(msg)
	t.Logf("%d posts in %v: %d %q lines for %d overflows", posted.Load(), elapsed.Round(time.Millisecond), len(lines), msg, occurrences(t, lines))
	checkLimited(t, msg, lines, elapsed)
	if strings.Contains(lines[0], "suppressed=") {
		t.Errorf("the first line has a count: %s", lines[0])
	}
	if occurrences(t, lines) <= len(lines) {
		t.Errorf("no line counts the overflows held back (the node writes the counts as it stops):\n%s", strings.Join(lines, "\n"))
	}
}
