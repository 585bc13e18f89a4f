package httpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// TestFollowRoutes: share, follow (by code and by ID), federation and
// unfollow through the API, and their bad input: 4xx with one clear
// message, and nothing stored.
func TestFollowRoutes(t *testing.T) {
	n := newTestNode(t, nil)
	var share struct{ Code string }
	n.must(http.StatusOK, "GET", "/api/v1/groups/"+n.group.String()+"/share", nil, &share)
	fc, err := protocol.DecodeFollowCode(share.Code)
	if err != nil || fc.Group != n.group || fc.GroupName != "Riverside Mutual Aid" || len(fc.Addrs) != 1 {
		t.Fatalf("share: %+v, %v", fc, err)
	}

	other := crdt.ID{0x0f, 0x11}
	code, _ := protocol.EncodeFollowCode(&protocol.FollowCode{Group: other, GroupName: "Harbour"})
	before := len(n.rep.Groups())
	for _, bad := range []string{"", "mutualf1-!!", "mutualf1-" + strings.Repeat("A", 10), "not a code", strings.Repeat("0", 64), "mutual1-abc"} {
		code, b, _ := n.do("POST", "/api/v1/follow", map[string]string{"code": bad}, "")
		if code != http.StatusBadRequest || !strings.Contains(string(b), `"error"`) {
			t.Errorf("follow %q: %d %s", bad, code, b)
		}
	}
	if len(n.rep.Groups()) != before {
		t.Fatal("bad follow input stored a group")
	}
	var g struct{ ID, Name, Role string }
	n.must(http.StatusCreated, "POST", "/api/v1/follow", map[string]string{"code": code}, &g)
	if g.ID != other.String() || g.Role != "follower" || g.Name != "Harbour" {
		t.Fatalf("follow: %+v", g)
	}
	byID := crdt.ID{0x0f, 0x12}
	n.must(http.StatusCreated, "POST", "/api/v1/follow", map[string]string{"code": byID.String()}, &g)

	// A followed group is read-only: posting and federation are 403.
	code403, b, _ := n.do("POST", "/api/v1/posts", map[string]any{"group": other.String(), "kind": "need", "title": "x"}, "")
	if code403 != http.StatusForbidden || !strings.Contains(string(b), "read-only; join it with an invite to post") {
		t.Fatalf("a post to a followed group: %d %s", code403, b)
	}
	code403, _, _ = n.do("POST", "/api/v1/groups/"+other.String()+"/federation", map[string]any{"policy": "allies"}, "")
	if code403 != http.StatusForbidden {
		t.Fatalf("federation of a followed group: %d", code403)
	}

	// Federation on the node's own group.
	for _, bad := range []map[string]any{{"policy": "closed"}, {"allies": []string{"abc"}}, {"blocked": []string{crdt.ID{}.String()}}} {
		if code, b, _ := n.do("POST", "/api/v1/groups/"+n.group.String()+"/federation", bad, ""); code != http.StatusBadRequest {
			t.Errorf("federation %v: %d %s", bad, code, b)
		}
	}
	var fed federationJSON
	n.must(http.StatusOK, "POST", "/api/v1/groups/"+n.group.String()+"/federation",
		map[string]any{"policy": "allies", "allies": []string{byID.String(), other.String(), other.String()}}, &fed)
	if fed.Policy != "allies" || len(fed.Allies) != 2 || fed.Allies[0] != other.String() || len(fed.Blocked) != 0 {
		t.Fatalf("federation: %+v", fed)
	}
	var gr struct {
		Federation federationJSON
	}
	n.must(http.StatusOK, "GET", "/api/v1/groups/"+n.group.String(), nil, &gr)
	if gr.Federation.Policy != "allies" || len(gr.Federation.Allies) != 2 {
		t.Fatalf("group's federation: %+v", gr.Federation)
	}

	// Unfollow: a member's group is 409 (leave instead), an unknown one 404.
	if code, b, _ := n.do("DELETE", "/api/v1/follow/"+n.group.String(), nil, ""); code != http.StatusConflict || !strings.Contains(string(b), "leave") {
		t.Fatalf("unfollow a member's group: %d %s", code, b)
	}
	if code, _, _ := n.do("DELETE", "/api/v1/follow/"+crdt.ID{0xee}.String(), nil, ""); code != http.StatusNotFound {
		t.Fatalf("unfollow an unknown group: %d", code)
	}
	n.must(http.StatusOK, "DELETE", "/api/v1/follow/"+other.String(), nil, nil)
	if _, err := n.rep.Group(other); err == nil {
		t.Fatal("still following after unfollow")
	}
}
