package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkBurst3 is the 3-node burst of issue 12: three `mutual serve`
// processes on loopback (TCP only, so that every byte between them goes
// through a socket `ss` can count), one group (A its admin, B and C
// members by invite; C dials B as well, so all three meet), its mesh
// formed; then 16 concurrent clients make
// 10,000 posts of ~300 bytes of content through A's API. It reports:
//
//   - converge-s: from the first POST until A has answered all of them
//     and B and C hold all 10,000: once A has answered, B's and C's
//     /api/v1/summary is read every 20 ms until they hold as many ops as
//     A (MUTUAL_BURST_WATCH=sse instead counts the posts each announces
//     on its /api/v1/events stream during the burst, a stream that lags
//     falling back to listing the board); either way the posts are
//     checked against each node's whole list afterwards;
//   - cpu-us/post-A, -B, -C: user + system CPU of each `mutual serve`
//     from the first POST until converged (/proc/PID/stat), per post;
//     cpu-us/post-client: the same of the benchmark process (its 16
//     clients and whatever watches B and C); cpu-us/post-all: the sum;
//   - wire-B/op-recv: TCP payload bytes received by B and C on their
//     libp2p sockets (Noise, yamux, GossipSub and catch-up, from the
//     kernel's tcp_info via `ss -ti`), per op, averaged over B and C;
//     wire-B/op-all: the bytes every node sent on libp2p sockets, per op;
//   - op-B: the mean size of an op as stored and sent (A's export);
//   - disk-B/post-A, -B: the store directory per post after a clean stop;
//   - rss-MB-A, -B, -C: peak RSS (VmHWM) of each process.
//
// Run: go test -run '^$' -bench Burst3 -benchtime 1x -timeout 20m ./cmd/mutual
// MUTUAL_BURST_POSTS changes the number of posts; MUTUAL_BENCH_BIN runs
// another build of mutual (e.g. main's, to compare);
// MUTUAL_BURST_PROFILE=DIR has each node write a CPU profile of its whole
// run to DIR/A.pprof, B.pprof, C.pprof (MUTUAL_CPUPROFILE, cmd/mutual).
func BenchmarkBurst3(b *testing.B) {
	n := 10000
	if s := os.Getenv("MUTUAL_BURST_POSTS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	b.StopTimer()
	bin := os.Getenv("MUTUAL_BENCH_BIN") // another build to compare with
	if bin == "" {
		bin = binaryB(b)
	}
	for i := 0; i < b.N; i++ {
		runBurst(b, bin, n)
	}
}

func runBurst(b *testing.B, bin string, n int) {
	b.StopTimer()
	dA, dB, dC := b.TempDir(), b.TempDir(), b.TempDir()
	run := func(data string, args ...string) string {
		cmd := exec.Command(bin, append(args, "--data", data)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			b.Fatalf("mutual %v: %v: %s", args, err, errb.String())
		}
		return out.String()
	}
	for d, name := range map[string]string{dA: "alice", dB: "bob", dC: "carol"} {
		run(d, "init", "--name", name)
	}
	var g struct{ ID string }
	if err := json.Unmarshal([]byte(run(dA, "group", "create", "Eastgate Aid", "--json")), &g); err != nil {
		b.Fatal(err)
	}
	a := startBurstNode(b, bin, dA)
	var inv struct{ Code string }
	if err := json.Unmarshal([]byte(run(dA, "invite", "--json")), &inv); err != nil {
		b.Fatal(err)
	}
	run(dB, "join", inv.Code, "--json")
	run(dC, "join", inv.Code, "--json")
	bn := startBurstNode(b, bin, dB)
	// B and C dial A (the invite's addresses); C dials B too, unless
	// MUTUAL_BURST_STAR is set: a meeting's laptops all meet (mDNS), and
	// in a full mesh each node may get an op from either other.
	var extra []string
	if os.Getenv("MUTUAL_BURST_STAR") == "" {
		var ni struct{ Addrs []string }
		if err := fetchJSON(bn.base+"/api/v1/node", &ni); err != nil || len(ni.Addrs) == 0 {
			b.Fatalf("B's addresses: %v %v", ni.Addrs, err)
		}
		extra = append(extra, "--peer", ni.Addrs[0])
	}
	cn := startBurstNode(b, bin, dC, extra...)
	nodes := []*burstNode{a, bn, cn}

	// The mesh has formed when three probe posts in a row reach B and C
	// within 200 ms each.
	sse := os.Getenv("MUTUAL_BURST_WATCH") == "sse"
	var streams []*postStream
	if sse {
		streams = []*postStream{openPostStream(b, bn), openPostStream(b, cn)}
	}
	deadline := time.Now().Add(90 * time.Second)
	for ok := 0; ok < 3; {
		if time.Now().After(deadline) {
			b.Fatal("the mesh did not form in 90 s")
		}
		id := burstPost(b, http.DefaultClient, a.base, "probe", 0)
		got := true
		if sse {
			for _, s := range streams {
				got = s.waitFor(id, 200*time.Millisecond) && got
			}
		} else {
			want := a.ops(b)
			for _, nd := range nodes[1:] {
				got = nd.waitOps(b, want, 5*time.Millisecond, time.Now().Add(200*time.Millisecond)) >= 0 && got
			}
		}
		if got {
			ok++
		} else {
			ok = 0
			time.Sleep(500 * time.Millisecond)
		}
	}
	for _, s := range streams {
		s.reset("burst ")
	}
	before := make([]map[string]sockBytes, 3)
	for i, nd := range nodes {
		before[i] = nd.sockets(b)
	}
	var cpu0, sys0 [4]time.Duration
	for i, nd := range nodes {
		cpu0[i], sys0[i] = procCPU(b, nd.cmd.Process.Pid)
	}
	cpu0[3], sys0[3] = selfCPU()

	// The burst.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var next atomic.Int64
	ids := make([]string, n)
	var wg sync.WaitGroup
	b.StartTimer()
	t0 := time.Now()
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				ids[i] = burstPost(b, client, a.base, "burst", i)
			}
		}()
	}
	wg.Wait()
	tA := time.Since(t0)
	var done []time.Duration
	if sse {
		for _, s := range streams {
			done = append(done, s.waitAll(b, ids, t0, 5*time.Minute))
		}
	} else {
		want := a.ops(b)
		for _, nd := range nodes[1:] {
			if nd.waitOps(b, want, 20*time.Millisecond, time.Now().Add(5*time.Minute)) < 0 {
				b.Fatalf("%s holds %d of A's %d ops 5 minutes after A answered", nd.name, nd.ops(b), want)
			}
			done = append(done, time.Since(t0))
		}
	}
	conv := max(tA, done[0], done[1])
	var cpu, sys [4]time.Duration
	for i, nd := range nodes {
		c, s := procCPU(b, nd.cmd.Process.Pid)
		cpu[i], sys[i] = c-cpu0[i], s-sys0[i]
	}
	c, s := selfCPU()
	cpu[3], sys[3] = c-cpu0[3], s-sys0[3]
	b.StopTimer()

	for _, nd := range nodes[1:] {
		have, err := nd.postIDs()
		if err != nil {
			b.Fatal(err)
		}
		if m := missing(have, ids); len(m) > 0 {
			b.Fatalf("%s lacks %d posts after its stream counted them all", nd.name, len(m))
		}
	}
	var recv, sent [3]int64
	for i, nd := range nodes {
		after := nd.sockets(b)
		for k, s := range after {
			p := before[i][k]
			recv[i] += s.recv - p.recv
			sent[i] += s.sent - p.sent
		}
	}
	// The mean op: A's export holds its ops (genesis, invite, probes and
	// the burst) with a little framing.
	bundle := filepath.Join(b.TempDir(), "a.bundle")
	run(dA, "export", bundle)
	fi, err := os.Stat(bundle)
	if err != nil {
		b.Fatal(err)
	}
	opBytes := float64(fi.Size()) / float64(n+5)

	var hwm [3]int
	for i, nd := range nodes {
		_, hwm[i] = procMem(nd.cmd.Process.Pid)
	}
	for _, s := range streams {
		s.close()
	}
	for _, nd := range nodes {
		nd.stop(b)
		for _, line := range strings.Split(nd.logs.String(), "\n") {
			if strings.Contains(line, "p2p host stopped") {
				b.Logf("%s: %s", nd.name, line)
			}
		}
	}
	diskA, diskB := dirBytes(filepath.Join(dA, "store")), dirBytes(filepath.Join(dB, "store"))

	b.ReportMetric(conv.Seconds(), "converge-s")
	b.ReportMetric(tA.Seconds(), "api-s")
	b.ReportMetric(float64(recv[1]+recv[2])/2/float64(n), "wire-B/op-recv")
	b.ReportMetric(float64(sent[0]+sent[1]+sent[2])/float64(n), "wire-B/op-all")
	b.ReportMetric(opBytes, "op-B")
	b.ReportMetric(float64(diskA)/float64(n), "disk-B/post-A")
	b.ReportMetric(float64(diskB)/float64(n), "disk-B/post-B")
	for i, nd := range nodes {
		b.ReportMetric(float64(hwm[i])/1024, "rss-MB-"+nd.name)
	}
	var all time.Duration
	for i, name := range []string{"A", "B", "C", "client"} {
		b.ReportMetric(float64(cpu[i].Microseconds())/float64(n), "cpu-us/post-"+name)
		all += cpu[i]
	}
	b.ReportMetric(float64(all.Microseconds())/float64(n), "cpu-us/post-all")
	b.Logf("of which system (kernel) CPU per post: A %d, B %d, C %d, client %d us",
		sys[0].Microseconds()/int64(n), sys[1].Microseconds()/int64(n), sys[2].Microseconds()/int64(n), sys[3].Microseconds()/int64(n))
	b.Logf("n=%d converge %v (A answered all %v, B %v, C %v); received B %d C %d, sent A %d B %d C %d bytes",
		n, conv.Round(time.Millisecond), tA.Round(time.Millisecond), done[0].Round(time.Millisecond), done[1].Round(time.Millisecond),
		recv[1], recv[2], sent[0], sent[1], sent[2])
}

// burstNode is one `mutual serve` of the burst benchmark.
type burstNode struct {
	name string
	data string
	cmd  *exec.Cmd
	base string
	logs bytes.Buffer
}

var burstNames = map[int]string{0: "A", 1: "B", 2: "C"}

func startBurstNode(b *testing.B, bin, data string, extra ...string) *burstNode {
	nd := &burstNode{data: data}
	nd.name = burstNames[burstCount]
	burstCount = (burstCount + 1) % 3
	os.Remove(filepath.Join(data, "api.addr"))
	nd.cmd = exec.Command(bin, append([]string{"serve", "--data", data, "--http", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns"}, extra...)...)
	if dir := os.Getenv("MUTUAL_BURST_PROFILE"); dir != "" {
		nd.cmd.Env = append(os.Environ(), "MUTUAL_CPUPROFILE="+filepath.Join(dir, nd.name+".pprof"))
	}
	nd.cmd.SysProcAttr = dieWithTest()
	nd.cmd.Stdout, nd.cmd.Stderr = &nd.logs, &nd.logs
	if err := nd.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nd.cmd.Process.Kill(); nd.cmd.Wait() })
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if a, err := os.ReadFile(filepath.Join(data, "api.addr")); err == nil {
			base := "http://" + strings.TrimSpace(string(a))
			if resp, err := http.Get(base + "/api/v1/node"); err == nil {
				resp.Body.Close()
				nd.base = base
				return nd
			}
		}
	}
	b.Fatalf("%s: serve did not start", nd.name)
	return nil
}

var burstCount int

func (nd *burstNode) stop(b *testing.B) {
	nd.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { nd.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		b.Fatalf("%s: still running 30 s after SIGINT", nd.name)
	}
}

func (nd *burstNode) postIDs() (map[string]bool, error) {
	resp, err := http.Get(nd.base + "/api/v1/posts")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var ps []jpost
	if err := json.NewDecoder(resp.Body).Decode(&ps); err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(ps))
	for _, p := range ps {
		out[p.ID] = true
	}
	return out, nil
}

// ops returns how many ops the node holds (its /api/v1/summary: the
// sum of its version vectors, which only grows).
func (nd *burstNode) ops(b *testing.B) uint64 {
	var sum struct{ Groups []struct{ Ops uint64 } }
	if err := fetchJSON(nd.base+"/api/v1/summary", &sum); err != nil {
		b.Fatalf("%s: summary: %v", nd.name, err)
	}
	var n uint64
	for _, g := range sum.Groups {
		n += g.Ops
	}
	return n
}

// waitOps reads the node's op count every `every` until it holds want
// ops, and returns the count then, or -1 at the deadline.
func (nd *burstNode) waitOps(b *testing.B, want uint64, every time.Duration, deadline time.Time) int64 {
	for {
		if n := nd.ops(b); n >= want {
			return int64(n)
		}
		if time.Now().After(deadline) {
			return -1
		}
		time.Sleep(every)
	}
}

// procCPU returns the user + system CPU time a process has used so far,
// and the system part (/proc/PID/stat's utime and stime, in clock ticks
// of 10 ms).
func procCPU(b *testing.B, pid int) (all, sys time.Duration) {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("cpu of %d: %v", pid, err)
	}
	// The command name (field 2) may hold spaces: count after its ')'.
	f := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+1:]))
	if len(f) < 13 {
		b.Fatalf("cpu of %d: short /proc stat", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stm, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+stm) * 10 * time.Millisecond, time.Duration(stm) * 10 * time.Millisecond
}

func fetchJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

type sockBytes struct{ sent, recv int64 }

var (
	ssPid   = regexp.MustCompile(`pid=(\d+),`)
	ssBytes = regexp.MustCompile(`bytes_(sent|received):(\d+)`)
)

// sockets returns the bytes sent and received so far on each TCP socket
// of the process other than its HTTP API's, by local and remote address
// (`ss -tinpH`: tcp_info's bytes_sent and bytes_received, the TCP
// payload).
func (nd *burstNode) sockets(b *testing.B) map[string]sockBytes {
	out, err := exec.Command("ss", "-tinpH", "state", "established").Output()
	if err != nil {
		b.Fatalf("ss: %v", err)
	}
	httpPort := nd.base[strings.LastIndex(nd.base, ":")+1:]
	pid := strconv.Itoa(nd.cmd.Process.Pid)
	res := map[string]sockBytes{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	var key string
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "\t") && !strings.HasPrefix(line, " ") {
			key = ""
			f := strings.Fields(line)
			if m := ssPid.FindStringSubmatch(line); m != nil && m[1] == pid && len(f) >= 4 {
				if _, port, _ := net.SplitHostPort(f[2]); port != httpPort {
					key = f[2] + " " + f[3]
				}
			}
			continue
		}
		if key == "" {
			continue
		}
		var s sockBytes
		for _, m := range ssBytes.FindAllStringSubmatch(line, -1) {
			v, _ := strconv.ParseInt(m[2], 10, 64)
			if m[1] == "sent" {
				s.sent = v
			} else {
				s.recv = v
			}
		}
		res[key] = s
		key = ""
	}
	return res
}

// burstPost makes a post of ~300 bytes of content and returns its ID.
// It does what a lean client would (the 16 clients share the machine's
// two cores with the three nodes): the body from a fixed template, and
// of the answer only the ID, which the API writes first.
func burstPost(b *testing.B, c *http.Client, base, what string, i int) string {
	body := fmt.Appendf(nil, burstBody, what, i)
	resp, err := c.Post(base+"/api/v1/posts", "application/json", bytes.NewReader(body))
	if err != nil {
		b.Error(err)
		return ""
	}
	defer resp.Body.Close()
	msg, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Error(err)
		return ""
	}
	if resp.StatusCode != http.StatusCreated {
		b.Errorf("POST: %s %s", resp.Status, msg)
		return ""
	}
	if rest, ok := bytes.CutPrefix(msg, []byte(`{"id":"`)); ok && len(rest) > 64 && rest[64] == '"' {
		return string(rest[:64])
	}
	var p jpost
	if err := json.Unmarshal(msg, &p); err != nil {
		b.Error(err)
	}
	return p.ID
}

// burstBody is a burst post's JSON, with the kind of post and its
// number to fill in.
const burstBody = `{"kind":"need","title":"%s %05d: winter coats, size L, for a family",` +
	`"details":"A family of four arrived last week and needs winter coats: two adults (L and M) and two children (8 and 11). Any colour is fine; gently used is welcome. Drop-off at the community hall on Tuesdays or Thursdays between 4 and 7 pm.",` +
	`"category":"clothing"}`

// postStream follows a node's /api/v1/events and counts the distinct
// posts it announces.
type postStream struct {
	nd     *burstNode
	cancel context.CancelFunc

	mu     sync.Mutex
	seen   map[string]bool
	prefix string // count only posts whose title starts with it
	lagged bool
	change chan struct{} // closed and replaced on every new post
}

func openPostStream(b *testing.B, nd *burstNode) *postStream {
	ctx, cancel := context.WithCancel(context.Background())
	s := &postStream{nd: nd, cancel: cancel, seen: map[string]bool{}, change: make(chan struct{})}
	req, _ := http.NewRequestWithContext(ctx, "GET", nd.base+"/api/v1/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if !bytes.HasPrefix(line, []byte("data: ")) {
				continue
			}
			var ev struct {
				Type string
				Post struct{ ID, Title string }
			}
			if json.Unmarshal(line[6:], &ev) != nil {
				continue
			}
			s.mu.Lock()
			switch {
			case ev.Type == "lagged":
				s.lagged = true
			case ev.Post.ID != "" && !s.seen[ev.Post.ID] && (s.prefix == "" || strings.HasPrefix(ev.Post.Title, s.prefix)):
				s.seen[ev.Post.ID] = true
			default:
				s.mu.Unlock()
				continue
			}
			close(s.change)
			s.change = make(chan struct{})
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *postStream) close() { s.cancel() }

// reset forgets the posts seen and counts from now on only those whose
// title starts with prefix.
func (s *postStream) reset(prefix string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen, s.prefix = map[string]bool{}, prefix
}

// waitFor reports whether post id is announced within d.
func (s *postStream) waitFor(id string, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		s.mu.Lock()
		ok, ch := s.seen[id], s.change
		s.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-t.C:
			return false
		}
	}
}

// waitAll returns the time since t0 when the node held n burst posts:
// by its event stream, or, if the stream lagged, by listing its board
// every 100 ms.
func (s *postStream) waitAll(b *testing.B, ids []string, t0 time.Time, within time.Duration) time.Duration {
	n := len(ids)
	deadline := time.After(within)
	for {
		s.mu.Lock()
		count, lagged, ch := len(s.seen), s.lagged, s.change
		s.mu.Unlock()
		if count >= n {
			return time.Since(t0)
		}
		if lagged {
			b.Logf("%s: the event stream lagged; listing the board instead", s.nd.name)
			for {
				have, err := s.nd.postIDs()
				if err != nil {
					b.Fatal(err)
				}
				if len(missing(have, ids)) == 0 {
					return time.Since(t0)
				}
				select {
				case <-deadline:
					b.Fatalf("%s holds %d of %d posts after %v", s.nd.name, len(have), n, within)
				case <-time.After(100 * time.Millisecond):
				}
			}
		}
		select {
		case <-ch:
		case <-deadline:
			b.Fatalf("%s announced %d of %d posts in %v", s.nd.name, count, n, within)
		}
	}
}
