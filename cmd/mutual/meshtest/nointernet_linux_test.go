package meshtest

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMeshNoInternet: nodes with nowhere to go — each has a --bootstrap
// address, a --peer, an invite code and a follow code whose addresses
// cannot be reached — run long enough for every retry that matters to come round
// at least once: the redials of kept addresses back off to a minute,
// the DHT dials its bootstrap list every 2 minutes while its routing
// table is empty, AutoRelay looks for relays every 30 s. No hook
// shortens them in a separate process, so the test runs about 3
// minutes, beside the other mesh tests, its three nodes side by side in
// one mesh. After its start each node's log stays still, its CPU stays
// under 2 % of a core, its API answers, and SIGTERM stops it at once.
// (C's start lasts longer: its log may say, within the first minute,
// that the public DHT's bootstrap names did not resolve.)
//
//   - A, no route: its namespace has only its loopback; every dial fails
//     at once (network unreachable);
//   - B, into the void: an interface and a default route to a gateway
//     that is not there; every dial waits for ARP, then fails;
//   - C, the same with --public-dht: the public DHT's bootstrap nodes are
//     DNS names, which nothing resolves.
func TestMeshNoInternet(t *testing.T) {
	if testing.Short() {
		t.Skip("runs about 3 minutes, past the node's retry periods; skipped with -short")
	}
	t.Parallel()
	m := newMesh(t)
	hA, hB, hC := m.host("A"), m.host("B"), m.host("C")
	for _, h := range []*host{hB, hC} {
		lan := m.segment() // a segment each: B and C do not meet
		ifc := h.attach(lan)
		h.defaultRoute(net.IPv4(ifc.ip[0], ifc.ip[1], ifc.ip[2], 254)) // nobody there
	}
	for _, h := range []*host{hA, hB, hC} {
		unreachable(t, h, net.IPv4(203, 0, 113, 7))
	}

	// X is a node far away, never up: its codes carry addresses that no
	// one here can reach (TEST-NET ones, which libp2p takes for public).
	dirX := t.TempDir()
	idX := strings.TrimSpace(cli(t, dirX, "init", "--name", "X"))
	far := []string{"/ip4/203.0.113.7/tcp/4001/p2p/" + idX, "/ip4/198.51.100.3/udp/4001/quic-v1/p2p/" + idX}
	b, _ := json.Marshal(far)
	if err := os.WriteFile(dirX+"/addrs.json", b, 0o644); err != nil {
		t.Fatal(err)
	}
	var g1, g2 struct{ ID string }
	json.Unmarshal([]byte(cli(t, dirX, "group", "create", "Far Aid", "--json")), &g1)
	json.Unmarshal([]byte(cli(t, dirX, "group", "create", "Far Board", "--json")), &g2)
	var inv, share struct{ Code string }
	json.Unmarshal([]byte(cli(t, dirX, "invite", "--group", g1.ID, "--json")), &inv)
	json.Unmarshal([]byte(cli(t, dirX, "group", "share", "--group", g2.ID, "--json")), &share)
	boot := "/ip4/203.0.113.9/tcp/4001/p2p/" + strings.TrimSpace(cli(t, t.TempDir(), "init", "--name", "Y"))
	kept := "/ip4/198.51.100.4/tcp/4001/p2p/" + strings.TrimSpace(cli(t, t.TempDir(), "init", "--name", "Z"))

	nodes := []*node{newNode(t, hA), newNode(t, hB), newNode(t, hC)}
	for _, n := range nodes {
		cli(t, n.data, "group", "create", "Near Aid")
		cli(t, n.data, "join", inv.Code)
		var fol struct{ Holders int }
		json.Unmarshal([]byte(cli(t, n.data, "follow", share.Code, "--json")), &fol)
		if fol.Holders != len(far) {
			t.Fatalf("the follow code names %d holders, want %d: the test does not test what it says", fol.Holders, len(far))
		}
	}
	t0 := time.Now()
	nodes[0].serve("--bootstrap", boot, "--peer", kept)
	nodes[1].serve("--bootstrap", boot, "--peer", kept)
	nodes[2].serve("--bootstrap", boot, "--peer", kept, "--public-dht")

	time.Sleep(settleStart - time.Since(t0))
	logged := make([]int, len(nodes))
	cpu0 := make([]int64, len(nodes))
	for i, n := range nodes {
		logged[i], cpu0[i] = len(n.logs.String()), cpuTicks(t, n.cmd.Process.Pid)
	}
	w0 := time.Now()
	// C's start takes longer: the public DHT's first bootstrap waits for
	// DNS (10 s per name), and the log's limiter writes the failures it
	// held back a minute after the first (and up to 10 s later).
	settled := []time.Duration{settleStart, settleStart, settlePublic}
	time.Sleep(settlePublic - time.Since(t0))
	logged[2] = len(nodes[2].logs.String())
	time.Sleep(settleStart + quietFor - time.Since(t0))
	wall := time.Since(w0)

	for i, n := range nodes {
		cpu := time.Duration(cpuTicks(t, n.cmd.Process.Pid)-cpu0[i]) * time.Second / clkTck
		share := cpu.Seconds() / wall.Seconds()
		t.Logf("%s: %v of CPU in %v (%.2f%% of a core)", n.name, cpu, wall.Round(time.Second), 100*share)
		if share > maxCPU {
			t.Errorf("%s: %v of CPU in %v with nowhere to go: %.1f%% of a core, want under %.0f%%", n.name, cpu, wall.Round(time.Second), 100*share, 100*maxCPU)
		}
		if more := n.logs.String()[logged[i]:]; more != "" {
			t.Errorf("%s: the log grew with nowhere to go, %v to %v after its start:\n%s", n.name, settled[i], time.Since(t0).Round(time.Second), more)
		}
		// It still answers, and holds its groups.
		var ni struct{ Groups []struct{ ID string } }
		if err := n.get("/api/v1/node", &ni); err != nil || len(ni.Groups) != 3 {
			t.Errorf("%s: the node's API: %v, %d groups, want 3", n.name, err, len(ni.Groups))
		}
	}

	// SIGTERM stops each promptly and cleanly, dials in flight or not.
	for _, n := range nodes {
		ts := time.Now()
		if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case <-n.exited:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: still running 20 s after SIGTERM", n.name)
		}
		t.Logf("%s: stopped %v after SIGTERM", n.name, time.Since(ts).Round(time.Millisecond))
		if code := n.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("%s: exit %d after SIGTERM", n.name, code)
		}
	}
}

const (
	// settleStart is how long a node may log after it starts: the start
	// itself (addresses, mDNS, the groups).
	settleStart = 15 * time.Second
	// settlePublic is the same for a node with --public-dht.
	settlePublic = 90 * time.Second
	// quietFor is how long it is then watched: past the DHT's 2-minute
	// bootstrap tick and the redials at about 1 and 2 minutes (the
	// back-off's cap is a minute).
	quietFor = 140 * time.Second
	// maxCPU is the share of one core a node may use while it waits.
	maxCPU = 0.02
)

// clkTck is the unit of /proc/PID/stat's times (USER_HZ, 100 on Linux).
const clkTck = 100

// cpuTicks returns the user and system CPU time of process pid so far,
// in clock ticks.
func cpuTicks(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from the 3rd (state) on
	ut, err1 := strconv.ParseInt(f[11], 10, 64)              // 14th: utime
	st, err2 := strconv.ParseInt(f[12], 10, 64)              // 15th: stime
	if err1 != nil || err2 != nil {
		t.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	return ut + st
}
