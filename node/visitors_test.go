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
