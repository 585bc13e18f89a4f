package web_test

// A browser test of help across boards (docs/design.md, "Help across boards"): "I can help" on a
// followed group's need, from the page alone, between two nodes served separately.

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserHelpAcrossBoards: Rita's node, of Riverside, follows Harbour; Rita opens Harbour's
// need on the followed groups' board, presses "I can help", fills the quantity, a note and her
// contact, and sends. Riverside lets only its allies follow it and does not list Harbour, so
// Harbour's nodes could never check that Rita is Riverside's: the form says so, with the command
// that changes it, and nothing is sent. Once Riverside's admin lists Harbour, the same form sends;
// Hana's page (a Harbour member) shows the response live, from Riverside, with Rita's contact,
// which Rita's page does not show.
func TestBrowserHelpAcrossBoards(t *testing.T) {
	requireChromium(t)
	const ritaContact = "canary-rita-555-0177"
	h := startNode(t, "Hana", "127.0.0.1:0")
	r := startNode(t, "Rita", "127.0.0.1:0")
	harbour := h.createGroup(t, "Harbour Food Bank")
	coats := h.post(t, map[string]any{"kind": "need", "title": "Winter coats, size L", "quantity": 4})
	riverside := r.createGroup(t, "Riverside Mutual Aid")
	r.call(t, http.MethodPost, "/api/v1/groups/"+riverside+"/federation", map[string]any{"policy": "allies"}, nil)
	var hs struct{ Code string }
	h.call(t, http.MethodGet, "/api/v1/groups/"+harbour+"/share", nil, &hs)
	r.call(t, http.MethodPost, "/api/v1/follow", map[string]string{"code": hs.Code}, nil, http.StatusCreated)
	waitSynced(t, r, coats.ID)

	br := newBrowser(t)
	pageR, pageH := newTab(t, br, "R"), newTab(t, br, "H")
	pageH.do(t, "open Hana's view of the need", chromedp.Navigate(h.url+"/#/post/"+coats.ID))
	pageH.waitJS(t, 10*time.Second, "Hana's post page shows no response yet",
		`!!document.getElementById('post-view') && document.getElementById('resp-h').textContent.includes('0')`, mainTextJS)

	// The followed groups' board: Harbour's need has "I can help", which opens the post's form.
	card := `document.getElementById(` + js("p-"+coats.ID) + `)`
	pageR.do(t, "open the followed groups' board", chromedp.Navigate(r.url+"/#/followed"))
	pageR.waitJS(t, 15*time.Second, "Harbour's need on Rita's followed board, with I can help",
		`!!`+card+` && !!`+card+`.querySelector('.actions a')`, boardStateJS)
	pageR.do(t, "press I can help", chromedp.Click(chromedp.CSS(`#p-`+coats.ID+` .actions a`)))
	pageR.waitJS(t, 10*time.Second, "the help form asks for a contact", `!!document.getElementById('help-contact')`, mainTextJS)
	pageR.do(t, "fill the help form and send",
		chromedp.SendKeys(chromedp.ID("help-quantity"), "4"),
		chromedp.SendKeys(chromedp.ID("help-note"), "we have 4"),
		chromedp.SendKeys(chromedp.ID("help-contact"), ritaContact),
		chromedp.Click(chromedp.CSS(`#help button[type=submit]`)))
	helpState := `JSON.stringify({err: document.getElementById('help-err').textContent, msg: document.getElementById('help-msg').textContent,
	  view: document.getElementById('post-view').textContent})`
	pageR.waitJS(t, 10*time.Second, "the form says why the answer could never show on Harbour's nodes",
		`document.getElementById('help-err').textContent.includes('Riverside Mutual Aid accepts followers from its allies only and does not list Harbour Food Bank')`, helpState)
	errText := eval[string](t, pageR, `document.getElementById('help-err').textContent`)
	if !strings.Contains(errText, "mutual group federation --group \"Riverside Mutual Aid\" --policy allies --ally "+harbour) {
		t.Errorf("the refusal names no way out: %q", errText)
	}
	if got := eval[string](t, pageR, `document.getElementById('help-msg').textContent`); got != "" {
		t.Errorf("a refused answer says %q", got)
	}
	if eval[bool](t, pageR, `!!document.querySelector('#post-view .responses')`) {
		t.Error("Rita's page lists a refused response")
	}
	if got := eval[string](t, pageR, `document.getElementById('help-contact').value`); got != ritaContact {
		t.Errorf("after the refusal the contact field holds %q: the form should keep what was typed", got)
	}

	// The way out: Riverside's admin lists Harbour as an ally. The same form sends.
	r.call(t, http.MethodPost, "/api/v1/groups/"+riverside+"/federation", map[string]any{"allies": []string{harbour}}, nil)
	pageR.do(t, "send again", chromedp.Click(chromedp.CSS(`#help button[type=submit]`)))
	pageR.waitJS(t, 10*time.Second, "the answer is sent and listed on Rita's page, from Riverside",
		`document.getElementById('help-msg').textContent !== '' && document.getElementById('help-err').textContent === ''
		  && !!document.querySelector('#post-view .responses') && document.querySelector('#post-view .responses').textContent.includes('from Riverside Mutual Aid')`, helpState)
	if got := eval[string](t, pageR, `document.getElementById('post-view').textContent`); strings.Contains(got, ritaContact) {
		t.Error("Rita's node, no member of Harbour, shows the sealed contact")
	}

	// Hana's page: the response arrives live, from Riverside, with Rita's contact.
	resp := `(document.querySelector('#post-view .responses') || {textContent: ''}).textContent`
	pageH.waitJS(t, 60*time.Second, "Hana's page shows Rita's response from Riverside with her contact",
		resp+`.includes('Rita') && `+resp+`.includes('from Riverside Mutual Aid') && `+resp+`.includes('we have 4') && `+resp+`.includes(`+js(ritaContact)+`)`,
		`document.getElementById('post-view').textContent`)
}
