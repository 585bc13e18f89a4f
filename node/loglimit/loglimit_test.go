package loglimit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"testing/slogtest"
	"time"
)

// clock is a fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// sink records what reaches it.
type sink struct {
	mu    sync.Mutex
	lines []line
	attrs []slog.Attr
}

type line struct {
	level      slog.Level
	msg        string
	attrs      map[string]string
	suppressed int
}

func (s *sink) Enabled(context.Context, slog.Level) bool { return true }

func (s *sink) Handle(_ context.Context, r slog.Record) error {
	l := line{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	add := func(a slog.Attr) bool {
		if a.Key == SuppressedKey {
			l.suppressed = int(a.Value.Int64())
		}
		l.attrs[a.Key] = a.Value.String()
		return true
	}
	for _, a := range s.attrs {
		add(a)
	}
	r.Attrs(add)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, l)
	return nil
}

func (s *sink) WithAttrs(as []slog.Attr) slog.Handler {
	return &derived{s, append(append([]slog.Attr{}, s.attrs...), as...)}
}

func (s *sink) WithGroup(string) slog.Handler { return s }

// derived is a sink's handler with attributes, writing to the sink.
type derived struct {
	s     *sink
	attrs []slog.Attr
}

func (d *derived) Enabled(context.Context, slog.Level) bool { return true }
func (d *derived) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(d.attrs...)
	return d.s.Handle(ctx, r)
}
func (d *derived) WithAttrs(as []slog.Attr) slog.Handler {
	return &derived{d.s, append(append([]slog.Attr{}, d.attrs...), as...)}
}
func (d *derived) WithGroup(string) slog.Handler { return d }

// take returns the lines so far and forgets them.
func (s *sink) take() []line {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.lines
	s.lines = nil
	return out
}

// total is how many records lines stand for: each line plus the ones it
// says were held back.
func total(lines []line) int {
	n := 0
	for _, l := range lines {
		n += 1 + l.suppressed
	}
	return n
}

func newLimited(c *clock, cfg Config) (*Handler, *sink, *slog.Logger) {
	s := &sink{}
	cfg.Now = c.now
	h := New(s, cfg)
	return h, s, slog.New(h)
}

func TestFloodOfOneKindIsOneLineAMinuteWithACount(t *testing.T) {
	c := newClock()
	h, s, log := newLimited(c, Config{})
	const n = 100_000
	for i := 0; i < n; i++ {
		log.Warn("publish queue full", "i", i)
		if i%1000 == 0 {
			c.advance(time.Second / 2) // 100,000 records over 50 fake seconds
		}
	}
	h.Tick() // the minute has not passed: nothing to write yet
	lines := s.take()
	if len(lines) != 1 || lines[0].suppressed != 0 || lines[0].attrs["i"] != "0" {
		t.Fatalf("%d records in a minute wrote %+v; want the first one only", n, lines)
	}

	c.advance(time.Minute)
	log.Warn("publish queue full", "i", n)
	lines = s.take()
	if len(lines) != 1 || lines[0].suppressed != n-1 || lines[0].attrs["i"] != fmt.Sprint(n) {
		t.Fatalf("the first record after the minute wrote %+v; want it with suppressed=%d", lines, n-1)
	}
	// A new minute began with that line.
	log.Warn("publish queue full", "i", n+1)
	if lines := s.take(); len(lines) != 0 {
		t.Fatalf("a record right after a written line wrote %+v", lines)
	}
}

// A burst that stops is still counted: Tick writes its latest record,
// late, with the count of the others, once the minute has passed.
func TestTickWritesTheCountOfAStoppedBurst(t *testing.T) {
	c := newClock()
	h, s, log := newLimited(c, Config{})
	for i := 0; i < 10; i++ {
		log.Error("commit failed", "i", i)
	}
	s.take()
	c.advance(59 * time.Second)
	h.Tick()
	if lines := s.take(); len(lines) != 0 {
		t.Fatalf("Tick before the minute wrote %+v", lines)
	}
	c.advance(time.Second)
	h.Tick()
	lines := s.take()
	if len(lines) != 1 || lines[0].msg != "commit failed" || lines[0].level != slog.LevelError ||
		lines[0].attrs["i"] != "9" || lines[0].suppressed != 8 {
		t.Fatalf("Tick after the minute wrote %+v; want the 10th record with suppressed=8", lines)
	}
	h.Tick()
	c.advance(time.Hour)
	h.Tick()
	if lines := s.take(); len(lines) != 0 {
		t.Fatalf("Tick with nothing held back wrote %+v", lines)
	}
	// The count line began a minute: a record right after it is held.
	log.Error("commit failed", "i", 10)
	c.advance(time.Second)
	log.Error("commit failed", "i", 11)
	h.Flush()
	if lines := s.take(); total(lines) != 2 || len(lines) != 2 || lines[1].suppressed != 0 {
		t.Fatalf("a record, another a second later and Flush wrote %+v; want both, one at Flush", lines)
	}
	h.Flush()
	if lines := s.take(); len(lines) != 0 {
		t.Fatalf("a second Flush wrote %+v", lines)
	}
}

func TestKindsAreIndependent(t *testing.T) {
	c := newClock()
	_, s, log := newLimited(c, Config{Distinct: []string{"remote"}})
	ctx := context.Background()
	for i := 0; i < 1000; i++ {
		log.Warn("a", "n", i)                                               // one kind: other attributes do not count
		log.Error("a")                                                      // another level
		log.Warn("b")                                                       // another message
		log.Warn("a", "remote", "p1")                                       // a Distinct attribute
		log.Warn("a", "remote", "p2")                                       // another value of it
		log.With("remote", "p3").Warn("a")                                  // given with With
		log.With("component", "x").WithGroup("g").Warn("a", "remote", "p3") // the same, in a group
		log.WarnContext(WithKind(ctx, "disk full: %v"), fmt.Sprintf("disk full: file %d", i))
	}
	lines := s.take()
	want := []string{"WARN a", "ERROR a", "WARN b", "WARN a p1", "WARN a p2", "WARN a p3", "WARN disk full: file 0"}
	var got []string
	for _, l := range lines {
		k := l.level.String() + " " + l.msg
		if r := l.attrs["remote"]; r != "" {
			k += " " + r
		}
		got = append(got, k)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("lines: %q\nwant %q", got, want)
	}
}

// Many distinct kinds (messages with varying text) cost at most MaxKinds
// entries, and a forgotten kind's count is written, not lost.
func TestKindsAreBounded(t *testing.T) {
	c := newClock()
	h, s, log := newLimited(c, Config{MaxKinds: 100})
	const n = 20_000
	for i := 0; i < n; i++ {
		msg := fmt.Sprint("peer ", i, " went away")
		log.Info(msg)
		log.Info(msg) // held back
		log.Info(msg) // held back
		if l := h.s.kinds.Len(); l > 100 {
			t.Fatalf("%d kinds remembered; MaxKinds is 100", l)
		}
	}
	h.Flush()
	lines := s.take()
	if got := total(lines); got != 3*n {
		t.Fatalf("lines stand for %d records; %d were logged", got, 3*n)
	}
	if len(lines) != 2*n {
		t.Fatalf("%d lines; want %d (each kind's first, then its count when forgotten)", len(lines), 2*n)
	}
}

// Concurrent loggers lose no count (run with -race).
func TestConcurrentRecordsAreAllCounted(t *testing.T) {
	c := newClock()
	h, s, log := newLimited(c, Config{Distinct: []string{"w"}})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5000; i++ {
				log.Warn("gossip queue full", "w", w%2)
				if i%500 == 0 {
					c.advance(10 * time.Second)
					h.Tick()
				}
			}
		}()
	}
	wg.Wait()
	h.Flush()
	if got := total(s.take()); got != 8*5000 {
		t.Fatalf("lines stand for %d records; %d were logged", got, 8*5000)
	}
}

// The handler keeps slog's contract for attributes and groups.
func TestSlogConformance(t *testing.T) {
	var buf bytes.Buffer
	slogtest.Run(t, func(*testing.T) slog.Handler {
		buf.Reset()
		return New(slog.NewJSONHandler(&buf, nil), Config{Distinct: []string{"a"}})
	}, func(t *testing.T) map[string]any {
		m := map[string]any{}
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		return m
	})
}
