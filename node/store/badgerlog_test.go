package store_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	golog "github.com/ipfs/go-log/v2"

	"github.com/mutual-aid/mutual/node/loglimit"
	"github.com/mutual-aid/mutual/node/logtest"
	"github.com/mutual-aid/mutual/node/store"
)

// Badger's errors reach the store's logger, and one that Badger repeats
// with varying text (a full disk: it retries a flush every second, each
// time with a new table file) is one kind for the rate limit.
func TestBadgerErrorsReachTheStoreLoggerRateLimited(t *testing.T) {
	var out logtest.Buffer
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lim := loglimit.New(slog.NewTextHandler(&out, nil), loglimit.Config{Now: func() time.Time { return now }})
	st, err := store.Open(t.TempDir(), store.Config{Logger: slog.New(lim)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// The logger go-ds-badger hands to Badger: go-log's "badger" subsystem.
	badger := golog.Logger("badger")
	const n = 10_000
	for i := 0; i < n; i++ {
		err := fmt.Errorf("write %06d.sst: no space left on device", i)
		badger.Errorf("Failure while flushing memtable to disk: %v. Retrying...\n", err)
		badger.Warnf("Truncate Needed. File %d size: %d Endoffset: %d", i, i+10, i)
	}
	badger.Infof("Running GC round") // chatter: dropped
	const flush = "badger: Failure while flushing memtable to disk"
	if got := out.Lines(flush); len(got) != 1 || !strings.Contains(got[0], "level=ERROR") || !strings.Contains(got[0], "000000.sst") {
		t.Fatalf("%d flush errors wrote %d lines; want the first, at error level:\n%s", n, len(got), strings.Join(got[:min(len(got), 5)], "\n"))
	}
	if got := out.Lines("badger: Truncate Needed"); len(got) != 1 || !strings.Contains(got[0], "level=WARN") {
		t.Fatalf("%d warnings wrote %d lines; want 1 at warning level", n, len(got))
	}
	if got := out.Lines("GC round"); len(got) != 0 {
		t.Fatalf("Badger's info lines reached the log: %q", got)
	}
	now = now.Add(time.Minute)
	lim.Tick()
	got := out.Lines(flush)
	if len(got) != 2 || !strings.Contains(got[1], fmt.Sprintf("%06d.sst", n-1)) || !strings.Contains(got[1], fmt.Sprintf("suppressed=%d", n-2)) {
		t.Fatalf("after a minute, the flush error lines are:\n%s\nwant a second with the last error and suppressed=%d", strings.Join(got, "\n"), n-2)
	}
}
