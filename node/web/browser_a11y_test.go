package web_test

// Browser tests of the page's languages and accessibility: a keyboard-only walk with the focus
// kept, the polite live region, axe-core (testdata/axe, never embedded) on every route in English
// and Arabic, light and dark, the Arabic page right to left without overflow on a phone at 200%
// zoom, the language switch, and the forced-colours cues.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// emulateMedia sets CSS media features of the tab, e.g. prefers-color-scheme: dark; no
// arguments resets them.
func emulateMedia(features ...string) chromedp.Action[chromedp.Void] {
	var fs []*emulation.MediaFeature
	for i := 0; i+1 < len(features); i += 2 {
		fs = append(fs, &emulation.MediaFeature{Name: features[i], Value: features[i+1]})
	}
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: fs})
		return err
	})
}

// setLang opens the page at url in language l, as the language switch leaves it: saved on the
// device, then the page loaded again.
func setLang(tb testing.TB, tt *tab, url, l string) {
	tb.Helper()
	tt.do(tb, "open "+url, chromedp.Navigate(url))
	eval[chromedp.Void](tb, tt, `localStorage.setItem('mutual.lang', `+js(l)+`)`)
	tt.do(tb, "reload in "+l, chromedp.Reload())
	tt.waitJS(tb, 10*time.Second, "the page is in "+l, `document.documentElement.lang === `+js(l)+
		` && document.getElementById('lang-pick').value === `+js(l)+` && !!document.getElementById('view-title')`, `document.documentElement.outerHTML.slice(0, 300)`)
}

// press sends one key (a chromedp/kb key, e.g. "\t" or "\r") to the focused element.
func press(tb testing.TB, tt *tab, key string) {
	tb.Helper()
	tt.do(tb, fmt.Sprintf("press %q", key), chromedp.KeyEvent(key))
}

// tabTo moves the focus to the element matching the CSS selector sel as a keyboard user does:
// Tab while it lies further down the page, Shift+Tab when it lies above the focus. Going back up
// keeps the walk inside the page: Tab past the last control leaves the document (to the browser's
// own controls; headless, document.activeElement is then <body>), which is the browser's doing,
// not the page's, and would count as the focus falling to <body>. It fails after 60 presses.
func tabTo(tb testing.TB, tt *tab, sel string) {
	tb.Helper()
	key, opts := "Tab", []chromedp.KeyOption(nil)
	if eval[bool](tb, tt, `(() => { const a = document.activeElement, b = document.querySelector(`+js(sel)+`);
	  return !!a && !!b && a !== document.body && !!(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_PRECEDING); })()`) {
		key, opts = "Shift+Tab", append(opts, chromedp.KeyModifiers(chromedp.ModifierShift))
	}
	for range 60 {
		if eval[bool](tb, tt, `!!document.activeElement && document.activeElement.matches(`+js(sel)+`)`) {
			return
		}
		tt.do(tb, "press "+key, chromedp.KeyEvent("\t", opts...))
	}
	tb.Fatalf("tab %s: 60 presses of Tab never reached %s; focus is on %s", tt.name, sel, focused(tb, tt))
}

// focused describes document.activeElement.
func focused(tb testing.TB, tt *tab) string {
	tb.Helper()
	return eval[string](tb, tt, `(() => { const a = document.activeElement; if (!a) return 'nothing';
	  return a.tagName + (a.id ? '#' + a.id : '') + ' ' + JSON.stringify(a.textContent.slice(0, 40)); })()`)
}

// typeKeys types text into the focused element, key by key.
func typeKeys(tb testing.TB, tt *tab, text string) {
	tb.Helper()
	tt.do(tb, "type "+text, chromedp.KeyEvent(text))
}

const announceJS = `document.getElementById('announce').textContent`

// TestBrowserKeyboard makes a post, responds "I can help" and changes the post's status with the
// keyboard only (Tab, typing, Enter), and checks that the focus never falls to <body>: not after
// Send, not after a status button (both save over the network while the button is pressed). The
// polite live region says the status change, a post arriving live and a filter's result.
func TestBrowserKeyboard(t *testing.T) {
	requireChromium(t)
	a := startNode(t, "Amal", "127.0.0.1:0")
	a.createGroup(t, "Eastgate Mutual Aid")
	br := newBrowser(t)
	tt := newTab(t, br, "keyboard")

	tt.do(t, "open the board", chromedp.Navigate(a.url+"/"))
	tt.waitJS(t, 10*time.Second, "the board loads", boardLoadedJS, boardStateJS)

	// To the form by the main navigation, then field by field.
	tabTo(t, tt, `nav a[data-route=new]`)
	press(t, tt, "\r")
	tt.waitJS(t, 5*time.Second, "the form shows, focus on its heading", `!!document.getElementById('new-title') && document.activeElement.id === 'view-title'`, `document.activeElement.outerHTML`)
	tabTo(t, tt, `#new-title`)
	typeKeys(t, tt, "Folding chairs")
	tabTo(t, tt, `#new-quantity`)
	typeKeys(t, tt, "12")
	tabTo(t, tt, `#new button[type=submit]`)
	press(t, tt, "\r")
	id := submittedPostID(t, tt)
	if got := eval[string](t, tt, `document.activeElement.id`); got != "view-title" {
		t.Errorf("after Publish the focus is on %s, want the post's heading", focused(t, tt))
	}
	var p apiPost
	a.call(t, http.MethodGet, "/api/v1/posts/"+id, nil, &p)
	if p.Title != "Folding chairs" || p.Quantity != 12 {
		t.Fatalf("the post made by keyboard: %+v", p)
	}

	// "I can help": the Send button keeps the focus while it saves and after.
	tabTo(t, tt, `#help-quantity`)
	typeKeys(t, tt, "3")
	tabTo(t, tt, `#help-note`)
	typeKeys(t, tt, "From the church hall")
	tabTo(t, tt, `#help button[type=submit]`)
	eval[chromedp.Void](t, tt, `window.__bodyFocus = 0; document.addEventListener('focusout', (e) => {
	  if (!e.relatedTarget) setTimeout(() => { if (document.activeElement === document.body) window.__bodyFocus++; }); })`)
	press(t, tt, "\r")
	tt.waitJS(t, 10*time.Second, "the response is sent", `document.getElementById('help-msg').textContent !== ''`,
		`JSON.stringify({err: document.getElementById('help-err').textContent})`)
	if got := eval[string](t, tt, `document.activeElement.matches('#help button[type=submit]') ? 'send' : ''`); got != "send" {
		t.Errorf("after Send the focus is on %s, want the Send button", focused(t, tt))
	}
	tt.waitJS(t, 5*time.Second, "the live region says the new count of responses", announceJS+`.includes('1')`, announceJS)

	// A status button: pressed by keyboard, it stays focused and pressed, and the change is said.
	tabTo(t, tt, `#set-claimed`)
	press(t, tt, "\r")
	tt.waitJS(t, 10*time.Second, "the post is claimed", `document.getElementById('set-claimed').getAttribute('aria-pressed') === 'true'`,
		`JSON.stringify({err: document.getElementById('status-err').textContent})`)
	if got := eval[string](t, tt, `document.activeElement.id`); got != "set-claimed" {
		t.Errorf("after a status button the focus is on %s, want #set-claimed", focused(t, tt))
	}
	tt.waitJS(t, 5*time.Second, "the live region says the status", announceJS+` === 'Status now: Claimed'`, announceJS)
	if n := eval[int](t, tt, `window.__bodyFocus`); n != 0 {
		t.Errorf("the focus fell to <body> %d times during Send and the status change", n)
	}

	// On the board, a post arriving live is said; so is a filter's result.
	tabTo(t, tt, `nav a[data-route=board]`)
	press(t, tt, "\r")
	tt.waitJS(t, 10*time.Second, "the board loads", boardLoadedJS, boardStateJS)
	a.post(t, map[string]any{"kind": "offer", "title": "Soup on Sunday"})
	tt.waitJS(t, 10*time.Second, "the live region says the new offer", announceJS+` === 'New offer: Soup on Sunday'`, announceJS)
	tabTo(t, tt, `#fl-q`)
	typeKeys(t, tt, "soup")
	tt.waitJS(t, 5*time.Second, "the live region says what the search shows", announceJS+` === 'Showing needs: 0, offers: 1'`, announceJS)
	// The kind filter, chosen by typing its first letters, shows the offers' column alone (also on
	// a wide screen, where both columns are shown side by side).
	tabTo(t, tt, `#fl-kind`)
	typeKeys(t, tt, "Offers")
	tt.waitJS(t, 5*time.Second, "only the offers' column shows", `document.getElementById('fl-kind').value === 'offer' && `+
		`getComputedStyle(document.getElementById('col-need')).display === 'none' && getComputedStyle(document.getElementById('col-offer')).display !== 'none'`,
		`JSON.stringify({kind: document.getElementById('fl-kind').value, board: document.getElementById('board').className})`)
}

// axeJS is the vendored axe-core, loaded once per test binary.
var axeJS = func() func(testing.TB) string {
	var src string
	return func(tb testing.TB) string {
		if src == "" {
			b, err := os.ReadFile("testdata/axe/axe.min.js")
			if err != nil {
				tb.Fatalf("axe-core: %v (see testdata/axe/README.md)", err)
			}
			src = string(b)
		}
		return src
	}
}()

type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  []any  `json:"target"`
		HTML    string `json:"html"`
		Summary string `json:"failureSummary"`
	} `json:"nodes"`
}

// runAxe runs axe-core's WCAG 2.1 A and AA rules on the page as it is, and returns the violations.
func runAxe(tb testing.TB, tt *tab) []axeViolation {
	tb.Helper()
	if !eval[bool](tb, tt, `typeof axe === 'object'`) {
		eval[chromedp.Void](tb, tt, axeJS(tb)+"\n;undefined")
	}
	raw := eval[string](tb, tt, `axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
	  resultTypes: ['violations']}).then((r) => JSON.stringify({violations: r.violations, passes: r.passes.length}))`)
	var res struct {
		Violations []axeViolation `json:"violations"`
		Passes     int            `json:"passes"`
	}
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		tb.Fatalf("axe result %q: %v", raw, err)
	}
	if res.Passes < 10 {
		tb.Fatalf("axe passed only %d rules: did it check the page? %s", res.Passes, raw)
	}
	return res.Violations
}

// axeRoutes are the page's routes, each with a condition that holds once it has rendered.
func axeRoutes(postID string) []struct{ hash, ready string } {
	return []struct{ hash, ready string }{
		{"#/", boardLoadedJS + ` && document.querySelectorAll('#board .card').length > 0`},
		{"#/post/" + postID, `!!document.getElementById('post-view') && !!document.getElementById('help-note')`},
		{"#/new", `!!document.getElementById('new-title')`},
		{"#/group", `!!document.querySelector('#members table') && !!document.getElementById('share-code') && !!document.getElementById('fedpolicy')`},
		{"#/peers", `!!document.getElementById('peers-table')`},
	}
}

// TestBrowserAxe runs axe-core on every route, in English and Arabic, in the light and the dark
// colour scheme, and fails on any WCAG 2.1 A or AA violation, listing each with the elements: the
// routes of a node in one group, the welcome page of a fresh node (no group: name the node, start a
// group or join one), and the board and Group page of a node in several groups (the group list
// with its switch buttons, the board's group filter, cards that name their group); these two in
// English light and Arabic dark. With -short it checks English in light and Arabic in dark only.
func TestBrowserAxe(t *testing.T) {
	requireChromium(t)
	a := startNode(t, "Amal", "127.0.0.1:0")
	group := a.createGroup(t, "Eastgate Mutual Aid")
	soon := time.Now().Add(20 * time.Hour).UTC().Format(time.RFC3339)
	p := a.post(t, map[string]any{"group": group, "kind": "need", "title": "Baby formula, stage 1", "category": "food",
		"quantity": 6, "urgency": "high", "expires": soon, "details": "Unopened tins please.", "contact": "Amal, 07700 900123"})
	a.post(t, map[string]any{"group": group, "kind": "offer", "title": "معاطف شتوية للأطفال", "category": "ملابس", "location": "المركز المجتمعي"})
	a.post(t, map[string]any{"group": group, "kind": "offer", "title": "Hot meals Friday", "quantity": 40})
	a.call(t, http.MethodPost, "/api/v1/posts/"+p.ID+"/responses", map[string]any{"quantity": 8, "note": "Eight tins on Thursday."}, nil)

	// A fresh node, in no group: its page is the welcome page on every route but posts and peers.
	fresh := startNode(t, "Ben", "127.0.0.1:0")
	// A node in three groups, one named in Arabic, with a post in each of two.
	multi := startNode(t, "Chloe", "127.0.0.1:0")
	east := multi.createGroup(t, "Eastgate Mutual Aid")
	north := multi.createGroup(t, "Northside Pantry")
	multi.createGroup(t, "جيران شارع النخيل")
	multi.post(t, map[string]any{"group": east, "kind": "need", "title": "Winter coats", "quantity": 2})
	multi.post(t, map[string]any{"group": north, "kind": "offer", "title": "A van on Saturdays"})
	// It follows A's group, and Harbour, which accepts followers from its allies only and refuses it.
	harbourNode := startNode(t, "Hana", "127.0.0.1:0")
	harbour := harbourNode.createGroup(t, "Harbour Food Bank")
	harbourNode.call(t, http.MethodPost, "/api/v1/groups/"+harbour+"/federation", map[string]any{"policy": "allies"}, nil)
	for _, src := range []struct {
		n     *testNode
		group string
	}{{a, group}, {harbourNode, harbour}} {
		var sh struct{ Code string }
		src.n.call(t, http.MethodGet, "/api/v1/groups/"+src.group+"/share", nil, &sh)
		multi.call(t, http.MethodPost, "/api/v1/follow", map[string]string{"code": sh.Code}, nil)
	}
	waitFor(t, 30*time.Second, "C has A's posts and Harbour's refusal", func() (bool, string) {
		var n struct {
			Groups []struct{ ID, Refused string }
		}
		multi.call(t, http.MethodGet, "/api/v1/node", nil, &n)
		var ps []apiPost
		multi.call(t, http.MethodGet, "/api/v1/posts?group="+group, nil, &ps)
		refused := false
		for _, g := range n.Groups {
			refused = refused || (g.ID == harbour && g.Refused != "")
		}
		return refused && len(ps) == 3, fmt.Sprintf("refused %v, %d posts of A's", refused, len(ps))
	})

	br := newBrowser(t)
	tt := newTab(t, br, "axe")
	// check waits until the page shows ready after going to hash, and runs axe on it.
	check := func(name, hash, ready string) {
		t.Helper()
		eval[chromedp.Void](t, tt, `location.hash = `+js(hash))
		tt.waitJS(t, 10*time.Second, name+" renders", ready, mainTextJS)
		if hash == "#/group" && eval[bool](t, tt, `!!document.getElementById('invite')`) {
			// With an invite made, so that the code and its QR are checked too.
			eval[chromedp.Void](t, tt, `document.querySelector('#invite button[type=submit]').click()`)
			tt.waitJS(t, 10*time.Second, "the invite shows", `!!document.querySelector('#inv-out img.qr') && document.querySelector('#inv-out img.qr').complete`, `document.getElementById('inv-out').innerHTML`)
		}
		// Open every disclosure (edit a post, start or join another group), so its form is checked.
		eval[chromedp.Void](t, tt, `document.querySelectorAll('#main details').forEach((d) => { d.open = true; })`)
		for _, v := range runAxe(t, tt) {
			var where []string
			for _, n := range v.Nodes {
				where = append(where, fmt.Sprintf("\n      %v %s\n        %s", n.Target, n.HTML, strings.ReplaceAll(n.Summary, "\n", " ")))
			}
			t.Errorf("%s: axe %s (%s): %s%s", name, v.ID, v.Impact, v.Help, strings.Join(where, ""))
		}
	}
	for _, l := range []string{"en", "ar"} {
		for _, scheme := range []string{"light", "dark"} {
			if testing.Short() && (l == "en") != (scheme == "light") {
				continue // -short: English light and Arabic dark only
			}
			tt.do(t, "colour scheme "+scheme, emulateMedia("prefers-color-scheme", scheme))
			setLang(t, tt, a.url+"/", l)
			if dark := eval[bool](t, tt, `matchMedia('(prefers-color-scheme: dark)').matches`); dark != (scheme == "dark") {
				t.Fatalf("%s %s: prefers-color-scheme dark = %v", l, scheme, dark)
			}
			for _, r := range axeRoutes(p.ID) {
				check(fmt.Sprintf("%s %s %s", l, scheme, r.hash), r.hash, r.ready)
			}

			if (l == "en") != (scheme == "light") {
				// The welcome and several-groups pages in English light and Arabic dark only: both
				// languages and both schemes, without doubling the package's time under -race.
				continue
			}
			setLang(t, tt, fresh.url+"/", l)
			check(fmt.Sprintf("%s %s welcome", l, scheme), "#/", `!!document.getElementById('ob-name') && !!document.getElementById('join-code')`)
			// A group started before the node has a name: the page asks for it, in an alert.
			eval[chromedp.Void](t, tt, `document.getElementById('ob-name').value = ''; document.getElementById('start-name').value = 'Eastgate'; document.querySelector('#start button[type=submit]').click()`)
			check(fmt.Sprintf("%s %s welcome, no name given", l, scheme), "#/", `document.getElementById('start-err').textContent !== ''`)

			setLang(t, tt, multi.url+"/", l)
			check(fmt.Sprintf("%s %s board of three groups", l, scheme), "#/", boardLoadedJS+
				` && !!document.getElementById('fl-group') && document.querySelectorAll('.card .b-group').length === 2`)
			check(fmt.Sprintf("%s %s Group page of three groups and two followed", l, scheme), "#/group",
				`document.querySelectorAll('.groups li').length === 5 && !!document.querySelector('#members table') && !!document.querySelector('.groups .refused')
				  && !!document.getElementById('share-code') && !!document.getElementById('fedpolicy') && !!document.getElementById('follow-code')`)
			// The followed groups' board, each card naming its group, and a followed post (read-only).
			check(fmt.Sprintf("%s %s followed groups' board", l, scheme), "#/followed", boardLoadedJS+
				` && document.querySelectorAll('#board .card .b-group').length === 3`)
			check(fmt.Sprintf("%s %s a followed post", l, scheme), "#/post/"+p.ID, `!!document.getElementById('post-view') && !!document.querySelector('#post-view .note')`)
			// Switched to another group: the page says which, under its title.
			eval[chromedp.Void](t, tt, `location.hash = '#/group'`)
			tt.waitJS(t, 10*time.Second, "the Group page", `!!document.querySelector('button[data-act=pick]')`, mainTextJS)
			eval[chromedp.Void](t, tt, `document.querySelector('.groups li:not(:has([data-act=unfollow])) button[data-act=pick]').click()`)
			check(fmt.Sprintf("%s %s Group page, switched", l, scheme), "#/group",
				`!!document.getElementById('flash') && !!document.querySelector('#members table')`)
			// The switch is remembered on the device; the next pass starts from all groups again.
			eval[chromedp.Void](t, tt, `localStorage.removeItem('mutual.group'); localStorage.removeItem('mutual.filter-group')`)
		}
	}
	tt.do(t, "reset the media", emulateMedia())
}

// TestBrowserArabic: in Arabic the page is right to left, fits a 390 px phone and the same phone
// at 200% zoom on every route (a 195 CSS px viewport: zoom halves the layout width), and an Arabic
// title sits right to left on the English page. The language switch changes the page and is
// remembered; with nothing saved, the browser's languages choose.
func TestBrowserArabic(t *testing.T) {
	requireChromium(t)
	a := startNode(t, "Amal", "127.0.0.1:0")
	group := a.createGroup(t, "Eastgate Mutual Aid")
	const arTitle = "معاطف شتوية للأطفال، مقاس ٨ و١١"
	ar := a.post(t, map[string]any{"group": group, "kind": "need", "title": arTitle, "category": "ملابس", "location": "المركز المجتمعي",
		"quantity": 4, "urgency": "high", "details": "لعائلة من أربعة أفراد وصلت الأسبوع الماضي."})
	a.post(t, map[string]any{"group": group, "kind": "offer", "title": "Spare bike, needs a new inner tube, Orchard Road", "category": "transport"})
	br := newBrowser(t)
	tt := newTab(t, br, "phone")

	// On the English page, the Arabic title is right to left and the English one left to right.
	tt.do(t, "open the board", chromedp.EmulateViewport(1280, 800), chromedp.Navigate(a.url+"/"))
	tt.waitJS(t, 10*time.Second, "the board loads", boardLoadedJS+` && !!document.getElementById('p-`+ar.ID+`')`, boardStateJS)
	if got := eval[string](t, tt, `getComputedStyle(document.querySelector('#p-`+ar.ID+` h3')).direction + ' ' + document.documentElement.dir`); got != "rtl ltr" {
		t.Errorf("an Arabic title on the English page: direction and page dir %q, want rtl ltr", got)
	}

	for _, size := range []struct {
		name string
		w, h int64
	}{{"390 px", 390, 844}, {"390 px at 200% zoom", 195, 422}} {
		tt.do(t, "viewport "+size.name, chromedp.EmulateViewport(size.w, size.h, chromedp.EmulatePortrait, chromedp.EmulateMobile,
			chromedp.EmulateTouch, chromedp.EmulateScale(float64(2*390/size.w))))
		for _, l := range []string{"ar", "en"} {
			setLang(t, tt, a.url+"/", l)
			if l == "ar" {
				if got := eval[string](t, tt, `document.documentElement.dir + ' ' + getComputedStyle(document.body).direction`); got != "rtl rtl" {
					t.Errorf("the Arabic page: dir %q, want rtl rtl", got)
				}
			}
			for _, r := range axeRoutes(ar.ID) {
				name := fmt.Sprintf("%s, %s, %s", l, size.name, r.hash)
				eval[chromedp.Void](t, tt, `location.hash = `+js(r.hash))
				tt.waitJS(t, 10*time.Second, name+" renders", r.ready, boardStateJS)
				if r.hash == "#/group" {
					eval[chromedp.Void](t, tt, `document.querySelector('#invite button[type=submit]').click()`)
					tt.waitJS(t, 10*time.Second, "the invite shows", `!!document.querySelector('#inv-out img.qr') && document.querySelector('#inv-out img.qr').complete`, `document.getElementById('inv-out').innerHTML`)
				}
				if r.hash == "#/" {
					// The Needs/Offers switch (phone width) is part of this route.
					if !eval[bool](t, tt, `getComputedStyle(document.querySelector('.tabs')).display !== 'none'`) {
						t.Errorf("%s: the Needs/Offers switch is hidden", name)
					}
					// A filter's text is not cut: each select has room for the option it shows (its
					// padding and arrow aside), and each label for its text.
					cut := eval[[]string](t, tt, `Array.from(document.querySelectorAll('#filters select')).filter((s) => {
					  const c = document.createElement('canvas').getContext('2d'), cs = getComputedStyle(s); c.font = cs.font;
					  const need = c.measureText(s.options[s.selectedIndex].text).width;
					  return s.clientWidth - parseFloat(cs.paddingInlineStart) - parseFloat(cs.paddingInlineEnd) - 16 < need;
					}).map((s) => s.id + ' ' + s.clientWidth).concat(Array.from(document.querySelectorAll('#filters label'))
					  .filter((l) => l.scrollWidth > l.clientWidth + 1).map((l) => 'label ' + l.htmlFor))`)
					if len(cut) > 0 {
						t.Errorf("%s: filters too narrow for their text: %v", name, cut)
					}
				}
				ok := eval[bool](t, tt, `document.documentElement.scrollWidth <= document.documentElement.clientWidth`)
				if !ok {
					t.Errorf("%s: the page overflows sideways: %s", name, eval[string](t, tt, strings.Replace(overflowJS,
						"e.getBoundingClientRect().right > innerWidth + 0.5", "e.getBoundingClientRect().right > innerWidth + 0.5 || e.getBoundingClientRect().left < -0.5", 1)))
				}
			}
		}
	}

	// The switch: from Arabic to Spanish by the select, remembered after a reload.
	tt.do(t, "desktop again", chromedp.EmulateViewport(1280, 800))
	setLang(t, tt, a.url+"/", "ar")
	eval[chromedp.Void](t, tt, `(() => { const s = document.getElementById('lang-pick'); s.focus(); s.value = 'es';
	  s.dispatchEvent(new Event('change', {bubbles: true})); })()`)
	tt.waitJS(t, 5*time.Second, "the page is in Spanish", `document.documentElement.lang === 'es' && document.documentElement.dir === 'ltr'
	  && document.querySelector('nav a[data-route=board]').textContent === 'Tablón' && document.getElementById('view-title').textContent === 'Tablón'`,
		`document.querySelector('header').textContent`)
	if got := eval[string](t, tt, `document.activeElement.id + ' ' + localStorage.getItem('mutual.lang')`); got != "lang-pick es" {
		t.Errorf("after the switch: focus and saved language %q, want lang-pick es", got)
	}
	tt.do(t, "reload", chromedp.Reload())
	tt.waitJS(t, 10*time.Second, "still in Spanish after a reload", `document.documentElement.lang === 'es' && !!document.getElementById('view-title')
	  && document.getElementById('view-title').textContent === 'Tablón'`, `document.documentElement.lang`)

	// A half-filled new post survives the switch: what was typed and chosen stays, the labels change.
	eval[chromedp.Void](t, tt, `location.hash = '#/new'`)
	tt.waitJS(t, 10*time.Second, "the Spanish form shows", `!!document.getElementById('new-title') && document.getElementById('view-title').textContent !== 'New post'`, mainTextJS)
	typed := map[string]string{"new-kind": "offer", "new-title": "Sopa caliente el domingo", "new-details": "para 20 personas\nen la sala",
		"new-quantity": "20", "new-urgency": "high", "new-contact": "Ana 555-0107"}
	tj, _ := json.Marshal(typed)
	eval[chromedp.Void](t, tt, `Object.entries(`+string(tj)+`).forEach(([id, v]) => { const f = document.getElementById(id); f.value = v;
	  f.dispatchEvent(new Event('input', {bubbles: true})); f.dispatchEvent(new Event('change', {bubbles: true})); })`)
	eval[chromedp.Void](t, tt, `(() => { const s = document.getElementById('lang-pick'); s.focus(); s.value = 'en';
	  s.dispatchEvent(new Event('change', {bubbles: true})); })()`)
	tt.waitJS(t, 5*time.Second, "the form is in English", `document.documentElement.lang === 'en' && document.getElementById('view-title').textContent === 'New post'`, mainTextJS)
	got := eval[map[string]string](t, tt, `Object.fromEntries(Object.keys(`+string(tj)+`).map((id) => [id, document.getElementById(id).value]))`)
	for id, v := range typed {
		if got[id] != v {
			t.Errorf("after the language switch %s is %q, want %q", id, got[id], v)
		}
	}

	// Nothing saved: the browser's first language the page has.
	fresh := newTab(t, br, "fresh", chromedp.WithNewBrowserContext())
	ua := eval[string](t, fresh, `navigator.userAgent`)
	fresh.do(t, "browser languages fr, ar", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ua, AcceptLanguage: "fr-FR,ar-EG"})
		return err
	}), chromedp.Navigate(a.url+"/"))
	fresh.waitJS(t, 10*time.Second, "the page chose Arabic", `document.documentElement.lang === 'ar' && document.documentElement.dir === 'rtl'`,
		`JSON.stringify({langs: navigator.languages, lang: document.documentElement.lang})`)
}

// TestBrowserForcedColors: in forced-colours mode backgrounds are the system's, so the current
// page in the navigation and a pressed switch carry a border and an underline that the others
// lack.
func TestBrowserForcedColors(t *testing.T) {
	requireChromium(t)
	a := startNode(t, "Amal", "127.0.0.1:0")
	a.createGroup(t, "Eastgate Mutual Aid")
	p := a.post(t, map[string]any{"kind": "need", "title": "Folding chairs"})
	br := newBrowser(t)
	tt := newTab(t, br, "forced")
	tt.do(t, "forced colours, phone width", emulateMedia("forced-colors", "active"),
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(a.url+"/"))
	tt.waitJS(t, 10*time.Second, "the board loads", boardLoadedJS, boardStateJS)
	if !eval[bool](t, tt, `matchMedia('(forced-colors: active)').matches`) {
		t.Fatal("forced-colors is not emulated")
	}
	cue := func(sel string) string {
		return eval[string](t, tt, `(() => { const s = getComputedStyle(document.querySelector(`+js(sel)+`));
		  return s.textDecorationLine + ' ' + s.borderTopWidth; })()`)
	}
	for _, c := range []struct{ on, off string }{
		{`nav a[aria-current=page]`, `nav a:not([aria-current])`},
		{`.tabs button[aria-pressed=true]`, `.tabs button[aria-pressed=false]`},
	} {
		on, off := cue(c.on), cue(c.off)
		if !strings.HasPrefix(on, "underline") || !strings.HasSuffix(on, " 3px") || on == off {
			t.Errorf("forced colours: %s looks %q, %s looks %q; want an underline and a 3px border on the first only", c.on, on, c.off, off)
		}
	}
	eval[chromedp.Void](t, tt, `location.hash = '#/post/`+p.ID+`'`)
	tt.waitJS(t, 10*time.Second, "the post shows", `!!document.getElementById('set-open')`, boardStateJS)
	if on, off := cue(`#set-open`), cue(`#set-claimed`); on == off || !strings.HasPrefix(on, "underline") {
		t.Errorf("forced colours: the pressed status %q and another %q look alike", on, off)
	}
}

// TestBrowserManyLoads opens the page eight times in one tab. Each page holds an event stream; a
// page left for the next (kept in the back/forward cache) must close its stream, or the browser's
// six connections to the node fill up and the sixth page never loads (it did, before pagehide
// closed the stream).
func TestBrowserManyLoads(t *testing.T) {
	requireChromium(t)
	a := startNode(t, "Amal", "127.0.0.1:0")
	a.createGroup(t, "Eastgate Mutual Aid")
	a.post(t, map[string]any{"kind": "need", "title": "Folding chairs"})
	br := newBrowser(t)
	tt := newTab(t, br, "loads")
	for i := range 8 {
		tt.do(t, "open the page", chromedp.Navigate(fmt.Sprintf("%s/?visit=%d", a.url, i)))
		tt.waitJS(t, 10*time.Second, fmt.Sprintf("visit %d: the board loads", i), boardLoadedJS+` && document.querySelectorAll('#board .card').length === 1`,
			`JSON.stringify(performance.getEntriesByType('resource').map((e) => e.name + ' ' + Math.round(e.responseEnd)))`)
	}
}
