package httpapi

import (
	"crypto/ed25519"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/node/store"
)

// newFreshNode serves a replica in no group yet, whose name Rename
// changes as node.Serve wires it (the config file aside).
func newFreshNode(t *testing.T) *testNode {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	rep, err := replica.Open(st, replica.Config{Key: key, Name: "vm", Logger: quietLogger()})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	api := New(Config{
		Board: rep,
		Node:  func() NodeInfo { return NodeInfo{PeerID: "12D3KooWTest", Name: rep.Name()} },
		Rename: func(name string) error {
			rep.SetName(name)
			return nil
		},
		Logger: quietLogger(),
	})
	srv := httptest.NewServer(api)
	t.Cleanup(func() {
		api.Close()
		srv.Close()
		rep.Close()
		st.Close()
	})
	return &testNode{t: t, rep: rep, api: api, srv: srv}
}

// TestRenameFreshNode: a fresh node takes a name through the API, its genesis
// op carries it, and once it is in a group a new name reaches the group
// in one Rename op.
func TestRenameFreshNode(t *testing.T) {
	n := newFreshNode(t)
	var node struct {
		Name   string `json:"name"`
		Groups []struct{ ID string }
	}
	n.must(http.StatusOK, "PATCH", "/api/v1/node", map[string]string{"name": "  Amal  "}, &node)
	if node.Name != "Amal" {
		t.Fatalf("after PATCH the node is named %q, want Amal", node.Name)
	}

	// Bad names: 400, nothing changed.
	for _, body := range []string{
		`{"name": ""}`, `{"name": "   "}`, `{"name": "a\nb"}`, `{"name": "x\u202eevil"}`,
		`{"name": "` + strings.Repeat("n", 101) + `"}`, `{}`, `{"name": 7}`, `{"name": "B", "x": 1}`, `not json`,
	} {
		code, b, _ := n.do("PATCH", "/api/v1/node", body, "application/json")
		if code != http.StatusBadRequest || !strings.Contains(string(b), `"error"`) {
			t.Errorf("PATCH %s: %d %s, want 400 with an error", body, code, b)
		}
	}
	if code, _, _ := n.do("PATCH", "/api/v1/node", `{"name": "B"}`, "text/plain"); code != http.StatusUnsupportedMediaType {
		t.Errorf("PATCH as text/plain: %d, want 415", code)
	}
	n.must(http.StatusOK, "GET", "/api/v1/node", nil, &node)
	if node.Name != "Amal" {
		t.Fatalf("a refused rename changed the name to %q", node.Name)
	}

	// The genesis op carries the name: the members list shows it.
	var g struct{ ID string }
	n.must(http.StatusCreated, "POST", "/api/v1/groups", map[string]string{"name": "Eastgate"}, &g)
	var grp struct {
		Members []struct{ Name, Role string }
	}
	n.must(http.StatusOK, "GET", "/api/v1/groups/"+g.ID, nil, &grp)
	if len(grp.Members) != 1 || grp.Members[0].Name != "Amal" {
		t.Fatalf("members after the genesis = %+v, want Amal", grp.Members)
	}

	// In a group: the same name again writes nothing; another name is
	// a Rename op, which the members list shows.
	seq := n.ownSeq(g.ID)
	n.must(http.StatusOK, "PATCH", "/api/v1/node", map[string]string{"name": "Amal"}, nil)
	if got := n.ownSeq(g.ID); got != seq {
		t.Fatalf("renaming to the same name wrote ops: seq %d -> %d", seq, got)
	}
	n.must(http.StatusOK, "PATCH", "/api/v1/node", map[string]string{"name": " Ben "}, &node)
	if node.Name != "Ben" {
		t.Errorf("after a rename in a group the node is named %q", node.Name)
	}
	n.must(http.StatusOK, "GET", "/api/v1/groups/"+g.ID, nil, &grp)
	if len(grp.Members) != 1 || grp.Members[0].Name != "Ben" {
		t.Fatalf("members after the rename = %+v, want Ben", grp.Members)
	}
	if got := n.ownSeq(g.ID); got != seq+1 {
		t.Fatalf("a rename in one group wrote %d ops", got-seq)
	}
	// A bad name in a group: 400, nothing written.
	code, b, _ := n.do("PATCH", "/api/v1/node", map[string]string{"name": "a\u202eb"}, "")
	if code != http.StatusBadRequest || n.ownSeq(g.ID) != seq+1 {
		t.Errorf("a bad rename in a group: %d %s, seq %d", code, b, n.ownSeq(g.ID))
	}
}

// ownSeq returns how many ops the node holds of a group (all its own
// here): a bundle of the group counts them.
func (n *testNode) ownSeq(group string) uint64 {
	n.t.Helper()
	g, err := crdt.ParseID(group)
	if err != nil {
		n.t.Fatal(err)
	}
	c, err := n.rep.Export(io.Discard, []crdt.ID{g})
	if err != nil {
		n.t.Fatal(err)
	}
	return uint64(c)
}

// amalJoinsBo makes two fresh nodes: Amal founds Eastgate and invites
// Bo, whose join waits for a witness (nothing has carried it to a yet).
func amalJoinsBo(t *testing.T) (a, b *testNode, group string) {
	t.Helper()
	a, b = newFreshNode(t), newFreshNode(t)
	a.must(http.StatusOK, "PATCH", "/api/v1/node", map[string]string{"name": "Amal"}, nil)
	var g struct{ ID string }
	a.must(http.StatusCreated, "POST", "/api/v1/groups", map[string]string{"name": "Eastgate"}, &g)
	var inv struct{ Code string }
	a.must(http.StatusOK, "POST", "/api/v1/invites", map[string]string{"group": g.ID}, &inv)
	b.must(http.StatusOK, "PATCH", "/api/v1/node", map[string]string{"name": "Bo"}, nil)
	b.must(http.StatusCreated, "POST", "/api/v1/join", map[string]string{"code": inv.Code}, nil)
	return a, b, g.ID
}

// TestRenameAfterJoining: a node renamed after it joined a group (its
// join still waiting for a witness, then as a member), and an admin
// renamed in its group: each rename is one op, which reaches the other
// node in a bundle, and both nodes' members lists show the new names.
// Once removed, the node's new name does not reach the group.
func TestRenameAfterJoining(t *testing.T) {
	a, b, group := amalJoinsBo(t)

	// b waits for a witness: its rename is signed now, counts once a
	// member admits the join.
	before := b.ownSeq(group)
	b.must(http.StatusOK, "PATCH", "/api/v1/node", map[string]string{"name": "Bina"}, nil)
	if got := b.ownSeq(group); got != before+1 {
		t.Fatalf("a rename while the join waits wrote %d ops", got-before)
	}
	bundle(t, b, a)
	bundle(t, a, b)
	bKey := b.rep.Self().String()
	for _, n := range []*testNode{a, b} {
		if got := memberNames(n, group); got["Amal"] != a.rep.Self().String() || got["Bina"] != bKey {
			t.Fatalf("members after the join and the rename: %v", got)
		}
	}

	// As a member, and the admin too: each node shows the other's new name.
	b.must(http.StatusOK, "PATCH", "/api/v1/node", map[string]string{"name": "Bina K"}, nil)
	a.must(http.StatusOK, "PATCH", "/api/v1/node", map[string]string{"name": "Amal (hall)"}, nil)
	bundle(t, b, a)
	bundle(t, a, b)
	for _, n := range []*testNode{a, b} {
		if got := memberNames(n, group); len(got) != 2 || got["Amal (hall)"] != a.rep.Self().String() || got["Bina K"] != bKey {
			t.Fatalf("members after both renamed: %v", got)
		}
	}

	// Removed, b's node renames itself but signs nothing in the group,
	// which remembers it by the name it had.
	a.must(http.StatusOK, "POST", "/api/v1/groups/"+group+"/members/"+bKey+"/remove", map[string]string{}, nil)
	bundle(t, a, b)
	before = b.ownSeq(group)
	b.must(http.StatusOK, "PATCH", "/api/v1/node", map[string]string{"name": "Mallory"}, nil)
	if got := b.ownSeq(group); got != before {
		t.Fatalf("a removed member's rename wrote %d ops", got-before)
	}
	bundle(t, b, a)
	for _, n := range []*testNode{a, b} {
		var grp struct {
			Members []struct{ ID, Name, Role string }
		}
		n.must(http.StatusOK, "GET", "/api/v1/groups/"+group, nil, &grp)
		for _, m := range grp.Members {
			if m.ID == bKey && (m.Name != "Bina K" || m.Role != "none") {
				t.Fatalf("the removed member is listed as %+v", m)
			}
		}
	}
}

// bundle carries every op from's node holds to to's, as a USB stick does.
func bundle(t *testing.T, from, to *testNode) {
	t.Helper()
	_, ops, _ := from.do("GET", "/api/v1/bundle", nil, "")
	if code, b, _ := to.do("POST", "/api/v1/bundle", ops, "application/octet-stream"); code != http.StatusOK {
		t.Fatalf("import: %d %s", code, b)
	}
}

// memberNames returns a group's current members on n: name → key.
func memberNames(n *testNode, group string) map[string]string {
	n.t.Helper()
	var grp struct {
		Members []struct{ ID, Name, Role string }
	}
	n.must(http.StatusOK, "GET", "/api/v1/groups/"+group, nil, &grp)
	out := map[string]string{}
	for _, m := range grp.Members {
		if m.Role != "none" {
			out[m.Name] = m.ID
		}
	}
	return out
}
