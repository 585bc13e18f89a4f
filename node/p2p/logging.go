package p2p

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/gologshim"
)

// libp2pLogFloor is the least level of libp2p's own records that reach
// the node's logger: its debug and info output is meant for libp2p's
// developers, not for a volunteer reading the node's log.
const libp2pLogFloor = slog.LevelWarn

// libp2p's loggers are package-level variables that bind to a handler
// once, on their first record. Route them all, once per process, to a
// handler that forwards to the logger of the host started last.
var (
	routeOnce   sync.Once
	routeTarget atomic.Pointer[slog.Handler]
)

func routeLibp2pLogs(h slog.Handler) {
	routeTarget.Store(&h)
	routeOnce.Do(func() { gologshim.SetDefaultHandler(&routeHandler{}) })
}

// routeHandler forwards to routeTarget at or above libp2pLogFloor.
type routeHandler struct {
	attrs []slog.Attr
	group string
}

func (r *routeHandler) target() slog.Handler {
	p := routeTarget.Load()
	if p == nil {
		return nil
	}
	h := *p
	if len(r.attrs) > 0 {
		h = h.WithAttrs(r.attrs)
	}
	if r.group != "" {
		h = h.WithGroup(r.group)
	}
	return h
}

func (r *routeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	if l < libp2pLogFloor {
		return false
	}
	t := r.target()
	return t != nil && t.Enabled(ctx, l)
}

func (r *routeHandler) Handle(ctx context.Context, rec slog.Record) error {
	if t := r.target(); t != nil && rec.Level >= libp2pLogFloor && !libp2pRepeats.seen(rec.Message, rec.Time) {
		return t.Handle(ctx, rec)
	}
	return nil
}

// libp2pRepeatEvery: a libp2p record with the same message as one
// forwarded less than this ago is dropped. libp2p warns on every dial
// of a peer whose /dnsaddr does not resolve ("Failed to resolve addr"),
// and the public DHT dials its bootstrap nodes again and again: with no
// internet that was a warning every few seconds in the node's log.
const libp2pRepeatEvery = time.Hour

var libp2pRepeats = &repeats{last: map[string]time.Time{}}

// repeats remembers when each message was last let through.
type repeats struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// seen reports whether msg was let through less than libp2pRepeatEvery
// before t, and otherwise records it as let through at t.
func (r *repeats) seen(msg string, t time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if last, ok := r.last[msg]; ok && t.Sub(last) < libp2pRepeatEvery && t.Sub(last) >= 0 {
		return true
	}
	if len(r.last) >= 1024 { // libp2p's messages are constants; this is only a bound
		clear(r.last)
	}
	r.last[msg] = t
	return false
}

func (r *routeHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &routeHandler{attrs: append(append([]slog.Attr{}, r.attrs...), attrs...), group: r.group}
}

func (r *routeHandler) WithGroup(name string) slog.Handler {
	if r.group != "" {
		name = r.group + "." + name
	}
	return &routeHandler{attrs: r.attrs, group: name}
}

// floorHandler drops records below a level.
type floorHandler struct {
	slog.Handler
	floor slog.Level
}

func (f floorHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.floor && f.Handler.Enabled(ctx, l)
}

func (f floorHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < f.floor {
		return nil
	}
	return f.Handler.Handle(ctx, r)
}

func (f floorHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return floorHandler{f.Handler.WithAttrs(a), f.floor}
}

func (f floorHandler) WithGroup(n string) slog.Handler {
	return floorHandler{f.Handler.WithGroup(n), f.floor}
}
