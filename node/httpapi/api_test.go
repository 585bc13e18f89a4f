package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

func TestNodePeersGroup(t *testing.T) {
	seen := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	n := newTestNode(t, func(c *Config) {
		c.Peers = func() []PeerInfo {
			return []PeerInfo{{PeerID: "12D3KooWPeer", Name: "hall laptop", Addrs: []string{"/ip4/10.0.0.2/tcp/4001"},
				Groups: []crdt.ID{{1}}, Connected: true, LastSeen: seen}}
		}
	})
	var node struct {
		PeerID  string   `json:"peer_id"`
		Name    string   `json:"name"`
		Addrs   []string `json:"addrs"`
		Meeting bool     `json:"meeting"`
		Groups  []struct{ ID, Name, Role string }
	}
	n.must(200, "GET", "/api/v1/node", nil, &node)
	if node.PeerID != "12D3KooWTest" || node.Name != "test" || len(node.Addrs) != 1 || node.Meeting {
		t.Errorf("node = %+v", node)
	}
	if len(node.Groups) != 1 || node.Groups[0].ID != n.group.String() || node.Groups[0].Name != "Riverside Mutual Aid" || node.Groups[0].Role != "admin" {
		t.Errorf("node groups = %+v", node.Groups)
	}

	var peers []map[string]any
	n.must(200, "GET", "/api/v1/peers", nil, &peers)
	if len(peers) != 1 || peers[0]["peer_id"] != "12D3KooWPeer" || peers[0]["connected"] != true ||
		peers[0]["last_seen"] != "2026-11-20T10:00:00Z" || peers[0]["last_synced"] != "" {
		t.Errorf("peers = %v", peers)
	}

	var g struct {
		ID, Name string
		Members  []struct{ ID, Name, Role string }
	}
	n.must(200, "GET", "/api/v1/groups/"+n.group.String(), nil, &g)
	if g.ID != n.group.String() || len(g.Members) != 1 || g.Members[0].ID != n.rep.Self().String() ||
		g.Members[0].Name != "test" || g.Members[0].Role != "admin" {
		t.Errorf("group = %+v", g)
	}
}

func TestPeersDefaultsToEmptyArray(t *testing.T) {
	n := newTestNode(t, nil)
	if b := n.must(200, "GET", "/api/v1/peers", nil, nil); strings.TrimSpace(string(b)) != "[]" {
		t.Errorf("peers = %s", b)
	}
}

func TestPostLifecycle(t *testing.T) {
	n := newTestNode(t, nil)
	p := n.create(map[string]any{
		"kind": "need", "title": " Winter coats, size L ", "details": "for a family of four",
		"category": "Clothing", "location": "Northside", "quantity": 4, "urgency": "high",
		"expires": "2099-12-31", "contact": "555-0101",
	})
	if p.ID == "" || p.Group != n.group.String() || p.Kind != "need" || p.Title != "Winter coats, size L" ||
		p.Details != "for a family of four" || p.Category != "Clothing" || p.Location != "Northside" ||
		p.Quantity != 4 || p.Urgency != "high" || p.Expires != "2099-12-31T23:59:59Z" || p.Status != "open" ||
		p.Contact == nil || *p.Contact != "555-0101" || p.Author != n.rep.Self().String() || p.AuthorName != "test" ||
		p.Expired || p.Responses == nil {
		t.Fatalf("created = %+v", p)
	}
	if c := mustParseTime(t, p.CreatedAt); time.Since(c) > time.Minute || p.UpdatedAt != p.CreatedAt {
		t.Errorf("created_at %s updated_at %s", p.CreatedAt, p.UpdatedAt)
	}
	// Durable: the replica has it.
	id, _ := crdt.ParseID(p.ID)
	if got, err := n.rep.Post(id); err != nil || got.Title.V != "Winter coats, size L" {
		t.Fatalf("replica: %v %v", got, err)
	}

	var got post
	n.must(200, "GET", "/api/v1/posts/"+p.ID, nil, &got)
	if got.ID != p.ID || got.Title != p.Title {
		t.Errorf("GET = %+v", got)
	}

	var edited post
	n.must(200, "PATCH", "/api/v1/posts/"+p.ID, map[string]any{"title": "Winter coats, size L and XL", "quantity": 6, "expires": ""}, &edited)
	if edited.Title != "Winter coats, size L and XL" || edited.Quantity != 6 || edited.Expires != "" ||
		edited.Details != "for a family of four" || edited.Urgency != "high" {
		t.Errorf("PATCH = %+v", edited)
	}
	if mustParseTime(t, edited.UpdatedAt).Before(mustParseTime(t, edited.CreatedAt)) {
		t.Errorf("updated_at %s before created_at %s", edited.UpdatedAt, edited.CreatedAt)
	}

	var responded post
	n.must(200, "POST", "/api/v1/posts/"+p.ID+"/responses", map[string]any{"quantity": 4, "note": "I have four"}, &responded)
	n.must(200, "POST", "/api/v1/posts/"+p.ID+"/responses", map[string]any{"quantity": 3}, &responded)
	if len(responded.Responses) != 2 || responded.ClaimedQuantity != 7 || !responded.OverClaimed {
		t.Fatalf("responses = %+v", responded)
	}
	r0 := responded.Responses[0]
	if r0.Author != n.rep.Self().String() || r0.AuthorName != "test" || r0.ID == "" || r0.CreatedAt == "" {
		t.Errorf("response = %+v", r0)
	}
	var unresponded post
	n.must(200, "DELETE", "/api/v1/posts/"+p.ID+"/responses/"+r0.ID, nil, &unresponded)
	if len(unresponded.Responses) != 1 || unresponded.OverClaimed {
		t.Errorf("after withdrawing a response: %+v", unresponded)
	}

	var claimed post
	n.must(200, "POST", "/api/v1/posts/"+p.ID+"/status", map[string]any{"status": "fulfilled"}, &claimed)
	if claimed.Status != "fulfilled" {
		t.Errorf("status = %q", claimed.Status)
	}
	var open []post
	n.must(200, "GET", "/api/v1/posts?status=open", nil, &open)
	if len(open) != 0 {
		t.Errorf("open board still has %d posts", len(open))
	}
}

func TestListFiltersAndPaging(t *testing.T) {
	// The node's clock moves on after "old need" is made: a post cannot
	// be made expired (the API refuses a past expiry).
	var clock atomic.Int64
	clock.Store(time.Now().UnixMilli())
	n := newTestNode(t, func(c *Config) { c.Now = func() time.Time { return time.UnixMilli(clock.Load()) } })
	var ids []string
	for i := range 5 {
		kind := []string{"need", "offer"}[i%2]
		p := n.create(map[string]any{"kind": kind, "title": fmt.Sprintf("post %d", i), "category": []string{"Food", "Transport"}[i%2]})
		ids = append(ids, p.ID)
	}
	expired := n.create(map[string]any{"kind": "need", "title": "old need",
		"expires": time.UnixMilli(clock.Load()).Add(time.Hour).UTC().Format(time.RFC3339)})
	clock.Add(2 * time.Hour.Milliseconds())
	n.must(200, "GET", "/api/v1/posts/"+expired.ID, nil, &expired)
	if !expired.Expired {
		t.Errorf("a post that expired in 2001 is not expired: %+v", expired)
	}

	list := func(q string) []string {
		t.Helper()
		var ps []post
		n.must(200, "GET", "/api/v1/posts"+q, nil, &ps)
		out := []string{}
		for _, p := range ps {
			out = append(out, p.Title)
		}
		return out
	}
	eq := func(q string, want ...string) {
		t.Helper()
		if want == nil {
			want = []string{}
		}
		if got := list(q); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("GET /api/v1/posts%s = %q, want %q", q, got, want)
		}
	}
	eq("", "old need", "post 4", "post 3", "post 2", "post 1", "post 0")
	eq("?group="+n.group.String()+"&kind=need", "old need", "post 4", "post 2", "post 0")
	eq("?status=open", "post 4", "post 3", "post 2", "post 1", "post 0")
	eq("?category=transport", "post 3", "post 1")
	eq("?q=POST+3", "post 3")
	eq("?limit=2", "old need", "post 4")
	eq("?limit=2&after="+ids[4], "post 3", "post 2")
	eq("?after=" + ids[0])
	eq("?kind=offer&after="+ids[3], "post 1")
}

func TestInviteAndQR(t *testing.T) {
	n := newTestNode(t, nil)
	var inv struct{ Code, Expires string }
	n.must(200, "POST", "/api/v1/invites", map[string]any{"role": "member", "expires": "72h"}, &inv)
	c, err := protocol.DecodeInviteCode(inv.Code)
	if err != nil {
		t.Fatal(err)
	}
	if c.Invite.Group != n.group || c.Invite.Role != crdt.RoleMember ||
		len(c.Addrs) != 1 || c.Addrs[0] != "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWTest" {
		t.Errorf("invite = %+v", c)
	}
	if d := time.Until(time.UnixMilli(c.Invite.Expires)); d < 71*time.Hour || d > 73*time.Hour {
		t.Errorf("invite expires in %v", d)
	}
	code, body, h := n.do("GET", "/api/v1/invites/qr.png?code="+url.QueryEscape(inv.Code), nil, "")
	if code != 200 || h.Get("Content-Type") != "image/png" || !bytes.HasPrefix(body, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("qr: %d %s %q", code, h.Get("Content-Type"), body[:min(len(body), 16)])
	}
	n.must(200, "POST", "/api/v1/invites", map[string]any{"group": n.group.String(), "role": "admin", "expires": "7d"}, &inv)
}

func TestDigestAndCSV(t *testing.T) {
	n := newTestNode(t, nil)
	n.create(map[string]any{"kind": "need", "title": "Winter coat", "location": "Northside", "urgency": "high", "contact": "555-0101"})
	n.create(map[string]any{"kind": "offer", "title": "Van on Saturdays", "quantity": 1})
	gone := n.create(map[string]any{"kind": "offer", "title": "Old sofa"})
	n.must(200, "POST", "/api/v1/posts/"+gone.ID+"/status", map[string]any{"status": "withdrawn"}, nil)

	code, body, h := n.do("GET", "/api/v1/digest", nil, "")
	d := string(body)
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Fatalf("digest: %d %s %s", code, h.Get("Content-Type"), body)
	}
	for _, want := range []string{"Riverside Mutual Aid", "NEEDS (1)", "Winter coat", "OFFERS (1)", "Van on Saturdays"} {
		if !strings.Contains(d, want) {
			t.Errorf("digest lacks %q:\n%s", want, d)
		}
	}
	if strings.Contains(d, "Old sofa") || strings.Contains(d, "555-0101") {
		t.Errorf("digest shows a withdrawn post or a contact:\n%s", d)
	}

	code, body, h = n.do("GET", "/api/v1/posts.csv?group="+n.group.String(), nil, "")
	csv := string(body)
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s %s", code, h.Get("Content-Type"), body)
	}
	if !strings.HasPrefix(csv, "ID,Type,Title,") || strings.Count(csv, "\n") != 4 ||
		!strings.Contains(csv, "555-0101") || !strings.Contains(csv, "withdrawn") {
		t.Errorf("csv:\n%s", csv)
	}
}

// A client that sends the same body twice gets two posts: POST is not
// idempotent, and the tests below rely on each bad request adding none.
func TestCreateTwiceMakesTwo(t *testing.T) {
	n := newTestNode(t, nil)
	body := map[string]any{"kind": "offer", "title": "Soup"}
	a, b := n.create(body), n.create(body)
	if a.ID == b.ID {
		t.Fatal("same ID twice")
	}
	var ps []json.RawMessage
	n.must(200, "GET", "/api/v1/posts", nil, &ps)
	if len(ps) != 2 {
		t.Errorf("%d posts", len(ps))
	}
}
