package httpapi

import (
	"net/http"
	"strings"
	"testing"
)

// The API shows a member the contact and location it posted; erase
// takes them away (the post stays); an admin sets the group's retention,
// and bad values get a 400 with nothing changed.
func TestEraseAndRetention(t *testing.T) {
	n := newTestNode(t, nil)
	p := n.create(map[string]any{"kind": "need", "title": "Crib", "contact": "Ana 555-0199", "location": "4 Elm St"})
	if p.Contact == nil || *p.Contact != "Ana 555-0199" || p.Location != "4 Elm St" {
		t.Fatalf("created: contact %v, location %q", p.Contact, p.Location)
	}
	var got post
	n.must(http.StatusOK, "POST", "/api/v1/posts/"+p.ID+"/erase", map[string]any{}, &got)
	if got.Title != "Crib" || got.Contact == nil || *got.Contact != "" || got.Location != "" {
		t.Fatalf("after erase: %+v", got)
	}
	n.must(http.StatusOK, "GET", "/api/v1/posts/"+p.ID, nil, &got)
	if *got.Contact != "" || got.Location != "" {
		t.Fatalf("read after erase: contact %q, location %q", *got.Contact, got.Location)
	}
	if code, _, _ := n.do("POST", "/api/v1/posts/"+strings.Repeat("0", 64)+"/erase", map[string]any{}, ""); code != http.StatusNotFound {
		t.Errorf("erase of no post: %d", code)
	}

	g := "/api/v1/groups/" + n.group.String()
	var gr struct {
		RetentionDays float64 `json:"retention_days"`
	}
	n.must(http.StatusOK, "GET", g, nil, &gr)
	if gr.RetentionDays != 14 {
		t.Errorf("default retention %v days, want 14", gr.RetentionDays)
	}
	for _, bad := range []any{map[string]any{}, map[string]any{"days": 0}, map[string]any{"days": -1}, map[string]any{"days": 4000}, map[string]any{"days": "7"}} {
		if code, b, _ := n.do("POST", g+"/retention", bad, ""); code != http.StatusBadRequest {
			t.Errorf("retention %v: %d %s", bad, code, b)
		}
	}
	n.must(http.StatusOK, "POST", g+"/retention", map[string]any{"days": 7}, &gr)
	if gr.RetentionDays != 7 {
		t.Errorf("retention %v days after setting 7", gr.RetentionDays)
	}
	n.must(http.StatusOK, "GET", g, nil, &gr)
	if gr.RetentionDays != 7 {
		t.Errorf("retention read back %v days", gr.RetentionDays)
	}
}
