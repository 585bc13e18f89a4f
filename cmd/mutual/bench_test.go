package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/protocol"
)

// BenchmarkServe100k fills a data dir with 100,000 posts (20 categories,
// needs and offers), then measures the real binary: `mutual serve` start
// until the API answers, listing the open needs of one category through
// the API (p50), the process's resident memory, and bytes on disk per
// post. Run: go test -run '^$' -bench Serve100k -benchtime 1x ./cmd/mutual
func BenchmarkServe100k(b *testing.B) {
	n := 100000
	if s := os.Getenv("MUTUAL_BENCH_N"); s != "" {
		fmt.Sscan(s, &n)
	}
	data := b.TempDir()
	if d := os.Getenv("MUTUAL_BENCH_DIR"); d != "" { // keep the data dir to look at
		data = d
	}
	l, err := node.OpenLocal(data, quietLogger())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	g, err := l.Replica.CreateGroup(ctx, "Eastgate")
	if err != nil {
		b.Fatal(err)
	}
	// This node's own ops, signed ahead and ingested in batches, as if
	// restored from a backup: the fast way to a big board.
	// Founding the group wrote more than the genesis (its key): go on
	// from this node's last op.
	var head uint64
	var prev crdt.ID
	l.Store.OpsAfter(g, l.Replica.Self(), 0, func(seq uint64, raw []byte) error {
		head, prev = seq, protocol.OpID(raw)
		return nil
	})
	t0 := time.Now().Add(-time.Hour).UnixMilli()
	// The location and contact travel sealed, in a blob after the op (as
	// a member's node writes them); sealed here with a key of the
	// benchmark's own, which gives blobs of the same size.
	groupKey, _ := protocol.NewGroupKey()
	var batch [][]byte
	for i := 0; i < n; i++ {
		kind := crdt.Need
		if i%2 == 1 {
			kind = crdt.Offer
		}
		blob, sum, err := protocol.SealPrivate(g, groupKey, protocol.Private{Location: "Eastgate", Contact: "555-0100"})
		if err != nil {
			b.Fatal(err)
		}
		op := crdt.Op{Group: g, Seq: head + uint64(i+1), Prev: prev, Time: crdt.HLC{Wall: t0 + int64(i)},
			Body: crdt.PostCreate{PostKind: kind, Private: sum, Fields: crdt.Fields{
				Title: fmt.Sprintf("Post %d: winter coats, size L", i), Details: "For a family of four; any colour is fine. Drop-off at the hall.",
				Category: fmt.Sprintf("cat%02d", (i/2)%20), Quantity: 4}}}
		raw, err := protocol.SignOp(&op, l.ID.Key)
		if err != nil {
			b.Fatal(err)
		}
		prev = op.ID
		batch = append(batch, protocol.JoinBlob(raw, blob))
		if len(batch) == 5000 || i == n-1 {
			res, err := l.Replica.Ingest(ctx, batch)
			if err != nil {
				b.Fatal(err)
			}
			for _, x := range res {
				if x.Outcome != replica.New {
					b.Fatalf("op %s: %s %v", x.ID.Short(), x.Outcome, x.Err)
				}
			}
			batch = nil
		}
	}
	l.Close()
	disk := dirBytes(filepath.Join(data, "store"))

	binaryB(b) // built before the clock starts
	for i := 0; i < b.N; i++ {
		start := time.Now()
		cmd, base := serveBench(b, data)
		startup := time.Since(start)
		var durs []time.Duration
		var count int
		for j := 0; j < 21; j++ {
			t := time.Now()
			resp, err := http.Get(base + "/api/v1/posts?kind=need&status=open&category=cat04")
			if err != nil {
				b.Fatal(err)
			}
			n, _ := ioCount(resp)
			durs = append(durs, time.Since(t))
			count = n
		}
		slices.Sort(durs)
		rss, hwm := procMem(cmd.Process.Pid)
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		b.ReportMetric(float64(startup.Milliseconds()), "start-ms")
		b.ReportMetric(float64(durs[len(durs)/2].Microseconds())/1000, "list-p50-ms")
		b.ReportMetric(float64(rss)/1024, "rss-MB")
		b.ReportMetric(float64(hwm)/1024, "peak-rss-MB")
		b.ReportMetric(float64(disk)/float64(n), "disk-B/post")
		b.ReportMetric(float64(count), "list-bytes")
	}
}

func ioCount(resp *http.Response) (int, error) {
	defer resp.Body.Close()
	buf := make([]byte, 64<<10)
	total := 0
	for {
		n, err := resp.Body.Read(buf)
		total += n
		if err != nil {
			return total, nil
		}
	}
}

func serveBench(b *testing.B, data string) (*exec.Cmd, string) {
	os.Remove(filepath.Join(data, "api.addr"))
	cmd := exec.Command(binaryB(b), "serve", "--data", data, "--http", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns")
	cmd.SysProcAttr = dieWithTest()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if a, err := os.ReadFile(filepath.Join(data, "api.addr")); err == nil {
			base := "http://" + strings.TrimSpace(string(a))
			if resp, err := http.Get(base + "/api/v1/node"); err == nil {
				resp.Body.Close()
				return cmd, base
			}
		}
	}
	cmd.Process.Kill()
	b.Fatal("serve did not start")
	return nil, ""
}

func binaryB(b *testing.B) string {
	binOnce.Do(func() {
		dir, _ := os.MkdirTemp("", "mutual-bench")
		binPath = filepath.Join(dir, "mutual")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("%v: %s", err, out)
		}
	})
	if binErr != nil {
		b.Fatal(binErr)
	}
	return binPath
}

// procMem returns VmRSS and VmHWM in KiB.
func procMem(pid int) (rss, hwm int) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		var v int
		if _, err := fmt.Sscanf(line, "VmRSS: %d kB", &v); err == nil {
			rss = v
		}
		if _, err := fmt.Sscanf(line, "VmHWM: %d kB", &v); err == nil {
			hwm = v
		}
	}
	return
}

func dirBytes(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
