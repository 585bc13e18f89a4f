package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
)

// meeting is a meeting-mode server on a real replica, with the organiser
// at the laptop (loopback) and phones on the Wi-Fi.
type meeting struct {
	t     *testing.T
	s     *Server
	rep   *replica.Replica
	group crdt.ID
}

func newMeeting(t *testing.T) *meeting {
	t.Helper()
	rep, g := newReplica(t)
	s := New(Config{Board: rep, Meeting: true, Logger: quietLogger(),
		Node: func() NodeInfo { return NodeInfo{PeerID: "12D3KooWTest", Name: "Amal's laptop"} }})
	t.Cleanup(func() { s.Close() })
	return &meeting{t: t, s: s, rep: rep, group: g}
}

const (
	laptop  = "127.0.0.1:40000"
	phoneIP = "192.168.1.50:50123"
)

// req sends one request from remote (with the session cookie, if any),
// with body sent as contentType (application/json by default).
func (m *meeting) req(remote string, c *http.Cookie, method, target string, body []byte, contentType string) *httptest.ResponseRecorder {
	m.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	r.RemoteAddr = remote
	r.Host = "192.168.1.20:7777"
	if body != nil {
		if contentType == "" {
			contentType = "application/json"
		}
		r.Header.Set("Content-Type", contentType)
	}
	if c != nil {
		r.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	m.s.ServeHTTP(rec, r)
	return rec
}

// must sends a JSON request (body marshalled unless nil), requires
// status want and decodes the answer into out (if not nil).
func (m *meeting) must(remote string, c *http.Cookie, want int, method, target string, body, out any) {
	m.t.Helper()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			m.t.Fatal(err)
		}
	}
	rec := m.req(remote, c, method, target, b, "")
	if rec.Code != want {
		m.t.Fatalf("%s %s from %s: %d, want %d: %s", method, target, remote, rec.Code, want, rec.Body)
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			m.t.Fatalf("%s %s: %v: %s", method, target, err, rec.Body)
		}
	}
}

// phone opens the join link and, if name is not empty, gives the name.
func (m *meeting) phone(name string) *http.Cookie {
	m.t.Helper()
	u, _ := url.Parse(m.s.JoinURL("http://192.168.1.20:7777"))
	rec := m.req(phoneIP, nil, "GET", u.RequestURI(), nil, "")
	cs := rec.Result().Cookies()
	if rec.Code != http.StatusSeeOther || len(cs) != 1 {
		m.t.Fatalf("join: %d %v", rec.Code, cs)
	}
	if name != "" {
		m.must(phoneIP, cs[0], http.StatusOK, "POST", "/api/v1/session", map[string]string{"name": name}, nil)
	}
	return cs[0]
}

// state is everything a refused request must leave as it was: the
// board, the groups, the state hash and the live sessions.
func (m *meeting) state() string {
	m.t.Helper()
	var sb strings.Builder
	sb.Write(m.req(laptop, nil, "GET", "/api/v1/posts", nil, "").Body.Bytes())
	sb.Write(m.req(laptop, nil, "GET", "/api/v1/node", nil, "").Body.Bytes())
	for _, g := range m.rep.Groups() {
		h, err := m.rep.StateHash(g.ID)
		if err != nil {
			m.t.Fatal(err)
		}
		sb.WriteString(g.ID.String() + " " + h.String() + "\n")
	}
	m.s.sessions.mu.Lock()
	var live []string // in order: a map's is random, and the state must compare equal
	for id, se := range m.s.sessions.live {
		live = append(live, id+" "+se.name+"\n")
	}
	slices.Sort(live)
	for _, l := range live {
		sb.WriteString(l)
	}
	sb.WriteString("token " + m.s.sessions.token + "\n")
	m.s.sessions.mu.Unlock()
	return sb.String()
}

// Every route that is not in phoneRoutes — all the organiser's — is
// refused to a phone with 403 and {"error"}, before it changes anything,
// even with a request the organiser's would succeed with. The list of
// routes is the server's own, so a route added later is covered.
func TestPhoneCannotDoTheOrganisersJobs(t *testing.T) {
	m := newMeeting(t)
	var own post
	m.must(laptop, nil, http.StatusCreated, "POST", "/api/v1/posts", map[string]any{"kind": "need", "title": "Chairs", "quantity": 2}, &own)
	m.must(laptop, nil, http.StatusOK, "POST", "/api/v1/posts/"+own.ID+"/responses", map[string]any{"quantity": 1}, &own)
	var inv struct{ Code string }
	m.must(laptop, nil, http.StatusOK, "POST", "/api/v1/invites", map[string]string{"role": "member"}, &inv)
	bundle := m.req(laptop, nil, "GET", "/api/v1/bundle", nil, "")
	if bundle.Code != http.StatusOK || bundle.Body.Len() == 0 {
		t.Fatalf("export from the laptop: %d", bundle.Code)
	}
	sam := m.phone("Sam")

	// Requests the organiser could make (valid bodies), by route.
	bodies := map[string]struct {
		body []byte
		ct   string
	}{
		"POST /api/v1/invites":                             {[]byte(`{"role":"admin","expires":"720h"}`), ""},
		"POST /api/v1/groups":                              {[]byte(`{"name":"Sam's own group"}`), ""},
		"POST /api/v1/join":                                {[]byte(`{"code":"` + inv.Code + `"}`), ""},
		"POST /api/v1/follow":                              {[]byte(`{"code":"` + m.group.String() + `"}`), ""},
		"POST /api/v1/groups/{id}/federation":              {[]byte(`{"policy":"allies"}`), ""},
		"POST /api/v1/bundle":                              {bundle.Body.Bytes(), "application/octet-stream"},
		"POST /api/v1/receipts":                            {[]byte("mutual-receipt/1\n"), "application/octet-stream"},
		"POST /api/v1/import/csv":                          {[]byte("Type,Title,Contact\nneed,Imported by a phone,555\n"), "text/csv"},
		"POST /api/v1/sessions/revoke":                     {[]byte(`{}`), ""},
		"PATCH /api/v1/node":                               {[]byte(`{"name":"Sam's laptop now"}`), ""},
		"PATCH /api/v1/posts/{id}":                         {[]byte(`{"title":"Edited by a phone"}`), ""},
		"POST /api/v1/posts/{id}/status":                   {[]byte(`{"status":"withdrawn"}`), ""},
		"POST /api/v1/posts/{id}/erase":                    {[]byte(`{}`), ""},
		"POST /api/v1/groups/{id}/retention":               {[]byte(`{"days":1}`), ""},
		"POST /api/v1/groups/{id}/blocked":                 {[]byte(`{"group":"` + strings.Repeat("5", 64) + `","blocked":true}`), ""},
		"POST /api/v1/groups/{id}/members/{key}/remove":    {[]byte(`{}`), ""},
		"POST /api/v1/groups/{id}/members/{key}/promote":   {[]byte(`{}`), ""},
		"POST /api/v1/groups/{id}/members/{key}/demote":    {[]byte(`{}`), ""},
		"POST /api/v1/groups/{id}/leave":                   {[]byte(`{}`), ""},
		"POST /api/v1/groups/{id}/invites/{invite}/revoke": {[]byte(`{}`), ""},
	}
	target := func(path string) string {
		path = strings.ReplaceAll(path, "{rid}", own.Responses[0].ID)
		path = strings.ReplaceAll(path, "{key}", "someone")
		path = strings.ReplaceAll(path, "{invite}", "00")
		path = strings.ReplaceAll(path, "{id}", map[bool]string{true: m.group.String(), false: own.ID}[strings.HasPrefix(path, "/api/v1/groups/")])
		switch path {
		case "/api/v1/invites/qr.png":
			path += "?code=" + url.QueryEscape(inv.Code)
		case "/api/v1/digest", "/api/v1/posts.csv", "/api/v1/bundle":
			path += "?group=" + m.group.String()
		}
		return path
	}
	var refused []string
	before := m.state()
	for path, methods := range m.s.allow {
		if !strings.HasPrefix(path, "/api/") {
			continue
		}
		for _, method := range methods {
			pattern := method + " " + path
			switch phoneRoutes[pattern] {
			case phoneAny:
				continue
			case phoneOwnPost, phoneOwnReply: // on the organiser's post and response: refused too
			}
			refused = append(refused, pattern)
			b := bodies[pattern]
			rec := m.req(phoneIP, sam, method, target(path), b.body, b.ct)
			var e struct{ Error string }
			if rec.Code != http.StatusForbidden || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error == "" {
				t.Errorf("%s from a phone: %d %s, want 403 with {\"error\"}", pattern, rec.Code, rec.Body)
			}
			if after := m.state(); after != before {
				t.Fatalf("%s from a phone changed the node:\nbefore %s\nafter  %s", pattern, before, after)
			}
		}
	}
	// The organiser's jobs the issue names are among them.
	for _, want := range []string{
		"POST /api/v1/invites", "GET /api/v1/invites/qr.png", "GET /api/v1/bundle", "POST /api/v1/bundle",
		"POST /api/v1/import/csv", "GET /api/v1/posts.csv", "POST /api/v1/groups", "POST /api/v1/join",
		"POST /api/v1/sessions/revoke", "PATCH /api/v1/node", "GET /api/v1/groups/{id}", "GET /api/v1/groups/{id}/check", "GET /api/v1/check",
		"PATCH /api/v1/posts/{id}", "POST /api/v1/posts/{id}/status", "DELETE /api/v1/posts/{id}/responses/{rid}",
	} {
		if !slices.Contains(refused, want) {
			t.Errorf("%s is not among the routes refused to a phone: %v", want, refused)
		}
	}
	// A route phoneRoutes names must exist: a typo there would leave the
	// real route refused (safe, but a bug).
	for pattern := range phoneRoutes {
		method, path, _ := strings.Cut(pattern, " ")
		if !slices.Contains(m.s.allow[path], method) {
			t.Errorf("phoneRoutes has %q, which is no route", pattern)
		}
	}

	// The same requests from the laptop succeed: the 403s were about who
	// asked, not what.
	for _, pattern := range []string{"POST /api/v1/invites", "GET /api/v1/bundle", "GET /api/v1/posts.csv", "GET /api/v1/check", "POST /api/v1/import/csv"} {
		method, path, _ := strings.Cut(pattern, " ")
		b := bodies[pattern]
		if rec := m.req(laptop, nil, method, target(path), b.body, b.ct); rec.Code != http.StatusOK {
			t.Errorf("%s from the laptop: %d %s", pattern, rec.Code, rec.Body)
		}
	}
	if rec := m.req(laptop, nil, "POST", "/api/v1/sessions/revoke", []byte(`{}`), ""); rec.Code != http.StatusOK {
		t.Errorf("revoke from the laptop: %d", rec.Code)
	}
}

// What a phone may do works, as its own name; what it made is its own,
// and another phone's is not.
func TestPhonesOwnWhatTheyMake(t *testing.T) {
	m := newMeeting(t)
	var chairs post
	m.must(laptop, nil, http.StatusCreated, "POST", "/api/v1/posts", map[string]any{"kind": "need", "title": "Chairs", "quantity": 5}, &chairs)
	var organiserR struct {
		Responses []struct{ ID string }
	}
	m.must(laptop, nil, http.StatusOK, "POST", "/api/v1/posts/"+chairs.ID+"/responses", map[string]any{"quantity": 1}, &organiserR)

	sam, lee := m.phone("Sam"), m.phone("Lee")
	type view struct {
		ID, Title, Status, Author, By string
		AuthorName                    string `json:"author_name"`
		Yours                         bool
		Responses                     []struct {
			ID, Author, By string
			AuthorName     string `json:"author_name"`
			Yours          bool
		}
	}
	var samPost view
	m.must(phoneIP, sam, http.StatusCreated, "POST", "/api/v1/posts", map[string]any{"kind": "offer", "title": "Lift home"}, &samPost)
	if samPost.By != "Sam" || samPost.Author != m.rep.Self().String() || samPost.AuthorName != "test" || !samPost.Yours {
		t.Errorf("Sam's post as Sam sees it: %+v", samPost)
	}
	// Both phones respond to the organiser's post: two responses, each
	// with its phone's name.
	var p view
	m.must(phoneIP, sam, http.StatusOK, "POST", "/api/v1/posts/"+chairs.ID+"/responses", map[string]any{"quantity": 2, "note": "two folding ones"}, &p)
	m.must(phoneIP, lee, http.StatusOK, "POST", "/api/v1/posts/"+chairs.ID+"/responses", map[string]any{"quantity": 1}, &p)
	byName := map[string]string{}
	for _, r := range p.Responses {
		byName[r.By] = r.ID
		if r.Author != m.rep.Self().String() || r.AuthorName != "test" {
			t.Errorf("response %+v", r)
		}
		if r.Yours != (r.By == "Lee") {
			t.Errorf("Lee sees response by %q as yours=%v", r.By, r.Yours)
		}
	}
	if len(p.Responses) != 3 || byName["Sam"] == "" || byName["Lee"] == "" || byName[""] != organiserR.Responses[0].ID {
		t.Fatalf("responses = %+v", p.Responses)
	}
	samR, leeR := byName["Sam"], byName["Lee"]

	// What a phone may not do to another's (or the organiser's) work: 403,
	// nothing changed.
	before := m.state()
	for _, tc := range []struct {
		who         *http.Cookie
		method, url string
		body        string
	}{
		{lee, "DELETE", "/api/v1/posts/" + chairs.ID + "/responses/" + samR, ""},
		{sam, "DELETE", "/api/v1/posts/" + chairs.ID + "/responses/" + leeR, ""},
		{sam, "DELETE", "/api/v1/posts/" + chairs.ID + "/responses/" + byName[""], ""},
		{lee, "POST", "/api/v1/posts/" + samPost.ID + "/status", `{"status":"withdrawn"}`},
		{lee, "PATCH", "/api/v1/posts/" + samPost.ID, `{"title":"Lee's now"}`},
		{sam, "POST", "/api/v1/posts/" + chairs.ID + "/status", `{"status":"fulfilled"}`},
		{sam, "PATCH", "/api/v1/posts/" + chairs.ID, `{"quantity":1}`},
	} {
		var body []byte
		if tc.body != "" {
			body = []byte(tc.body)
		}
		rec := m.req(phoneIP, tc.who, tc.method, tc.url, body, "")
		var e struct{ Error string }
		if rec.Code != http.StatusForbidden || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error == "" {
			t.Errorf("%s %s from the other phone: %d %s, want 403", tc.method, tc.url, rec.Code, rec.Body)
		}
	}
	if after := m.state(); after != before {
		t.Fatalf("refused requests changed the node:\nbefore %s\nafter  %s", before, after)
	}

	// What a phone may do with its own.
	m.must(phoneIP, sam, http.StatusOK, "DELETE", "/api/v1/posts/"+chairs.ID+"/responses/"+samR, nil, &p)
	if len(p.Responses) != 2 || slices.ContainsFunc(p.Responses, func(r struct {
		ID, Author, By string
		AuthorName     string `json:"author_name"`
		Yours          bool
	}) bool {
		return r.ID == samR
	}) {
		t.Errorf("after Sam withdrew: %+v", p.Responses)
	}
	m.must(phoneIP, sam, http.StatusOK, "POST", "/api/v1/posts/"+samPost.ID+"/status", map[string]string{"status": "claimed"}, &p)
	if p.Status != "claimed" {
		t.Errorf("status = %s", p.Status)
	}
	m.must(phoneIP, sam, http.StatusOK, "PATCH", "/api/v1/posts/"+samPost.ID, map[string]string{"title": "Lift home, 2 seats"}, &p)
	if p.Title != "Lift home, 2 seats" || p.By != "Sam" {
		t.Errorf("after Sam's edit: %+v", p)
	}
	// Lee sees Sam's post, not as Lee's.
	m.must(phoneIP, lee, http.StatusOK, "GET", "/api/v1/posts/"+samPost.ID, nil, &p)
	if p.Yours || p.By != "Sam" {
		t.Errorf("Sam's post as Lee sees it: %+v", p)
	}

	// The organiser may do anything, to any phone's work, and sees the
	// node's everything as its own.
	m.must(laptop, nil, http.StatusOK, "GET", "/api/v1/posts/"+chairs.ID, nil, &p)
	for _, r := range p.Responses {
		if !r.Yours {
			t.Errorf("the organiser sees %+v as not its own", r)
		}
	}
	m.must(laptop, nil, http.StatusOK, "DELETE", "/api/v1/posts/"+chairs.ID+"/responses/"+leeR, nil, &p)
	m.must(laptop, nil, http.StatusOK, "POST", "/api/v1/posts/"+samPost.ID+"/status", map[string]string{"status": "fulfilled"}, nil)

	// Scanning the join link again keeps the phone's session: its name
	// and what it made.
	u, _ := url.Parse(m.s.JoinURL("http://192.168.1.20:7777"))
	if rec := m.req(phoneIP, sam, "GET", u.RequestURI(), nil, ""); rec.Code != http.StatusSeeOther || len(rec.Result().Cookies()) != 0 {
		t.Errorf("join again: %d, cookies %v", rec.Code, rec.Result().Cookies())
	}
	var who sessionJSON
	m.must(phoneIP, sam, http.StatusOK, "GET", "/api/v1/session", nil, &who)
	if who != (sessionJSON{Phone: true, Name: "Sam"}) {
		t.Errorf("session after joining again = %+v", who)
	}
	m.must(phoneIP, sam, http.StatusOK, "POST", "/api/v1/posts/"+samPost.ID+"/status", map[string]string{"status": "open"}, nil)

	// Every node shows the names: they are in the ops.
	got, err := m.rep.Post(mustID(t, samPost.ID))
	if err != nil || got.By != "Sam" {
		t.Errorf("the replica's post: %+v %v", got, err)
	}
}

func TestPhoneName(t *testing.T) {
	m := newMeeting(t)
	var who sessionJSON
	m.must(laptop, nil, http.StatusOK, "GET", "/api/v1/session", nil, &who)
	if who.Phone || who.Name != "" {
		t.Errorf("the laptop's session = %+v", who)
	}
	m.must(laptop, nil, http.StatusConflict, "POST", "/api/v1/session", map[string]string{"name": "Organiser"}, nil)

	sam := m.phone("")
	m.must(phoneIP, sam, http.StatusOK, "GET", "/api/v1/session", nil, &who)
	if !who.Phone || who.Name != "" {
		t.Errorf("a new phone's session = %+v", who)
	}
	before := m.state()
	// Without a name a phone may read but not write.
	m.must(phoneIP, sam, http.StatusOK, "GET", "/api/v1/posts", nil, nil)
	m.must(phoneIP, sam, http.StatusConflict, "POST", "/api/v1/posts", map[string]any{"kind": "need", "title": "x"}, nil)
	for _, bad := range []string{`{}`, `{"name":""}`, `{"name":"   "}`, `{"name":"` + strings.Repeat("n", 101) + `"}`,
		`{"name":"Sam\nAdmin"}`, `{"name":"Sam\u0000"}`, `{"name":5}`, `{"name":"Sam","role":"admin"}`} {
		rec := m.req(phoneIP, sam, "POST", "/api/v1/session", []byte(bad), "")
		if rec.Code != http.StatusBadRequest {
			t.Errorf("name %s: %d %s, want 400", bad, rec.Code, rec.Body)
		}
	}
	if after := m.state(); after != before {
		t.Fatalf("refused names changed the node")
	}
	m.must(phoneIP, sam, http.StatusOK, "POST", "/api/v1/session", map[string]string{"name": "  Sam Okafor  "}, &who)
	if who != (sessionJSON{Phone: true, Name: "Sam Okafor"}) {
		t.Errorf("named = %+v", who)
	}
	m.must(phoneIP, sam, http.StatusCreated, "POST", "/api/v1/posts", map[string]any{"kind": "need", "title": "x"}, nil)
}

func mustID(t *testing.T, s string) crdt.ID {
	t.Helper()
	id, err := crdt.ParseID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
