package replica_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
)

// wallClock is a wall clock the test sets.
type wallClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *wallClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *wallClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

const year = 365 * 24 * time.Hour

// A node whose clock ran a year ahead for a while, and was then put
// right, posts again at once — without a restart and after one — with
// stamps that a node whose clock was right all along accepts.
func TestClockAheadThenCorrected(t *testing.T) {
	for _, restart := range []bool{false, true} {
		name := "without restart"
		if restart {
			name = "after restart"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			real := time.Now()
			clk := &wallClock{t: real}
			_, key, _ := ed25519.GenerateKey(nil)
			dir := t.TempDir()
			a := open(t, dir, key, replica.Config{Now: clk.Now})
			defer func() { a.close() }()
			g, err := a.r.CreateGroup(ctx, "g")
			if err != nil {
				t.Fatal(err)
			}

			clk.set(real.Add(year))
			ahead, _, err := a.r.CreatePost(ctx, g, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: "posted a year ahead"}})
			if err != nil {
				t.Fatal(err)
			}

			clk.set(real.Add(time.Second))
			if restart {
				a.close()
				a = open(t, dir, key, replica.Config{Now: clk.Now})
			}
			p, _, err := a.r.CreatePost(ctx, g, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: "posted after the fix"}})
			if err != nil {
				t.Fatalf("post after the clock was put right: %v", err)
			}
			if lim := real.Add(time.Second + crdt.MaxLead).UnixMilli(); p.CreatedAt.Wall > lim {
				t.Fatalf("new post stamped %v, beyond wall+MaxLead", p.CreatedAt.Time())
			}
			if _, err := a.r.EditPost(ctx, g, p.ID, crdt.FieldDetails, crdt.Fields{Details: "and again"}); err != nil {
				t.Fatalf("second write after the fix: %v", err)
			}

			// b's clock was right all along.
			b := newNode(t)
			code, _, err := a.r.Invite(context.Background(), g, replica.InviteOptions{Role: crdt.RoleMember, TTL: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.r.Join(ctx, code); err != nil {
				t.Fatal(err)
			}
			exchange(t, a, b, g)
			got, err := b.r.Post(p.ID)
			if err != nil {
				t.Fatalf("b did not take the post made after the fix: %v", err)
			}
			if got.Details.V != "and again" {
				t.Fatalf("b did not take the edit made after the fix: details %q", got.Details.V)
			}
			if _, err := b.r.Post(ahead.ID); !errors.Is(err, replica.ErrNoPost) {
				t.Fatalf("b took the post stamped a year ahead: %v", err)
			}
		})
	}
}

// logRecorder is a slog.Handler that keeps the messages logged.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.msgs = append(h.msgs, r.Message)
	h.mu.Unlock()
	return nil
}

// count returns how many messages begin with prefix.
func (h *logRecorder) count(prefix string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

const (
	logStepBack  = "wall clock stepped back"
	logOwnFuture = "this node's clock was ahead"
	logAhead     = "wall clock is ahead of peers' stamps"
)

func postTitled(t *testing.T, n *node, g crdt.ID, title string) {
	t.Helper()
	if _, _, err := n.r.CreatePost(context.Background(), g, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: title}}); err != nil {
		t.Fatal(err)
	}
}

func TestClockWarnsWhenWallClockStepsBack(t *testing.T) {
	real := time.Now()
	clk := &wallClock{t: real}
	logs := &logRecorder{}
	_, key, _ := ed25519.GenerateKey(nil)
	n := open(t, t.TempDir(), key, replica.Config{Now: clk.Now, Logger: slog.New(logs)})
	defer n.close()
	g, err := n.r.CreateGroup(context.Background(), "g")
	if err != nil {
		t.Fatal(err)
	}
	clk.set(real.Add(-10 * time.Second))
	postTitled(t, n, g, "a")
	if got := logs.count(logStepBack); got != 1 {
		t.Fatalf("after a step back of 10s: %d warnings, want 1", got)
	}
	postTitled(t, n, g, "b") // no step: no warning
	clk.set(real.Add(20 * time.Second))
	postTitled(t, n, g, "c")
	clk.set(real.Add(15 * time.Second)) // a minute has not passed: quiet
	postTitled(t, n, g, "d")
	if got := logs.count(logStepBack); got != 1 {
		t.Fatalf("a second step back within a minute: %d warnings, want 1", got)
	}
	clk.set(real.Add(2 * time.Minute))
	postTitled(t, n, g, "e")
	clk.set(real.Add(2*time.Minute - 5*time.Second))
	postTitled(t, n, g, "f")
	if got := logs.count(logStepBack); got != 2 {
		t.Fatalf("a step back two minutes later: %d warnings, want 2", got)
	}
	if got := logs.count(logOwnFuture); got != 0 {
		t.Fatalf("steps back within MaxLead warned %d times that the clock was ahead", got)
	}
}

// A node that finds its own last op stamped beyond what it may stamp now
// says so once, when it notices: at the first post after the clock was
// put right, or when it loads its log.
func TestClockWarnsOnceAfterRunningAhead(t *testing.T) {
	for _, restart := range []bool{false, true} {
		t.Run(fmt.Sprintf("restart=%v", restart), func(t *testing.T) {
			real := time.Now()
			clk := &wallClock{t: real}
			logs := &logRecorder{}
			_, key, _ := ed25519.GenerateKey(nil)
			dir := t.TempDir()
			cfg := replica.Config{Now: clk.Now, Logger: slog.New(logs)}
			n := open(t, dir, key, cfg)
			defer func() { n.close() }()
			g, err := n.r.CreateGroup(context.Background(), "g")
			if err != nil {
				t.Fatal(err)
			}
			clk.set(real.Add(time.Hour))
			postTitled(t, n, g, "ahead")
			clk.set(real)
			if restart {
				n.close()
				n = open(t, dir, key, cfg)
			}
			for i := range 3 {
				postTitled(t, n, g, fmt.Sprint(i))
			}
			if got := logs.count(logOwnFuture); got != 1 {
				t.Fatalf("%d warnings that the clock was ahead, want 1", got)
			}
			wantBack := 1
			if restart {
				wantBack = 0 // a new process has no earlier reading
			}
			if got := logs.count(logStepBack); got != wantBack {
				t.Fatalf("%d warnings that the wall clock stepped back, want %d", got, wantBack)
			}
		})
	}
}

// member makes a node whose wall clock is off by skew join a's group, and
// hands its join to a by gossip.
func member(t *testing.T, a *node, g crdt.ID, skew time.Duration) *node {
	t.Helper()
	n := joiner(t, a, g, skew)
	gossip(t, n, a, g)
	return n
}

// joiner makes a node whose wall clock is off by skew join a's group.
func joiner(t *testing.T, a *node, g crdt.ID, skew time.Duration) *node {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(nil)
	n := open(t, t.TempDir(), key, replica.Config{Now: func() time.Time { return time.Now().Add(skew) }})
	t.Cleanup(n.close)
	code, _, err := a.r.Invite(context.Background(), g, replica.InviteOptions{Role: crdt.RoleMember, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.r.Join(context.Background(), code); err != nil {
		t.Fatal(err)
	}
	return n
}

// gossip hands from's latest op in g to to, by the gossip path.
func gossip(t *testing.T, from, to *node, g crdt.ID) {
	t.Helper()
	var last []byte
	from.r.Sync().OpsAfter(g, from.r.Self(), 0, func(raw []byte) error { last = append([]byte(nil), raw...); return nil })
	if v, err := to.r.Sync().IngestOne(context.Background(), last); v != crdt.Accept {
		t.Fatalf("gossiped op: %s, %v", v, err)
	}
}

func TestClockWarnsWhenAheadOfPeers(t *testing.T) {
	ctx := context.Background()
	newA := func(skew time.Duration) (*node, crdt.ID, *logRecorder) {
		logs := &logRecorder{}
		_, key, _ := ed25519.GenerateKey(nil)
		a := open(t, t.TempDir(), key, replica.Config{Now: func() time.Time { return time.Now().Add(skew) }, Logger: slog.New(logs)})
		t.Cleanup(a.close)
		g, err := a.r.CreateGroup(ctx, "g")
		if err != nil {
			t.Fatal(err)
		}
		return a, g, logs
	}

	t.Run("ahead", func(t *testing.T) {
		a, g, logs := newA(10 * time.Minute)
		b := member(t, a, g, 0)
		if got := logs.count(logAhead); got != 1 {
			t.Fatalf("a peer's live op stamped 10 minutes behind: %d warnings, want 1", got)
		}
		postTitled(t, b, g, "soup")
		gossip(t, b, a, g)
		if got := logs.count(logAhead); got != 1 {
			t.Fatalf("a second live op within a minute: %d warnings, want 1", got)
		}
	})

	t.Run("catch-up brings old ops", func(t *testing.T) {
		a, g, logs := newA(0)
		// Ops stamped an hour before a's clock, as if made an hour ago,
		// that a gets by catch-up.
		b := joiner(t, a, g, -time.Hour)
		for i := range 3 {
			postTitled(t, b, g, fmt.Sprint(i))
		}
		var raws [][]byte
		b.r.Sync().OpsAfter(g, b.r.Self(), 0, func(raw []byte) error { raws = append(raws, append([]byte(nil), raw...)); return nil })
		if n, err := a.r.Sync().Ingest(ctx, raws); err != nil || n != 4 {
			t.Fatalf("catch-up: %d new, %v; want 4", n, err)
		}
		if got := logs.count(logAhead); got != 0 {
			t.Fatalf("old ops by catch-up: %d warnings, want 0", got)
		}
	})

	t.Run("one slow peer among several", func(t *testing.T) {
		a, g, logs := newA(0)
		member(t, a, g, 0)
		member(t, a, g, -10*time.Minute)
		member(t, a, g, 2*time.Second)
		if got := logs.count(logAhead); got != 0 {
			t.Fatalf("one peer 10 minutes slow, two on time: %d warnings, want 0", got)
		}
	})
}

// The documented cost of having been ahead (docs/design.md, Clocks): a
// field set by an op stamped in the future beats an edit made after the
// clock was put right, until real time passes that stamp; the status,
// which a create op does not set, can still be changed, so the post can
// be withdrawn.
func TestClockFieldsSetWhileAheadWinUntilTimeCatchesUp(t *testing.T) {
	ctx := context.Background()
	real := time.Now()
	clk := &wallClock{t: real}
	_, key, _ := ed25519.GenerateKey(nil)
	n := open(t, t.TempDir(), key, replica.Config{Now: clk.Now})
	defer n.close()
	g, _ := n.r.CreateGroup(ctx, "g")
	clk.set(real.Add(time.Hour))
	p, _, err := n.r.CreatePost(ctx, g, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: "made ahead"}})
	if err != nil {
		t.Fatal(err)
	}
	clk.set(real)
	got, err := n.r.EditPost(ctx, g, p.ID, crdt.FieldTitle, crdt.Fields{Title: "edited after the fix"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Title.V != "made ahead" {
		t.Fatalf("title %q: the edit stamped before the create won", got.Title.V)
	}
	if got, err = n.r.SetStatus(ctx, g, p.ID, crdt.Withdrawn); err != nil || got.State() != crdt.Withdrawn {
		t.Fatalf("withdraw after the fix: %v, %v", got.State(), err)
	}
	clk.set(real.Add(time.Hour + time.Second))
	if got, err = n.r.EditPost(ctx, g, p.ID, crdt.FieldTitle, crdt.Fields{Title: "an hour later"}); err != nil || got.Title.V != "an hour later" {
		t.Fatalf("edit once time passed the create's stamp: %q, %v", got.Title.V, err)
	}
}
