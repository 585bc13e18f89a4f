package httpapi

import (
	"net/http"
	"strings"
	"testing"
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
