package meshtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The harness. A mesh is one test's network: a hub namespace that holds
// its bridges (the switches), and one namespace per host. Nothing is
// made in the root namespace, so a test cannot disturb the machine's own
// network and two meshes (two tests, two runs) share nothing but names,
// which are unique: nsPrefix, the test process's PID, a random suffix.
// Deleting a mesh's namespaces deletes its veths and bridges with them.
// So the mesh tests run in parallel (t.Parallel): most of their time is
// waiting (mDNS, AutoNAT's start, catch-up rounds), each in its own mesh.

// nsPrefix starts the name of every namespace the tests make.
const nsPrefix = "mutmesh-"

// mesh is one test's network.
type mesh struct {
	t      *testing.T
	id     string // nsPrefix + PID + "-" + random: the namespaces' common prefix
	hub    *netns // holds the bridges
	hosts  []*host
	nsAll  []*netns
	bridge int // bridges made so far
}

// netns is a named network namespace (/var/run/netns/NAME).
type netns struct{ name string }

// host is a namespace with interfaces on bridges (eth0, eth1, ...).
type host struct {
	m    *mesh
	name string // for logs: "A", "router"
	ns   *netns
	ifs  []*iface
}

// iface is a host's interface: a veth whose other end (hubSide) is a
// port of a bridge in the hub namespace.
type iface struct {
	host    *host
	name    string // in the host's namespace: eth0, eth1...
	hubSide string // in the hub namespace
	ip      net.IP
	net     *segment
}

// segment is a bridge and its subnet, 10.0.N.0/24 (or 11.0.N.0/24 for
// a public one).
type segment struct {
	m      *mesh
	bridge string
	first  byte // the subnet's first byte: 10, or 11 for a public one
	n      int  // the subnet's third byte
	hosts  int  // addresses handed out so far
}

// cidr is the segment's subnet.
func (s *segment) cidr() string { return fmt.Sprintf("%d.0.%d.0/24", s.first, s.n) }

// requireMesh skips the test where network namespaces cannot be made:
// not root, no `ip`, or no permission (a container without
// CAP_SYS_ADMIN). With CI set it fails instead: CI runs as root with
// iproute2, so a mesh test that cannot run there must not pass silently.
func requireMesh(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "not root: network namespaces need root (sudo go test ./cmd/mutual/meshtest)"
	} else if _, err := exec.LookPath("ip"); err != nil {
		why = "iproute2's ip is not installed (apt-get install iproute2)"
	} else {
		probe := fmt.Sprintf("%s%d-probe-%s", nsPrefix, os.Getpid(), randHex(3))
		if out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput(); err != nil {
			why = fmt.Sprintf("cannot make a network namespace (ip netns add: %v: %s)", err, bytes.TrimSpace(out))
		} else {
			if out, err := exec.Command("ip", "netns", "exec", probe, "true").CombinedOutput(); err != nil {
				why = fmt.Sprintf("cannot run a process in a network namespace (ip netns exec: %v: %s)", err, bytes.TrimSpace(out))
			}
			exec.Command("ip", "netns", "del", probe).Run()
		}
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set, and the mesh tests cannot run: %s", why)
	}
	t.Skipf("skipping the mesh test: %s; CI is empty, so skipping rather than failing", why)
}

// newMesh makes an empty network for the test and removes it when the
// test ends, failed or not. It first removes what earlier runs that died
// left behind.
func newMesh(t *testing.T) *mesh {
	t.Helper()
	requireMesh(t)
	sweepStale(t)
	m := &mesh{t: t, id: fmt.Sprintf("%s%d-%s", nsPrefix, os.Getpid(), randHex(3))}
	t.Cleanup(m.remove)
	m.hub = m.newNS("hub")
	return m
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newNS makes a namespace with its loopback up.
func (m *mesh) newNS(name string) *netns {
	ns := &netns{name: m.id + "-" + name}
	m.ip("netns", "add", ns.name)
	m.nsAll = append(m.nsAll, ns)
	m.ip("-n", ns.name, "link", "set", "lo", "up")
	return ns
}

// remove kills whatever still runs in the mesh's namespaces, then deletes
// them (and with them their veths and bridges).
func (m *mesh) remove() {
	for _, ns := range m.nsAll {
		removeNS(ns.name)
	}
}

func removeNS(name string) {
	if out, err := exec.Command("ip", "netns", "pids", name).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil {
				unix.Kill(pid, unix.SIGKILL)
			}
		}
	}
	exec.Command("ip", "netns", "del", name).Run()
}

// sweepStale deletes the namespaces of test processes that are gone (a
// run killed before its cleanups ran), and the processes left in them.
// Namespaces of a live test process, this one's or a parallel run's, are
// left alone.
func sweepStale(t *testing.T) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], nsPrefix) {
			continue
		}
		name := f[0]
		pidStr, _, _ := strings.Cut(strings.TrimPrefix(name, nsPrefix), "-")
		pid, err := strconv.Atoi(pidStr)
		if err == nil && processAlive(pid) {
			continue
		}
		t.Logf("removing namespace %s left by a run that is gone", name)
		removeNS(name)
	}
}

// processAlive reports whether pid is a running test binary (a zombie,
// killed and not yet reaped, is not).
func processAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(stat, ')')
	j := bytes.IndexByte(stat, '(')
	if i < 0 || j < 0 || i+2 >= len(stat) {
		return false
	}
	return strings.HasSuffix(string(stat[j+1:i]), ".test") && stat[i+2] != 'Z'
}

// ip runs `ip args...` and fails the test if it fails.
func (m *mesh) ip(args ...string) {
	m.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		m.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}

// sysctl sets a network sysctl inside a namespace (/proc/sys/net is the
// namespace's own), with sh rather than procps's sysctl, which minimal
// machines lack.
func (m *mesh) sysctl(ns *netns, key, value string) {
	m.t.Helper()
	path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	m.ip("netns", "exec", ns.name, "sh", "-c", "echo "+value+" > "+path)
}

// segment makes a bridge in the hub namespace for subnet 10.0.N.0/24.
// The bridge forwards multicast (mDNS) between its ports, as a Wi-Fi
// access point or a switch does.
func (m *mesh) segment() *segment {
	m.t.Helper()
	s := &segment{m: m, bridge: fmt.Sprintf("br%d", m.bridge), first: 10, n: m.bridge + 1}
	m.bridge++
	m.ip("-n", m.hub.name, "link", "add", s.bridge, "type", "bridge")
	m.ip("-n", m.hub.name, "link", "set", s.bridge, "up")
	return s
}

// internet makes a segment that stands for the internet: its subnet,
// 11.0.N.0/24, is a public one to libp2p, which announces, relays and
// hole-punches only public addresses (and checks them with AutoNAT). It
// is as closed as any other segment: no route leads out of the mesh.
func (m *mesh) internet() *segment {
	s := m.segment()
	s.first = 11
	return s
}

// host makes a host namespace with no interface but loopback: no route
// anywhere until it is attached to a segment. IPv6 is off, so that the
// nodes' addresses are the tests' IPv4 ones and nothing waits on
// duplicate address detection.
func (m *mesh) host(name string) *host {
	m.t.Helper()
	h := &host{m: m, name: name, ns: m.newNS(strings.ToLower(name))}
	m.sysctl(h.ns, "net.ipv6.conf.all.disable_ipv6", "1")
	m.sysctl(h.ns, "net.ipv6.conf.default.disable_ipv6", "1")
	m.hosts = append(m.hosts, h)
	return h
}

// attach gives h a new interface on segment s, with the segment's next
// address (10.0.N.2, .3, ...), up.
func (h *host) attach(s *segment) *iface {
	m := h.m
	m.t.Helper()
	s.hosts++
	ifc := &iface{
		host:    h,
		name:    fmt.Sprintf("eth%d", len(h.ifs)),
		hubSide: fmt.Sprintf("h%d.%d", hostIndex(h), len(h.ifs)),
		ip:      net.IPv4(s.first, 0, byte(s.n), byte(1+s.hosts)).To4(),
		net:     s,
	}
	m.ip("-n", m.hub.name, "link", "add", ifc.hubSide, "type", "veth", "peer", "name", ifc.name, "netns", h.ns.name)
	m.ip("-n", m.hub.name, "link", "set", ifc.hubSide, "master", s.bridge, "up")
	m.ip("-n", h.ns.name, "addr", "add", ifc.ip.String()+"/24", "dev", ifc.name)
	m.ip("-n", h.ns.name, "link", "set", ifc.name, "up")
	h.ifs = append(h.ifs, ifc)
	return ifc
}

func hostIndex(h *host) int {
	for i, x := range h.m.hosts {
		if x == h {
			return i
		}
	}
	return -1
}

// route adds a route on h to segment s's subnet through gw.
func (h *host) route(s *segment, gw net.IP) {
	h.m.t.Helper()
	h.m.ip("-n", h.ns.name, "route", "add", s.cidr(), "via", gw.String())
}

// defaultRoute sends everything off-link through gw.
func (h *host) defaultRoute(gw net.IP) {
	h.m.t.Helper()
	h.m.ip("-n", h.ns.name, "route", "add", "default", "via", gw.String())
}

// nat makes h a home router: it forwards, and what leaves through out
// takes out's address (nftables masquerade). Replies come back in; a
// connection from outside gets in only through a mapping that a packet
// from inside opened (conntrack), which is what hole punching uses.
// Linux keeps the inside source port where it can: a port-preserving,
// "cone-like" NAT that hole punching gets through. symmetric picks a
// random port for every new mapping instead (masquerade random, like a
// carrier-grade or symmetric NAT), which defeats hole punching.
func (h *host) nat(out *iface, symmetric bool) {
	m := h.m
	m.t.Helper()
	requireNft(m.t)
	h.forward()
	rule := "masquerade"
	if symmetric {
		rule = "masquerade random"
	}
	nft := func(args ...string) { m.ip(append([]string{"netns", "exec", h.ns.name, "nft"}, args...)...) }
	nft("add", "table", "ip", "nat")
	nft("add chain ip nat post { type nat hook postrouting priority 100 ; }")
	nft("add rule ip nat post oifname " + out.name + " " + rule)
	// What comes from outside to the router itself, unasked, is dropped
	// without an answer, as home routers do. A refusal would not only
	// answer a hole punch's first packet: its connection-tracking entry
	// would take the port that the inside's own packet needs next, and
	// the NAT would give that one another port.
	nft("add", "table", "ip", "filter")
	nft("add chain ip filter input { type filter hook input priority 0 ; }")
	nft("add rule ip filter input iifname " + out.name + " ct state new drop")
}

// requireNft skips (or, with CI set, fails) a test that needs nftables'
// nft for NAT routers.
func requireNft(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("nft"); err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("CI is set, and this mesh test needs nftables' nft for its NAT routers (apt-get install nftables)")
	}
	t.Skip("skipping: this mesh test needs nftables' nft for its NAT routers (apt-get install nftables); CI is empty, so skipping rather than failing")
}

// forward turns IPv4 forwarding on in h: it routes unicast between its
// interfaces. Multicast is not routed (that needs a multicast routing
// daemon), so mDNS stays on each side, as on a routed community mesh.
func (h *host) forward() {
	h.m.sysctl(h.ns, "net.ipv4.ip_forward", "1")
}

// unplug takes the bridge's end of the interface down: the host keeps
// its address and routes, and what it sends is lost, as when a cable is
// pulled or Wi-Fi drops. plug brings it back.
func (i *iface) unplug() { i.host.m.ip("-n", i.host.m.hub.name, "link", "set", i.hubSide, "down") }
func (i *iface) plug()   { i.host.m.ip("-n", i.host.m.hub.name, "link", "set", i.hubSide, "up") }

// down takes the interface down inside the host (`ip link set eth0
// down`): its routes go, and sends fail at once. up brings it back with
// its address (the kernel restores the subnet's route).
func (i *iface) down() { i.host.m.ip("-n", i.host.ns.name, "link", "set", i.name, "down") }
func (i *iface) up()   { i.host.m.ip("-n", i.host.ns.name, "link", "set", i.name, "up") }

// dial opens a connection from inside the namespace: the socket is made
// on a thread switched into it, and stays in it when the thread switches
// back. The tests use it to reach a node's API on the namespace's own
// 127.0.0.1 and to probe what a host can reach.
func (ns *netns) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		c, err := ns.dialLocked(ctx, network, addr)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// dialLocked runs on a locked thread. It unlocks it only once the thread
// is back in its own namespace: if switching back fails, the goroutine
// ends locked and the runtime discards the thread.
func (ns *netns) dialLocked(ctx context.Context, network, addr string) (net.Conn, error) {
	self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("own namespace: %w", err)
	}
	defer unix.Close(self)
	target, err := unix.Open("/var/run/netns/"+ns.name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", ns.name, err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		return nil, fmt.Errorf("setns %s: %w", ns.name, err)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if unix.Setns(self, unix.CLONE_NEWNET) == nil {
		runtime.UnlockOSThread()
	}
	return c, err
}

// canReach reports whether a TCP connection from h to addr gets an
// answer (accepted or refused): the route and the path exist.
func (h *host) canReach(ctx context.Context, ip net.IP) bool {
	c, err := h.ns.dial(ctx, "tcp4", net.JoinHostPort(ip.String(), "9"))
	if err == nil {
		c.Close()
		return true
	}
	return strings.Contains(err.Error(), "connection refused")
}
