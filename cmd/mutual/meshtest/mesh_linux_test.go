package meshtest

import (
	"net"
	"testing"
	"time"
)

// settle bounds each wait for convergence. It is not a speed target:
// the mesh tests assert that nodes converge, and the bound only ends a
// test that never will (the machine may be loaded; a catch-up round is
// 30 s, and a node backs off redials up to a minute).
const settle = 90 * time.Second

// TestMeshMDNSOnly: three hosts on one bridge with no route anywhere
// else, no --peer and an invite that carries no address: the nodes find
// each other by mDNS alone, and a post made on any of them reaches the
// other two.
func TestMeshMDNSOnly(t *testing.T) {
	t.Parallel()
	m := newMesh(t)
	lan := m.segment()
	hA, hB, hC := m.host("A"), m.host("B"), m.host("C")
	for _, h := range []*host{hA, hB, hC} {
		h.attach(lan)
	}
	// No way out: no default route.
	unreachable(t, hA, net.IPv4(1, 1, 1, 1))
	reachable(t, hA, hC.ifs[0].ip)

	a, b, c := newNode(t, hA), newNode(t, hB), newNode(t, hC)
	newGroup(t, a, b, c)
	for _, n := range []*node{a, b, c} {
		n.serve()
	}
	nodes := []*node{a, b, c}
	t0 := time.Now()
	pa := a.post("coats from A")
	d := converge(t, settle, nodes, pa)
	t.Logf("A's post on every node %v after it was made", d.Round(time.Millisecond))
	pb, pc := b.post("rice from B"), c.post("van from C")
	converge(t, settle, nodes, pa, pb, pc)
	t.Logf("every post on every node %v after the first", time.Since(t0).Round(time.Millisecond))
}

// TestMeshLine: A—B—C, A and C on different bridges and B on both, with
// no forwarding in B, so that A and C cannot reach each other. A post on
// A reaches C, and one on C reaches A, through B, which holds the
// group's ops and passes them on (gossip and catch-up).
func TestMeshLine(t *testing.T) {
	t.Parallel()
	m := newMesh(t)
	left, right := m.segment(), m.segment()
	hA, hB, hC := m.host("A"), m.host("B"), m.host("C")
	hA.attach(left)
	hB.attach(left)
	hB.attach(right)
	hC.attach(right)
	// B's namespace forwards nothing (ip_forward is 0 in a new one), and
	// A and C have no route to each other's subnet.
	reachable(t, hA, hB.ifs[0].ip)
	reachable(t, hC, hB.ifs[1].ip)
	unreachable(t, hA, hC.ifs[0].ip)
	unreachable(t, hA, hB.ifs[1].ip)
	unreachable(t, hC, hA.ifs[0].ip)

	// B joins and meets A; then A invites C with a code that names B
	// among the members, which is whom C, as a newcomer, offers its join
	// to. (The code also carries A's addresses, which C cannot reach.)
	a, b, c := newNode(t, hA), newNode(t, hB), newNode(t, hC)
	g := newGroup(t, a, b)
	a.serve()
	b.serve()
	a.waitMember(g, b)
	c.join(a.invite())
	c.serve()
	nodes := []*node{a, b, c}
	pa := a.post("coats from A")
	d := converge(t, settle, nodes, pa)
	t.Logf("A's post on C (through B) %v after it was made", d.Round(time.Millisecond))
	a.waitMember(g, c) // C's join reached A through B
	pc := c.post("van from C")
	d = converge(t, settle, nodes, pa, pc)
	t.Logf("C's post on A (through B) %v after it was made", d.Round(time.Millisecond))
}

// TestMeshLinkDownUp: three nodes on one bridge share a board; then C's
// cable is pulled (the bridge's end of its link goes down: what it sends
// is lost), and A's interface is taken down inside A (its route goes:
// sends fail at once). Posts made on every side while the links are
// down reach every node once they are back.
func TestMeshLinkDownUp(t *testing.T) {
	t.Parallel()
	m := newMesh(t)
	lan := m.segment()
	hA, hB, hC := m.host("A"), m.host("B"), m.host("C")
	for _, h := range []*host{hA, hB, hC} {
		h.attach(lan)
	}
	a, b, c := newNode(t, hA), newNode(t, hB), newNode(t, hC)
	newGroup(t, a, b, c)
	for _, n := range []*node{a, b, c} {
		n.serve()
	}
	nodes := []*node{a, b, c}
	all := []string{a.post("before, from A")}
	converge(t, settle, nodes, all...)

	// C's cable is pulled: C keeps its address and route; B and A go on.
	c.host.ifs[0].unplug()
	unreachable(t, hA, hC.ifs[0].ip)
	pa, pc := a.post("while C is cut off, from A"), c.post("while cut off, from C")
	all = append(all, pa, pc)
	converge(t, settle, []*node{a, b}, pa)
	if have, err := c.posts(); err != nil || have[pa] {
		t.Fatalf("C, cut off, has A's post (%v): the link was not down", err)
	}
	time.Sleep(2 * time.Second) // long enough for a sender to notice losses
	c.host.ifs[0].plug()
	d := converge(t, settle, nodes, all...)
	t.Logf("after C's cable was plugged back, every node had every post in %v", d.Round(time.Millisecond))

	// A's interface goes down inside A: its subnet's route goes with it.
	a.host.ifs[0].down()
	unreachable(t, hA, hB.ifs[0].ip)
	pa, pb := a.post("while down, from A"), b.post("while A is down, from B")
	all = append(all, pa, pb)
	converge(t, settle, []*node{b, c}, pb)
	time.Sleep(2 * time.Second)
	a.host.ifs[0].up()
	d = converge(t, settle, nodes, all...)
	t.Logf("after A's interface came back up, every node had every post in %v", d.Round(time.Millisecond))
}

// TestMeshRoutedSubnets: two subnets joined by a router namespace that
// forwards unicast but not multicast, so that mDNS sees only its own
// side, as on a routed community mesh. A and B are on the left, C and D
// on the right; only A is told one address of the other side (--peer
// C), and the DHT is off. Every board converges, and peer exchange
// brings B and D, which never heard of each other by mDNS, to connect
// directly across the router.
func TestMeshRoutedSubnets(t *testing.T) {
	t.Parallel()
	m := newMesh(t)
	left, right := m.segment(), m.segment()
	hR := m.host("router")
	rl, rr := hR.attach(left), hR.attach(right)
	hR.forward()
	hA, hB, hC, hD := m.host("A"), m.host("B"), m.host("C"), m.host("D")
	for _, h := range []*host{hA, hB} {
		h.attach(left)
		h.route(right, rl.ip)
	}
	for _, h := range []*host{hC, hD} {
		h.attach(right)
		h.route(left, rr.ip)
	}
	reachable(t, hA, hD.ifs[0].ip)
	reachable(t, hD, hB.ifs[0].ip)

	// A, B and C join with a code that names only A. D's code, made once
	// A knows B and C, names them too: D, a newcomer, offers its join to
	// those, and the only one it meets is C.
	a, b, c, d := newNode(t, hA), newNode(t, hB), newNode(t, hC), newNode(t, hD)
	g := newGroup(t, a, b, c)
	c.serve("--no-dht")
	b.serve("--no-dht")
	a.serve("--no-dht", "--peer", c.addrOn(hC.ifs[0]))
	a.waitMember(g, b)
	a.waitMember(g, c)
	d.join(a.invite())
	d.serve("--no-dht")
	a.waitMember(g, d)

	nodes := []*node{a, b, c, d}
	pb := b.post("coats from B")
	dur := converge(t, settle, nodes, pb)
	t.Logf("B's post (left) on every node %v after it was made", dur.Round(time.Millisecond))
	pd := d.post("van from D")
	dur = converge(t, settle, nodes, pb, pd)
	t.Logf("D's post (right) on every node %v after it was made", dur.Round(time.Millisecond))

	// mDNS found peers on each node's own side, never across the router.
	for _, x := range [][2]*node{{a, b}, {c, d}} {
		if !x[0].foundByMDNS(x[1]) && !x[1].foundByMDNS(x[0]) {
			t.Errorf("%s and %s, on one segment, did not find each other by mDNS", x[0].name, x[1].name)
		}
	}
	for _, l := range []*node{a, b} {
		for _, r := range []*node{c, d} {
			if l.foundByMDNS(r) || r.foundByMDNS(l) {
				t.Errorf("%s and %s found each other by mDNS across the router", l.name, r.name)
			}
		}
	}

	// Peer exchange: B learns where D is (from A, or from D's side) and
	// they connect directly, through the router.
	waitConnected(t, b, d)
	if !b.learnedByPex(d) && !d.learnedByPex(b) {
		t.Errorf("B and D are connected, and neither log says peer exchange brought the other")
	}
}

// TestMeshRelay: X and Y are each behind a home router (NAT) on an
// "internet" segment with a relay node R (`serve --relay`); neither can
// dial the other. Both are told R's address (--bootstrap); each learns
// from AutoNAT that it is behind NAT and reserves a slot at R. Their
// boards converge through R. Twice:
//
//   - symmetric NATs (a random port for every mapping, which defeats hole
//     punching), and nothing but --bootstrap: X finds Y through the DHT
//     (no other way is left: no mDNS, no --peer, an invite with no
//     address, no member in common to exchange peers), under Y's relayed
//     address, and the sync goes through the relay, which stays their
//     only path;
//   - port-preserving NATs, where hole punching can work; X is given Y's
//     address through R by hand (--peer R/p2p-circuit/p2p/Y, as
//     docs/operations.md says). Hole punching (DCUtR) then connects them
//     directly.
func TestMeshRelay(t *testing.T) {
	if testing.Short() {
		t.Skip("waits about 17 s per case for AutoNAT to find the nodes behind NAT; skipped with -short")
	}
	t.Parallel()
	// The two cases wait on AutoNAT side by side, each in a mesh of its own.
	t.Run("symmetric NATs, DHT rendezvous", func(t *testing.T) { t.Parallel(); testMeshRelay(t, true) })
	t.Run("port-preserving NATs, --peer through the relay, hole punching", func(t *testing.T) { t.Parallel(); testMeshRelay(t, false) })
}

func testMeshRelay(t *testing.T, symmetric bool) {
	m := newMesh(t)
	requireNft(t)
	wan := m.internet()
	lanX, lanY := m.segment(), m.segment()
	hR := m.host("R")
	rw := hR.attach(wan)
	hNX, hNY := m.host("natX"), m.host("natY")
	nxw, nxl := hNX.attach(wan), hNX.attach(lanX)
	nyw, nyl := hNY.attach(wan), hNY.attach(lanY)
	hNX.nat(nxw, symmetric)
	hNY.nat(nyw, symmetric)
	hX, hY := m.host("X"), m.host("Y")
	hX.attach(lanX)
	hX.defaultRoute(nxl.ip)
	hY.attach(lanY)
	hY.defaultRoute(nyl.ip)
	reachable(t, hX, rw.ip)
	reachable(t, hY, rw.ip)
	unreachable(t, hX, hY.ifs[0].ip)
	unreachable(t, hY, hX.ifs[0].ip)
	unreachable(t, hR, hY.ifs[0].ip)

	r, x, y := newNode(t, hR), newNode(t, hX), newNode(t, hY)
	newGroup(t, x, y)
	r.serve("--no-mdns", "--relay")
	relay := r.addrOn(rw)
	boot := []string{"--bootstrap", relay}
	y.serve(append([]string{"--no-mdns"}, boot...)...)
	t0 := time.Now()
	if symmetric {
		x.serve(append([]string{"--no-mdns"}, boot...)...)
	} else {
		x.serve(append([]string{"--no-mdns", "--peer", relay + "/p2p-circuit/p2p/" + y.peerID()}, boot...)...)
	}

	nodes := []*node{x, y}
	px := x.post("coats from X")
	d := converge(t, settle, nodes, px)
	t.Logf("X's post on Y %v after it was made (%v after X started)", d.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
	py := y.post("van from Y")
	d = converge(t, settle, nodes, px, py)
	t.Logf("Y's post on X %v after it was made", d.Round(time.Millisecond))

	p, _, err := x.peer(y)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("X reaches Y: %q", p.Via)
	if symmetric && p.Via != "relayed" {
		t.Errorf("X reaches Y %q through two symmetric NATs; only the relay can carry it", p.Via)
	}

	if !symmetric {
		// Hole punching has what it needs: both NATs keep the port, and
		// drop what comes unasked rather than refuse it.
		t1 := time.Now()
		for p.Via != "direct" {
			if time.Since(t1) > settle {
				t.Fatalf("X still reaches Y %q %v after they converged: hole punching did not get through two port-preserving NATs", p.Via, settle)
			}
			time.Sleep(200 * time.Millisecond)
			if p, _, err = x.peer(y); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("hole punching: X reaches Y directly %v after they converged", time.Since(t1).Round(time.Millisecond))
	}
}
