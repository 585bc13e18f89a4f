package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Help across boards, with whole nodes (real Badger, libp2p on loopback,
// the HTTP API): R, a member of Riverside whose node follows Harbour,
// answers Harbour's need with a contact. H1 and H2, Harbour's members,
// show the response from Riverside and read the contact; F, which
// follows Harbour, shows the response and holds the contact nowhere (its
// API, its data dir, which keeps everything it was sent). Harbour's admin
// blocks Riverside: the response is gone everywhere.
func TestVisitorAnswersAcrossGroups(t *testing.T) {
	const contact = "canary-riverside-0173"
	h1, h2 := serveNode(t, "h1", t.TempDir()), serveNode(t, "h2", t.TempDir())
	harbour := formGroup(t, h1, h2)
	waitUntil(t, 30*time.Second, "h2's join counts", func() error {
		if role, _ := h2.groupRole(t, harbour); role != "member" {
			return fmt.Errorf("h2 is %q", role)
		}
		return nil
	})
	var need apiPost
	h1.must(t, "POST", "/api/v1/posts", map[string]any{"kind": "need", "title": "Winter coats", "quantity": 4}, &need)

	r := serveNode(t, "r", t.TempDir())
	var riverside struct{ ID string }
	r.must(t, "POST", "/api/v1/groups", map[string]string{"name": "Riverside"}, &riverside)
	r.must(t, "POST", "/api/v1/follow", map[string]string{"code": h1.share(t, harbour)}, nil)
	waitUntil(t, 30*time.Second, "r follows Harbour", func() error { return r.hasTitles(t, harbour, "Winter coats") })
	var h2n struct{ Addrs []string }
	h2.must(t, "GET", "/api/v1/node", nil, &h2n)
	for _, a := range h2n.Addrs {
		if err := r.n.Host.Connect(context.Background(), a); err == nil {
			break
		}
	}

	r.must(t, "POST", "/api/v1/posts/"+need.ID+"/responses", map[string]any{"quantity": 4, "note": "we have 4 coats", "contact": contact}, nil)

	type response struct {
		ID      string
		Visitor bool
		Contact *string
		Group   struct{ ID, Name string }
	}
	responses := func(s *served) []response {
		var p struct{ Responses []response }
		if err := s.call(context.Background(), "GET", "/api/v1/posts/"+need.ID, nil, &p); err != nil {
			return []response{{ID: err.Error()}} // not there yet: a wrong answer
		}
		return p.Responses
	}
	for _, h := range []*served{h1, h2} {
		d := waitUntil(t, 60*time.Second, h.name+" shows the response from Riverside", func() error {
			rs := responses(h)
			if len(rs) != 1 || !rs[0].Visitor || rs[0].Group.ID != riverside.ID || rs[0].Group.Name != "Riverside" {
				return fmt.Errorf("%s shows %+v", h.name, rs)
			}
			if rs[0].Contact == nil || *rs[0].Contact != contact {
				return fmt.Errorf("%s reads contact %v", h.name, rs[0].Contact)
			}
			return nil
		})
		t.Logf("%s: response with its contact after %v", h.name, d)
	}

	f := serveNode(t, "f", t.TempDir())
	f.must(t, "POST", "/api/v1/follow", map[string]string{"code": h1.share(t, harbour)}, nil)
	waitUntil(t, 60*time.Second, "f shows the response", func() error {
		if rs := responses(f); len(rs) != 1 || rs[0].Group.ID != riverside.ID {
			return fmt.Errorf("f shows %+v", rs)
		}
		return nil
	})
	var raw json.RawMessage
	f.must(t, "GET", "/api/v1/posts/"+need.ID, nil, &raw)
	if strings.Contains(string(raw), contact) {
		t.Fatalf("the follower's API shows the contact: %s", raw)
	}

	// H2 follows Riverside because of the visit: it says Riverside helps
	// Harbour, and refuses to unfollow it while its response counts.
	helps := func(s *served) []string {
		var n struct {
			Groups []struct {
				ID    string
				Helps []string
			}
		}
		s.must(t, "GET", "/api/v1/node", nil, &n)
		for _, g := range n.Groups {
			if g.ID == riverside.ID {
				return g.Helps
			}
		}
		return []string{"Riverside is not followed"}
	}
	if got := helps(h2); len(got) != 1 || got[0] != harbour {
		t.Fatalf("on h2 Riverside helps %v, want Harbour", got)
	}
	if err := h2.call(context.Background(), "DELETE", "/api/v1/follow/"+riverside.ID, nil, nil); err == nil || !strings.Contains(err.Error(), "409") || !strings.Contains(err.Error(), "blocks it first") {
		t.Fatalf("unfollowing a helping group: %v", err)
	}

	// Harbour's admin blocks Riverside; its members' nodes and the
	// followers drop the response.
	h1.must(t, "POST", "/api/v1/groups/"+harbour+"/blocked", map[string]any{"group": riverside.ID, "blocked": true}, nil)
	for _, s := range []*served{h1, h2, f, r} {
		waitUntil(t, 60*time.Second, s.name+" drops the blocked response", func() error {
			if rs := responses(s); len(rs) != 0 {
				return fmt.Errorf("%s shows %+v", s.name, rs)
			}
			return nil
		})
	}
	// Blocked, Riverside helps no more: h2 may unfollow it.
	if got := helps(h2); len(got) != 0 {
		t.Fatalf("on h2 the blocked Riverside helps %v", got)
	}
	h2.must(t, "DELETE", "/api/v1/follow/"+riverside.ID, nil, nil)
	for _, s := range []*served{f, r} {
		s.stop()
		if files := filesWith(t, s.dir, contact); len(files) > 0 {
			t.Fatalf("%s, no member of Harbour, holds the contact in clear in %v", s.name, files)
		}
	}
	for _, s := range []*served{h1, h2} {
		s.stop()
		if files := filesWith(t, s.dir, contact); len(files) > 0 {
			t.Fatalf("%s holds the contact in clear in %v (the vault keeps blobs sealed)", s.name, files)
		}
	}
}

// A member who joins after a visitor answered reads the contact too
// (kind 12, docs/design.md "Members who join later"), with whole nodes:
// R, of Riverside, answers H1's need with a contact, sealed to H1 alone;
// H1's node hands it on under Harbour's key; H2 joins Harbour after that
// and its API shows the contact. F, which follows Harbour, shows none
// (its API, its data dir). A block drops the response on H2, an unblock
// brings it back with its contact (H1's node hands it on again: the
// block erased the first copy), and R's unrespond removes it on H2.
func TestVisitorContactReachesLaterMembersOverLibp2p(t *testing.T) {
	const contact = "canary-latejoin-0188"
	h1 := serveNode(t, "h1", t.TempDir())
	var g struct{ ID string }
	h1.must(t, "POST", "/api/v1/groups", map[string]string{"name": "Harbour"}, &g)
	harbour := g.ID
	var need apiPost
	h1.must(t, "POST", "/api/v1/posts", map[string]any{"kind": "need", "title": "Winter coats", "quantity": 4}, &need)

	r := serveNode(t, "r", t.TempDir())
	var riverside struct{ ID string }
	r.must(t, "POST", "/api/v1/groups", map[string]string{"name": "Riverside"}, &riverside)
	r.must(t, "POST", "/api/v1/follow", map[string]string{"code": h1.share(t, harbour)}, nil)
	waitUntil(t, 30*time.Second, "r follows Harbour", func() error { return r.hasTitles(t, harbour, "Winter coats") })
	var resp struct{ Responses []struct{ ID string } }
	r.must(t, "POST", "/api/v1/posts/"+need.ID+"/responses", map[string]any{"quantity": 4, "note": "we have 4 coats", "contact": contact}, &resp)

	type response struct {
		ID      string
		Visitor bool
		Contact *string
	}
	responses := func(s *served) []response {
		var p struct{ Responses []response }
		if err := s.call(context.Background(), "GET", "/api/v1/posts/"+need.ID, nil, &p); err != nil {
			return []response{{ID: err.Error()}}
		}
		return p.Responses
	}
	showsContact := func(s *served) func() error {
		return func() error {
			rs := responses(s)
			if len(rs) != 1 || !rs[0].Visitor {
				return fmt.Errorf("%s shows %+v", s.name, rs)
			}
			if rs[0].Contact == nil || *rs[0].Contact != contact {
				return fmt.Errorf("%s reads contact %v", s.name, rs[0].Contact)
			}
			return nil
		}
	}
	waitUntil(t, 60*time.Second, "h1 reads the contact", showsContact(h1))

	// H2 joins only now: the contact was sealed to H1 alone.
	h2 := serveNode(t, "h2", t.TempDir())
	var inv struct{ Code string }
	h1.must(t, "POST", "/api/v1/invites", map[string]string{"group": harbour}, &inv)
	h2.must(t, "POST", "/api/v1/join", map[string]string{"code": inv.Code}, nil)
	d := waitUntil(t, 90*time.Second, "h2, a later member, reads the contact", showsContact(h2))
	t.Logf("h2 reads the contact %v after its join", d)

	f := serveNode(t, "f", t.TempDir())
	f.must(t, "POST", "/api/v1/follow", map[string]string{"code": h1.share(t, harbour)}, nil)
	waitUntil(t, 60*time.Second, "f shows the response", func() error {
		if rs := responses(f); len(rs) != 1 || !rs[0].Visitor {
			return fmt.Errorf("f shows %+v", rs)
		}
		return nil
	})
	var raw json.RawMessage
	f.must(t, "GET", "/api/v1/posts/"+need.ID, nil, &raw)
	if strings.Contains(string(raw), contact) {
		t.Fatalf("the follower's API shows the contact: %s", raw)
	}

	// Blocked, the response and its copy go; unblocked, they come back.
	block := func(on bool) {
		h1.must(t, "POST", "/api/v1/groups/"+harbour+"/blocked", map[string]any{"group": riverside.ID, "blocked": on}, nil)
	}
	block(true)
	waitUntil(t, 60*time.Second, "h2 drops the blocked response", func() error {
		if rs := responses(h2); len(rs) != 0 {
			return fmt.Errorf("h2 shows %+v", rs)
		}
		return nil
	})
	block(false)
	waitUntil(t, 60*time.Second, "h2 reads the contact after the unblock", showsContact(h2))

	// R takes the response back (once it knows of the unblock: blocked,
	// its response counts nowhere, on its own node too): H2 shows it no
	// more.
	waitUntil(t, 60*time.Second, "r learns of the unblock", func() error {
		if rs := responses(r); len(rs) != 1 || !rs[0].Visitor {
			return fmt.Errorf("r shows %+v", rs)
		}
		return nil
	})
	r.must(t, "DELETE", "/api/v1/posts/"+need.ID+"/responses/"+resp.Responses[0].ID, nil, nil)
	for _, s := range []*served{h1, h2} {
		waitUntil(t, 60*time.Second, s.name+" drops the response taken back", func() error {
			if rs := responses(s); len(rs) != 0 {
				return fmt.Errorf("%s shows %+v", s.name, rs)
			}
			return nil
		})
	}
	for _, s := range []*served{f, r, h1, h2} {
		s.stop()
		if files := filesWith(t, s.dir, contact); len(files) > 0 {
			t.Fatalf("%s holds the contact in clear in %v", s.name, files)
		}
	}
}
