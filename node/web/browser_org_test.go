package web_test

// Browser tests of an organiser's whole job on the page, with no command line after `mutual serve`:
// a fresh node names itself and starts a group, invites; a second fresh node joins by code from its
// own page; both pages then show one board. And the group switch, a card's group label and its
// over-claim mark on a node in two groups.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

type apiNode struct {
	Name   string `json:"name"`
	Groups []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Role string `json:"role"`
	} `json:"groups"`
}

func (tn *testNode) node(tb testing.TB) apiNode {
	tb.Helper()
	var n apiNode
	tn.call(tb, http.MethodGet, "/api/v1/node", nil, &n)
	return n
}

const mainTextJS = `document.getElementById('main').textContent`

// TestBrowserStartAndJoin: two fresh nodes, named after the host as `mutual serve` names them,
// become a group of two through their pages alone.
func TestBrowserStartAndJoin(t *testing.T) {
	requireChromium(t)
	a := startNode(t, "vm", "127.0.0.1:0")
	b := startNode(t, "vm", "127.0.0.1:0")
	br := newBrowser(t)
	pageA, pageB := newTab(t, br, "A"), newTab(t, br, "B")

	// A fresh node's page offers to start or join, and asks the node's name, not the terminal.
	pageA.do(t, "open A's page at 1280×800", chromedp.EmulateViewport(1280, 800), chromedp.Navigate(a.url+"/"))
	pageA.waitJS(t, 10*time.Second, "the welcome page shows", `!!document.getElementById('ob-name') && !!document.getElementById('start') && !!document.getElementById('join')`, mainTextJS)
	text := eval[string](t, pageA, mainTextJS)
	for _, bad := range []string{"Nothing here matches", "mutual group create", "Loading"} {
		if strings.Contains(text, bad) {
			t.Errorf("a fresh node's page says %q: %s", bad, text)
		}
	}
	if got := eval[string](t, pageA, `document.getElementById('ob-name').value`); got != "vm" {
		t.Errorf("the name field holds %q, want the node's current name vm", got)
	}
	dir, _ := screenshotDir(t)
	pageA.screenshot(t, dir, "welcome-desktop.png", 1280, 800)
	pageA.do(t, "check the Group page too", chromedp.Click(chromedp.CSS(`nav a[data-route=group]`)))
	pageA.waitJS(t, 5*time.Second, "the Group page of a fresh node offers the same", `location.hash === '#/group' && !!document.getElementById('start')`, mainTextJS)

	// A: name, then start a group.
	pageA.do(t, "A names the node and starts a group",
		chromedp.Clear(chromedp.ID("ob-name")), chromedp.SendKeys(chromedp.ID("ob-name"), "Amal"),
		chromedp.SendKeys(chromedp.ID("start-name"), "Eastgate Mutual Aid"),
		chromedp.Click(chromedp.CSS(`#start button[type=submit]`)))
	pageA.waitJS(t, 15*time.Second, "A's page shows the new group on its Group page",
		`location.hash === '#/group' && !!document.getElementById('invite') && (document.getElementById('flash') || {textContent: ''}).textContent.includes('Eastgate Mutual Aid')`,
		`JSON.stringify({hash: location.hash, err: (document.getElementById('start-err') || {textContent: ''}).textContent, main: document.getElementById('main').textContent.slice(0, 300)})`)
	na := a.node(t)
	if na.Name != "Amal" || len(na.Groups) != 1 || na.Groups[0].Name != "Eastgate Mutual Aid" || na.Groups[0].Role != "admin" {
		t.Fatalf("A after the page started a group: %+v", na)
	}
	group := na.Groups[0].ID
	if got := eval[string](t, pageA, `document.getElementById('node-name').textContent`); got != "Amal" {
		t.Errorf("A's header names the node %q, want Amal", got)
	}
	if got := eval[string](t, pageA, `document.querySelector('.groups li[aria-current=true]').textContent`); !strings.Contains(got, "Eastgate Mutual Aid") || !strings.Contains(got, "admin") {
		t.Errorf("A's group list: %q", got)
	}
	pageA.waitJS(t, 10*time.Second, "A's members table names Amal", `(document.getElementById('members') || {textContent: ''}).textContent.includes('Amal')`, `document.getElementById('members').textContent`)

	// A: an invite, with its QR code.
	pageA.do(t, "A creates an invite", chromedp.Click(chromedp.CSS(`#invite button[type=submit]`)))
	pageA.waitJS(t, 10*time.Second, "A's page shows the code and its QR",
		`(document.getElementById('inv-code') || {value: ''}).value.startsWith('mutual1-') && document.querySelector('#inv-out img.qr').complete && document.querySelector('#inv-out img.qr').naturalWidth > 0`,
		`document.getElementById('inv-out').innerHTML`)
	code := eval[string](t, pageA, `document.getElementById('inv-code').value`)
	pageA.screenshot(t, dir, "group-desktop.png", 1280, 800)

	// B: name, then join with the code as it arrived in a chat message.
	// B is a phone-sized page: the welcome fits it.
	pageB.do(t, "open B's page at 390×844", chromedp.EmulateViewport(390, 844, chromedp.EmulatePortrait, chromedp.EmulateMobile), chromedp.Navigate(b.url+"/"))
	pageB.waitJS(t, 10*time.Second, "B's welcome page shows", `!!document.getElementById('join-code')`, mainTextJS)
	pageB.waitJS(t, 2*time.Second, "no horizontal overflow on the welcome page at 390 px", noOverflowJS, overflowJS)
	pageB.do(t, "B tries a message without a code", chromedp.SendKeys(chromedp.ID("join-code"), "see you Friday"),
		chromedp.Click(chromedp.CSS(`#join button[type=submit]`)))
	pageB.waitJS(t, 5*time.Second, "B's page says there is no code", `document.getElementById('join-err').textContent.includes('mutual1-')`, `document.getElementById('join-err').textContent`)
	if n := b.node(t); len(n.Groups) != 0 || n.Name != "vm" {
		t.Errorf("a join without a code changed B: %+v", n)
	}
	pageB.do(t, "B names the node and joins",
		chromedp.Clear(chromedp.ID("ob-name")), chromedp.SendKeys(chromedp.ID("ob-name"), "Ben"),
		chromedp.SetValue(chromedp.ID("join-code"), "Here is the invite for Eastgate: "+code+"\nSee you Friday!"),
		chromedp.Click(chromedp.CSS(`#join button[type=submit]`)))
	pageB.waitJS(t, 15*time.Second, "B's page shows the board of the group it joined",
		`!!document.getElementById('board') && (document.getElementById('flash') || {textContent: ''}).textContent.includes('Eastgate Mutual Aid')`,
		`JSON.stringify({hash: location.hash, err: (document.getElementById('join-err') || {textContent: ''}).textContent, main: document.getElementById('main').textContent.slice(0, 300)})`)
	if n := b.node(t); n.Name != "Ben" || len(n.Groups) != 1 || n.Groups[0].ID != group {
		t.Fatalf("B after the page joined: %+v", n)
	}
	// B's Group page follows the join until a member confirms it (no reload).
	pageB.do(t, "B opens its Group page", chromedp.Click(chromedp.CSS(`nav a[data-route=group]`)))
	pageB.waitJS(t, 40*time.Second, "B's page shows it is a member, with both members listed",
		`(() => { const c = document.querySelector('.groups li[aria-current=true]'), m = document.getElementById('members');
		  return c && c.textContent.includes('member') && !c.textContent.includes('joining') && m && m.textContent.includes('Amal') && m.textContent.includes('Ben'); })()`,
		mainTextJS)
	pageB.waitJS(t, 2*time.Second, "no horizontal overflow on the Group page at 390 px", noOverflowJS, overflowJS)

	// One board: a post made on each page appears on both.
	pageA.do(t, "A opens its form", chromedp.Click(chromedp.CSS(`nav a[data-route=new]`)))
	fillPostForm(t, pageA, map[string]string{"kind": "need", "title": "Winter coats, size L", "quantity": "4"})
	needID := submittedPostID(t, pageA)
	pageB.do(t, "B opens its form", chromedp.Click(chromedp.CSS(`nav a[data-route=new]`)))
	fillPostForm(t, pageB, map[string]string{"kind": "offer", "title": "Hot meals Friday"})
	offerID := submittedPostID(t, pageB)
	for _, pg := range []*tab{pageA, pageB} {
		pg.do(t, "go to the board", chromedp.Click(chromedp.CSS(`nav a[data-route=board]`)))
		pg.waitJS(t, 30*time.Second, "both posts are on the board",
			`!!document.getElementById(`+js("p-"+needID)+`) && !!document.getElementById(`+js("p-"+offerID)+`)`, boardStateJS)
	}
	if got := eval[string](t, pageB, `document.getElementById(`+js("p-"+needID)+`).textContent`); !strings.Contains(got, "by Amal") {
		t.Errorf("B's card of A's post: %q", got)
	}
	if got := eval[string](t, pageA, `document.getElementById(`+js("p-"+offerID)+`).textContent`); !strings.Contains(got, "by Ben") {
		t.Errorf("A's card of B's post: %q", got)
	}
	// One group: no card names it.
	if eval[bool](t, pageA, `!!document.querySelector('#board .b-group')`) {
		t.Error("with one group, cards name it")
	}
	// In a group, A renames its node on its Group page (a Rename op): its page says so at once,
	// and B's members list shows the new name once B's node has it.
	pageA.do(t, "A renames its node on its Group page", chromedp.Click(chromedp.CSS(`nav a[data-route=group]`)),
		chromedp.Click(chromedp.CSS(`details:has(#rename) summary`)),
		chromedp.Clear(chromedp.ID("rn-name")), chromedp.SendKeys(chromedp.ID("rn-name"), "Amal (hall)"),
		chromedp.Click(chromedp.CSS(`#rename button[type=submit]`)))
	pageA.waitJS(t, 10*time.Second, "A's page says the name is saved, in the header and the members",
		`document.getElementById('rn-msg').textContent !== '' && document.getElementById('node-name').textContent === 'Amal (hall)' && document.getElementById('members').textContent.includes('Amal (hall)')`,
		`JSON.stringify({msg: document.getElementById('rn-msg').textContent, err: document.getElementById('rn-err').textContent, members: document.getElementById('members').textContent})`)
	waitFor(t, 30*time.Second, "B's node lists A as Amal (hall)", func() (bool, string) {
		var g struct{ Members []struct{ Name string } }
		b.call(t, http.MethodGet, "/api/v1/groups/"+group, nil, &g)
		return strings.Contains(fmt.Sprint(g.Members), "Amal (hall)"), fmt.Sprint(g.Members)
	})
	pageB.do(t, "B opens its Group page", chromedp.Click(chromedp.CSS(`nav a[data-route=group]`)))
	pageB.waitJS(t, 10*time.Second, "B's page lists A by its new name",
		`(document.getElementById('members') || {textContent: ''}).textContent.includes('Amal (hall)')`, mainTextJS)
}

// TestBrowserGroupSwitch: a node in two groups shows both on its board, each card naming its group
// and an over-pledged need marked; the Group page switches the group it works on (members,
// invites, the board's filter), and the choice outlives a reload.
func TestBrowserGroupSwitch(t *testing.T) {
	requireChromium(t)
	a := startNode(t, "Amal", "127.0.0.1:0")
	east := a.createGroup(t, "Eastgate Mutual Aid")
	north := a.createGroup(t, "Northside Pantry")
	coats := a.post(t, map[string]any{"group": east, "kind": "need", "title": "Winter coats", "quantity": 2})
	van := a.post(t, map[string]any{"group": north, "kind": "offer", "title": "A van on Saturdays"})
	br := newBrowser(t)
	tt := newTab(t, br, "A")

	tt.do(t, "open the board", chromedp.Navigate(a.url+"/"))
	coatsCard, vanCard := `document.getElementById(`+js("p-"+coats.ID)+`)`, `document.getElementById(`+js("p-"+van.ID)+`)`
	tt.waitJS(t, 10*time.Second, "both groups' posts show", boardLoadedJS+` && !!`+coatsCard+` && !!`+vanCard, boardStateJS)
	if got := eval[string](t, tt, coatsCard+`.querySelector('.b-group').textContent`); got != "Eastgate Mutual Aid" {
		t.Errorf("the coats card names group %q", got)
	}
	if got := eval[string](t, tt, vanCard+`.querySelector('.b-group').textContent`); got != "Northside Pantry" {
		t.Errorf("the van card names group %q", got)
	}
	// Three coats pledged for two asked: the card says so, live.
	a.call(t, http.MethodPost, "/api/v1/posts/"+coats.ID+"/responses", map[string]any{"quantity": 3}, nil)
	tt.waitJS(t, 10*time.Second, "the coats card is marked over-pledged", coatsCard+` && !!`+coatsCard+`.querySelector('.b-over')`, coatsCard+`.outerHTML`)
	if got := eval[string](t, tt, coatsCard+`.textContent`); !strings.Contains(got, "More pledged than needed") || !strings.Contains(got, "quantity 2, 3 pledged") {
		t.Errorf("over-pledged card: %q", got)
	}

	// Switch to Northside on the Group page.
	tt.do(t, "open the Group page", chromedp.Click(chromedp.CSS(`nav a[data-route=group]`)))
	tt.waitJS(t, 5*time.Second, "the Group page lists both groups", `document.querySelectorAll('.groups li').length === 2`, mainTextJS)
	current := `document.querySelector('.groups li[aria-current=true]').textContent`
	if got := eval[string](t, tt, current); !strings.Contains(got, "Eastgate Mutual Aid") {
		t.Errorf("the group shown first: %q", got)
	}
	tt.do(t, "switch to Northside", chromedp.Click(chromedp.CSS(`button[data-act=pick][data-group="`+north+`"]`)))
	tt.waitJS(t, 5*time.Second, "Northside is the group shown", current+`.includes('Northside Pantry') && document.getElementById('flash').textContent.includes('Northside')`, mainTextJS)
	if eval[string](t, tt, `document.activeElement.id`) != "view-title" {
		t.Error("after the switch the focus is not on the page's title")
	}
	tt.do(t, "invite to Northside", chromedp.Click(chromedp.CSS(`#invite button[type=submit]`)))
	tt.waitJS(t, 10*time.Second, "the invite shows", `(document.getElementById('inv-code') || {value: ''}).value.startsWith('mutual1-')`, `document.getElementById('inv-out').innerHTML`)
	var invN, invE []struct{ ID string }
	a.call(t, http.MethodGet, "/api/v1/groups/"+north+"/invites", nil, &invN)
	a.call(t, http.MethodGet, "/api/v1/groups/"+east+"/invites", nil, &invE)
	if len(invN) != 1 || len(invE) != 0 {
		t.Errorf("invites: Northside %d, Eastgate %d; want 1 and 0", len(invN), len(invE))
	}

	// The board follows: only Northside, and its cards need no label.
	tt.do(t, "back to the board", chromedp.Click(chromedp.CSS(`nav a[data-route=board]`)))
	tt.waitJS(t, 5*time.Second, "the board shows Northside only", boardLoadedJS+` && !!`+vanCard+` && !`+coatsCard, boardStateJS)
	if got := eval[string](t, tt, `document.getElementById('fl-group').value`); got != north {
		t.Errorf("the board's group filter is %q, want Northside's ID", got)
	}
	if eval[bool](t, tt, `!!document.querySelector('#board .b-group')`) {
		t.Error("a board of one group labels its cards")
	}
	// The choice outlives a reload; "All groups" on the board brings both back, labelled.
	tt.do(t, "reload", chromedp.Reload())
	tt.waitJS(t, 10*time.Second, "after a reload the board still shows Northside", boardLoadedJS+` && !!`+vanCard+` && !`+coatsCard+` && document.getElementById('fl-group').value === `+js(north), boardStateJS)
	eval[chromedp.Void](t, tt, `(() => { const s = document.getElementById('fl-group'); s.value = '';
	  s.dispatchEvent(new Event('change', {bubbles: true})); })()`)
	tt.waitJS(t, 5*time.Second, "both groups show, labelled", `!!`+coatsCard+` && !!`+vanCard+` && document.querySelectorAll('#board .b-group').length === 2`, boardStateJS)
	tt.do(t, "open the Group page", chromedp.Click(chromedp.CSS(`nav a[data-route=group]`)))
	tt.waitJS(t, 5*time.Second, "the Group page still works on Northside", current+`.includes('Northside Pantry')`, mainTextJS)
}

// TestBrowserSyncingProgress: while a peer reports catch-up progress (`syncing: {done, total}` in
// GET /api/v1/peers), the status line and the Peers page say "syncing N of M" and follow it until
// it ends. The node is real; the page's fetch of /api/v1/peers adds one peer with that field, since
// the catch-up that fills it in is another part's work (its API test covers the field itself).
func TestBrowserSyncingProgress(t *testing.T) {
	requireChromium(t)
	a := startNode(t, "Amal", "127.0.0.1:0")
	a.createGroup(t, "Eastgate Mutual Aid")
	br := newBrowser(t)
	tt := newTab(t, br, "A")
	tt.do(t, "open the board", chromedp.Navigate(a.url+"/"))
	tt.waitJS(t, 10*time.Second, "the board loads", boardLoadedJS, boardStateJS)
	eval[chromedp.Void](t, tt, `(() => {
	  window.__sync = {done: 120, total: 5000};
	  const orig = window.fetch;
	  window.fetch = (u, o) => !String(u).endsWith('/api/v1/peers') ? orig(u, o) : orig(u, o).then((r) => r.json()).then((ps) =>
	    new Response(JSON.stringify(ps.concat(window.__sync ? [{peer_id: '12D3KooWBenBenBenBenBen', name: 'Ben', addrs: [], groups: [],
	      connected: true, last_seen: new Date().toISOString(), last_synced: '', syncing: window.__sync}] : [])),
	      {headers: {'Content-Type': 'application/json'}}));
	})()`)
	status := `document.getElementById('status').textContent`
	tt.do(t, "open the Peers page", chromedp.Click(chromedp.CSS(`nav a[data-route=peers]`)))
	tt.waitJS(t, 10*time.Second, "the status line says syncing", status+` === '1 peer connected · syncing 120 of 5,000'`, status)
	tt.waitJS(t, 5*time.Second, "the Peers page says it for Ben", `document.getElementById('peers-table').textContent.includes('Connected · syncing 120 of 5,000')`,
		`document.getElementById('peers-table').textContent`)
	// The page follows the catch-up by itself, and notices its end.
	eval[chromedp.Void](t, tt, `window.__sync = {done: 4000, total: 5000}`)
	tt.waitJS(t, 10*time.Second, "the progress moves on", status+` === '1 peer connected · syncing 4,000 of 5,000'`, status)
	eval[chromedp.Void](t, tt, `window.__sync = null`)
	tt.waitJS(t, 10*time.Second, "the catch-up is over", status+` === '0 peers connected · in sync'`, status)
}
