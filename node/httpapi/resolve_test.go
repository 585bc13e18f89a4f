package httpapi

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/node/store"
)

// TestResolveNamesAndPrefixes: groups by name (any case, or its start)
// and ID prefix, posts by prefix, in GET /api/v1/resolve and in every
// group= parameter; what is ambiguous or unknown lists the candidates.
func TestResolveNamesAndPrefixes(t *testing.T) {
	n := newTestNode(t, nil)
	west, err := n.rep.CreateGroup(context.Background(), "Westside")
	if err != nil {
		t.Fatal(err)
	}
	riverside := n.group.String()
	p := n.create(map[string]any{"kind": "need", "title": "Winter coats", "group": "riverside mutual aid"})
	if p.Group != riverside {
		t.Fatalf("posted to %s, want %s", p.Group, riverside)
	}
	var g groupRefJSON
	for _, name := range []string{"WESTSIDE", "west", west.String()[:4], strings.ToUpper(west.String())} {
		n.must(http.StatusOK, "GET", "/api/v1/resolve?group="+name, nil, &g)
		if g.ID != west.String() || g.Name != "Westside" || g.Role != "admin" {
			t.Errorf("group %q: %+v", name, g)
		}
	}
	var rp struct{ ID, Title, Group string }
	n.must(http.StatusOK, "GET", "/api/v1/resolve?post="+p.ID[:4], nil, &rp)
	if rp.ID != p.ID || rp.Title != "Winter coats" || rp.Group != riverside {
		t.Errorf("post: %+v", rp)
	}
	n.must(http.StatusOK, "GET", "/api/v1/posts?group=Riverside", nil, nil)
	for _, c := range []struct {
		path  string
		code  int
		wants []string
	}{
		{"/api/v1/resolve?group=", 400, []string{"say which", "Riverside Mutual Aid", "Westside", west.Short()}},
		{"/api/v1/resolve?group=Northside", 400, []string{"no group", "Northside", "Westside", "(admin)"}},
		{"/api/v1/resolve?group=" + west.String()[:3], 400, []string{"4 digits or more"}},
		{"/api/v1/resolve?post=zz%20top", 400, []string{"not a post ID"}},
		{"/api/v1/resolve?post=coats", 400, []string{"not a post ID", p.ID[:12], "Winter coats"}},
		{"/api/v1/resolve?post=abc", 400, []string{"too short"}},
		{"/api/v1/resolve?post=" + strings.Repeat("f", 10), 404, []string{"no post"}},
		{"/api/v1/resolve", 400, []string{"group= or post="}},
		{"/api/v1/posts?group=Northside", 400, []string{"Westside"}},
	} {
		code, b, _ := n.do("GET", c.path, nil, "")
		if code != c.code {
			t.Errorf("%s: %d, want %d: %s", c.path, code, c.code, b)
		}
		for _, w := range c.wants {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s: no %q in %s", c.path, w, b)
			}
		}
	}
	// Two groups whose names start alike: ambiguous.
	if _, err := n.rep.CreateGroup(context.Background(), "Westend"); err != nil {
		t.Fatal(err)
	}
	code, b, _ := n.do("GET", "/api/v1/resolve?group=west", nil, "")
	if code != 400 || !strings.Contains(string(b), "matches 2 groups") || !strings.Contains(string(b), "Westend") {
		t.Errorf("ambiguous: %d %s", code, b)
	}
}

// TestRenameNode: PATCH /api/v1/node names a node that is in no group,
// and the name is the one its genesis op carries; a member is renamed
// in its group too, and a bad name is refused with nothing changed.
func TestRenameNode(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	rep, err := replica.Open(st, replica.Config{Key: key, Name: "vm", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { rep.Close(); st.Close() }()
	var mu sync.Mutex
	name := "vm"
	api := New(Config{Board: rep, Logger: quietLogger(),
		Node: func() NodeInfo { mu.Lock(); defer mu.Unlock(); return NodeInfo{PeerID: "12D3KooWTest", Name: name} },
		Rename: func(s string) error {
			mu.Lock()
			defer mu.Unlock()
			name = s
			rep.SetName(s)
			return nil
		}})
	srv := httptest.NewServer(api)
	defer srv.Close()
	n := &testNode{t: t, rep: rep, api: api, srv: srv}

	for _, bad := range []map[string]any{
		{"name": ""}, {"name": "  "}, {"name": strings.Repeat("x", 101)}, {"name": "Hall\u202elaptop"},
		{"name": "two\nlines"}, {"name": 7}, {}, {"name": "x", "other": 1},
	} {
		if code, b, _ := n.do("PATCH", "/api/v1/node", bad, ""); code != 400 {
			t.Errorf("%v: %d %s", bad, code, b)
		}
	}
	if code, b, _ := n.do("PATCH", "/api/v1/node", `{"name":"\xff"}`, ""); code != 400 {
		t.Errorf("invalid UTF-8: %d %s", code, b)
	}
	var out nodeJSON
	n.must(200, "PATCH", "/api/v1/node", map[string]any{"name": "  Hall laptop "}, &out)
	if out.Name != "Hall laptop" {
		t.Fatalf("renamed to %q", out.Name)
	}
	g, err := rep.CreateGroup(context.Background(), "Eastgate")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := rep.Members(g)
	if err != nil || len(ms) != 1 || ms[0].Name != "Hall laptop" {
		t.Fatalf("the genesis op carries %+v (%v)", ms, err)
	}
	n.must(200, "PATCH", "/api/v1/node", map[string]any{"name": "Hall laptop"}, nil) // no change
	n.must(200, "PATCH", "/api/v1/node", map[string]any{"name": "Other"}, &out)
	if out.Name != "Other" || name != "Other" {
		t.Errorf("rename in a group: the node is named %q (%q)", out.Name, name)
	}
	if ms, err := rep.Members(g); err != nil || ms[0].Name != "Other" {
		t.Errorf("after a rename in the group its members are %+v (%v)", ms, err)
	}
}
