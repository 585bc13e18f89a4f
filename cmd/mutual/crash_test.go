package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

var (
	crashCycles = flag.Int("crash.cycles", 0, "kill-and-restart cycles of TestCrashLoop (default $MUTUAL_CRASH_CYCLES, else 200; 20 under -race)")
	crashSeed   = flag.Uint64("crash.seed", 0, "seed of TestCrashLoop's choices (default: from the clock; printed on failure)")
	crashCheck  = flag.Int("crash.check-every", 25, "TestCrashLoop runs `mutual check` after every Nth kill (and the last)")
	crashDown   = flag.Duration("crash.down", 0, "TestCrashLoop keeps the node down this long after each kill")
)

// What TestCrashLoop's clients make. Each client stops creating posts
// once it owns crashMaxOwned and edits them instead, and sheets are
// imported again once crashMaxSheets were made, so that the board stays
// small (a few hundred posts) however many cycles run: what grows is the
// op log.
const (
	crashClients   = 4
	crashMaxOwned  = 40
	crashMaxSheets = 40
	crashMaxPeer   = 100
)

// TestCrashLoop starts the real binary on a data dir, drives it with
// concurrent API clients — posts, edits, status changes, now and then a
// CSV import (new or again) — and SIGKILLs it at a random moment, over and
// over. A second node, a member of the same group that runs throughout,
// posts while the first is down, so that every restart begins with a
// catch-up that the next kill may cut short. One cycle in eight the node
// is also killed while it starts.
//
// After every 25th kill and the last (-crash.check-every: its cost grows
// with the op log), while the node is down, `mutual check` must pass
// (exit 0) and leave every byte of the store as it was. After
// each restart every acknowledged change must be there: each post a
// client created, with the state of its last acknowledged change or of
// the one request that was in flight when the node died; each row of an
// acknowledged import (with its status, if that import created the post);
// no post twice and no post nobody made. At the end both nodes must
// converge on the same board (state hash) with no fork.
//
// The seed picks the clients' changes and the moments of the kills; the
// process's own timing is not replayed, so a seed reproduces the kind of
// run, not the exact interleaving.
//
// With the node kept down about a second after each kill (-crash.down=1s)
// it found that badger v1.6.2 lost acknowledged transactions, or half of
// one, when the node died again soon after a start whose log replay had
// filled a memtable (third_party/badger/MUTUAL.md). MUTUAL_CRASH_KEEP=DIR
// keeps the node's data dir of a failed run.
//
// It runs 200 cycles (20 under -race; test.sh runs it again without
// -race). The long mode, for thousands:
//
//	go test -count=1 -run '^TestCrashLoop$' ./cmd/mutual -v -timeout 3h \
//		-crash.cycles=5000 -crash.check-every=20
func TestCrashLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a node hundreds of times; skipped with -short")
	}
	cycles := defaultCrashCycles
	if s := os.Getenv("MUTUAL_CRASH_CYCLES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("MUTUAL_CRASH_CYCLES=%q: %v", s, err)
		}
		cycles = v
	}
	if *crashCycles > 0 {
		cycles = *crashCycles
	}
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed=%d; run again: go test -count=1 -run '^TestCrashLoop$' ./cmd/mutual -v -crash.seed=%d -crash.cycles=%d", seed, seed, cycles)
		}
	})
	tSetup := time.Now()
	cx := newCrashRun(t, seed)
	cx.cycles = cycles
	if keep := os.Getenv("MUTUAL_CRASH_KEEP"); keep != "" {
		// Keep the node's data dir of a failed run to look into.
		t.Cleanup(func() {
			if t.Failed() {
				cx.a.kill()
				exec.Command("cp", "-a", cx.a.data, keep).Run()
				t.Logf("the node's data dir is kept in %s", keep)
			}
		})
	}
	t.Logf("set up in %v", time.Since(tSetup).Round(time.Millisecond))
	tStart := time.Now()
	for cycle := 1; cycle <= cycles; cycle++ {
		cx.cycle(cycle)
	}
	loop := time.Since(tStart)
	cx.converge()
	st, tm := cx.stats, &cx.times
	t.Logf("%d cycles in %v (%v per cycle; seed %d)", cycles, loop.Round(time.Millisecond),
		(loop / time.Duration(cycles)).Round(time.Millisecond), seed)
	t.Logf("per cycle: start to API %s; writing until the kill %s; mutual check %s; verify %s",
		tm.start, tm.run, tm.check, tm.verify)
	t.Logf("kills: %d while serving, %d while starting", st.kills, st.earlyKills)
	t.Logf("acknowledged: %d creates, %d edits, %d status changes, %d imports (%d again) of %d rows",
		st.creates, st.edits, st.statuses, st.imports, st.reimports, st.importedRows)
	t.Logf("in flight at a kill: %d requests, %d of which had landed", st.inflight, st.landed)
	t.Logf("checked after restarts: %d posts, %d import rows; %d mutual checks passed; board %d posts",
		st.verifiedPosts, st.verifiedRows, st.checks, cx.lastBoard)
	t.Logf("peer: %d posts and %d status changes while the node was down; on the node after its next run: %d of %d",
		st.peerPosts, st.peerStatuses, st.peerSeen, st.peerChecked)
}

// crashRun is one TestCrashLoop: the node under test (a), its peer (p)
// and what the clients were told.
type crashRun struct {
	t       *testing.T
	rng     *rand.Rand
	a, p    *proc
	group   string
	hc      *http.Client
	clients []*crashClient
	sheets  int // sheets made by all clients, as of the last restart (clients only read it)

	peerPosts map[string]*crashPeerPost // by title
	peerNew   []string                  // titles the peer posted while the node was last down
	peerPrev  []string                  // and the time before, with a whole run of the node since
	known     map[string]bool           // titles of other posts (warm-up)

	cycles    int
	stats     crashStats
	times     crashTimes
	lastBoard int
}

type crashStats struct {
	creates, edits, statuses, imports, reimports, importedRows int // acknowledged
	inflight, landed                                           int
	kills, earlyKills, checks                                  int
	verifiedPosts, verifiedRows                                int
	peerPosts, peerStatuses, peerSeen, peerChecked             int
}

func (s *crashStats) add(o crashStats) {
	s.creates += o.creates
	s.edits += o.edits
	s.statuses += o.statuses
	s.imports += o.imports
	s.reimports += o.reimports
	s.importedRows += o.importedRows
	s.inflight += o.inflight
	s.landed += o.landed
}

type crashTimes struct{ start, run, check, verify durations }

// durations summarises how long one step of the cycles took.
type durations []time.Duration

func (d durations) String() string {
	if len(d) == 0 {
		return "-"
	}
	s := slices.Clone(d)
	slices.Sort(s)
	var sum time.Duration
	for _, v := range s {
		sum += v
	}
	ms := func(v time.Duration) string { return v.Round(time.Millisecond).String() }
	return fmt.Sprintf("mean %s p50 %s max %s", ms(sum/time.Duration(len(s))), ms(s[len(s)/2]), ms(s[len(s)-1]))
}

// postState is what the test checks of a post.
type postState struct {
	Details  string `json:"details"`
	Category string `json:"category"`
	Location string `json:"location"`
	Quantity uint32 `json:"quantity"`
	Urgency  string `json:"urgency"`
	Status   string `json:"status"`
}

// boardPost is a post as GET /api/v1/posts lists it.
type boardPost struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Kind  string `json:"kind"`
	postState
}

// ownedPost is a post that one client created and alone changes, so that
// its state after a restart is known.
type ownedPost struct {
	title, kind string
	id          string     // "" until its create was answered, or it was seen
	acked       bool       // it must exist: its create was acknowledged, or it was seen
	state       postState  // its acknowledged (or seen) state
	pending     *postState // its state if the request in flight at the kill landed
}

// crashSheet is a small CSV that one client imports, and may import again.
type crashSheet struct {
	csv      []byte
	rows     []crashRow
	attempts int
	acked    bool // an import of it was acknowledged: every row must exist
	complete bool // an import that created every row was acknowledged: each has its status
}

type crashRow struct{ title, kind, status string }

type crashPeerPost struct {
	id    string
	state postState
}

// crashClient is one API client of the node under test.
type crashClient struct {
	n      int
	rng    *rand.Rand
	posts  []*ownedPost
	sheets []*crashSheet
	made   int // posts created (or tried), for titles
	ops    int // for unique field values
	stats  crashStats
}

func newCrashRun(t *testing.T, seed uint64) *crashRun {
	cx := &crashRun{
		t:         t,
		rng:       rand.New(rand.NewPCG(seed, 0x6d757475616c)),
		peerPosts: map[string]*crashPeerPost{},
		known:     map[string]bool{},
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = crashClients
	cx.hc = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	for i := range crashClients {
		cx.clients = append(cx.clients, &crashClient{n: i})
	}

	// The node under test A founds the group; the peer P joins it with
	// an invite and runs throughout, on fixed ports that A dials (--peer)
	// each time it starts. Of two nodes, the one with the smaller peer ID
	// starts their catch-up sessions: A gets that one, so that each start
	// begins with a catch-up at once.
	dA, dP := t.TempDir(), t.TempDir()
	idA, idP := crashPeerID(t, dA), crashPeerID(t, dP)
	if idP < idA {
		dA, dP = dP, dA
	}
	var g struct{ ID string }
	mustJSON(t, mutual(t, dA, "group", "create", "Crash Aid", "--json"), &g)
	cx.group = g.ID
	var inv struct{ Code string }
	mustJSON(t, mutual(t, dA, "invite", "--json"), &inv)
	mustJSON(t, mutual(t, dP, "join", inv.Code, "--json"), &struct{}{})
	// P listens on TCP only: a killed node's TCP connections end with
	// it, while P would hold a killed node's QUIC connections until
	// their idle timeout (30 s), and past a few of them its resource
	// manager refuses the restarted node's new ones (see
	// docs/benchmarks.md).
	cx.p = startNode(t, "P", dP, freeListen(t)[:1])
	var ni struct {
		Addrs []string `json:"addrs"`
	}
	if err := cx.p.get("/api/v1/node", &ni); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ni.Addrs, func(a string) bool { return strings.Contains(a, "/tcp/") })
	if i < 0 {
		t.Fatalf("the peer has no TCP address: %q", ni.Addrs)
	}
	cx.a = startNode(t, "A", dA, ephemeralListen, "--peer", ni.Addrs[i])

	// Warm-up: a post on each side reaches the other, so that A knows P
	// as a member before the first kill.
	pa, pp := createPost(t, dA, "warm-up on A"), createPost(t, dP, "warm-up on P")
	cx.known[pa.Title], cx.known[pp.Title] = true, true
	t0 := time.Now()
	waitBoard(t, "P", dP, []string{pa.ID}, 60*time.Second)
	t.Logf("warm-up: P has A's post after %v", time.Since(t0).Round(time.Millisecond))
	waitBoard(t, "A", dA, []string{pp.ID}, 60*time.Second)
	t.Logf("warm-up: A has P's post after %v", time.Since(t0).Round(time.Millisecond))
	return cx
}

// crashPeerID creates a node's identity in data and returns its peer ID.
func crashPeerID(t *testing.T, data string) peer.ID {
	t.Helper()
	id, err := peer.Decode(peerID(t, data))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// cycle runs the clients until a kill, lets the peer write and checks
// the store while the node is down, then restarts it and verifies.
func (cx *crashRun) cycle(n int) {
	t := cx.t
	t.Helper()

	tRun := time.Now()
	var wg sync.WaitGroup
	for _, c := range cx.clients {
		c.rng = rand.New(rand.NewPCG(cx.rng.Uint64(), cx.rng.Uint64()))
		c.stats = crashStats{}
		wg.Go(func() {
			for c.step(cx) {
			}
		})
	}
	delay := time.Duration(10+cx.rng.IntN(390)) * time.Millisecond
	select {
	case <-cx.a.exited:
		t.Fatalf("cycle %d: the node exited by itself (%v)", n, cx.a.cmd.ProcessState)
	case <-time.After(delay):
	}
	cx.a.kill()
	wg.Wait()
	cx.hc.CloseIdleConnections()
	cx.times.run = append(cx.times.run, time.Since(tRun))
	cx.stats.kills++
	for _, c := range cx.clients {
		cx.stats.add(c.stats)
	}
	if t.Failed() {
		t.FailNow()
	}

	// A is down: the peer writes, for the next start's catch-up.
	cx.peerWrites()

	// Now and then, a kill while the node starts (opening the store,
	// catching up with the peer).
	if cx.rng.IntN(8) == 0 {
		cx.a.launch()
		time.Sleep(time.Duration(cx.rng.IntN(300)) * time.Millisecond)
		cx.a.kill()
		cx.stats.earlyKills++
	}

	time.Sleep(*crashDown)
	if n%max(*crashCheck, 1) == 0 || n == cx.cycles {
		tCheck := time.Now()
		before := treeSums(t, filepath.Join(cx.a.data, "store"))
		if r := mutual(t, cx.a.data, "check"); r.code != 0 {
			t.Fatalf("cycle %d: `mutual check` after the kill: exit %d\n%s%s", n, r.code, r.stdout, r.stderr)
		}
		if after := treeSums(t, filepath.Join(cx.a.data, "store")); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("cycle %d: `mutual check` changed the store:\nbefore %v\nafter  %v", n, before, after)
		}
		cx.times.check = append(cx.times.check, time.Since(tCheck))
		cx.stats.checks++
	}

	tStart := time.Now()
	cx.a.start()
	cx.times.start = append(cx.times.start, time.Since(tStart))

	tVerify := time.Now()
	cx.verify(n)
	cx.times.verify = append(cx.times.verify, time.Since(tVerify))
}

// do sends one request to the node under test. err is set only when no
// answer came (the node died): then the change may or may not have
// landed. A 2xx answer acknowledges the change even if its body was cut
// off; the body is then nil.
func (cx *crashRun) do(base, method, path, ctype string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := cx.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		b = nil
	}
	return resp.StatusCode, b, nil
}

// step makes one change; false once the node no longer answers (or
// answered wrongly, which fails the test).
func (c *crashClient) step(cx *crashRun) bool {
	var live []*ownedPost
	for _, p := range c.posts {
		if p.acked && p.id != "" {
			live = append(live, p)
		}
	}
	r := c.rng.Float64()
	switch {
	case r < 0.03:
		return c.importSheet(cx)
	case len(live) == 0 || r < 0.18 && len(c.posts) < crashMaxOwned:
		return c.create(cx)
	case r < 0.45:
		return c.setStatus(cx, live[c.rng.IntN(len(live))])
	default:
		return c.edit(cx, live[c.rng.IntN(len(live))])
	}
}

var (
	crashCategories = []string{"food", "clothing", "transport", "housing", "tools"}
	crashLocations  = []string{"Old Town", "Ward 4", "Riverside", "North End"}
	crashUrgencies  = []string{"low", "normal", "high"}
	crashStatuses   = []string{"open", "claimed", "fulfilled", "withdrawn"}
)

func (c *crashClient) value() string {
	c.ops++
	return fmt.Sprintf("client %d change %d", c.n, c.ops)
}

func pick(rng *rand.Rand, vs []string) string { return vs[rng.IntN(len(vs))] }

// answered handles the answer to a change: true if it was acknowledged.
// A request without an answer counts as in flight at the kill.
func (c *crashClient) answered(cx *crashRun, what string, code int, b []byte, err error, want int) bool {
	if err != nil {
		c.stats.inflight++
		return false
	}
	if code != want {
		cx.t.Errorf("client %d: %s: %d %s", c.n, what, code, b)
		return false
	}
	return true
}

func (c *crashClient) create(cx *crashRun) bool {
	c.made++
	st := postState{
		Details:  c.value(),
		Category: pick(c.rng, crashCategories),
		Location: pick(c.rng, crashLocations),
		Quantity: uint32(c.rng.IntN(50)),
		Urgency:  pick(c.rng, crashUrgencies),
		Status:   "open",
	}
	p := &ownedPost{title: fmt.Sprintf("client %d post %d", c.n, c.made), kind: pick(c.rng, []string{"need", "offer"}), pending: &st}
	c.posts = append(c.posts, p)
	body, _ := json.Marshal(map[string]any{"kind": p.kind, "title": p.title, "details": st.Details,
		"category": st.Category, "location": st.Location, "quantity": st.Quantity, "urgency": st.Urgency})
	code, b, err := cx.do(cx.a.base, "POST", "/api/v1/posts", "application/json", body)
	if !c.answered(cx, "create "+p.title, code, b, err, http.StatusCreated) {
		return false
	}
	p.acked, p.state, p.pending = true, st, nil
	var bp boardPost
	if json.Unmarshal(b, &bp) == nil {
		p.id = bp.ID
	}
	c.stats.creates++
	return true
}

func (c *crashClient) edit(cx *crashRun, p *ownedPost) bool {
	next := p.state
	obj := map[string]any{}
	for len(obj) == 0 {
		if c.rng.IntN(3) == 0 {
			next.Details = c.value()
			obj["details"] = next.Details
		}
		if c.rng.IntN(4) == 0 {
			next.Category = pick(c.rng, crashCategories)
			obj["category"] = next.Category
		}
		if c.rng.IntN(4) == 0 {
			next.Location = pick(c.rng, crashLocations)
			obj["location"] = next.Location
		}
		if c.rng.IntN(4) == 0 {
			next.Quantity = uint32(c.rng.IntN(50))
			obj["quantity"] = next.Quantity
		}
		if c.rng.IntN(4) == 0 {
			next.Urgency = pick(c.rng, crashUrgencies)
			obj["urgency"] = next.Urgency
		}
	}
	body, _ := json.Marshal(obj)
	p.pending = &next
	code, b, err := cx.do(cx.a.base, "PATCH", "/api/v1/posts/"+p.id, "application/json", body)
	if !c.answered(cx, "edit "+p.title, code, b, err, http.StatusOK) {
		return false
	}
	p.state, p.pending = next, nil
	c.stats.edits++
	return true
}

func (c *crashClient) setStatus(cx *crashRun, p *ownedPost) bool {
	next := p.state
	for next.Status == p.state.Status {
		next.Status = pick(c.rng, crashStatuses)
	}
	p.pending = &next
	code, b, err := cx.do(cx.a.base, "POST", "/api/v1/posts/"+p.id+"/status", "application/json",
		[]byte(`{"status":"`+next.Status+`"}`))
	if !c.answered(cx, "status of "+p.title, code, b, err, http.StatusOK) {
		return false
	}
	p.state, p.pending = next, nil
	c.stats.statuses++
	return true
}

// importSheet imports a new sheet of 2–5 rows, or once crashMaxSheets
// were made, one of this client's sheets again: an import of an
// acknowledged sheet must add nothing.
func (c *crashClient) importSheet(cx *crashRun) bool {
	var s *crashSheet
	if len(c.sheets) > 0 && (cx.sheets >= crashMaxSheets || c.rng.IntN(4) == 0) {
		s = c.sheets[c.rng.IntN(len(c.sheets))]
	} else {
		s = &crashSheet{}
		var b strings.Builder
		b.WriteString("Type,Title,Details,Status\n")
		for i := range 2 + c.rng.IntN(4) {
			row := crashRow{
				title:  fmt.Sprintf("client %d sheet %d row %d", c.n, len(c.sheets)+1, i+1),
				kind:   pick(c.rng, []string{"need", "offer"}),
				status: pick(c.rng, crashStatuses),
			}
			s.rows = append(s.rows, row)
			fmt.Fprintf(&b, "%s,%s,imported by client %d,%s\n", row.kind, row.title, c.n, row.status)
		}
		s.csv = []byte(b.String())
		c.sheets = append(c.sheets, s)
	}
	again := s.attempts > 0
	s.attempts++
	code, b, err := cx.do(cx.a.base, "POST", "/api/v1/import/csv?group="+cx.group, "text/csv", s.csv)
	if !c.answered(cx, "import", code, b, err, http.StatusOK) {
		return false
	}
	var res struct {
		Imported   int               `json:"imported"`
		Duplicates int               `json:"duplicates"`
		Errors     []json.RawMessage `json:"errors"`
	}
	if b != nil && json.Unmarshal(b, &res) == nil {
		switch {
		case len(res.Errors) > 0 || res.Imported+res.Duplicates != len(s.rows):
			cx.t.Errorf("client %d: import of %d rows: %s", c.n, len(s.rows), b)
		case s.acked && res.Imported > 0:
			cx.t.Errorf("client %d: importing an acknowledged sheet again created %d of its %d rows again", c.n, res.Imported, len(s.rows))
		}
		if res.Imported == len(s.rows) {
			s.complete = true
		}
		c.stats.importedRows += res.Imported
	} else if !again {
		s.complete = true
		c.stats.importedRows += len(s.rows)
	}
	s.acked = true
	c.stats.imports++
	if again {
		c.stats.reimports++
	}
	return true
}

// peerWrites has the peer post, or change a status, 0–2 times while the
// node under test is down.
func (cx *crashRun) peerWrites() {
	t := cx.t
	for range cx.rng.IntN(3) {
		if len(cx.peerPosts) < crashMaxPeer {
			title := fmt.Sprintf("peer post %d", len(cx.peerPosts)+1)
			st := postState{Details: "from the peer", Category: pick(cx.rng, crashCategories),
				Location: pick(cx.rng, crashLocations), Urgency: "normal", Status: "open"}
			body, _ := json.Marshal(map[string]any{"kind": "offer", "title": title, "details": st.Details,
				"category": st.Category, "location": st.Location})
			code, b, err := cx.do(cx.p.base, "POST", "/api/v1/posts", "application/json", body)
			if err != nil || code != http.StatusCreated {
				t.Fatalf("peer post: %d %s %v", code, b, err)
			}
			var bp boardPost
			if err := json.Unmarshal(b, &bp); err != nil {
				t.Fatal(err)
			}
			cx.peerPosts[title] = &crashPeerPost{id: bp.ID, state: st}
			cx.peerNew = append(cx.peerNew, title)
			cx.stats.peerPosts++
			continue
		}
		titles := make([]string, 0, len(cx.peerPosts))
		for title := range cx.peerPosts {
			titles = append(titles, title)
		}
		slices.Sort(titles)
		title := pick(cx.rng, titles)
		pp := cx.peerPosts[title]
		next := pp.state.Status
		for next == pp.state.Status {
			next = pick(cx.rng, crashStatuses)
		}
		code, b, err := cx.do(cx.p.base, "POST", "/api/v1/posts/"+pp.id+"/status", "application/json", []byte(`{"status":"`+next+`"}`))
		if err != nil || code != http.StatusOK {
			t.Fatalf("peer status: %d %s %v", code, b, err)
		}
		pp.state.Status = next
		cx.stats.peerStatuses++
	}
}

// verify checks the restarted node's board against what its clients
// were told, and takes what it shows as the state the next changes
// start from.
func (cx *crashRun) verify(cycle int) {
	t := cx.t
	t.Helper()
	var ps []boardPost
	if err := cx.a.get("/api/v1/posts?group="+cx.group, &ps); err != nil {
		t.Fatalf("cycle %d: %v", cycle, err)
	}
	cx.lastBoard = len(ps)
	var bad []string
	badf := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	byTitle := make(map[string]boardPost, len(ps))
	for _, p := range ps {
		if q, dup := byTitle[p.Title]; dup {
			badf("two posts titled %q: %s and %s", p.Title, q.ID, p.ID)
		}
		byTitle[p.Title] = p
	}
	known := map[string]bool{}
	for title := range cx.known {
		known[title] = true
	}
	for title := range cx.peerPosts {
		known[title] = true
	}
	for _, c := range cx.clients {
		keep := c.posts[:0]
		for _, p := range c.posts {
			known[p.title] = true
			bp, ok := byTitle[p.title]
			if !ok {
				if p.acked {
					badf("acknowledged post %q (%s) is gone", p.title, p.id)
				}
				continue // an unacknowledged create that did not land
			}
			if p.id != "" && bp.ID != p.id {
				badf("post %q has ID %s, was acknowledged as %s", p.title, bp.ID, p.id)
			}
			switch {
			case p.acked && bp.postState == p.state:
			case p.pending != nil && bp.postState == *p.pending:
				cx.stats.landed++
			default:
				badf("post %q shows %+v; acknowledged %+v (create acknowledged: %v), in flight %+v",
					p.title, bp.postState, p.state, p.acked, p.pending)
			}
			if bp.Kind != p.kind {
				badf("post %q is a %s, was created as a %s", p.title, bp.Kind, p.kind)
			}
			p.id, p.acked, p.state, p.pending = bp.ID, true, bp.postState, nil
			keep = append(keep, p)
			cx.stats.verifiedPosts++
		}
		c.posts = keep
		for _, s := range c.sheets {
			for _, row := range s.rows {
				known[row.title] = true
				if !s.acked {
					continue
				}
				bp, ok := byTitle[row.title]
				switch {
				case !ok:
					badf("row %q of an acknowledged import is gone", row.title)
				case bp.Kind != row.kind:
					badf("imported row %q is a %s, want %s", row.title, bp.Kind, row.kind)
				case s.complete && bp.Status != row.status:
					badf("imported row %q is %s, want %s", row.title, bp.Status, row.status)
				default:
					cx.stats.verifiedRows++
				}
			}
		}
	}
	cx.sheets = 0
	for _, c := range cx.clients {
		cx.sheets += len(c.sheets)
	}
	for title := range byTitle {
		if !known[title] {
			badf("post %q appeared, which nobody made", title)
		}
	}
	// The peer's posts made while A was down arrive by catch-up once it
	// runs, which the next kill may cut short: counted here for those the
	// node had a whole run to fetch, required at the end.
	for _, title := range cx.peerPrev {
		cx.stats.peerChecked++
		if _, ok := byTitle[title]; ok {
			cx.stats.peerSeen++
		}
	}
	cx.peerPrev, cx.peerNew = cx.peerNew, nil
	if len(bad) > 0 {
		if len(bad) > 20 {
			bad = append(bad[:20], fmt.Sprintf("and %d more", len(bad)-20))
		}
		t.Fatalf("cycle %d, after the restart:\n  %s", cycle, strings.Join(bad, "\n  "))
	}
}

// converge waits until the node and its peer have the same board, with
// no fork, and the peer's posts show on the node as the peer made them.
func (cx *crashRun) converge() {
	t := cx.t
	t.Helper()
	type checkJSON struct {
		Stored     string            `json:"stored"`
		Recomputed string            `json:"recomputed"`
		OK         bool              `json:"ok"`
		Forks      []json.RawMessage `json:"forks"`
	}
	eventually(t, 60*time.Second, 200*time.Millisecond, "the node and its peer converge", func() error {
		var ca, cp checkJSON
		if err := cx.a.get("/api/v1/groups/"+cx.group+"/check", &ca); err != nil {
			return err
		}
		if err := cx.p.get("/api/v1/groups/"+cx.group+"/check", &cp); err != nil {
			return err
		}
		if !ca.OK || !cp.OK || len(ca.Forks) > 0 || len(cp.Forks) > 0 {
			return fmt.Errorf("check: node %+v, peer %+v", ca, cp)
		}
		if ca.Stored != cp.Stored {
			return fmt.Errorf("state hashes differ: node %s, peer %s", ca.Stored, cp.Stored)
		}
		return nil
	})
	var ps []boardPost
	if err := cx.a.get("/api/v1/posts?group="+cx.group, &ps); err != nil {
		t.Fatal(err)
	}
	byTitle := map[string]boardPost{}
	for _, p := range ps {
		byTitle[p.Title] = p
	}
	for title, pp := range cx.peerPosts {
		bp, ok := byTitle[title]
		if !ok || bp.ID != pp.id || bp.postState != pp.state {
			t.Errorf("peer post %q on the node: %+v (present: %v), want %s %+v", title, bp, ok, pp.id, pp.state)
		}
	}
}
