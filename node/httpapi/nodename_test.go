package httpapi

import (
	"crypto/ed25519"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
// op carries it, and once it is in a group another name is refused.
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

	// In a group: the same name again is fine, another is a conflict.
	n.must(http.StatusOK, "PATCH", "/api/v1/node", map[string]string{"name": "Amal"}, nil)
	code, b, _ := n.do("PATCH", "/api/v1/node", map[string]string{"name": "Ben"}, "")
	if code != http.StatusConflict || !strings.Contains(string(b), "Eastgate") {
		t.Errorf("rename in a group: %d %s, want 409 naming the group", code, b)
	}
	n.must(http.StatusOK, "GET", "/api/v1/node", nil, &node)
	if node.Name != "Amal" {
		t.Errorf("a refused rename changed the name to %q", node.Name)
	}
}
