package httpapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/node/store"
)

// testNode is a real replica on a real Badger store, served over HTTP.
type testNode struct {
	t     *testing.T
	rep   *replica.Replica
	group crdt.ID
	api   *Server
	srv   *httptest.Server
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newReplica opens a replica in a temporary dir with one group.
func newReplica(t testing.TB) (*replica.Replica, crdt.ID) {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := replica.Open(st, replica.Config{Key: key, Name: "test", Logger: quietLogger()})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rep.Close()
		st.Close()
	})
	g, err := rep.CreateGroup(context.Background(), "Riverside Mutual Aid")
	if err != nil {
		t.Fatal(err)
	}
	return rep, g
}

// newTestNode serves a fresh replica through httptest.Server; edit
// adjusts the Config.
func newTestNode(t *testing.T, edit func(*Config)) *testNode {
	t.Helper()
	rep, g := newReplica(t)
	cfg := Config{
		Board: rep,
		Node: func() NodeInfo {
			return NodeInfo{PeerID: "12D3KooWTest", Name: "test", Addrs: []string{"/ip4/127.0.0.1/tcp/4001"}}
		},
		Logger: quietLogger(),
	}
	if edit != nil {
		edit(&cfg)
	}
	api := New(cfg)
	srv := httptest.NewServer(api)
	t.Cleanup(func() {
		api.Close()
		srv.Close()
	})
	return &testNode{t: t, rep: rep, group: g, api: api, srv: srv}
}

// do sends a request with a body (JSON-encoded unless it is a string or
// []byte) and returns the status and the body.
func (n *testNode) do(method, path string, body any, contentType string) (int, []byte, http.Header) {
	n.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			n.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, n.srv.URL+path, rd)
	if err != nil {
		n.t.Fatal(err)
	}
	if body != nil {
		if contentType == "" {
			contentType = "application/json"
		}
		req.Header.Set("Content-Type", contentType)
	}
	res, err := n.srv.Client().Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		n.t.Fatal(err)
	}
	return res.StatusCode, out, res.Header
}

// must sends a request, requires status want and decodes the answer
// into out (if not nil).
func (n *testNode) must(want int, method, path string, body any, out any) []byte {
	n.t.Helper()
	code, b, _ := n.do(method, path, body, "")
	if code != want {
		n.t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			n.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return b
}

// post is the subset of a post's JSON the tests look at.
type post struct {
	ID              string  `json:"id"`
	Group           string  `json:"group"`
	Kind            string  `json:"kind"`
	Title           string  `json:"title"`
	Details         string  `json:"details"`
	Category        string  `json:"category"`
	Location        string  `json:"location"`
	Quantity        uint32  `json:"quantity"`
	Urgency         string  `json:"urgency"`
	Expires         string  `json:"expires"`
	Contact         *string `json:"contact"`
	Status          string  `json:"status"`
	Author          string  `json:"author"`
	AuthorName      string  `json:"author_name"`
	CreatedAt       string  `json:"created_at"`
	UpdatedAt       string  `json:"updated_at"`
	Expired         bool    `json:"expired"`
	OverClaimed     bool    `json:"over_claimed"`
	ClaimedQuantity uint64  `json:"claimed_quantity"`
	Responses       []struct {
		ID         string `json:"id"`
		Author     string `json:"author"`
		AuthorName string `json:"author_name"`
		Quantity   uint32 `json:"quantity"`
		Note       string `json:"note"`
		CreatedAt  string `json:"created_at"`
	} `json:"responses"`
}

// board returns every post of the node, as the API lists them.
func (n *testNode) board() []byte {
	n.t.Helper()
	return n.must(http.StatusOK, "GET", "/api/v1/posts", nil, nil)
}

func (n *testNode) create(body map[string]any) post {
	n.t.Helper()
	var p post
	n.must(http.StatusCreated, "POST", "/api/v1/posts", body, &p)
	return p
}

func mustParseTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return tm
}
