package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/node/logtest"
	"github.com/mutual-aid/mutual/protocol"
)

// The sync end-to-end tests run several `mutual serve` processes on
// loopback, each on its own data dir, and drive them with the CLI and the
// HTTP API as a user would.

// proc is one `mutual serve` process.
type proc struct {
	t      *testing.T
	name   string
	data   string
	listen []string
	extra  []string
	cmd    *exec.Cmd
	logs   *logtest.Buffer
	base   string // http://127.0.0.1:PORT
	exited chan struct{}
	// cleanup is set once the process's cleanup (kill, logs on
	// failure) is registered: once for all its runs.
	cleanup bool
}

// freeListen returns libp2p listen addresses on loopback with ports that
// are free now (TCP and QUIC), so that a node can be restarted on the
// same addresses.
func freeListen(t *testing.T) []string {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := l.Addr().(*net.TCPAddr).Port
	l.Close()
	u, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := u.LocalAddr().(*net.UDPAddr).Port
	u.Close()
	return []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", tp), fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", up)}
}

// ephemeralListen is what serve(t, data) listens on.
var ephemeralListen = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}

// startNode runs `mutual serve` on loopback (no mDNS) and waits until its
// API answers. extra are more serve flags (e.g. --peer).
func startNode(t *testing.T, name, data string, listen []string, extra ...string) *proc {
	t.Helper()
	n := &proc{t: t, name: name, data: data, listen: listen, extra: extra}
	n.start()
	return n
}

func (n *proc) start() {
	n.t.Helper()
	n.launch()
	n.waitUp()
}

// launch execs `mutual serve` without waiting for its API. Its logs go on
// after those of the process's earlier runs.
func (n *proc) launch() {
	t := n.t
	t.Helper()
	os.Remove(filepath.Join(n.data, "api.addr"))
	args := []string{"serve", "--data", n.data, "--http", "127.0.0.1:0", "--no-mdns"}
	for _, l := range n.listen {
		args = append(args, "--listen", l)
	}
	args = append(args, n.extra...)
	cmd := exec.Command(binary(t), args...)
	if n.logs == nil {
		n.logs = &logtest.Buffer{}
	} else {
		fmt.Fprintf(n.logs, "--- %s restarted\n", n.name)
	}
	cmd.Stdout, cmd.Stderr = n.logs, n.logs
	cmd.SysProcAttr = dieWithTest()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.cmd = cmd
	exited := make(chan struct{})
	n.exited = exited
	go func() { cmd.Wait(); close(exited) }()
	if !n.cleanup {
		n.cleanup = true
		t.Cleanup(func() {
			n.kill()
			if t.Failed() {
				t.Logf("--- logs of %s (%s):\n%s", n.name, n.data, n.logs.Tail(64<<10))
			}
		})
	}
}

// waitUp waits until the process's API answers.
func (n *proc) waitUp() {
	t := n.t
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-n.exited:
			t.Fatalf("%s: serve exited (%v):\n%s", n.name, n.cmd.ProcessState, n.logs.Tail(16<<10))
		default:
		}
		if b, err := os.ReadFile(filepath.Join(n.data, "api.addr")); err == nil {
			base := "http://" + strings.TrimSpace(string(b))
			if resp, err := http.Get(base + "/api/v1/node"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					n.base = base
					return
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: serve did not come up:\n%s", n.name, n.logs.Tail(16<<10))
}

// kill sends SIGKILL and waits until the process is gone.
func (n *proc) kill() {
	n.cmd.Process.Kill()
	<-n.exited
}

// stop sends SIGTERM and waits for a clean exit.
func (n *proc) stop() {
	t := n.t
	t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-n.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: still running 30 s after SIGTERM", n.name)
	}
	if code := n.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("%s: exit %d after SIGTERM:\n%s", n.name, code, n.logs.String())
	}
}

// get decodes a GET of the node's API.
func (n *proc) get(path string, v any) error {
	resp, err := http.Get(n.base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %s %s", path, resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// post creates a post through the API.
func (n *proc) post(ctx context.Context, title string) (jpost, error) {
	body := fmt.Sprintf(`{"kind":"need","title":%q}`, title)
	req, _ := http.NewRequestWithContext(ctx, "POST", n.base+"/api/v1/posts", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return jpost{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 201 {
		b, _ := io.ReadAll(resp.Body)
		return jpost{}, fmt.Errorf("POST: %s %s", resp.Status, b)
	}
	var p jpost
	err = json.NewDecoder(resp.Body).Decode(&p)
	return p, err
}

// postIDs returns the IDs of the posts on the node's board (API).
func (n *proc) postIDs() (map[string]bool, error) {
	var ps []jpost
	if err := n.get("/api/v1/posts", &ps); err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(ps))
	for _, p := range ps {
		out[p.ID] = true
	}
	return out, nil
}

// boardIDs returns the IDs that `mutual board --json` prints.
func boardIDs(t *testing.T, data string) map[string]bool {
	t.Helper()
	var ps []jpost
	mustJSON(t, mutual(t, data, "board", "--json"), &ps)
	out := make(map[string]bool, len(ps))
	for _, p := range ps {
		out[p.ID] = true
	}
	return out
}

func missing(have map[string]bool, want []string) []string {
	var out []string
	for _, id := range want {
		if !have[id] {
			out = append(out, id)
		}
	}
	return out
}

// eventually polls cond every interval until it returns nil or within
// passes, and fails the test with cond's last error.
func eventually(t *testing.T, within, every time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	t0 := time.Now()
	var err error
	for {
		if err = cond(); err == nil {
			return time.Since(t0)
		}
		if time.Since(t0) > within {
			t.Fatalf("after %v, %s: %v", within, what, err)
		}
		time.Sleep(every)
	}
}

// waitBoard waits until `mutual board --json` on data lists every ID.
func waitBoard(t *testing.T, name, data string, ids []string, within time.Duration) time.Duration {
	t.Helper()
	return eventually(t, within, 200*time.Millisecond, name+" has every post", func() error {
		if m := missing(boardIDs(t, data), ids); len(m) > 0 {
			return fmt.Errorf("%d of %d missing", len(m), len(ids))
		}
		return nil
	})
}

type jpeer struct {
	PeerID     string   `json:"peer_id"`
	Name       string   `json:"name"`
	Connected  bool     `json:"connected"`
	LastSeen   string   `json:"last_seen"`
	LastSynced string   `json:"last_synced"`
	Groups     []string `json:"groups"`
}

func peerID(t *testing.T, data string) string {
	t.Helper()
	r := mutual(t, data, "init")
	if r.code != 0 {
		t.Fatalf("init: %+v", r)
	}
	return strings.TrimSpace(r.stdout)
}

func createPost(t *testing.T, data, title string) jpost {
	t.Helper()
	var p jpost
	mustJSON(t, mutual(t, data, "post", "offer", "--title", title, "--json"), &p)
	if p.ID == "" || p.Title != title {
		t.Fatalf("post %q: %+v", title, p)
	}
	return p
}

// TestSyncThreeNodes runs three nodes of one group as separate processes:
// the admin A and two members B and C who joined with an invite code made
// while A was not running. Posts made on any node reach the others; A
// lists B and C as connected and synced; C, stopped while A makes 1,000
// posts, has them all after a restart; a stranger D who dials A gets
// nothing of A's group.
func TestSyncThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts several nodes; skipped with -short")
	}
	dA, dB, dC := t.TempDir(), t.TempDir(), t.TempDir()
	for d, name := range map[string]string{dA: "alice", dB: "bob", dC: "carol"} {
		if r := mutual(t, d, "init", "--name", name); r.code != 0 {
			t.Fatalf("init %s: %+v", name, r)
		}
	}
	idA, idB, idC := peerID(t, dA), peerID(t, dB), peerID(t, dC)
	var g struct{ ID, Name string }
	mustJSON(t, mutual(t, dA, "group", "create", "Eastgate Aid", "--json"), &g)

	// A serves once, so that it knows (and remembers, in addrs.json) its
	// addresses, then stops: the invite is made offline. A listens on
	// fixed ports, as a node does by default (4001), so that the
	// addresses stay valid when it restarts.
	listenA := freeListen(t)
	a := startNode(t, "A", dA, listenA)
	var ni struct {
		PeerID string   `json:"peer_id"`
		Addrs  []string `json:"addrs"`
	}
	if err := a.get("/api/v1/node", &ni); err != nil {
		t.Fatal(err)
	}
	a.stop()

	var inv struct{ Code string }
	mustJSON(t, mutual(t, dA, "invite", "--json"), &inv)
	code, err := protocol.DecodeInviteCode(inv.Code)
	if err != nil {
		t.Fatalf("invite code %q: %v", inv.Code, err)
	}
	if len(code.Addrs) == 0 {
		t.Fatalf("an invite made while A is not serving carries no address (addrs.json: %v)", readFile(dA, "addrs.json"))
	}
	for _, addr := range code.Addrs {
		if !strings.HasSuffix(addr, "/p2p/"+idA) {
			t.Errorf("invite address %q does not end with A's peer ID %s", addr, idA)
		}
	}
	if !slices.Equal(code.Addrs, ni.Addrs) {
		t.Errorf("invite made offline carries %q; A served on %q", code.Addrs, ni.Addrs)
	}
	t.Logf("invite made while A was stopped carries %d addresses: %q", len(code.Addrs), code.Addrs)

	for _, d := range []string{dB, dC} {
		var j struct{ ID, Name string }
		mustJSON(t, mutual(t, d, "join", inv.Code, "--json"), &j)
		if j.ID != g.ID || j.Name != "Eastgate Aid" {
			t.Fatalf("join: %+v, want group %s", j, g.ID)
		}
	}

	// A first: B and C dial the invite's addresses once, when they start.
	a = startNode(t, "A", dA, listenA)
	b := startNode(t, "B", dB, ephemeralListen)
	c := startNode(t, "C", dC, ephemeralListen)

	// One post on each node, through the CLI (which goes through the
	// running node's API); every board ends with all three.
	t0 := time.Now()
	pa := createPost(t, dA, "van on Saturdays (A)")
	pb := createPost(t, dB, "winter coats (B)")
	pc := createPost(t, dC, "rice, 10 kg (C)")
	all := []string{pa.ID, pb.ID, pc.ID}
	for _, n := range []*proc{a, b, c} {
		waitBoard(t, n.name, n.data, all, 60*time.Second)
		t.Logf("%s has the 3 posts %v after the first post", n.name, time.Since(t0).Round(time.Millisecond))
	}

	// Now that the mesh has formed: a post on B reaches A and C, and one
	// on A and one on C reach B.
	pb2 := createPost(t, dB, "B again")
	for _, n := range []*proc{a, c} {
		d := waitBoard(t, n.name, n.data, []string{pb2.ID}, 30*time.Second)
		t.Logf("post on B visible on %s after ≤ %v", n.name, d.Round(time.Millisecond))
	}
	pa2, pc2 := createPost(t, dA, "A again"), createPost(t, dC, "C again")
	waitBoard(t, "B", dB, []string{pa2.ID, pc2.ID}, 30*time.Second)
	all = append(all, pb2.ID, pa2.ID, pc2.ID)

	// `mutual peers --json` on A: B and C, connected, synced, members.
	eventually(t, 30*time.Second, 200*time.Millisecond, "A lists B and C as connected and synced", func() error {
		var ps []jpeer
		r := mutual(t, dA, "peers", "--json")
		if r.code != 0 {
			return fmt.Errorf("peers: exit %d: %s", r.code, r.stderr)
		}
		if err := json.Unmarshal([]byte(r.stdout), &ps); err != nil {
			return err
		}
		for _, want := range []string{idB, idC} {
			i := slices.IndexFunc(ps, func(p jpeer) bool { return p.PeerID == want })
			if i < 0 {
				return fmt.Errorf("%s not listed: %s", want, r.stdout)
			}
			p := ps[i]
			if !p.Connected {
				return fmt.Errorf("%s not connected: %+v", want, p)
			}
			ts, err := time.Parse(time.RFC3339, p.LastSynced)
			if err != nil || ts.Before(t0.Add(-time.Minute)) || ts.After(time.Now().Add(time.Minute)) {
				return fmt.Errorf("%s: last_synced %q", want, p.LastSynced)
			}
			if !slices.Contains(p.Groups, g.ID) {
				return fmt.Errorf("%s: groups %v, want %s", want, p.Groups, g.ID)
			}
		}
		return nil
	})

	// Offline catch-up: C stops; A makes 1,000 posts from 8 API clients;
	// C restarts and gets them all.
	c.stop()
	const offline = 1000
	ctx := context.Background()
	ids := make([]string, offline)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	tPosts := time.Now()
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < offline; i += 8 {
				p, err := a.post(ctx, fmt.Sprintf("offline post %d", i))
				if err != nil {
					errs <- err
					return
				}
				ids[i] = p.ID
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("A: %d posts through the API from 8 clients in %v", offline, time.Since(tPosts).Round(time.Millisecond))
	all = append(all, ids...)

	tRestart := time.Now()
	c.start()
	d := eventually(t, 60*time.Second, 100*time.Millisecond, "C has A's 1,000 posts after its restart", func() error {
		have, err := c.postIDs()
		if err != nil {
			return err
		}
		if m := missing(have, all); len(m) > 0 {
			return fmt.Errorf("%d of %d missing", len(m), len(all))
		}
		return nil
	})
	t.Logf("C restarted and had all %d posts %v after it was started (%v after its API answered)",
		len(all), time.Since(tRestart).Round(time.Millisecond), d.Round(time.Millisecond))
	waitBoard(t, "C", dC, all, 10*time.Second) // and the CLI shows them
	waitBoard(t, "B", dB, all, 60*time.Second) // B was online throughout

	// A stranger D, with a group of its own, dials A with --peer: it
	// connects and completes catch-up sessions, and gets nothing of A's
	// group; A gets nothing of D's.
	dD := t.TempDir()
	if r := mutual(t, dD, "init", "--name", "dave"); r.code != 0 {
		t.Fatalf("init D: %+v", r)
	}
	var gD struct{ ID string }
	mustJSON(t, mutual(t, dD, "group", "create", "Elsewhere", "--json"), &gD)
	dn := startNode(t, "D", dD, ephemeralListen, "--peer", ni.Addrs[0])
	pd := createPost(t, dD, "D's own post")
	eventually(t, 30*time.Second, 200*time.Millisecond, "D connected to A and synced", func() error {
		var ps []jpeer
		if err := dn.get("/api/v1/peers", &ps); err != nil {
			return err
		}
		i := slices.IndexFunc(ps, func(p jpeer) bool { return p.PeerID == idA })
		if i < 0 || !ps[i].Connected || ps[i].LastSynced == "" {
			return fmt.Errorf("D's peers: %+v", ps)
		}
		if len(ps[i].Groups) != 0 {
			return fmt.Errorf("D counts A as a member of %v", ps[i].Groups)
		}
		return nil
	})
	// A posts while D is connected: live gossip must not reach D either.
	pa3 := createPost(t, dA, "A while D is connected")
	waitBoard(t, "B", dB, []string{pa3.ID}, 30*time.Second)
	// Give gossip and one more catch-up session a chance to leak.
	time.Sleep(4 * time.Second)
	have := boardIDs(t, dD)
	if len(have) != 1 || !have[pd.ID] {
		t.Errorf("stranger D's board has %d posts, want only its own: leaked %d of A's group's", len(have), len(have)-1)
	}
	var dGroups struct {
		Groups []struct{ ID string } `json:"groups"`
	}
	if err := dn.get("/api/v1/node", &dGroups); err != nil {
		t.Fatal(err)
	}
	if len(dGroups.Groups) != 1 || dGroups.Groups[0].ID != gD.ID {
		t.Errorf("D's groups: %+v, want only %s", dGroups.Groups, gD.ID)
	}
	if boardIDs(t, dA)[pd.ID] {
		t.Errorf("D's post reached A, which is not a member of D's group")
	}
	var aPeers []jpeer
	if err := a.get("/api/v1/peers", &aPeers); err != nil {
		t.Fatal(err)
	}
	for _, p := range aPeers {
		if p.PeerID != idB && p.PeerID != idC && len(p.Groups) > 0 {
			t.Errorf("A counts stranger %s as a member of %v", p.PeerID, p.Groups)
		}
	}
}

func readFile(dir, name string) string {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return err.Error()
	}
	return string(b)
}
