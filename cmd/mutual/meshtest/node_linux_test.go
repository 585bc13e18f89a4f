package meshtest

import (
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
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/node/logtest"
)

// A node is `mutual serve` run inside a host's namespace with
// `ip netns exec`, as a separate process. Its API listens on the
// namespace's own 127.0.0.1:7777 (every namespace has its own loopback),
// which the test reaches through a dialer that opens its sockets inside
// the namespace; the CLI is run inside the namespace too, so that it
// finds the node through api.addr as a user's would.

const (
	apiAddr = "127.0.0.1:7777"
	p2pPort = "4001"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary returns the mutual binary the nodes run: the one
// $MUTUAL_TEST_BINARY names (test.sh builds it once for every package
// and step that runs it), else cmd/mutual built here, once per package
// run.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if p := os.Getenv("MUTUAL_TEST_BINARY"); p != "" {
			binPath = p
			if !filepath.IsAbs(p) {
				binErr = fmt.Errorf("MUTUAL_TEST_BINARY=%s: an absolute path, please", p)
			} else if fi, err := os.Stat(p); err != nil {
				binErr = fmt.Errorf("MUTUAL_TEST_BINARY: %w", err)
			} else if fi.IsDir() || fi.Mode()&0o111 == 0 {
				binErr = fmt.Errorf("MUTUAL_TEST_BINARY=%s is not an executable file", p)
			}
			return
		}
		dir, err := os.MkdirTemp("", "mutual-mesh")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "mutual")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/mutual-aid/mutual/cmd/mutual").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// cli runs the mutual CLI on a data dir from the root namespace: for a
// node that is not serving (it opens the store directly and touches no
// network).
func cli(t *testing.T, data string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary(t), append(args, "--data", data)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("mutual %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// node is one `mutual serve` process in a host's namespace.
type node struct {
	t      *testing.T
	name   string
	host   *host
	data   string
	extra  []string
	cmd    *exec.Cmd
	logs   *logtest.Buffer
	exited chan struct{}
	api    *http.Client
}

// newNode makes a data dir with an identity named after the host.
func newNode(t *testing.T, h *host) *node {
	t.Helper()
	n := &node{t: t, name: h.name, host: h, data: t.TempDir(), logs: &logtest.Buffer{}}
	n.api = &http.Client{Transport: &http.Transport{DialContext: h.ns.dial}, Timeout: 20 * time.Second}
	cli(t, n.data, "init", "--name", h.name)
	t.Cleanup(func() {
		if t.Failed() && n.cmd != nil {
			var peers any
			err := n.get("/api/v1/peers", &peers)
			b, _ := json.Marshal(peers)
			t.Logf("--- %s's peers at the end (%v): %s", n.name, err, b)
			t.Logf("--- logs of %s:\n%s", n.name, n.logs.Tail(32<<10))
		}
		if n.cmd != nil {
			n.kill()
		}
	})
	return n
}

// newGroup makes a group on admin's node and has every member join it
// with an invite code, and returns the group's ID. The code is made
// before any of them has served, so it carries no address: the nodes find
// each other only as the test's network lets them.
func newGroup(t *testing.T, admin *node, members ...*node) string {
	t.Helper()
	var g struct{ ID string }
	if err := json.Unmarshal([]byte(cli(t, admin.data, "group", "create", "Mesh Aid", "--json")), &g); err != nil {
		t.Fatal(err)
	}
	code := admin.invite()
	for _, m := range members {
		m.join(code)
	}
	return g.ID
}

// invite makes an invite code on an admin's node (through its API when
// it serves). The code names the members the node knows of: a newcomer
// offers its join only to them.
func (n *node) invite() string {
	n.t.Helper()
	var inv struct{ Code string }
	if err := json.Unmarshal(n.cli("invite", "--json"), &inv); err != nil || inv.Code == "" {
		n.t.Fatalf("%s: invite: %v", n.name, err)
	}
	return inv.Code
}

// join joins a group with an invite code; the node is not serving.
func (n *node) join(code string) {
	n.t.Helper()
	cli(n.t, n.data, "join", code)
}

// peerID returns the node's libp2p peer ID.
func (n *node) peerID() string {
	n.t.Helper()
	var ni struct {
		PeerID string `json:"peer_id"`
	}
	if err := n.get("/api/v1/node", &ni); err != nil {
		n.t.Fatal(err)
	}
	return ni.PeerID
}

// foundByMDNS reports whether n's log says it connected to other after
// finding it by mDNS.
func (n *node) foundByMDNS(other *node) bool {
	id := other.peerID()
	for _, l := range n.logs.Lines("connected to peer found by mDNS") {
		if strings.Contains(l, id) {
			return true
		}
	}
	return false
}

// learnedByPex reports whether n's log says it connected to other after
// learning its address by peer exchange.
func (n *node) learnedByPex(other *node) bool {
	id := other.peerID()
	for _, l := range n.logs.Lines("connected to a peer learned by peer exchange") {
		if strings.Contains(l, "remote="+id) {
			return true
		}
	}
	return false
}

// jpeer is a peer in GET /api/v1/peers.
type jpeer struct {
	PeerID    string   `json:"peer_id"`
	Connected bool     `json:"connected"`
	Via       string   `json:"via"`
	Groups    []string `json:"groups"`
}

// peer returns what x's API says of y, and whether it lists y at all.
func (x *node) peer(y *node) (jpeer, bool, error) {
	id := y.peerID()
	var ps []jpeer
	if err := x.get("/api/v1/peers", &ps); err != nil {
		return jpeer{}, false, err
	}
	i := slices.IndexFunc(ps, func(p jpeer) bool { return p.PeerID == id })
	if i < 0 {
		return jpeer{}, false, nil
	}
	return ps[i], true, nil
}

// waitConnected waits until x lists y as connected.
func waitConnected(t *testing.T, x, y *node) jpeer {
	t.Helper()
	t0 := time.Now()
	for {
		p, ok, err := x.peer(y)
		if ok && p.Connected {
			return p
		}
		if time.Since(t0) > settle {
			t.Fatalf("%s does not list %s as connected after %v (%v): %+v", x.name, y.name, settle, err, p)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitMember waits until n's board lists other as a member of group:
// other's join has reached n.
func (n *node) waitMember(group string, other *node) {
	t := n.t
	t.Helper()
	t0 := time.Now()
	for {
		var g struct {
			Members []struct{ Name string } `json:"members"`
		}
		err := n.get("/api/v1/groups/"+group, &g)
		if slices.ContainsFunc(g.Members, func(m struct{ Name string }) bool { return m.Name == other.name }) {
			return
		}
		if time.Since(t0) > settle {
			t.Fatalf("%s does not list %s as a member after %v (%v): %+v", n.name, other.name, settle, err, g)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// serve starts the node's `mutual serve` with extra flags (e.g. --peer)
// and waits until its API answers.
func (n *node) serve(extra ...string) {
	t := n.t
	t.Helper()
	n.extra = extra
	os.Remove(filepath.Join(n.data, "api.addr"))
	args := []string{"netns", "exec", n.host.ns.name, binary(t), "serve", "--data", n.data,
		"--http", apiAddr,
		"--listen", "/ip4/0.0.0.0/tcp/" + p2pPort,
		"--listen", "/ip4/0.0.0.0/udp/" + p2pPort + "/quic-v1"}
	args = append(args, extra...)
	cmd := exec.Command("ip", args...)
	fmt.Fprintf(n.logs, "--- %s: serve %s\n", n.name, strings.Join(extra, " "))
	cmd.Stdout, cmd.Stderr = n.logs, n.logs
	// `ip netns exec` execs mutual in its place, which keeps the setting:
	// the node dies with the test binary even if a timeout kills it
	// before the cleanups run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.cmd = cmd
	exited := make(chan struct{})
	n.exited = exited
	go func() { cmd.Wait(); close(exited) }()

	deadline := time.Now().Add(60 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			t.Fatalf("%s: serve exited (%v):\n%s", n.name, cmd.ProcessState, n.logs.Tail(16<<10))
		default:
		}
		var ni struct {
			PeerID string `json:"peer_id"`
		}
		if err = n.get("/api/v1/node", &ni); err == nil && ni.PeerID != "" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: serve's API did not answer (%v):\n%s", n.name, err, n.logs.Tail(16<<10))
}

func (n *node) kill() {
	n.cmd.Process.Kill()
	<-n.exited
}

// get decodes a GET of the node's API.
func (n *node) get(path string, v any) error {
	resp, err := n.api.Get("http://" + apiAddr + path)
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

// cli runs the mutual CLI on the node's data dir inside its namespace:
// with the node serving, the CLI goes through its API, found through
// api.addr (127.0.0.1:7777 means the namespace's own loopback).
func (n *node) cli(args ...string) []byte {
	t := n.t
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.host.ns.name, binary(t)},
		append(args, "--data", n.data)...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: mutual %s: %v: %s", n.name, strings.Join(args, " "), err, errb.String())
	}
	return out.Bytes()
}

// post makes a post with the CLI.
func (n *node) post(title string) string {
	n.t.Helper()
	out := n.cli("post", "offer", "--title", title, "--json")
	var p struct{ ID, Title string }
	if err := json.Unmarshal(out, &p); err != nil || p.ID == "" || p.Title != title {
		n.t.Fatalf("%s: mutual post printed %q (%v)", n.name, out, err)
	}
	return p.ID
}

// posts returns the IDs of the posts on the node's board.
func (n *node) posts() (map[string]bool, error) {
	var ps []struct{ ID string }
	if err := n.get("/api/v1/posts", &ps); err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(ps))
	for _, p := range ps {
		out[p.ID] = true
	}
	return out, nil
}

// addrs returns the multiaddrs the node announces, with /p2p/ID.
func (n *node) addrs() []string {
	n.t.Helper()
	var ni struct{ Addrs []string }
	if err := n.get("/api/v1/node", &ni); err != nil {
		n.t.Fatal(err)
	}
	return ni.Addrs
}

// addrOn returns the node's TCP multiaddr on interface i, with /p2p/ID.
func (n *node) addrOn(i *iface) string {
	n.t.Helper()
	want := "/ip4/" + i.ip.String() + "/tcp/" + p2pPort + "/"
	for _, a := range n.addrs() {
		if strings.HasPrefix(a, want) {
			return a
		}
	}
	n.t.Fatalf("%s announces no address on %s: %v", n.name, i.ip, n.addrs())
	return ""
}

// converge waits until every node has every post in ids. The bound is
// only there so that a test that will never converge ends: generous,
// since the machine may be loaded, and no speed is asserted.
func converge(t *testing.T, within time.Duration, nodes []*node, ids ...string) time.Duration {
	t.Helper()
	t0 := time.Now()
	for {
		var lacking []string
		for _, n := range nodes {
			have, err := n.posts()
			if err != nil {
				lacking = append(lacking, fmt.Sprintf("%s: %v", n.name, err))
				continue
			}
			miss := 0
			for _, id := range ids {
				if !have[id] {
					miss++
				}
			}
			if miss > 0 {
				lacking = append(lacking, fmt.Sprintf("%s lacks %d of %d", n.name, miss, len(ids)))
			}
		}
		if len(lacking) == 0 {
			return time.Since(t0)
		}
		if time.Since(t0) > within {
			t.Fatalf("not converged after %v: %s", within, strings.Join(lacking, "; "))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// unreachable fails the test if from can open a TCP path to ip.
func unreachable(t *testing.T, from *host, ip net.IP) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if from.canReach(ctx, ip) {
		t.Fatalf("%s reaches %s: the topology is not what the test needs", from.name, ip)
	}
}

// reachable fails the test if from cannot open a TCP path to ip.
func reachable(t *testing.T, from *host, ip net.IP) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !from.canReach(ctx, ip) {
		t.Fatalf("%s cannot reach %s: the topology is not what the test needs", from.name, ip)
	}
}
