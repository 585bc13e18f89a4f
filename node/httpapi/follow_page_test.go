package httpapi

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// What the page needs of the follow routes (node/web, "Share this group's
// board" and the federation settings): an admin pastes the follow code
// another group shared, and the group shows its follow code as a QR code.

// TestFederationByFollowCode: allies and blocked take a follow code as
// well as a group ID, and store the code's group; a code that does not
// decode is refused with nothing changed.
func TestFederationByFollowCode(t *testing.T) {
	n := newTestNode(t, nil)
	harbour, riverside := crdt.ID{0x0f, 0x21}, crdt.ID{0x0f, 0x22}
	code, err := protocol.EncodeFollowCode(&protocol.FollowCode{Group: harbour, GroupName: "Harbour",
		Addrs: []string{"/ip4/192.0.2.7/tcp/4001/p2p/12D3KooWHarbour"}})
	if err != nil {
		t.Fatal(err)
	}
	fedURL := "/api/v1/groups/" + n.group.String() + "/federation"
	var fed federationJSON
	n.must(http.StatusOK, "POST", fedURL, map[string]any{"allies": []string{"  " + code + "\n"}, "blocked": []string{riverside.String()}}, &fed)
	if len(fed.Allies) != 1 || fed.Allies[0] != harbour.String() || len(fed.Blocked) != 1 || fed.Blocked[0] != riverside.String() {
		t.Fatalf("federation by code: %+v", fed)
	}
	n.must(http.StatusOK, "POST", fedURL, map[string]any{"blocked": []string{riverside.String(), code}}, &fed)
	if len(fed.Blocked) != 2 {
		t.Fatalf("blocked by code: %+v", fed)
	}
	for _, bad := range []string{"mutualf1-!!", code[:len(code)-6], "mutual1-abc", "Harbour"} {
		c, b, _ := n.do("POST", fedURL, map[string]any{"allies": []string{bad}}, "")
		if c != http.StatusBadRequest || !strings.Contains(string(b), "neither a group ID") {
			t.Errorf("allies %q: %d %s", bad, c, b)
		}
	}
	var gr struct{ Federation federationJSON }
	n.must(http.StatusOK, "GET", "/api/v1/groups/"+n.group.String(), nil, &gr)
	if len(gr.Federation.Allies) != 1 || gr.Federation.Allies[0] != harbour.String() || len(gr.Federation.Blocked) != 2 {
		t.Fatalf("bad input changed the federation: %+v", gr.Federation)
	}
}

// TestFollowCodeQR: the QR endpoint draws a follow code (from share) as it
// draws an invite code, and refuses a damaged one.
func TestFollowCodeQR(t *testing.T) {
	n := newTestNode(t, nil)
	var share struct{ Code string }
	n.must(http.StatusOK, "GET", "/api/v1/groups/"+n.group.String()+"/share", nil, &share)
	code, body, h := n.do("GET", "/api/v1/invites/qr.png?code="+url.QueryEscape(share.Code), nil, "")
	if code != http.StatusOK || h.Get("Content-Type") != "image/png" || !bytes.HasPrefix(body, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("qr of a follow code: %d %s %q", code, h.Get("Content-Type"), body[:min(len(body), 16)])
	}
	code, body, _ = n.do("GET", "/api/v1/invites/qr.png?code="+url.QueryEscape(share.Code[:len(share.Code)-4]), nil, "")
	if code != http.StatusBadRequest || !strings.Contains(string(body), "not a follow code") {
		t.Fatalf("qr of a damaged follow code: %d %s", code, body)
	}
}
