package meshtest

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

// TestMeshFollowByID: `mutual follow ID` with nothing but the group's
// ID and a bootstrap node. A is a member of Riverside; C, in no group, is
// everyone's --bootstrap; B follows Riverside by its bare ID (no code, so
// no address) and knows only C. mDNS is off. B's DHT lookup, through C,
// finds A under Riverside's rendezvous key, A proves it holds the group
// (docs/protocol.md 12.8), B offers A the group, and
// A's board reaches B, then a new post of A too.
func TestMeshFollowByID(t *testing.T) {
	t.Parallel()
	m := newMesh(t)
	lan := m.segment()
	hA, hB, hC := m.host("A"), m.host("B"), m.host("C")
	for _, h := range []*host{hA, hB, hC} {
		h.attach(lan)
	}
	a, b, c := newNode(t, hA), newNode(t, hB), newNode(t, hC)
	var g struct{ ID string }
	if err := json.Unmarshal([]byte(cli(t, a.data, "group", "create", "Riverside", "--json")), &g); err != nil {
		t.Fatal(err)
	}
	c.serve("--no-mdns")
	boot := c.addrOn(hC.ifs[0])
	a.serve("--no-mdns", "--bootstrap", boot)
	p1 := a.post("coats from A")

	cli(t, b.data, "follow", g.ID)
	t0 := time.Now()
	b.serve("--no-mdns", "--bootstrap", boot)
	b.waitPosts(g.ID, p1)
	t.Logf("B, following by ID, has A's board %v after it started", time.Since(t0).Round(time.Millisecond))
	p2 := a.post("soup from A")
	b.waitPosts(g.ID, p1, p2)
	// The bootstrap node, in no group, learned nothing of the board.
	if have, err := c.posts(); err != nil || len(have) > 0 {
		t.Errorf("the bootstrap node, in no group, holds %d posts (%v)", len(have), err)
	}
}

// waitPosts waits until n's board of group holds every post in ids.
func (n *node) waitPosts(group string, ids ...string) {
	t := n.t
	t.Helper()
	t0 := time.Now()
	for {
		var ps []struct{ ID string }
		err := n.get("/api/v1/posts?group="+group, &ps)
		if err == nil && !slices.ContainsFunc(ids, func(id string) bool {
			return !slices.ContainsFunc(ps, func(p struct{ ID string }) bool { return p.ID == id })
		}) {
			return
		}
		if time.Since(t0) > settle {
			t.Fatalf("%s's board of %s lacks some of %v after %v (%v): %+v", n.name, group, ids, settle, err, ps)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
