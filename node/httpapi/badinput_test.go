package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

// Each bad request gets the right 4xx with {"error": ...} and leaves the
// board exactly as it was.
func TestBadInputsChangeNothing(t *testing.T) {
	n := newTestNode(t, nil)
	p := n.create(map[string]any{"kind": "need", "title": "Winter coat", "quantity": 2})
	post := "/api/v1/posts/" + p.ID
	unknown := "/api/v1/posts/" + crdt.ID{9}.String()
	unknownGroup := crdt.ID{7}.String()
	huge := `{"kind":"need","title":"x","details":"` + strings.Repeat("a", 1<<20) + `"}`

	for _, tc := range []struct {
		name, method, path string
		body               string
		contentType        string // default application/json when body != ""
		want               int
	}{
		{"bad JSON", "POST", "/api/v1/posts", `{"kind":"need",`, "", 400},
		{"not JSON", "POST", "/api/v1/posts", `kind=need&title=x`, "", 400},
		{"JSON array", "POST", "/api/v1/posts", `[]`, "", 400},
		{"JSON null", "POST", "/api/v1/posts", `null`, "", 400},
		{"empty body", "POST", "/api/v1/posts", ``, "application/json", 400},
		{"trailing data", "POST", "/api/v1/posts", `{"kind":"need","title":"x"} {}`, "", 400},
		{"unknown field", "POST", "/api/v1/posts", `{"kind":"need","title":"x","colour":"red"}`, "", 400},
		{"missing title", "POST", "/api/v1/posts", `{"kind":"need"}`, "", 400},
		{"blank title", "POST", "/api/v1/posts", `{"kind":"need","title":"   "}`, "", 400},
		{"missing kind", "POST", "/api/v1/posts", `{"title":"x"}`, "", 400},
		{"kind foo", "POST", "/api/v1/posts", `{"kind":"foo","title":"x"}`, "", 400},
		{"urgency asap", "POST", "/api/v1/posts", `{"kind":"need","title":"x","urgency":"asap"}`, "", 400},
		{"expires tomorrow", "POST", "/api/v1/posts", `{"kind":"need","title":"x","expires":"tomorrow"}`, "", 400},
		{"negative quantity", "POST", "/api/v1/posts", `{"kind":"need","title":"x","quantity":-1}`, "", 400},
		{"fractional quantity", "POST", "/api/v1/posts", `{"kind":"need","title":"x","quantity":1.5}`, "", 400},
		{"quantity as string", "POST", "/api/v1/posts", `{"kind":"need","title":"x","quantity":"3"}`, "", 400},
		{"quantity too big", "POST", "/api/v1/posts", `{"kind":"need","title":"x","quantity":4294967296}`, "", 400},
		{"title as number", "POST", "/api/v1/posts", `{"kind":"need","title":5}`, "", 400},
		{"title over 200 bytes", "POST", "/api/v1/posts", `{"kind":"need","title":"` + strings.Repeat("é", 101) + `"}`, "", 400},
		{"category over 64 bytes", "POST", "/api/v1/posts", `{"kind":"need","title":"x","category":"` + strings.Repeat("c", 65) + `"}`, "", 400},
		{"body over 1 MiB", "POST", "/api/v1/posts", huge, "", 413},
		{"unknown group", "POST", "/api/v1/posts", `{"kind":"need","title":"x","group":"` + unknownGroup + `"}`, "", 404},
		{"malformed group", "POST", "/api/v1/posts", `{"kind":"need","title":"x","group":"abc"}`, "", 400},
		{"form content type", "POST", "/api/v1/posts", `{"kind":"need","title":"x"}`, "application/x-www-form-urlencoded", 415},
		{"text/plain", "POST", "/api/v1/posts", `{"kind":"need","title":"x"}`, "text/plain", 415},
		{"wrong method", "PUT", "/api/v1/posts", `{"kind":"need","title":"x"}`, "", 405},
		{"wrong method on post", "DELETE", post, ``, "", 405},

		{"unknown post", "GET", unknown, ``, "", 404},
		{"malformed id", "GET", "/api/v1/posts/xyz", ``, "", 400},
		{"patch unknown post", "PATCH", unknown, `{"title":"y"}`, "", 404},
		{"patch malformed id", "PATCH", "/api/v1/posts/xyz", `{"title":"y"}`, "", 400},
		{"patch empty", "PATCH", post, `{}`, "", 400},
		{"patch unknown field", "PATCH", post, `{"colour":"red"}`, "", 400},
		{"patch kind", "PATCH", post, `{"kind":"offer"}`, "", 400},
		{"patch empty title", "PATCH", post, `{"title":""}`, "", 400},
		{"patch half bad", "PATCH", post, `{"details":"fine","urgency":"asap"}`, "", 400},
		{"patch bad expires", "PATCH", post, `{"expires":"tomorrow"}`, "", 400},
		{"status foo", "POST", post + "/status", `{"status":"done"}`, "", 400},
		{"status missing", "POST", post + "/status", `{}`, "", 400},
		{"status unknown post", "POST", unknown + "/status", `{"status":"claimed"}`, "", 404},
		{"respond negative", "POST", post + "/responses", `{"quantity":-2}`, "", 400},
		{"respond long note", "POST", post + "/responses", `{"note":"` + strings.Repeat("n", 501) + `"}`, "", 400},
		{"respond unknown field", "POST", post + "/responses", `{"qty":2}`, "", 400},
		{"respond unknown post", "POST", unknown + "/responses", `{}`, "", 404},
		{"unrespond unknown response", "DELETE", post + "/responses/" + crdt.ID{5}.String(), ``, "", 404},

		{"list bad kind", "GET", "/api/v1/posts?kind=foo", ``, "", 400},
		{"list bad status", "GET", "/api/v1/posts?status=done", ``, "", 400},
		{"list bad limit", "GET", "/api/v1/posts?limit=-1", ``, "", 400},
		{"list zero limit", "GET", "/api/v1/posts?limit=0", ``, "", 400},
		{"list malformed group", "GET", "/api/v1/posts?group=zz", ``, "", 400},
		{"list unknown group", "GET", "/api/v1/posts?group=" + unknownGroup, ``, "", 404},
		{"list bad after", "GET", "/api/v1/posts?after=zz", ``, "", 400},
		{"list unknown after", "GET", "/api/v1/posts?after=" + crdt.ID{3}.String(), ``, "", 400},
		{"unknown group page", "GET", "/api/v1/groups/" + unknownGroup, ``, "", 404},
		{"invite bad role", "POST", "/api/v1/invites", `{"role":"owner"}`, "", 400},
		{"invite bad expiry", "POST", "/api/v1/invites", `{"expires":"soon"}`, "", 400},
		{"invite negative expiry", "POST", "/api/v1/invites", `{"expires":"-1h"}`, "", 400},
		{"invite unknown group", "POST", "/api/v1/invites", `{"group":"` + unknownGroup + `"}`, "", 404},
		{"qr no code", "GET", "/api/v1/invites/qr.png", ``, "", 400},
		{"qr not a code", "GET", "/api/v1/invites/qr.png?code=hello", ``, "", 400},
		{"digest unknown group", "GET", "/api/v1/digest?group=" + unknownGroup, ``, "", 404},
		{"csv malformed group", "GET", "/api/v1/posts.csv?group=1", ``, "", 400},
		{"import as JSON", "POST", "/api/v1/import/csv", `{"a":1}`, "application/json", 415},
		{"import not CSV", "POST", "/api/v1/import/csv", "\xff\xfeT\x00i\x00", "text/csv", 400},
		{"unknown endpoint", "GET", "/api/v1/nothing", ``, "", 404},
		{"revoke outside meeting mode", "POST", "/api/v1/sessions/revoke", `{}`, "", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := n.board()
			var body any
			if tc.body != "" || tc.contentType != "" {
				body = []byte(tc.body)
			}
			code, out, _ := n.do(tc.method, tc.path, body, tc.contentType)
			if code != tc.want {
				t.Errorf("status %d, want %d: %s", code, tc.want, out)
			}
			var e struct {
				Error *string `json:"error"`
			}
			if err := json.Unmarshal(out, &e); err != nil || e.Error == nil || *e.Error == "" {
				t.Errorf("body is not {\"error\": ...}: %s", out)
			}
			if after := n.board(); !bytes.Equal(before, after) {
				t.Errorf("board changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func TestMethodNotAllowedSaysAllow(t *testing.T) {
	n := newTestNode(t, nil)
	code, _, h := n.do("DELETE", "/api/v1/posts", nil, "")
	if code != http.StatusMethodNotAllowed || h.Get("Allow") != "GET, HEAD, POST" {
		t.Errorf("%d Allow %q", code, h.Get("Allow"))
	}
}

// A web page elsewhere must not reach the API by rebinding its domain to
// 127.0.0.1, nor post to it from a browser.
func TestForeignHostAndCrossSite(t *testing.T) {
	n := newTestNode(t, nil)
	req, _ := http.NewRequest("GET", n.srv.URL+"/api/v1/posts", nil)
	req.Host = "evil.example:7777"
	res, err := n.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("foreign Host: %d", res.StatusCode)
	}
	for _, host := range []string{"localhost:7777", "127.0.0.1", "[::1]:7777", "mutual.localhost"} {
		req, _ := http.NewRequest("GET", n.srv.URL+"/api/v1/node", nil)
		req.Host = host
		res, err := n.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("Host %s: %d", host, res.StatusCode)
		}
	}

	before := n.board()
	req, _ = http.NewRequest("POST", n.srv.URL+"/api/v1/posts", strings.NewReader(`{"kind":"need","title":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://evil.example")
	res, err = n.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST: %d", res.StatusCode)
	}
	if !bytes.Equal(before, n.board()) {
		t.Error("cross-site POST changed the board")
	}
}

// A .local (mDNS) name can be claimed by any machine on the LAN: a page
// served under one may rebind it to 127.0.0.1 and reach the API over
// loopback. Such a request is never this machine's own user: outside
// meeting mode it is refused; in meeting mode it needs a session, like a
// phone, and has only a phone's rights.
func TestLocalHostIsNotLoopback(t *testing.T) {
	for _, host := range []string{"mutual.local", "Amal-Laptop.LOCAL.:7777", "local"} {
		t.Run(host, func(t *testing.T) {
			n := newTestNode(t, nil)
			before := n.board()
			for _, tc := range []struct{ method, path, body string }{
				{"GET", "/api/v1/node", ""},
				{"GET", "/api/v1/posts", ""},
				{"POST", "/api/v1/posts", `{"kind":"need","title":"rebound"}`},
				{"POST", "/api/v1/invites", `{"role":"admin"}`},
			} {
				req, _ := http.NewRequest(tc.method, n.srv.URL+tc.path, strings.NewReader(tc.body))
				req.Host = host
				if tc.body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				res, err := n.srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var e struct{ Error string }
				json.NewDecoder(res.Body).Decode(&e)
				res.Body.Close()
				if res.StatusCode != http.StatusForbidden || e.Error == "" {
					t.Errorf("%s %s with Host %s over loopback, not in meeting mode: %d %q, want 403", tc.method, tc.path, host, res.StatusCode, e.Error)
				}
			}
			if !bytes.Equal(before, n.board()) {
				t.Error("the board changed")
			}
		})
	}

	rep, _ := newReplica(t)
	s := New(Config{Board: rep, Meeting: true, Logger: quietLogger()})
	defer s.Close()
	local := func(method, target, body string, c *http.Cookie) *httptest.ResponseRecorder {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req := httptest.NewRequest(method, target, rd)
		req.RemoteAddr = "127.0.0.1:50000"
		req.Host = "mutual.local:7777"
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if c != nil {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec
	}
	if rec := local("GET", "/api/v1/posts", "", nil); rec.Code != http.StatusUnauthorized {
		t.Errorf("meeting mode, .local Host over loopback, no session: %d, want 401", rec.Code)
	}
	if rec := local("POST", "/api/v1/invites", `{"role":"admin"}`, nil); rec.Code != http.StatusUnauthorized {
		t.Errorf("meeting mode, .local Host over loopback, invite without a session: %d, want 401", rec.Code)
	}
	u, _ := url.Parse(s.JoinURL("http://mutual.local:7777"))
	rec := local("GET", u.RequestURI(), "", nil)
	if rec.Code != http.StatusSeeOther || len(rec.Result().Cookies()) != 1 {
		t.Fatalf("join: %d", rec.Code)
	}
	session := rec.Result().Cookies()[0]
	if rec := local("GET", "/api/v1/posts", "", session); rec.Code != http.StatusOK {
		t.Errorf("with a session: %d %s", rec.Code, rec.Body)
	}
	// A phone's rights, not the organiser's.
	if rec := local("POST", "/api/v1/invites", `{"role":"admin"}`, session); rec.Code != http.StatusForbidden {
		t.Errorf("admin invite with a session over a .local Host: %d %s, want 403", rec.Code, rec.Body)
	}
}
