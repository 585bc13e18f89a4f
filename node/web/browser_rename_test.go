package web_test

// A member's new name reaches the other node's open page live: no reload, no reopening the Group
// page. A Rename op (kind 11) carries a member's display name — a node's name in the group; a
// group's own name is its genesis's and never changes.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserRenameLive: A and B are members of one group; A's page is open on the board (B's
// post, "by Ben"), on the Group page (the members table lists Ben) and on A's own post (B's
// response, by Ben). B's node renames itself (a Rename op, gossiped to A): all three of A's tabs
// show the new name, with the page never reloaded (a mark set in each page is still there).
func TestBrowserRenameLive(t *testing.T) {
	requireChromium(t)
	a, b, group := startPair(t)
	soup := b.post(t, map[string]any{"group": group, "kind": "offer", "title": "Soup on Sunday"})
	coats := a.post(t, map[string]any{"group": group, "kind": "need", "title": "Winter coats, size L"})
	waitSynced(t, b, coats.ID)
	b.call(t, http.MethodPost, "/api/v1/posts/"+coats.ID+"/responses", map[string]any{"quantity": 1, "note": "One coat, size L"}, nil)
	waitFor(t, 30*time.Second, "A has B's post and B's response", func() (bool, string) {
		var p struct {
			Responses []struct{ ID string } `json:"responses"`
		}
		a.call(t, http.MethodGet, "/api/v1/posts/"+coats.ID, nil, &p)
		n := 0
		for _, q := range a.posts(t) {
			if q.ID == soup.ID {
				n++
			}
		}
		return n == 1 && len(p.Responses) == 1, fmt.Sprintf("B's post %d times, %d responses on coats", n, len(p.Responses))
	})

	br := newBrowser(t)
	board, members, post := newTab(t, br, "A board"), newTab(t, br, "A group"), newTab(t, br, "A post")
	card := `document.getElementById(` + js("p-"+soup.ID) + `)`
	board.do(t, "open A's board", chromedp.Navigate(a.url+"/"))
	board.waitJS(t, 15*time.Second, "A's board shows B's post by Ben", `!!`+card+` && `+card+`.textContent.includes('Ben')`, boardStateJS)
	members.do(t, "open A's Group page", chromedp.Navigate(a.url+"/#/group"))
	const table = `(document.getElementById('members') || {textContent: ''}).textContent`
	members.waitJS(t, 15*time.Second, "A's members table lists Ben", table+`.includes('Ben')`, table)
	post.do(t, "open A's post", chromedp.Navigate(a.url+"/#/post/"+coats.ID))
	const responses = `(document.querySelector('.responses') || {textContent: ''}).textContent`
	post.waitJS(t, 15*time.Second, "A's post page shows B's response by Ben", responses+`.includes('Ben') && `+responses+`.includes('One coat')`, responses)
	for _, tt := range []*tab{board, members, post} {
		eval[bool](t, tt, `window.renameMark = true`)
	}

	// B renames its node: one Rename op in the group, which reaches A by gossip.
	b.call(t, http.MethodPatch, "/api/v1/node", map[string]string{"name": "Kofi Mensah"}, nil)

	const kept = `window.renameMark === true && `
	board.waitJS(t, 30*time.Second, "A's board names B's post by its new name, unreloaded",
		kept+card+`.textContent.includes('Kofi Mensah') && !`+card+`.textContent.includes('Ben')`,
		`JSON.stringify({kept: window.renameMark, card: (`+card+` || {textContent: 'no card'}).textContent})`)
	members.waitJS(t, 30*time.Second, "A's members table lists B by its new name, unreloaded",
		kept+`JSON.stringify(Array.from(document.querySelectorAll('#members tbody tr td:first-child')).map((td) => td.textContent).sort()) === '["Amal","Kofi Mensah"]'`,
		`JSON.stringify({kept: window.renameMark, table: `+table+`})`)
	post.waitJS(t, 30*time.Second, "A's post page names B's response by its new name, unreloaded",
		kept+responses+`.includes('Kofi Mensah') && !`+responses+`.includes('Ben')`,
		`JSON.stringify({kept: window.renameMark, responses: `+responses+`})`)
	// The group's own name and A's role are as they were (a Rename names a member only).
	if got := eval[string](t, members, `document.querySelector('.groups li[aria-current=true]').textContent`); !strings.Contains(got, "Eastgate Mutual Aid") || !strings.Contains(got, "admin") {
		t.Errorf("A's group list after B's rename: %q", got)
	}
}
