package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mutual-aid/mutual/node"
	"github.com/mutual-aid/mutual/node/httpapi"
)

// TestBrowserMeetingPhones: two phones (two browser contexts, so two cookie jars) join a meeting
// with the join link, each gives its name, posts and responds. The board shows "Sam, via
// Organiser". A phone cannot do the organiser's jobs (invites, export, ending sessions, creating
// groups: 403, nothing changed), cannot take back the other phone's response, and its page offers
// it only what it may do.
//
// The meeting-mode API serves the node's replica on loopback with every request rewritten to come
// from 192.0.2.99, as TestBrowserMeeting's "Handler" case: no LAN needed. The test itself talks to
// the node on loopback, as the organiser.
func TestBrowserMeetingPhones(t *testing.T) {
	requireChromium(t)
	host := startNode(t, "Organiser", "127.0.0.1:0")
	api := httpapi.New(httpapi.Config{Board: host.n.Local.Replica, Meeting: true,
		Node: func() httpapi.NodeInfo { return node.LocalInfo(host.n.Local) }})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.RemoteAddr = "192.0.2.99:40000"
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { api.Close() })
	base, join := srv.URL, api.JoinURL(srv.URL)

	group := host.createGroup(t, "Eastgate Mutual Aid")
	chairs := host.post(t, map[string]any{"kind": "need", "title": "Folding chairs for the meeting", "quantity": 20})

	br := newBrowser(t)
	sam := newTab(t, br, "Sam's phone", chromedp.WithNewBrowserContext())
	lee := newTab(t, br, "Lee's phone", chromedp.WithNewBrowserContext())
	chairsCard := `document.getElementById(` + js("p-"+chairs.ID) + `)`
	for _, ph := range []*tab{sam, lee} {
		ph.do(t, "open the join link", chromedp.Navigate(join))
		ph.waitJS(t, 10*time.Second, "the board loads with a session", boardLoadedJS+` && !!`+chairsCard, boardStateJS)
	}

	// Sam posts; the form asks for Sam's name first.
	sam.do(t, "go to the form", chromedp.Click(chromedp.CSS(`nav a[data-route=new]`)))
	fillPostForm(t, sam, map[string]string{"by": "Sam", "kind": "offer", "title": "Lift home after the meeting", "location": "Northside"})
	lift := submittedPostID(t, sam)
	sam.waitJS(t, 5*time.Second, "Sam's post page names Sam, via the node", `document.getElementById('post-view').textContent.includes('Sam, via Organiser')`,
		`document.getElementById('post-view').textContent`)
	if !eval[bool](t, sam, `!!document.querySelector('button[data-status=claimed]') && !!document.getElementById('edit')`) {
		t.Error("Sam's own post page offers no status buttons or edit form")
	}
	if got := eval[string](t, sam, `document.getElementById('node-name').textContent`); got != "Sam, via Organiser" {
		t.Errorf("Sam's header says %q", got)
	}

	// Lee opens Sam's post: not Lee's to change; Lee responds, giving a name first.
	lee.do(t, "open Sam's post", chromedp.Navigate(base+"/#/post/"+lift))
	lee.waitJS(t, 10*time.Second, "Lee sees Sam's post", `!!document.getElementById('post-view') && document.getElementById('post-view').textContent.includes('Sam, via Organiser')`, boardStateJS)
	if eval[bool](t, lee, `!!document.querySelector('[data-act=status]') || !!document.getElementById('edit')`) {
		t.Error("Lee's page offers to change Sam's post")
	}
	respond(t, lee, map[string]string{"by": "Lee", "quantity": "1"})

	// Both respond to the organiser's post; Sam is not asked for a name again.
	sam.do(t, "open the chairs post", chromedp.Navigate(base+"/#/post/"+chairs.ID))
	sam.waitJS(t, 10*time.Second, "the chairs post shows", `!!document.getElementById('help-quantity')`, boardStateJS)
	if eval[bool](t, sam, `!!document.getElementById('help-by')`) {
		t.Error("Sam is asked for a name again")
	}
	respond(t, sam, map[string]string{"quantity": "2"})
	lee.do(t, "open the chairs post", chromedp.Navigate(base+"/#/post/"+chairs.ID))
	lee.waitJS(t, 10*time.Second, "the chairs post shows", `!!document.getElementById('help-quantity')`, boardStateJS)
	respond(t, lee, map[string]string{"quantity": "3"})

	var p apiPost
	host.call(t, http.MethodGet, "/api/v1/posts/"+chairs.ID, nil, &p)
	resp := map[string]string{}
	for _, r := range p.Responses {
		resp[r.By] = r.ID
	}
	if len(p.Responses) != 2 || resp["Sam"] == "" || resp["Lee"] == "" || p.ClaimedQuantity != 5 {
		t.Fatalf("the chairs post on the node: %+v", p)
	}
	// Each phone's page offers to take back its own response only.
	for _, c := range []struct {
		ph   *tab
		mine string
	}{{sam, resp["Sam"]}, {lee, resp["Lee"]}} {
		c.ph.waitJS(t, 10*time.Second, "the page shows both responses", `document.querySelectorAll('.responses li').length === 2`, `document.querySelector('.responses') && document.querySelector('.responses').outerHTML`)
		got := eval[[]string](t, c.ph, `Array.from(document.querySelectorAll('[data-act=unrespond]')).map((b) => b.dataset.rid)`)
		if len(got) != 1 || got[0] != c.mine {
			t.Errorf("%s: take-back buttons for %v, want only %s", c.ph.name, got, c.mine)
		}
	}
	text := eval[string](t, lee, `document.querySelector('.responses').textContent`)
	if !strings.Contains(text, "Sam, via Organiser") || !strings.Contains(text, "Lee, via Organiser") {
		t.Errorf("responses read %q", text)
	}

	// What a phone may not do, tried by hand from Sam's page: 403 with {"error"}, nothing changed.
	before := nodeState(t, host)
	for _, c := range []struct{ what, js string }{
		{"withdraw Lee's response", `fetch('/api/v1/posts/` + chairs.ID + `/responses/` + resp["Lee"] + `', {method: 'DELETE'})`},
		{"mark the organiser's post fulfilled", `fetch('/api/v1/posts/` + chairs.ID + `/status', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{"status":"fulfilled"}'})`},
		{"create an admin invite", `fetch('/api/v1/invites', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{"role":"admin","expires":"720h"}'})`},
		{"export every group's bundle", `fetch('/api/v1/bundle')`},
		{"download the board with contacts", `fetch('/api/v1/posts.csv')`},
		{"create a group", `fetch('/api/v1/groups', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{"name":"Sam\'s group"}'})`},
		{"end every phone's session", `fetch('/api/v1/sessions/revoke', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{}'})`},
		{"read the members", `fetch('/api/v1/groups/` + group + `')`},
	} {
		res := eval[string](t, sam, `(async () => { const r = await `+c.js+`; return r.status + ' ' + await r.text(); })()`)
		code, body, _ := strings.Cut(res, " ")
		var e struct{ Error string }
		if code != "403" || json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
			t.Errorf("Sam's phone tried to %s: %s, want 403 with {\"error\"}", c.what, res)
		}
	}
	if after := nodeState(t, host); after != before {
		t.Errorf("the refused requests changed the node:\nbefore %s\nafter  %s", before, after)
	}
	if code := eval[int](t, lee, `fetch('/api/v1/posts').then((r) => r.status)`); code != http.StatusOK {
		t.Errorf("Lee's session after Sam's tries: %d", code)
	}

	// Sam takes back Sam's own response with the button; Lee's stays.
	sam.do(t, "take back Sam's response", chromedp.Click(chromedp.CSS(`[data-act=unrespond]`)))
	sam.waitJS(t, 10*time.Second, "Sam's response is gone", `document.querySelectorAll('.responses li').length === 1 && !document.querySelector('[data-act=unrespond]')`,
		`JSON.stringify({list: document.querySelector('.responses') && document.querySelector('.responses').textContent, err: (document.getElementById('resp-err') || {}).textContent})`)
	// The button pressed is gone: the focus goes to the list's heading, not to <body>, once
	// the request is answered (the node's event may redraw the post a moment before the answer
	// comes, which is what the wait above can see first).
	sam.waitJS(t, 5*time.Second, "the focus on the responses heading after Take back", `document.activeElement.id === 'resp-h'`,
		`JSON.stringify({focus: document.activeElement.id, tag: document.activeElement.tagName})`)
	host.call(t, http.MethodGet, "/api/v1/posts/"+chairs.ID, nil, &p)
	if len(p.Responses) != 1 || p.Responses[0].By != "Lee" {
		t.Errorf("after Sam took back: %+v", p.Responses)
	}

	// The board on Lee's phone names Sam's post's maker.
	lee.do(t, "Lee goes to the board", chromedp.Click(chromedp.CSS(`nav a[data-route=board]`)))
	card := `document.getElementById(` + js("p-"+lift) + `)`
	lee.waitJS(t, 10*time.Second, "Sam's post is on Lee's board", boardLoadedJS+` && !!`+card, boardStateJS)
	if got := eval[string](t, lee, card+`.textContent`); !strings.Contains(got, "by Sam, via Organiser") {
		t.Errorf("Lee's card for Sam's post: %q", got)
	}
	// A phone's group page has its name, and none of the organiser's tools.
	lee.do(t, "Lee opens the group page", chromedp.Click(chromedp.CSS(`nav a[data-route=group]`)))
	lee.waitJS(t, 5*time.Second, "the phone's group page shows", `!!document.getElementById('whoami')`, `document.getElementById('main').innerHTML`)
	if eval[bool](t, lee, `!!document.getElementById('invite') || !!document.getElementById('import') || !!document.querySelector('[data-act=revoke]')`) {
		t.Error("a phone's group page shows the organiser's tools")
	}
	if got := eval[string](t, lee, `document.getElementById('who-name').value`); got != "Lee" {
		t.Errorf("Lee's name field = %q", got)
	}
}

// respond fills the "I can help" form on the open post page and waits for the thanks.
func respond(t *testing.T, ph *tab, v map[string]string) {
	t.Helper()
	var acts []chromedp.Action[chromedp.Void]
	for _, k := range []string{"by", "quantity", "note"} {
		if val, ok := v[k]; ok {
			acts = append(acts, chromedp.SendKeys(chromedp.ID("help-"+k), val))
		}
	}
	acts = append(acts, chromedp.Click(chromedp.CSS(`#help button[type=submit]`)))
	ph.do(t, "respond", acts...)
	ph.waitJS(t, 10*time.Second, "the response is sent", `document.getElementById('help-msg').textContent !== ''`,
		`JSON.stringify({err: document.getElementById('help-err').textContent, view: document.getElementById('post-view').textContent})`)
}

// nodeState is what a refused request must leave as it was: the node's groups and its board, read
// as the organiser. (Sessions are checked by a phone still being let in.)
func nodeState(t *testing.T, host *testNode) string {
	t.Helper()
	var node, posts json.RawMessage
	host.call(t, http.MethodGet, "/api/v1/node", nil, &node)
	host.call(t, http.MethodGet, "/api/v1/posts", nil, &posts)
	return fmt.Sprintf("%s\n%s", node, posts)
}
