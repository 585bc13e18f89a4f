package web_test

// Browser tests of the web page: real nodes (node.Serve in-process, on temp data dirs, libp2p on
// loopback) and a real headless Chromium (Debian's chromium, driven by chromedp). They skip only
// when /usr/bin/chromium is absent and CI is empty.
//
// Screenshots go to a temp dir, or with MUTUAL_SCREENSHOTS=1 to testdata/screenshots/, and then
// the desktop and phone boards also to docs/screenshots/ for the README:
//
//	MUTUAL_SCREENSHOTS=1 go test -run TestBrowserScreens ./node/web/

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mutual-aid/mutual/node/httpapi"
)

// boardLoadedJS is true once the board view shows the posts from the API (or says there are
// none) and the event stream is open.
const boardLoadedJS = `!!document.getElementById('board') && !!document.querySelector('#list-need .cards, #list-need .empty')
  && !document.getElementById('list-need').textContent.includes('Loading') && document.getElementById('status').classList.contains('on')`

const boardStateJS = `JSON.stringify({hash: location.hash, status: document.getElementById('status').className,
  auth: document.getElementById('auth').hidden, need: (document.getElementById('list-need') || {}).textContent,
  offer: (document.getElementById('list-offer') || {}).textContent, main: document.getElementById('main').textContent.slice(0, 300)})`

// fillPostForm fills the new-post form, field by field as a person would, and submits it. Empty
// values are left alone.
func fillPostForm(tb testing.TB, tt *tab, v map[string]string) {
	tb.Helper()
	tt.do(tb, "open the new-post form", chromedp.WaitVisible(chromedp.ID("new-title")))
	var acts []chromedp.Action[chromedp.Void]
	for _, k := range []string{"by", "kind", "title", "details", "category", "location", "quantity", "urgency", "expires", "contact"} {
		val, ok := v[k]
		if !ok {
			continue
		}
		sel := chromedp.ID("new-" + k)
		switch k {
		case "kind", "urgency", "expires": // a select, and a date picker: set the value
			acts = append(acts, chromedp.SetValue(sel, val))
		default:
			acts = append(acts, chromedp.SendKeys(sel, val))
		}
	}
	tt.do(tb, "fill the new-post form", acts...)
	// The name= of each field is the API's field name: the form posts what it shows.
	for k := range v {
		if got := eval[string](tb, tt, `document.getElementById('new-`+k+`').name`); got != k {
			tb.Errorf("#new-%s has name=%q, want %q", k, got, k)
		}
	}
	tt.do(tb, "submit the form", chromedp.Click(chromedp.CSS(`#new button[type=submit]`)))
}

// submittedPostID waits for the page to go to the post page of the new post, and returns its id.
func submittedPostID(tb testing.TB, tt *tab) string {
	tb.Helper()
	tt.waitJS(tb, 15*time.Second, "after Publish the page shows the new post",
		`location.hash.startsWith('#/post/') && !!document.getElementById('post-view')`,
		`JSON.stringify({hash: location.hash, err: (document.getElementById('new-err') || {}).textContent})`)
	return trimID(eval[string](tb, tt, `decodeURIComponent(location.hash)`))
}

// TestBrowserPostNeed posts a need through the form on node A's page and sees it on the board.
func TestBrowserPostNeed(t *testing.T) {
	requireChromium(t)
	a := startNode(t, "Amal", "127.0.0.1:0")
	a.createGroup(t, "Eastgate Mutual Aid")
	br := newBrowser(t)
	tt := newTab(t, br, "A")

	tt.do(t, "open the board", chromedp.Navigate(a.url+"/"))
	tt.waitJS(t, 10*time.Second, "the empty board loads", boardLoadedJS, boardStateJS)
	if got := eval[string](t, tt, `document.querySelector('#list-need .empty').textContent`); got == "" {
		t.Errorf("an empty board says nothing")
	}

	tt.do(t, "go to the form", chromedp.Click(chromedp.CSS(`nav a[data-route=new]`)))
	expires := time.Now().Add(72 * time.Hour)
	fillPostForm(t, tt, map[string]string{
		"kind":     "need",
		"title":    "Winter coats, size L",
		"details":  "For a family of four who arrived last week.",
		"category": "clothing",
		"location": "Eastgate Community Centre",
		"quantity": "4",
		"urgency":  "high",
		"expires":  expires.Format("2006-01-02T15:04"),
		"contact":  "Amal, 07700 900123",
	})
	id := submittedPostID(t, tt)
	if got := eval[string](t, tt, `document.getElementById('view-title').textContent`); got != "Winter coats, size L" {
		t.Errorf("post page title = %q", got)
	}

	tt.do(t, "back to the board", chromedp.Click(chromedp.CSS(`nav a[data-route=board]`)))
	card := `document.getElementById(` + js("p-"+id) + `)`
	tt.waitJS(t, 10*time.Second, "the new need is on the board", card+` && `+card+`.closest('#list-need')`, boardStateJS)
	text := eval[string](t, tt, card+`.textContent`)
	for _, want := range []string{"Winter coats, size L", "Urgent", "clothing", "Eastgate Community Centre", "quantity 4", "by Amal", "For a family of four"} {
		if !strings.Contains(text, want) {
			t.Errorf("card lacks %q: %q", want, text)
		}
	}

	// What the form sent is what the node stored.
	ps := a.posts(t)
	if len(ps) != 1 {
		t.Fatalf("node has %d posts, want 1", len(ps))
	}
	p := ps[0]
	if p.ID != id || p.Kind != "need" || p.Title != "Winter coats, size L" || p.Category != "clothing" ||
		p.Location != "Eastgate Community Centre" || p.Quantity != 4 || p.Urgency != "high" || p.AuthorName != "Amal" {
		t.Errorf("stored post = %+v", p)
	}
	var full struct {
		Expires string  `json:"expires"`
		Contact *string `json:"contact"`
	}
	a.call(t, http.MethodGet, "/api/v1/posts/"+id, nil, &full)
	if e, err := time.Parse(time.RFC3339, full.Expires); err != nil || e.Sub(expires).Abs() > time.Minute {
		t.Errorf("expires = %q, want about %v", full.Expires, expires.UTC())
	}
	if full.Contact == nil || *full.Contact != "Amal, 07700 900123" {
		t.Errorf("contact = %v", full.Contact)
	}

	// A title of spaces passes the browser's required check; the node refuses it and the form
	// says why in its alert, and keeps the typed details.
	tt.do(t, "go to the form", chromedp.Click(chromedp.CSS(`nav a[data-route=new]`)))
	fillPostForm(t, tt, map[string]string{"title": "   ", "details": "kept"})
	tt.waitJS(t, 10*time.Second, "#new-err shows the node's error", `document.getElementById('new-err').textContent.includes('title')`,
		`document.getElementById('new-err').textContent`)
	if got := eval[string](t, tt, `document.getElementById('new-details').value`); got != "kept" {
		t.Errorf("after a refused post, details = %q, want them kept", got)
	}
	if !eval[bool](t, tt, `!document.querySelector('#new button[type=submit]').disabled`) {
		t.Error("the submit button stays disabled after an error")
	}
	if n := len(a.posts(t)); n != 1 {
		t.Errorf("node has %d posts after a refused one, want 1", n)
	}
}

// TestBrowserLiveSync: a post made on A's page appears on B's open page (no reload) once the
// nodes sync; marking it fulfilled on B's post page changes it live on A's page.
func TestBrowserLiveSync(t *testing.T) {
	requireChromium(t)
	a, b, _ := startPair(t)
	br := newBrowser(t)
	pageA, pageB := newTab(t, br, "A"), newTab(t, br, "B")

	pageB.do(t, "open B's board", chromedp.Navigate(b.url+"/"))
	pageB.waitJS(t, 10*time.Second, "B's board loads", boardLoadedJS, boardStateJS)
	eval[chromedp.Void](t, pageB, `window.__noReload = 1`)

	pageA.do(t, "open A's form", chromedp.Navigate(a.url+"/#/new"))
	fillPostForm(t, pageA, map[string]string{
		"kind": "offer", "title": "Hot meals Friday", "category": "food", "location": "St Anne's hall", "quantity": "40",
		"details": "Vegetable curry and rice, 6 to 8 pm.",
	})
	id := submittedPostID(t, pageA)
	card := `document.getElementById(` + js("p-"+id) + `)`

	start := time.Now()
	pageB.waitJS(t, 30*time.Second, "A's post appears on B's open board", card+` && `+card+`.closest('#list-offer')`, boardStateJS)
	t.Logf("A's post reached B's page %v after A's page had it", time.Since(start).Round(time.Millisecond))
	if !eval[bool](t, pageB, `window.__noReload === 1`) {
		t.Error("B's page reloaded: the post should arrive over the event stream")
	}
	if got := eval[string](t, pageB, card+`.textContent`); !strings.Contains(got, "Hot meals Friday") || !strings.Contains(got, "by Amal") {
		t.Errorf("B's card = %q", got)
	}
	if got := eval[string](t, pageB, `document.getElementById('c-offer').textContent`); got != "(1)" {
		t.Errorf("B's offer count = %q, want (1)", got)
	}

	// A watches its board with every status shown, so that a fulfilled post stays visible.
	pageA.do(t, "A goes to its board", chromedp.Click(chromedp.CSS(`nav a[data-route=board]`)))
	pageA.waitJS(t, 10*time.Second, "A's board shows the post", boardLoadedJS+` && `+card, boardStateJS)
	eval[chromedp.Void](t, pageA, `(() => { const s = document.getElementById('fl-status'); s.value = 'all';
	  s.dispatchEvent(new Event('change', {bubbles: true})); window.__noReload = 1; })()`)
	pageA.waitJS(t, 5*time.Second, "the filter keeps the card", card+` && `+card+`.classList.contains('st-open')`, boardStateJS)

	pageB.do(t, "B opens the post", chromedp.Click(chromedp.CSS(`#p-`+id+` h3 a`)))
	fulfilled := chromedp.CSS(`button[data-status=fulfilled]`)
	pageB.do(t, "B marks it fulfilled", chromedp.WaitVisible(fulfilled), chromedp.Click(fulfilled))
	pageB.waitJS(t, 10*time.Second, "B's post page shows it fulfilled",
		`document.querySelector('button[data-status=fulfilled]').getAttribute('aria-pressed') === 'true'`,
		`JSON.stringify({err: document.getElementById('status-err').textContent, view: document.getElementById('post-view').textContent})`)

	start = time.Now()
	pageA.waitJS(t, 40*time.Second, "A's board shows the post fulfilled, live",
		card+` && `+card+`.classList.contains('st-fulfilled') && `+card+`.textContent.includes('Fulfilled')`, card+`.outerHTML`)
	t.Logf("B's status change reached A's page in %v", time.Since(start).Round(time.Millisecond))
	if !eval[bool](t, pageA, `window.__noReload === 1`) {
		t.Error("A's page reloaded")
	}
	// With the default filter (open or claimed), the fulfilled post leaves the board.
	eval[chromedp.Void](t, pageA, `(() => { const s = document.getElementById('fl-status'); s.value = 'active';
	  s.dispatchEvent(new Event('change', {bubbles: true})); })()`)
	pageA.waitJS(t, 5*time.Second, "a fulfilled post is not on the active board", `!`+card, card+`.outerHTML`)
}

// TestBrowserMeeting: a node serving beyond loopback refuses the API to a browser without a
// session and the page says how to join; the join link lets the browser in.
//
// "LAN" is the real thing: the node's HTTP on 0.0.0.0, reached at this machine's first
// non-loopback IPv4 address, which the node does not trust the way it trusts loopback (it runs
// when the machine has such an address). "Handler" needs no network: a meeting-mode API for the
// node's replica, served on loopback with every request rewritten to come from 192.0.2.99.
func TestBrowserMeeting(t *testing.T) {
	requireChromium(t)
	t.Run("LAN", func(t *testing.T) {
		lan := lanIPv4()
		if lan == "" {
			t.Log("no non-loopback IPv4 address on this machine: only the handler-level test runs")
			return
		}
		host := startNode(t, "Organiser", "0.0.0.0:0")
		if host.join == "" {
			t.Fatal("a node on 0.0.0.0 gave no join URL: meeting mode is off")
		}
		u, err := url.Parse(host.join)
		if err != nil {
			t.Fatal(err)
		}
		if u.Hostname() != lan {
			t.Errorf("join URL %s does not use the LAN address %s", host.join, lan)
		}
		_, port, err := net.SplitHostPort(strings.TrimPrefix(host.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		host.url = "http://" + net.JoinHostPort("127.0.0.1", port) // the test talks to the node over loopback
		testMeeting(t, host, u.Scheme+"://"+u.Host, host.join)
	})
	t.Run("Handler", func(t *testing.T) {
		host := startNode(t, "Organiser", "127.0.0.1:0")
		api := httpapi.New(httpapi.Config{Board: host.n.Local.Replica, Meeting: true})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.RemoteAddr = "192.0.2.99:40000"
			api.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { api.Close() }) // runs first: ends the event streams, so that Close does not wait
		testMeeting(t, host, srv.URL, api.JoinURL(srv.URL))
	})
}

// testMeeting checks meeting mode from a browser that reaches the node at base. host.url is the
// node on loopback, where the test itself is trusted.
func testMeeting(t *testing.T, host *testNode, base, joinURL string) {
	t.Logf("meeting board at %s", base)
	host.createGroup(t, "Eastgate Mutual Aid")
	seeded := host.post(t, map[string]any{"kind": "need", "title": "Folding chairs for the meeting", "quantity": 20})

	// Without a session, the API says 401, to any client.
	if code := callURL(t, http.MethodGet, base+"/api/v1/posts", nil, nil, http.StatusUnauthorized); code != http.StatusUnauthorized {
		t.Errorf("GET %s/api/v1/posts without a session: HTTP %d, want 401", base, code)
	}

	br := newBrowser(t)
	tt := newTab(t, br, "phone")
	tt.do(t, "open the board without the join link", chromedp.Navigate(base+"/"))
	tt.waitJS(t, 10*time.Second, "the page shows #auth", `!document.getElementById('auth').hidden && document.getElementById('auth').textContent.includes('meeting mode')`, boardStateJS)
	if code := eval[int](t, tt, `fetch('/api/v1/posts').then((r) => r.status)`); code != http.StatusUnauthorized {
		t.Errorf("fetch /api/v1/posts without a session: %d, want 401", code)
	}
	if eval[bool](t, tt, `!!document.querySelector('#board .card')`) {
		t.Error("a post is shown without a session")
	}

	tt.do(t, "open the join link", chromedp.Navigate(joinURL))
	if loc := eval[string](t, tt, `location.href`); loc != base+"/" {
		t.Errorf("after the join link the page is at %s, want %s/ (the token must not stay in the address bar)", loc, base)
	}
	card := `document.getElementById(` + js("p-"+seeded.ID) + `)`
	tt.waitJS(t, 10*time.Second, "the board loads with the session", boardLoadedJS+` && !!`+card+` && document.getElementById('auth').hidden`, boardStateJS)
	if code := eval[int](t, tt, `fetch('/api/v1/posts').then((r) => r.status)`); code != http.StatusOK {
		t.Errorf("fetch /api/v1/posts with the session: %d, want 200", code)
	}

	// A member of the meeting can post from the phone, under the name it gives.
	tt.do(t, "go to the form", chromedp.Click(chromedp.CSS(`nav a[data-route=new]`)))
	fillPostForm(t, tt, map[string]string{"by": "Sam", "kind": "offer", "title": "Lift home after the meeting", "location": "Northside"})
	id := submittedPostID(t, tt)
	var p apiPost
	host.call(t, http.MethodGet, "/api/v1/posts/"+id, nil, &p)
	if p.Title != "Lift home after the meeting" || p.Kind != "offer" || p.By != "Sam" {
		t.Errorf("post made with the session: %+v", p)
	}
}

// seedBoard puts a realistic board on A and B (posts by both, a pledge, a claimed post) and waits
// until A has all of it. It returns the posts by title.
func seedBoard(tb testing.TB, a, b *testNode, group string) map[string]apiPost {
	tb.Helper()
	soon := time.Now().Add(30 * time.Hour).UTC().Format(time.RFC3339)
	week := time.Now().Add(7 * 24 * time.Hour).UTC().Format(time.RFC3339)
	type seed struct {
		on   *testNode
		body map[string]any
	}
	seeds := []seed{
		{b, map[string]any{"kind": "offer", "title": "Spare bike, needs a new inner tube", "category": "transport", "location": "Orchard Road", "details": "Adult size, with lights and a lock. Free to whoever can use it."}},
		{a, map[string]any{"kind": "need", "title": "Phone charger (USB-C)", "category": "electronics", "location": "Eastgate Community Centre", "urgency": "low"}},
		{b, map[string]any{"kind": "offer", "title": "English conversation practice, Saturday mornings", "category": "learning", "location": "Library, room 2", "details": "Relaxed, any level. Tea provided.", "expires": week}},
		{a, map[string]any{"kind": "need", "title": "Help moving a sofa upstairs", "category": "help", "location": "Mill Lane", "quantity": 2, "details": "Second floor, no lift. Any evening this week."}},
		{b, map[string]any{"kind": "offer", "title": "Tins and dry pasta", "category": "food", "location": "Northside", "quantity": 12, "details": "Chickpeas, tomatoes and about 3 kg of pasta. Can drop off."}},
		{a, map[string]any{"kind": "need", "title": "Baby formula, stage 1", "category": "food", "location": "Eastgate", "quantity": 6, "urgency": "high", "details": "Unopened tins please."}},
		{b, map[string]any{"kind": "need", "title": "Ride to the clinic on Tuesday", "category": "transport", "location": "Station Street", "urgency": "high", "expires": soon, "details": "Appointment at 10:30, wheelchair folds into a boot."}},
		{a, map[string]any{"kind": "offer", "title": "Hot meals Friday", "category": "food", "location": "St Anne's hall", "quantity": 40, "details": "Vegetable curry and rice, 6 to 8 pm. Bring a container if you can."}},
		{b, map[string]any{"kind": "offer", "title": "Can fix laptops and phones", "category": "skills", "location": "Northside", "details": "Screens, batteries, slow computers. Weekends."}},
		{a, map[string]any{"kind": "need", "title": "Winter coats, size L", "category": "clothing", "location": "Eastgate Community Centre", "quantity": 4, "urgency": "high", "details": "For a family of four who arrived last week. Adults size L, children aged 8 and 11.", "contact": "Amal, 07700 900123"}},
	}
	out := map[string]apiPost{}
	var ids []string
	for _, s := range seeds {
		s.body["group"] = group
		p := s.on.post(tb, s.body)
		out[p.Title] = p
		ids = append(ids, p.ID)
	}
	waitSynced(tb, b, ids...)
	// B pledges 2 tins of formula; A's sofa move has been claimed.
	b.call(tb, http.MethodPost, "/api/v1/posts/"+out["Baby formula, stage 1"].ID+"/responses", map[string]any{"quantity": 2, "note": "Two tins, I can bring them on Thursday."}, nil)
	a.call(tb, http.MethodPost, "/api/v1/posts/"+out["Help moving a sofa upstairs"].ID+"/status", map[string]string{"status": "claimed"}, nil)
	waitSynced(tb, a, ids...)
	waitFor(tb, 30*time.Second, "A has B's pledge", func() (bool, string) {
		var p apiPost
		a.call(tb, http.MethodGet, "/api/v1/posts/"+out["Baby formula, stage 1"].ID, nil, &p)
		return p.ClaimedQuantity == 2, fmt.Sprintf("claimed %d", p.ClaimedQuantity)
	})
	return out
}

// screenshotDir is testdata/screenshots with MUTUAL_SCREENSHOTS set, else a temp dir (so that
// every run exercises the capture).
func screenshotDir(t *testing.T) (dir string, keep bool) {
	if os.Getenv("MUTUAL_SCREENSHOTS") == "" {
		return t.TempDir(), false
	}
	dir = filepath.Join("testdata", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, true
}

// TestBrowserScreens renders a realistic board on a desktop and on a phone: no horizontal
// overflow at 390 px, a form that works by touch, and screenshots of the board and a post page.
func TestBrowserScreens(t *testing.T) {
	requireChromium(t)
	a, b, group := startPair(t)
	posts := seedBoard(t, a, b, group)
	dir, keep := screenshotDir(t)
	br := newBrowser(t)
	// The active board: everything but nothing (all seeded posts are open or claimed).
	allCards := fmt.Sprintf(`document.querySelectorAll('#board .card').length === %d`, len(posts))
	settled := boardLoadedJS + ` && ` + allCards + ` && document.getElementById('status').textContent.startsWith('1 peer')`
	var shots []string

	t.Run("Desktop", func(t *testing.T) {
		tt := newTab(t, br, "desktop")
		tt.do(t, "open the board at 1280×800", chromedp.EmulateViewport(1280, 800), chromedp.Navigate(a.url+"/"))
		tt.waitJS(t, 15*time.Second, "the board shows every post and one peer", settled, boardStateJS)
		tt.waitJS(t, 2*time.Second, "no horizontal overflow at 1280 px", noOverflowJS, overflowJS)
		// Both columns side by side; urgent needs first.
		first := eval[string](t, tt, `document.querySelector('#list-need li h3').textContent`)
		if first != "Winter coats, size L" && first != "Ride to the clinic on Tuesday" && first != "Baby formula, stage 1" {
			t.Errorf("first need is %q, want an urgent one", first)
		}
		if !eval[bool](t, tt, `getComputedStyle(document.getElementById('col-offer')).display !== 'none' && getComputedStyle(document.getElementById('col-need')).display !== 'none'`) {
			t.Error("at 1280 px both columns should show")
		}
		shots = append(shots, tt.screenshot(t, dir, "board-desktop.png", 1280, 800))

		tt.do(t, "open a post", chromedp.Click(chromedp.CSS(`#p-`+posts["Winter coats, size L"].ID+` h3 a`)))
		tt.waitJS(t, 10*time.Second, "the post page shows", `!!document.getElementById('post-view') && document.getElementById('view-title').textContent === 'Winter coats, size L'`, boardStateJS)
		text := eval[string](t, tt, `document.getElementById('post-view').textContent`)
		for _, want := range []string{"Amal, 07700 900123", "Eastgate Community Centre", "Urgent"} {
			if !strings.Contains(text, want) {
				t.Errorf("post page lacks %q", want)
			}
		}

		// The post page with a pledge from B, for the screenshot.
		tt.do(t, "open another post", chromedp.Click(chromedp.CSS(`nav a[data-route=board]`)),
			chromedp.Click(chromedp.CSS(`#p-`+posts["Baby formula, stage 1"].ID+` h3 a`)))
		tt.waitJS(t, 10*time.Second, "the post page shows B's pledge", `!!document.getElementById('post-view')
		  && document.querySelector('.responses') && document.querySelector('.responses').textContent.includes('Two tins')`, boardStateJS)
		text = eval[string](t, tt, `document.getElementById('main').textContent`)
		for _, want := range []string{"Responses (1)", "Ben", "quantity 2", "Pledged"} {
			if !strings.Contains(text, want) {
				t.Errorf("post page lacks %q", want)
			}
		}
		shots = append(shots, tt.screenshot(t, dir, "post-desktop.png", 1280, 800))
	})

	t.Run("Phone", func(t *testing.T) {
		tt := newTab(t, br, "phone")
		tt.do(t, "open the board at 390×844",
			chromedp.EmulateViewport(390, 844, chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch),
			chromedp.Navigate(a.url+"/"))
		tt.waitJS(t, 15*time.Second, "the board shows every post", settled, boardStateJS)
		if w := eval[int](t, tt, `innerWidth`); w != 390 {
			t.Fatalf("innerWidth = %d, want 390", w)
		}
		tt.waitJS(t, 2*time.Second, "no horizontal overflow on the board at 390 px", noOverflowJS, overflowJS)
		shots = append(shots, tt.screenshot(t, dir, "board-phone.png", 390, 844))
		// The column tabs read "Needs (5)": the count is a separate element, which a flex button
		// would butt against the label without a gap.
		gap := eval[float64](t, tt, `(() => { const b = document.querySelector('button[data-tab=need]'), r = document.createRange();
		  r.selectNodeContents(b.firstChild); return document.getElementById('n-need').getBoundingClientRect().left - r.getBoundingClientRect().right; })()`)
		if n := eval[string](t, tt, `document.getElementById('n-need').textContent`); n != "(5)" || gap < 3 {
			t.Errorf("needs tab: count %q, %.1f px after the label; want (5) at least 3 px after it", n, gap)
		}

		// One column at a time, switched by the tabs.
		tt.do(t, "show offers", chromedp.Tap(chromedp.CSS(`button[data-tab=offer]`)))
		tt.waitJS(t, 5*time.Second, "the offers column shows", `getComputedStyle(document.getElementById('col-offer')).display !== 'none'
		  && document.getElementById('p-`+posts["Hot meals Friday"].ID+`').getBoundingClientRect().width > 300`, overflowJS)
		tt.waitJS(t, 2*time.Second, "no overflow on the offers column", noOverflowJS, overflowJS)

		tt.do(t, "open a post", chromedp.Tap(chromedp.CSS(`#p-`+posts["Hot meals Friday"].ID+` h3 a`)))
		tt.waitJS(t, 10*time.Second, "the post page shows", `!!document.getElementById('post-view')`, boardStateJS)
		tt.waitJS(t, 2*time.Second, "no overflow on the post page at 390 px", noOverflowJS, overflowJS)
		shots = append(shots, tt.screenshot(t, dir, "post-phone.png", 390, 844))

		// The form: it fits, its controls are big enough to tap, and a tap on Publish posts.
		tt.do(t, "open the form", chromedp.Tap(chromedp.CSS(`nav a[data-route=new]`)))
		tt.do(t, "wait for the form", chromedp.WaitVisible(chromedp.ID("new-title")))
		tt.waitJS(t, 2*time.Second, "no overflow on the form at 390 px", noOverflowJS, overflowJS)
		small := eval[[]string](t, tt, `Array.from(document.querySelectorAll('#new input, #new select, #new textarea, #new button'))
		  .filter((e) => { const r = e.getBoundingClientRect();
		    return r.height < 32 || r.width < (e.tagName === 'BUTTON' ? 44 : 200) || r.left < 0 || r.right > innerWidth; })
		  .map((e) => (e.id || e.tagName) + ' ' + JSON.stringify(e.getBoundingClientRect()))`)
		if len(small) > 0 {
			t.Errorf("form controls too small to tap or off screen at 390 px: %v", small)
		}
		tt.do(t, "type a title", chromedp.Tap(chromedp.ID("new-title")), chromedp.SendKeys(chromedp.ID("new-title"), "Nappies, size 4"))
		tt.do(t, "type a quantity", chromedp.SendKeys(chromedp.ID("new-quantity"), "2"))
		tt.do(t, "tap Publish", chromedp.Tap(chromedp.CSS(`#new button[type=submit]`)))
		id := submittedPostID(t, tt)
		var p apiPost
		a.call(t, http.MethodGet, "/api/v1/posts/"+id, nil, &p)
		if p.Title != "Nappies, size 4" || p.Quantity != 2 || p.Kind != "need" {
			t.Errorf("post made on the phone: %+v", p)
		}
	})

	if keep && !t.Failed() {
		docs := filepath.Join("..", "..", "docs", "screenshots")
		if err := os.MkdirAll(docs, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"board-desktop.png", "board-phone.png"} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(docs, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("screenshots: %v", shots)
}

// BenchmarkBoardPage5000 measures a navigation to the board of a node with 5,000 open posts until
// all 5,000 cards are in the DOM (fetch, parse, sort, render).
//
//	go test -run '^$' -bench BoardPage5000 -benchtime 5x ./node/web/
func BenchmarkBoardPage5000(b *testing.B) {
	requireChromium(b)
	const n = 5000
	tn := startNode(b, "Amal", "127.0.0.1:0")
	group := tn.createGroup(b, "Eastgate Mutual Aid")
	cats := []string{"food", "clothing", "transport", "help", "skills", "housing"}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= n {
					return
				}
				body := map[string]any{"group": group, "kind": []string{"need", "offer"}[i%2],
					"title": fmt.Sprintf("Post %d: winter coats, size L", i), "category": cats[i%int64(len(cats))],
					"location": "Eastgate", "quantity": i%9 + 1, "details": "Realistic details of moderate length for a board card."}
				if i%7 == 0 {
					body["urgency"] = "high"
				}
				tn.post(b, body)
			}
		})
	}
	wg.Wait()

	br := newBrowser(b)
	tt := newTab(b, br, "bench")
	tt.do(b, "set the viewport", chromedp.EmulateViewport(1280, 800))
	all := fmt.Sprintf(`document.querySelectorAll('#board .card').length >= %d`, n)
	var total time.Duration
	var fetch float64
	for b.Loop() {
		start := time.Now()
		tt.do(b, "load the board", chromedp.Navigate(tn.url+"/"))
		tt.waitJS(b, 60*time.Second, "all cards are in the DOM", all, `document.querySelectorAll('#board .card').length`)
		total += time.Since(start)
		// Of which: the request for the posts, as the page saw it (to the last byte of JSON).
		fetch += eval[float64](b, tt, `performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/v1/posts?'))
		  .reduce((m, e) => Math.max(m, e.responseEnd - e.startTime), 0)`)
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/board")
	b.ReportMetric(fetch/float64(b.N), "ms/posts-fetch")
}
