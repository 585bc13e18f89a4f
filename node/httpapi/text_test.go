package httpapi

import (
	"strings"
	"testing"
	"time"
)

// The text rules at the door (fields.go): one-line fields refuse line
// breaks, control characters and bidi controls; details keep line
// breaks and tabs but refuse the rest; a body that is not UTF-8, or text
// holding U+FFFD (what a \ud800 escape decodes to), is refused; a past
// expiry is refused. Each refusal is a 400 with {"error"} naming the
// field, and writes nothing.
func TestTextAtTheDoor(t *testing.T) {
	n := newTestNode(t, nil)
	ok := n.create(map[string]any{"kind": "need", "title": "Coats"})
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		name, method, path, body, want string
	}{
		{"newline in title", "POST", "/api/v1/posts", `{"kind":"need","title":"Coats\nfor kids"}`, "title: one line of text"},
		{"CR in title", "POST", "/api/v1/posts", `{"kind":"need","title":"Co\rats"}`, "title: one line"},
		{"line separator in category", "POST", "/api/v1/posts", `{"kind":"need","title":"Coats","category":"a\u2028b"}`, "category: one line"},
		{"tab in title", "POST", "/api/v1/posts", `{"kind":"need","title":"Coats\tx"}`, "title: holds the control character U+0009"},
		{"bell in location", "POST", "/api/v1/posts", `{"kind":"need","title":"Coats","location":"x\u0007"}`, "location: holds the control character U+0007"},
		{"C1 control in contact", "POST", "/api/v1/posts", `{"kind":"need","title":"Coats","contact":"555\u0085 0101"}`, "contact: "},
		{"RLO in title", "POST", "/api/v1/posts", `{"kind":"need","title":"Coats \u202egnp.exe"}`, "title: holds the bidirectional control U+202E"},
		{"isolate in category", "POST", "/api/v1/posts", `{"kind":"need","title":"Coats","category":"\u2067x"}`, "category: holds the bidirectional control U+2067"},
		{"RLO in details", "POST", "/api/v1/posts", `{"kind":"need","title":"Coats","details":"a\u202eb"}`, "details: holds the bidirectional control"},
		{"NUL in details", "POST", "/api/v1/posts", `{"kind":"need","title":"Coats","details":"a\u0000b"}`, "details: holds the control character U+0000"},
		{"lone surrogate", "POST", "/api/v1/posts", `{"kind":"need","title":"Coats \ud800"}`, "title: holds U+FFFD"},
		{"invalid UTF-8", "POST", "/api/v1/posts", "{\"kind\":\"need\",\"title\":\"Co\xffats\"}", "body: not UTF-8 text (byte 26 is 0xff)"},
		{"past expiry", "POST", "/api/v1/posts", `{"kind":"need","title":"Coats","expires":"` + past + `"}`, "expires: " + past[:16]},
		{"past date", "POST", "/api/v1/posts", `{"kind":"need","title":"Coats","expires":"2001-01-01"}`, "has passed"},
		{"patch: RLO in title", "PATCH", "/api/v1/posts/" + ok.ID, `{"title":"\u202eCoats"}`, "title: holds the bidirectional control"},
		{"patch: past expiry", "PATCH", "/api/v1/posts/" + ok.ID, `{"expires":"2001-01-01T00:00:00Z"}`, "has passed"},
		{"group name with newline", "POST", "/api/v1/groups", `{"name":"Riverside\nMutual"}`, "name: one line of text"},
		{"group name with RLO", "POST", "/api/v1/groups", `{"name":"\u202eRiverside"}`, "name: holds the bidirectional control"},
		{"note with RLO", "POST", "/api/v1/posts/" + ok.ID + "/responses", `{"note":"I can\u202e help"}`, "note: holds the bidirectional control"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := n.do(tc.method, tc.path, tc.body, "application/json")
			if code != 400 || !strings.HasPrefix(string(body), `{"error":`) || !strings.Contains(string(body), tc.want) {
				t.Errorf("%d %s, want 400 with %q", code, body, tc.want)
			}
		})
	}
	var ps []post
	n.must(200, "GET", "/api/v1/posts", nil, &ps)
	if len(ps) != 1 || ps[0].Title != "Coats" || ps[0].Expires != "" || len(ps[0].Responses) != 0 {
		t.Errorf("refused requests wrote: %+v", ps)
	}

	// What is allowed: line breaks and tabs in details (CRLF becomes LF),
	// the direction marks U+200E/U+200F in one-line text, space trimmed.
	p := n.create(map[string]any{"kind": "offer", "title": "  \u0645\u0639\u0627\u0637\u0641 \u200f(L)  ", "details": "line one\r\n\tline two"})
	if p.Title != "\u0645\u0639\u0627\u0637\u0641 \u200f(L)" || p.Details != "line one\n\tline two" {
		t.Errorf("stored %q / %q", p.Title, p.Details)
	}
	// An edit that sends the post's own expiry back (a form sends every
	// field) is not refused once that expiry has passed; see
	// TestListFiltersAndPaging for an expired post.
}
