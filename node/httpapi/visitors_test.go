package httpapi

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

type visitorPost struct {
	Responses []struct {
		ID         string  `json:"id"`
		AuthorName string  `json:"author_name"`
		Quantity   uint32  `json:"quantity"`
		Visitor    bool    `json:"visitor"`
		Contact    *string `json:"contact"`
		Yours      bool    `json:"yours"`
		Group      struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"group"`
	} `json:"responses"`
}

// carry exports a group's bundle from one node and imports it on another.
func carry(t *testing.T, from, to *testNode, group string) {
	t.Helper()
	code, b, _ := from.do("GET", "/api/v1/bundle?group="+group, nil, "")
	if code != http.StatusOK {
		t.Fatalf("export: %d %s", code, b)
	}
	if code, out, _ := to.do("POST", "/api/v1/bundle", b, "application/octet-stream"); code != http.StatusOK {
		t.Fatalf("import: %d %s", code, out)
	}
}

// "I can help" on a followed group's need, through the API: the answer
// comes from the node's own group, its contact is sealed to the post's
// group's members, whose node shows it with the responder's group; an
// admin blocks that group and the response is gone. Bad input is a 4xx
// and changes nothing.
func TestRespondFromAnotherGroup(t *testing.T) {
	const contact = "canary 555-0123"
	harbour, riverside := newTestNode(t, nil), newTestNode(t, nil)
	hg, rg := harbour.group.String(), riverside.group.String()
	need := harbour.create(map[string]any{"kind": "need", "title": "Winter coats", "quantity": 4})
	carry(t, harbour, riverside, hg) // riverside's node follows harbour

	for _, bad := range []map[string]any{
		{"quantity": 4, "as_group": hg},                      // from the post's own group
		{"quantity": 4, "as_group": "nowhere"},               // no such group
		{"quantity": 4, "contact": strings.Repeat("x", 201)}, // too long
		{"quantity": 4, "contact": "two\nlines"},             // not one line
	} {
		if code, b, _ := riverside.do("POST", "/api/v1/posts/"+need.ID+"/responses", bad, ""); code/100 != 4 {
			t.Errorf("respond %v: %d %s", bad, code, b)
		}
	}
	var p visitorPost
	riverside.must(http.StatusOK, "POST", "/api/v1/posts/"+need.ID+"/responses", map[string]any{"quantity": 4, "note": "we have 4", "contact": contact}, &p)
	if len(p.Responses) != 1 || !p.Responses[0].Visitor || p.Responses[0].Group.ID != rg || !p.Responses[0].Yours {
		t.Fatalf("the responder's node answers %+v", p)
	}
	// A member's own response carries no contact: 400.
	if code, b, _ := harbour.do("POST", "/api/v1/posts/"+need.ID+"/responses", map[string]any{"contact": "x"}, ""); code != http.StatusBadRequest {
		t.Errorf("a member's response with a contact: %d %s", code, b)
	}

	carry(t, riverside, harbour, hg) // the visit and the response
	carry(t, riverside, harbour, rg) // riverside's members, to vouch
	harbour.must(http.StatusOK, "GET", "/api/v1/posts/"+need.ID, nil, &p)
	if len(p.Responses) != 1 {
		t.Fatalf("harbour shows %+v", p)
	}
	r := p.Responses[0]
	if !r.Visitor || r.Group.ID != rg || r.Group.Name != "Riverside Mutual Aid" || r.AuthorName != "test" || r.Quantity != 4 {
		t.Fatalf("harbour shows the response as %+v", r)
	}
	if r.Contact == nil || *r.Contact != contact {
		t.Fatalf("harbour's member reads contact %v", r.Contact)
	}

	g := "/api/v1/groups/" + hg
	for _, bad := range []any{map[string]any{"group": rg}, map[string]any{"blocked": true}, map[string]any{"group": "zz", "blocked": true}, map[string]any{"group": hg, "blocked": true}} {
		if code, b, _ := harbour.do("POST", g+"/blocked", bad, ""); code/100 != 4 {
			t.Errorf("blocked %v: %d %s", bad, code, b)
		}
	}
	if code, b, _ := riverside.do("POST", g+"/blocked", map[string]any{"group": rg, "blocked": true}, ""); code != http.StatusForbidden {
		t.Errorf("a follower blocks: %d %s", code, b)
	}
	var gr struct {
		Blocked []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"blocked"`
	}
	harbour.must(http.StatusOK, "POST", g+"/blocked", map[string]any{"group": rg, "blocked": true}, &gr)
	if len(gr.Blocked) != 1 || gr.Blocked[0].ID != rg || gr.Blocked[0].Name != "Riverside Mutual Aid" {
		t.Fatalf("blocked %+v", gr)
	}
	harbour.must(http.StatusOK, "GET", "/api/v1/posts/"+need.ID, nil, &p)
	if len(p.Responses) != 0 {
		t.Fatalf("after the block harbour shows %+v", p)
	}
	harbour.must(http.StatusOK, "POST", g+"/blocked", map[string]any{"group": rg, "blocked": false}, &gr)
	harbour.must(http.StatusOK, "GET", "/api/v1/posts/"+need.ID, nil, &p)
	if len(gr.Blocked) != 0 || len(p.Responses) != 1 {
		t.Fatalf("after the unblock: blocked %+v, responses %+v", gr, p)
	}
}

// A response that could never count on the post's group's nodes is
// refused up front, with the reason and the way out, and nothing is
// written: Riverside lets only its allies follow it and Harbour is none
// of them (Harbour's nodes could never learn Riverside's members, so the
// response would be held there for ever), or Harbour's admins blocked
// Riverside. An ally that Harbour's member belongs to is enough, and
// listing Harbour as an ally (the way out the refusal names) lets the
// response through.
func TestRespondRefusedWhenItCouldNeverCount(t *testing.T) {
	harbour, riverside := newTestNode(t, nil), newTestNode(t, nil)
	rg := riverside.group.String()
	var hgj, kitchen struct {
		ID string `json:"id"`
	}
	harbour.must(http.StatusCreated, "POST", "/api/v1/groups", map[string]any{"name": "Harbour"}, &hgj)
	harbour.must(http.StatusCreated, "POST", "/api/v1/groups", map[string]any{"name": "Harbour Kitchen"}, &kitchen)
	hg := hgj.ID
	need := harbour.create(map[string]any{"group": hg, "kind": "need", "title": "Winter coats", "quantity": 4})
	carry(t, harbour, riverside, hg)
	carry(t, harbour, riverside, kitchen.ID) // riverside's node follows the kitchen too: harbour's node is a member

	fed := "/api/v1/groups/" + rg + "/federation"
	respond := "/api/v1/posts/" + need.ID + "/responses"
	answer := map[string]any{"quantity": 4, "contact": "canary 555-0199"}
	riverside.must(http.StatusOK, "POST", fed, map[string]any{"policy": "allies", "allies": []string{}}, nil)
	code, b, _ := riverside.do("POST", respond, answer, "")
	if code != http.StatusConflict {
		t.Fatalf("respond from an allies-only group that does not list Harbour: %d %s", code, b)
	}
	for _, want := range []string{"Riverside Mutual Aid accepts followers from its allies only", "does not list Harbour",
		"mutual group federation --group \"Riverside Mutual Aid\" --policy allies --ally " + hg} {
		if !strings.Contains(errorText(t, b), want) {
			t.Errorf("the refusal says %s, without %q", b, want)
		}
	}
	var p visitorPost
	riverside.must(http.StatusOK, "GET", "/api/v1/posts/"+need.ID, nil, &p)
	if len(p.Responses) != 0 {
		t.Fatalf("a refused response was written: %+v", p)
	}

	// Harbour's node is a member of Harbour Kitchen, which Riverside lists: it may follow.
	riverside.must(http.StatusOK, "POST", fed, map[string]any{"allies": []string{kitchen.ID}}, nil)
	riverside.must(http.StatusOK, "POST", respond, answer, &p)
	if len(p.Responses) != 1 {
		t.Fatalf("with an ally Harbour's member belongs to: %+v", p)
	}
	// Listed as an ally itself (the way out the refusal names).
	riverside.must(http.StatusOK, "POST", fed, map[string]any{"allies": []string{hg}}, nil)
	riverside.must(http.StatusOK, "POST", respond, answer, &p)
	if len(p.Responses) != 2 {
		t.Fatalf("with Harbour listed: %+v", p)
	}

	// Harbour's admins block Riverside: refused with the reason and whom to ask.
	harbour.must(http.StatusOK, "POST", "/api/v1/groups/"+hg+"/blocked", map[string]any{"group": rg, "blocked": true}, nil)
	carry(t, harbour, riverside, hg)
	code, b, _ = riverside.do("POST", respond, answer, "")
	if code != http.StatusForbidden {
		t.Fatalf("respond from a blocked group: %d %s", code, b)
	}
	for _, want := range []string{"Harbour's admins have blocked responses from Riverside Mutual Aid", "mutual group unblock " + rg + " --group Harbour"} {
		if !strings.Contains(errorText(t, b), want) {
			t.Errorf("the refusal says %s, without %q", b, want)
		}
	}
}

// errorText is the message of an API error's body.
func errorText(t *testing.T, b []byte) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(b, &e); err != nil || e.Error == "" {
		t.Fatalf("not an API error: %s", b)
	}
	return e.Error
}

// Past 64 visitors that do not count, a group's nodes store no new
// visit: a first answer then would never reach the group, and is refused
// with the reason and who can make room.
func TestRespondRefusedWhenVisitorsFull(t *testing.T) {
	ctx := context.Background()
	harbour, riverside := newTestNode(t, nil), newTestNode(t, nil)
	hg := harbour.group
	need := harbour.create(map[string]any{"kind": "need", "title": "Winter coats", "quantity": 4})
	carry(t, harbour, riverside, hg.String())
	var raws [][]byte
	for range 64 {
		_, key, _ := ed25519.GenerateKey(nil)
		op := crdt.Op{Group: hg, Seq: 1, Time: crdt.HLC{Wall: time.Now().UnixMilli()}, Body: crdt.Visit{From: crdt.ID{0x51}, Name: "spam"}}
		raw, err := protocol.SignOp(&op, key)
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, raw)
	}
	if _, err := riverside.rep.Ingest(ctx, raws); err != nil {
		t.Fatal(err)
	}
	code, b, _ := riverside.do("POST", "/api/v1/posts/"+need.ID+"/responses", map[string]any{"quantity": 4}, "")
	if code != http.StatusConflict {
		t.Fatalf("respond to a group full of unvouched visitors: %d %s", code, b)
	}
	for _, want := range []string{"already holds 64 visitors", "mutual group block GROUP --group"} {
		if !strings.Contains(errorText(t, b), want) {
			t.Errorf("the refusal says %s, without %q", b, want)
		}
	}
	var p visitorPost
	riverside.must(http.StatusOK, "GET", "/api/v1/posts/"+need.ID, nil, &p)
	if len(p.Responses) != 0 {
		t.Fatalf("a refused response was written: %+v", p)
	}
}
