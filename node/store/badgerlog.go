package store

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	golog "github.com/ipfs/go-log/v2"
	"go.uber.org/zap/zapcore"

	"github.com/mutual-aid/mutual/node/loglimit"
)

// Badger's log lines. go-ds-badger gives Badger its own logger, the
// go-log subsystem "badger", whatever Options.Logger says; go-log writes
// to stderr, past the node's logger and its rate limit (a full disk makes
// Badger log "Failure while flushing memtable to disk ... Retrying..."
// every second). The store replaces go-log's output, once per process,
// with a core that passes warnings and errors to the logger of the store
// opened last. go-ds-badger was go-log's only user when this was written;
// kad-dht (node/p2p) logs through go-log too, so its lines also reach the
// node's limited logger this way, named by their subsystem ("dht: ...").
var (
	badgerRouteOnce   sync.Once
	badgerRouteTarget atomic.Pointer[slog.Handler]
)

const badgerSubsystem = "badger"

func routeBadgerLogs(h slog.Handler) {
	if _, ok := h.(interface{ GoLogBridge() }); ok {
		// slog's default is go-log's own bridge (GOLOG_CAPTURE_DEFAULT_SLOG):
		// routing go-log to it would loop.
		return
	}
	badgerRouteTarget.Store(&h)
	badgerRouteOnce.Do(func() {
		golog.SetPrimaryCore(badgerCore{})
		// Badger's warnings too (go-log's default level is error); its
		// info and debug lines are for Badger's developers.
		_ = golog.SetLogLevel(badgerSubsystem, "warn")
	})
}

// badgerCore is a zapcore.Core that writes to badgerRouteTarget.
type badgerCore struct{}

func (badgerCore) Enabled(l zapcore.Level) bool        { return l >= zapcore.WarnLevel }
func (c badgerCore) With([]zapcore.Field) zapcore.Core { return c }
func (badgerCore) Sync() error                         { return nil }
func (c badgerCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

// Write passes e on. Badger formats its errors into the message, so the
// message varies (file names, sizes, the error); its kind, for the rate
// limit, is the text before the first ": ", which names what failed, with
// each run of digits blotted out.
func (badgerCore) Write(e zapcore.Entry, _ []zapcore.Field) error {
	p := badgerRouteTarget.Load()
	if p == nil {
		return nil
	}
	h := *p
	level := slog.LevelWarn
	if e.Level >= zapcore.ErrorLevel {
		level = slog.LevelError
	}
	name := e.LoggerName
	if name == "" {
		name = badgerSubsystem
	}
	msg := strings.TrimSpace(e.Message)
	kind, _, _ := strings.Cut(msg, ": ")
	kind = blotDigits(kind)
	ctx := loglimit.WithKind(context.Background(), name+": "+kind)
	if !h.Enabled(ctx, level) {
		return nil
	}
	return h.Handle(ctx, slog.NewRecord(e.Time, level, name+": "+msg, 0))
}

// blotDigits replaces each run of digits in s with one '#'.
func blotDigits(s string) string {
	var b strings.Builder
	digits := false
	for _, r := range s {
		d := r >= '0' && r <= '9'
		if !d {
			b.WriteRune(r)
		} else if !digits {
			b.WriteByte('#')
		}
		digits = d
	}
	return b.String()
}
