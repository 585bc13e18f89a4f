// Package loglimit provides a slog.Handler that writes each kind of log
// line at most once per interval (a minute by default) and counts the
// lines it holds back.
//
// A node logs from paths that a load or a peer can drive thousands of
// times a second: a full publish queue, a full disk that Badger retries
// every second, a peer that keeps failing. Without a limit such a path
// fills the disk with one line repeated; with one, the volunteer reading
// the log sees the first line at once and then, at most once a minute, a
// line that says how many more there were:
//
//	level=WARN msg="publish queue full; ..."
//	level=WARN msg="publish queue full; ..." suppressed=48210
//
// suppressed=N on a line means that N more lines of its kind were held
// back before it, since the previous line of that kind: the lines written
// plus their suppressed counts add up to the records logged. The held-back
// count goes out with the next record of the kind after the interval; if
// none comes, Tick (which Run calls) writes the latest held-back record
// once the interval has passed, late and with the count of the others,
// and Flush does so at once.
//
// A kind is a record's level and message, plus the values of the
// attributes named in Config.Distinct (such as the remote peer), so that
// the same event about two different peers is two kinds. A caller whose
// message embeds varying text names a stable kind with WithKind.
//
// Records of every level are limited: a line that is written once (at
// start, at stop) is never held back, and a debug line repeated a million
// times floods the log as much as a warning does.
package loglimit

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// SuppressedKey is the attribute that carries the count of lines held
// back.
const SuppressedKey = "suppressed"

// Config configures a Handler. The zero value works.
type Config struct {
	// Every is the least time between two lines of one kind. Default: a
	// minute.
	Every time.Duration
	// MaxKinds bounds how many kinds the handler remembers. When it is
	// full, the kind seen least recently is forgotten, and its count, if
	// any, written. A forgotten kind's next line is written at once.
	// Default: 1,024.
	MaxKinds int
	// Distinct names attributes whose values are part of a record's kind,
	// whether given with the record or with Logger.With. Attributes are
	// matched by key, ignoring groups.
	Distinct []string
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// Handler is a slog.Handler that limits repeated records and passes the
// rest to another handler. Handlers derived with WithAttrs and WithGroup
// share one set of kinds with their parent.
type Handler struct {
	next  slog.Handler
	scope string // the Distinct attributes given with WithAttrs
	s     *limiter
}

var _ slog.Handler = (*Handler)(nil)

// limiter is the state that a Handler and the handlers derived from it
// share.
type limiter struct {
	cfg      Config
	distinct map[string]bool

	mu      sync.Mutex
	kinds   *simplelru.LRU[string, *kind]
	evicted []pending // counts of forgotten kinds, to write after unlocking
}

// kind is what the limiter remembers of one kind of record.
type kind struct {
	written    time.Time    // when a line of this kind was last written
	suppressed int          // records held back since
	last       slog.Record  // the latest of them (a clone)
	next       slog.Handler // the handler it was meant for
}

// pending is a count to write.
type pending struct {
	next slog.Handler
	r    slog.Record
}

// New returns a Handler that passes to next the records cfg allows.
func New(next slog.Handler, cfg Config) *Handler {
	if cfg.Every <= 0 {
		cfg.Every = time.Minute
	}
	if cfg.MaxKinds <= 0 {
		cfg.MaxKinds = 1024
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &limiter{cfg: cfg, distinct: map[string]bool{}}
	for _, k := range cfg.Distinct {
		s.distinct[k] = true
	}
	s.kinds, _ = simplelru.NewLRU(cfg.MaxKinds, func(_ string, k *kind) {
		if k.suppressed > 0 {
			s.evicted = append(s.evicted, k.take(time.Time{}))
		}
	})
	return &Handler{next: next, s: s}
}

type kindKey struct{}

// WithKind returns a context under which a record's kind uses the given
// text instead of its message: for a message that embeds varying text
// (Badger's formatted errors), pass its format string.
func WithKind(ctx context.Context, kind string) context.Context {
	return context.WithValue(ctx, kindKey{}, kind)
}

// Enabled reports whether the next handler is enabled for l.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

// Handle writes r if no line of its kind was written in the last
// interval, with the count of the ones held back since, if any; else it
// counts r.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	key := h.kindOf(ctx, r)
	now := h.s.cfg.Now()
	s := h.s
	s.mu.Lock()
	k, ok := s.kinds.Get(key)
	if ok && now.Sub(k.written) < s.cfg.Every {
		k.suppressed++
		k.last, k.next = r.Clone(), h.next
		s.mu.Unlock()
		return nil
	}
	n := 0
	if ok {
		n = k.suppressed
		k.suppressed, k.last, k.next = 0, slog.Record{}, nil
		k.written = now
	} else {
		s.kinds.Add(key, &kind{written: now})
	}
	evicted := s.evicted
	s.evicted = nil
	s.mu.Unlock()

	write(evicted)
	if n > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int(SuppressedKey, n))
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs returns a Handler that adds attrs, sharing h's kinds.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.scope)
	for _, a := range attrs {
		h.s.appendDistinct(&b, a)
	}
	return &Handler{next: h.next.WithAttrs(attrs), scope: b.String(), s: h.s}
}

// WithGroup returns a Handler that opens a group, sharing h's kinds.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), scope: h.scope, s: h.s}
}

// Tick writes the counts of the kinds whose interval has passed since
// their last line, so that a burst that stops is still reported.
func (h *Handler) Tick() { h.s.writeCounts(false) }

// Flush writes every count now, interval passed or not; a node calls it
// as it stops.
func (h *Handler) Flush() { h.s.writeCounts(true) }

// Run calls Tick several times an interval until ctx ends, then Flush.
func (h *Handler) Run(ctx context.Context) {
	t := time.NewTicker(h.s.cfg.Every / 6)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			h.Flush()
			return
		case <-t.C:
			h.Tick()
		}
	}
}

// kindOf returns r's kind: its level, its message (or the kind that ctx
// names) and its Distinct attributes.
func (h *Handler) kindOf(ctx context.Context, r slog.Record) string {
	var b strings.Builder
	b.WriteString(r.Level.String())
	b.WriteByte(0)
	if k, ok := ctx.Value(kindKey{}).(string); ok {
		b.WriteString(k)
	} else {
		b.WriteString(r.Message)
	}
	b.WriteString(h.scope)
	if len(h.s.distinct) > 0 {
		r.Attrs(func(a slog.Attr) bool {
			h.s.appendDistinct(&b, a)
			return true
		})
	}
	return b.String()
}

// appendDistinct appends a's value if its key is a Distinct one, and
// looks into groups.
func (s *limiter) appendDistinct(b *strings.Builder, a slog.Attr) {
	if len(s.distinct) == 0 {
		return
	}
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		for _, g := range v.Group() {
			s.appendDistinct(b, g)
		}
		return
	}
	if s.distinct[a.Key] {
		b.WriteByte(0)
		b.WriteString(a.Key)
		b.WriteByte('=')
		b.WriteString(v.String())
	}
}

// writeCounts writes the counts of kinds held back for an interval, or
// all of them.
func (s *limiter) writeCounts(all bool) {
	now := s.cfg.Now()
	var out []pending
	s.mu.Lock()
	for _, key := range s.kinds.Keys() {
		k, _ := s.kinds.Peek(key)
		if k.suppressed > 0 && (all || now.Sub(k.written) >= s.cfg.Every) {
			out = append(out, k.take(now))
		}
	}
	out = append(out, s.evicted...)
	s.evicted = nil
	s.mu.Unlock()
	write(out)
}

// take returns k's latest held-back record, with the count of the others
// held back, and starts a new interval at now.
func (k *kind) take(now time.Time) pending {
	r := k.last.Clone()
	if k.suppressed > 1 {
		r.AddAttrs(slog.Int(SuppressedKey, k.suppressed-1))
	}
	p := pending{k.next, r}
	k.written, k.suppressed, k.last, k.next = now, 0, slog.Record{}, nil
	return p
}

func write(ps []pending) {
	for _, p := range ps {
		// A count that cannot be written is lost, like the line it counts.
		_ = p.next.Handle(context.Background(), p.r)
	}
}
