package web_test

// Browser tests of following from the page alone (docs/design.md, "Following"): a group's follow
// code shown on its Group page, another node following it from its own page, the followed groups'
// board, stopping, and an admin's federation settings with the refusal a stranger then sees.

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const (
	canaryContact  = "canary-555-0142"
	canaryLocation = "7 Canary Lane"
)

// shareCode waits for the follow code in the Group page's share box (and its QR code) and returns it.
func shareCode(tb testing.TB, tt *tab) string {
	tb.Helper()
	tt.waitJS(tb, 10*time.Second, "the share box shows the follow code and its QR",
		`(document.getElementById('share-code') || {value: ''}).value.startsWith('mutualf1-') && document.querySelector('#share-out img.qr').complete
		  && document.querySelector('#share-out img.qr').naturalWidth > 0`,
		`(document.getElementById('share-out') || {innerHTML: 'no share box'}).innerHTML + (document.getElementById('share-err') || {textContent: ''}).textContent`)
	return eval[string](tb, tt, `document.getElementById('share-code').value`)
}

// followFromPage pastes text (a message with a follow code in it) into the Group page's "Follow
// another group" box and sends it.
func followFromPage(tb testing.TB, tt *tab, text string) {
	tb.Helper()
	tt.waitJS(tb, 10*time.Second, "the Group page offers to follow a group", `!!document.getElementById('follow-code')`, mainTextJS)
	tt.do(tb, "paste the follow code and follow", chromedp.SetValue(chromedp.ID("follow-code"), text),
		chromedp.Click(chromedp.CSS(`#follow button[type=submit]`)))
}

// TestBrowserFollow: B follows A's group from its page only, with the code copied from A's page;
// A's posts appear on B's followed groups' board, each card naming A's group, with no contact or
// location anywhere in B's page (not on the board, not on the post page, which is read-only), and
// a new post of A's arrives live. B's Peers page says how A is reached and that it synced; B's own
// board keeps its own posts only. B stops following from
// the page (after a confirm) and A's posts go.
func TestBrowserFollow(t *testing.T) {
	requireChromium(t)
	a := startNode(t, "Amal", "127.0.0.1:0")
	b := startNode(t, "Ben", "127.0.0.1:0")
	east := a.createGroup(t, "Eastgate Mutual Aid")
	coats := a.post(t, map[string]any{"kind": "need", "title": "Winter coats, size L", "quantity": 4,
		"contact": canaryContact, "location": canaryLocation})
	meals := a.post(t, map[string]any{"kind": "offer", "title": "Hot meals Friday", "contact": canaryContact})
	b.createGroup(t, "Harbour Food Bank")
	nappies := b.post(t, map[string]any{"kind": "need", "title": "Nappies, size 4"})
	br := newBrowser(t)
	pageA, pageB := newTab(t, br, "A"), newTab(t, br, "B")

	// A's Group page shows the follow code to give, with its QR code.
	pageA.do(t, "open A's Group page", chromedp.Navigate(a.url+"/#/group"))
	code := shareCode(t, pageA)

	// B pastes the code, as it came in a message, into its own Group page.
	pageB.do(t, "open B's Group page", chromedp.Navigate(b.url+"/#/group"))
	followFromPage(t, pageB, "Eastgate's board, from Amal:\n"+code+"\nSee you Friday")
	eastItem := `Array.from(document.querySelectorAll('.groups li')).find((li) => li.textContent.includes('Eastgate Mutual Aid'))`
	pageB.waitJS(t, 15*time.Second, "B's Group page lists Eastgate as followed",
		`(document.getElementById('flash') || {textContent: ''}).textContent.includes('You now follow') && !!`+eastItem+
			` && `+eastItem+`.textContent.includes('following') && !!`+eastItem+`.querySelector('[data-act=unfollow]')`,
		`JSON.stringify({err: (document.getElementById('follow-err') || {}).textContent, main: document.getElementById('main').textContent.slice(0, 400)})`)

	// The followed groups' board: A's posts, each card naming Eastgate; B's own post is not there.
	pageB.do(t, "open the board", chromedp.Click(chromedp.CSS(`nav a[data-route=board]`)))
	pageB.waitJS(t, 10*time.Second, "B's own board shows its post and links the followed board",
		boardLoadedJS+` && !!document.getElementById(`+js("p-"+nappies.ID)+`) && !!document.querySelector('a[href="#/followed"]')`, boardStateJS)
	pageB.do(t, "open the followed groups' board", chromedp.Click(chromedp.CSS(`a[href="#/followed"]`)))
	card := func(id string) string { return `document.getElementById(` + js("p-"+id) + `)` }
	pageB.waitJS(t, 30*time.Second, "A's posts reach B's followed board",
		`location.hash === '#/followed' && !!`+card(coats.ID)+` && !!`+card(meals.ID), boardStateJS)
	if eval[bool](t, pageB, `!!`+card(nappies.ID)) {
		t.Error("B's own post is on the followed groups' board")
	}
	groupsOnCards := eval[[]string](t, pageB, `Array.from(document.querySelectorAll('#board .card')).map((c) => (c.querySelector('.b-group') || {textContent: ''}).textContent)`)
	if len(groupsOnCards) != 2 {
		t.Errorf("the followed board has %d cards, want 2", len(groupsOnCards))
	}
	for _, g := range groupsOnCards {
		if g != "Eastgate Mutual Aid" {
			t.Errorf("a followed card names group %q, want Eastgate Mutual Aid", g)
		}
	}
	if got := eval[string](t, pageB, `document.querySelector('nav a[aria-current=page]').dataset.route`); got != "board" {
		t.Errorf("on the followed board the navigation marks %q, want the Board", got)
	}
	if eval[bool](t, pageB, `!!document.querySelector('#main a[href="#/new"]')`) {
		t.Error("the followed groups' board offers a new post")
	}
	noCanary := func(where string) {
		t.Helper()
		html := eval[string](t, pageB, `document.documentElement.outerHTML`)
		for _, s := range []string{canaryContact, canaryLocation} {
			if strings.Contains(html, s) {
				t.Errorf("%s: B's page holds %q", where, s)
			}
		}
	}
	noCanary("the followed board")

	// Live: a new post of A's reaches the followed board without a reload.
	soup := a.post(t, map[string]any{"kind": "offer", "title": "Soup on Sunday", "contact": canaryContact})
	pageB.waitJS(t, 30*time.Second, "a new post of A's arrives live", `!!`+card(soup.ID)+` && `+card(soup.ID)+`.textContent.includes('Eastgate Mutual Aid')`, boardStateJS)

	// A followed post's page is read-only: no status, no edit, no contact or location.
	pageB.do(t, "open A's need", chromedp.Click(chromedp.CSS(`#p-`+coats.ID+` h3 a`)))
	pageB.waitJS(t, 10*time.Second, "the post page shows", `!!document.getElementById('post-view') && document.getElementById('view-title').textContent === 'Winter coats, size L'`, mainTextJS)
	if eval[bool](t, pageB, `!!document.querySelector('[data-act=status]') || !!document.getElementById('edit')`) {
		t.Error("a followed post has status or edit controls")
	}
	if got := eval[string](t, pageB, `document.getElementById('post-view').textContent`); !strings.Contains(got, "You follow Eastgate Mutual Aid: its board is read-only here") {
		t.Errorf("the followed post does not say it is read-only: %q", got)
	}
	noCanary("the followed post's page")

	// The Peers page says how A is reached (loopback counts as this network) and that it synced.
	pageB.do(t, "open B's Peers page", chromedp.Click(chromedp.CSS(`nav a[data-route=peers]`)))
	pageB.waitJS(t, 15*time.Second, "the Peers page shows A connected on this network, synced",
		`Array.from(document.querySelectorAll('#peers-table tbody tr')).some((tr) => tr.cells[2].textContent === 'Connected · on this network'
		  && tr.cells[3].textContent !== 'never')`, `document.getElementById('peers-table').textContent`)

	// B's own board still shows its own post only.
	pageB.do(t, "back to B's own board", chromedp.Click(chromedp.CSS(`nav a[data-route=board]`)))
	pageB.waitJS(t, 10*time.Second, "B's own board: its post, none of A's", boardLoadedJS+` && !!`+card(nappies.ID)+` && !`+card(coats.ID)+` && !`+card(soup.ID), boardStateJS)

	// Stop following, from the Group page, after a confirm.
	pageB.do(t, "open B's Group page", chromedp.Click(chromedp.CSS(`nav a[data-route=group]`)))
	pageB.waitJS(t, 10*time.Second, "the Stop following button shows", `!!document.querySelector('[data-act=unfollow][data-group="`+east+`"]')`, mainTextJS)
	eval[chromedp.Void](t, pageB, `window.__asked = ''; window.confirm = (m) => { window.__asked = m; return true; }`)
	pageB.do(t, "stop following", chromedp.Click(chromedp.CSS(`[data-act=unfollow][data-group="`+east+`"]`)))
	pageB.waitJS(t, 15*time.Second, "Eastgate is gone from B's groups",
		`(document.getElementById('flash') || {textContent: ''}).textContent.includes('You no longer follow') && !`+eastItem, mainTextJS)
	if got := eval[string](t, pageB, `window.__asked`); !strings.Contains(got, "Stop following \u201cEastgate Mutual Aid\u201d?") {
		t.Errorf("the confirm asked %q", got)
	}
	for _, g := range b.node(t).Groups {
		if g.ID == east {
			t.Fatalf("B still follows Eastgate: %+v", g)
		}
	}
	eval[chromedp.Void](t, pageB, `location.hash = '#/followed'`)
	pageB.waitJS(t, 10*time.Second, "A's posts are gone from the followed board",
		`location.hash === '#/followed' && !!document.getElementById('board') && !`+card(coats.ID)+` && !`+card(meals.ID)+` && !`+card(soup.ID)+
			` && document.getElementById('main').textContent.includes('follows no other group')`, boardStateJS)
}

// TestBrowserFollowAlliesOnly: an admin, from the Group page, adds an ally by its follow code (the
// node follows the ally, so the list names it), sets "only our allies", and blocks and unblocks a
// group by its ID; a third node that then follows from its page is refused and its page says why.
func TestBrowserFollowAlliesOnly(t *testing.T) {
	requireChromium(t)
	a := startNode(t, "Amal", "127.0.0.1:0")
	h := startNode(t, "Hana", "127.0.0.1:0")
	c := startNode(t, "Chloe", "127.0.0.1:0")
	east := a.createGroup(t, "Eastgate Mutual Aid")
	a.post(t, map[string]any{"kind": "need", "title": "Winter coats, size L"})
	harbour := h.createGroup(t, "Harbour Food Bank")
	var hs struct{ Code string }
	h.call(t, http.MethodGet, "/api/v1/groups/"+harbour+"/share", nil, &hs)
	north := c.createGroup(t, "Northside Pantry")
	br := newBrowser(t)
	pageA, pageC := newTab(t, br, "A"), newTab(t, br, "C")

	pageA.do(t, "open A's Group page", chromedp.Navigate(a.url+"/#/group"))
	pageA.waitJS(t, 10*time.Second, "the federation settings show, open by default",
		`!!document.getElementById('fedpolicy') && document.getElementById('fed-open').checked`, mainTextJS)
	fedText := `document.getElementById('fed').textContent`

	// An ally by its follow code: A's node follows Harbour, and the list names it.
	pageA.do(t, "add Harbour as an ally", chromedp.SetValue(chromedp.ID("addally-code"), hs.Code),
		chromedp.Click(chromedp.CSS(`#addally button[type=submit]`)))
	pageA.waitJS(t, 15*time.Second, "Harbour is an ally", fedText+`.includes('Allies (1)') && `+fedText+`.includes('Harbour Food Bank')`,
		`JSON.stringify({err: (document.getElementById('addally-err') || {}).textContent, fed: `+fedText+`})`)
	if got := eval[string](t, pageA, `document.activeElement.id`); got != "addally-btn" {
		t.Errorf("after Add ally the focus is on %s, want the button", focused(t, pageA))
	}
	followsHarbour := false
	for _, g := range a.node(t).Groups {
		followsHarbour = followsHarbour || (g.ID == harbour && g.Role == "follower")
	}
	if !followsHarbour {
		t.Errorf("adding an ally did not follow it: %+v", a.node(t).Groups)
	}

	// Only our allies.
	pageA.do(t, "choose allies only and save", chromedp.Click(chromedp.ID("fed-allies")), chromedp.Click(chromedp.CSS(`#fedpolicy button[type=submit]`)))
	pageA.waitJS(t, 10*time.Second, "the policy is saved", `document.getElementById('fed-msg').textContent === 'Saved.' && document.getElementById('fed-allies').checked`, fedText)
	var g struct {
		Federation struct {
			Policy  string
			Allies  []string
			Blocked []string
		}
	}
	a.call(t, http.MethodGet, "/api/v1/groups/"+east, nil, &g)
	if g.Federation.Policy != "allies" || len(g.Federation.Allies) != 1 || g.Federation.Allies[0] != harbour {
		t.Fatalf("A's federation after the page: %+v", g.Federation)
	}

	// Block a group by its ID, then unblock it.
	pageA.do(t, "block Northside", chromedp.SetValue(chromedp.ID("addblock-code"), north), chromedp.Click(chromedp.CSS(`#addblock button[type=submit]`)))
	pageA.waitJS(t, 10*time.Second, "Northside is blocked", fedText+`.includes('Blocked groups (1)') && !!document.querySelector('[data-act=unblock][data-group="`+north+`"]')`, fedText)
	pageA.do(t, "unblock Northside", chromedp.Click(chromedp.CSS(`[data-act=unblock][data-group="`+north+`"]`)))
	pageA.waitJS(t, 10*time.Second, "Northside is unblocked", fedText+`.includes('Blocked groups (0)') && document.activeElement.id === 'blocked-h'`,
		`JSON.stringify({fed: `+fedText+`, focus: document.activeElement.id})`)
	a.call(t, http.MethodGet, "/api/v1/groups/"+east, nil, &g)
	if len(g.Federation.Blocked) != 0 || g.Federation.Policy != "allies" || len(g.Federation.Allies) != 1 {
		t.Fatalf("A's federation after unblocking: %+v", g.Federation)
	}

	// C, no ally's member, follows from its page with the code from A's page: refused, and told why.
	code := shareCode(t, pageA)
	pageC.do(t, "open C's Group page", chromedp.Navigate(c.url+"/#/group"))
	followFromPage(t, pageC, code)
	pageC.waitJS(t, 30*time.Second, "C's page says Eastgate refuses it",
		`Array.from(document.querySelectorAll('.groups li')).some((li) => li.textContent.includes('Eastgate Mutual Aid accepts followers from its allies only.'))`,
		`document.querySelector('.groups').textContent`)
	eval[chromedp.Void](t, pageC, `location.hash = '#/followed'`)
	pageC.waitJS(t, 10*time.Second, "C's followed board is empty", boardLoadedJS+` && document.querySelectorAll('#board .card').length === 0`, boardStateJS)
}
