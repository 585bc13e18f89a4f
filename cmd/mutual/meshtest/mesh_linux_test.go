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
