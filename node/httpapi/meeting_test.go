package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// serve runs one request through the handler as if it came from remote.
func serve(t *testing.T, h http.Handler, remote, method, target, body string, cookie *http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	req.RemoteAddr = remote
	req.Host = "192.168.1.20:7777"
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestMeetingMode(t *testing.T) {
	rep, _ := newReplica(t)
	s := New(Config{Board: rep, Meeting: true, Logger: quietLogger()})
	defer s.Close()
	const phone = "192.168.1.50:50123"

	// Without a session: 401 with {"error"}, for reads and writes.
	for _, path := range []string{"/api/v1/node", "/api/v1/posts", "/api/v1/events"} {
		rec := serve(t, s, phone, "GET", path, "", nil)
		var e struct{ Error string }
		if rec.Code != http.StatusUnauthorized || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error == "" {
			t.Errorf("GET %s without session: %d %s", path, rec.Code, rec.Body)
		}
	}
	if rec := serve(t, s, phone, "POST", "/api/v1/posts", `{"kind":"need","title":"x"}`, nil); rec.Code != http.StatusUnauthorized {
		t.Errorf("POST without session: %d", rec.Code)
	}
	// The UI itself loads, so that it can say what to do.
	if rec := serve(t, s, phone, "GET", "/", "", nil); rec.Code != http.StatusOK {
		t.Errorf("GET / without session: %d", rec.Code)
	}
	// This machine is trusted.
	for _, local := range []string{"127.0.0.1:40000", "[::1]:40000"} {
		if rec := serve(t, s, local, "GET", "/api/v1/node", "", nil); rec.Code != http.StatusOK {
			t.Errorf("GET from %s: %d", local, rec.Code)
		}
	}

	// A wrong token gives nothing.
	if rec := serve(t, s, phone, "GET", "/join?token=guess", "", nil); rec.Code != http.StatusUnauthorized || len(rec.Result().Cookies()) != 0 {
		t.Errorf("join with a wrong token: %d %v", rec.Code, rec.Result().Cookies())
	}

	join := s.JoinURL("http://192.168.1.20:7777/")
	if !strings.HasPrefix(join, "http://192.168.1.20:7777/join?token=") {
		t.Fatalf("JoinURL = %q", join)
	}
	u, _ := url.Parse(join)
	rec := serve(t, s, phone, "GET", u.RequestURI(), "", nil)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/" {
		t.Fatalf("join: %d %s", rec.Code, rec.Header().Get("Location"))
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode || cookies[0].Value == "" {
		t.Fatalf("cookies = %+v", cookies)
	}
	session := cookies[0]

	if rec := serve(t, s, phone, "GET", "/api/v1/node", "", session); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"meeting":true`) {
		t.Errorf("GET with session: %d %s", rec.Code, rec.Body)
	}
	// A phone says who it is before it writes.
	if rec := serve(t, s, phone, "POST", "/api/v1/posts", `{"kind":"need","title":"Blankets"}`, session); rec.Code != http.StatusConflict {
		t.Errorf("POST with a session without a name: %d %s, want 409", rec.Code, rec.Body)
	}
	if rec := serve(t, s, phone, "POST", "/api/v1/session", `{"name":"Sam"}`, session); rec.Code != http.StatusOK {
		t.Errorf("name the session: %d %s", rec.Code, rec.Body)
	}
	if rec := serve(t, s, phone, "POST", "/api/v1/posts", `{"kind":"need","title":"Blankets"}`, session); rec.Code != http.StatusCreated || !strings.Contains(rec.Body.String(), `"by":"Sam"`) {
		t.Errorf("POST with session: %d %s", rec.Code, rec.Body)
	}
	// A forged cookie is no session.
	if rec := serve(t, s, phone, "GET", "/api/v1/node", "", &http.Cookie{Name: sessionCookie, Value: "forged"}); rec.Code != http.StatusUnauthorized {
		t.Errorf("forged cookie: %d", rec.Code)
	}

	// A phone may not log every phone out; the organiser may.
	if rec := serve(t, s, phone, "POST", "/api/v1/sessions/revoke", `{}`, session); rec.Code != http.StatusForbidden {
		t.Fatalf("revoke from a phone: %d %s, want 403", rec.Code, rec.Body)
	}
	if rec := serve(t, s, phone, "GET", "/api/v1/node", "", session); rec.Code != http.StatusOK {
		t.Errorf("GET after a refused revoke: %d", rec.Code)
	}
	// Revoke ends the session and changes the token.
	if rec := serve(t, s, "127.0.0.1:1", "POST", "/api/v1/sessions/revoke", `{}`, nil); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"revoked":1`) {
		t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
	}
	if rec := serve(t, s, phone, "GET", "/api/v1/node", "", session); rec.Code != http.StatusUnauthorized {
		t.Errorf("GET after revoke: %d", rec.Code)
	}
	if rec := serve(t, s, phone, "GET", u.RequestURI(), "", nil); rec.Code != http.StatusUnauthorized {
		t.Errorf("old join link after revoke: %d", rec.Code)
	}
	if s.JoinURL("http://x") == "http://x/join?token="+u.Query().Get("token") {
		t.Error("token not rotated")
	}
	// Nobody without a session may revoke.
	if rec := serve(t, s, phone, "POST", "/api/v1/sessions/revoke", `{}`, nil); rec.Code != http.StatusUnauthorized {
		t.Errorf("revoke without session: %d", rec.Code)
	}
	// The new link works.
	u, _ = url.Parse(s.JoinURL("http://192.168.1.20:7777"))
	if rec := serve(t, s, phone, "GET", u.RequestURI(), "", nil); rec.Code != http.StatusSeeOther {
		t.Errorf("new join link: %d", rec.Code)
	}
	// From this machine, revoke needs no session.
	if rec := serve(t, s, "127.0.0.1:1", "POST", "/api/v1/sessions/revoke", `{}`, nil); rec.Code != http.StatusOK {
		t.Errorf("local revoke: %d", rec.Code)
	}
}

func TestNotMeetingMode(t *testing.T) {
	rep, _ := newReplica(t)
	s := New(Config{Board: rep, Logger: quietLogger()})
	if got := s.JoinURL("http://x"); got != "" {
		t.Errorf("JoinURL = %q outside meeting mode", got)
	}
	if rec := serve(t, s, "127.0.0.1:1", "GET", "/join?token=x", "", nil); rec.Code != http.StatusNotFound {
		t.Errorf("join outside meeting mode: %d", rec.Code)
	}
}
