package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mutual-aid/mutual/protocol"
)

// TestCLIFollow: following through the command line, each `mutual` a
// separate process: a follow code from a running node, `mutual follow`
// with no node running, writes refused, the board arriving once the
// follower serves (no contact, no location), and unfollow.
func TestCLIFollow(t *testing.T) {
	dA, dF := t.TempDir(), t.TempDir()
	for d, name := range map[string]string{dA: "eastgate-laptop", dF: "harbour-laptop"} {
		if r := mutual(t, d, "init", "--name", name); r.code != 0 {
			t.Fatalf("init %s: %+v", name, r)
		}
	}
	var g struct{ ID, Name string }
	mustJSON(t, mutual(t, dA, "group", "create", "Eastgate Aid", "--json"), &g)
	if r := mutual(t, dA, "post", "need", "--title", "Winter coats", "--contact", "cli-canary-0199", "--location", "3 Canary Row"); r.code != 0 {
		t.Fatalf("post: %+v", r)
	}
	a := startNode(t, "A", dA, ephemeralListen)
	var code struct{ Code string }
	mustJSON(t, mutual(t, dA, "group", "share", "--json"), &code)
	if !strings.HasPrefix(code.Code, "mutualf1-") {
		t.Fatalf("share: %q", code.Code)
	}
	if r := mutual(t, dA, "unfollow", g.ID); r.code != 1 || !strings.Contains(r.stderr, "leave") {
		t.Fatalf("a member's unfollow: %+v", r)
	}

	// Offline: the follower's node is not running.
	if r := mutual(t, dF, "follow", code.Code); r.code != 0 || strings.TrimSpace(r.stdout) != g.ID {
		t.Fatalf("follow: %+v", r)
	}
	var groups []struct{ ID, Role string }
	mustJSON(t, mutual(t, dF, "groups", "--json"), &groups)
	if len(groups) != 1 || groups[0].ID != g.ID || groups[0].Role != "follower" {
		t.Fatalf("groups: %+v", groups)
	}
	r := mutual(t, dF, "post", "need", "--title", "from a follower", "--group", g.ID)
	if r.code != 1 || !strings.Contains(r.stderr, "read-only; join it with an invite to post") {
		t.Fatalf("a follower's post: %+v", r)
	}

	f := startNode(t, "F", dF, ephemeralListen)
	eventually(t, 30*time.Second, 50*time.Millisecond, "the follower gets the board", func() error {
		if r := mutual(t, dF, "board", "--group", g.ID, "--json"); r.code != 0 || !strings.Contains(r.stdout, "Winter coats") {
			return fmt.Errorf("board: %+v", r)
		}
		return nil
	})
	r = mutual(t, dF, "board", "--group", g.ID, "--json")
	if strings.Contains(r.stdout, "cli-canary-0199") || strings.Contains(r.stdout, "Canary Row") || strings.Contains(r.stdout, `"location"`) || strings.Contains(r.stdout, `"contact"`) {
		t.Fatalf("a follower's board shows private fields: %s", r.stdout)
	}
	if r := mutual(t, dF, "unfollow", g.ID); r.code != 0 {
		t.Fatalf("unfollow: %+v", r)
	}
	mustJSON(t, mutual(t, dF, "groups", "--json"), &groups)
	if len(groups) != 0 {
		t.Fatalf("groups after unfollow: %+v", groups)
	}
	f.stop()
	a.stop()
}

// TestCLIFollowKeepsBootstrap: `mutual follow CODE` with no node running
// keeps the code's bootstrap peers with the group, says so, and the next
// `mutual serve` dials them; the same code on the running node says it
// dials them now.
func TestCLIFollowKeepsBootstrap(t *testing.T) {
	dA, dF := t.TempDir(), t.TempDir()
	for d, name := range map[string]string{dA: "eastgate-laptop", dF: "harbour-laptop"} {
		if r := mutual(t, d, "init", "--name", name); r.code != 0 {
			t.Fatalf("init %s: %+v", name, r)
		}
	}
	var g struct{ ID string }
	mustJSON(t, mutual(t, dA, "group", "create", "Eastgate Aid", "--json"), &g)
	a := startNode(t, "A", dA, ephemeralListen)
	defer a.stop()
	var share struct{ Code string }
	mustJSON(t, mutual(t, dA, "group", "share", "--json"), &share)
	fc, err := protocol.DecodeFollowCode(share.Code)
	if err != nil || len(fc.Addrs) == 0 {
		t.Fatalf("A's follow code: %+v, %v", fc, err)
	}
	aID, err := peer.AddrInfoFromString(fc.Addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	// A code that names A only as a bootstrap peer.
	code, err := protocol.EncodeFollowCode(&protocol.FollowCode{Group: fc.Group, GroupName: fc.GroupName, Bootstrap: fc.Addrs[:1]})
	if err != nil {
		t.Fatal(err)
	}

	r := mutual(t, dF, "follow", code)
	if r.code != 0 || strings.TrimSpace(r.stdout) != g.ID || !strings.Contains(r.stderr, "the next `mutual serve` dials the 1 bootstrap peer") {
		t.Fatalf("offline follow: %+v", r)
	}
	f := startNode(t, "F", dF, ephemeralListen)
	defer f.stop()
	eventually(t, 30*time.Second, 50*time.Millisecond, "the follower's node dials the code's bootstrap peer", func() error {
		var peers []struct {
			PeerID    string `json:"peer_id"`
			Connected bool   `json:"connected"`
		}
		mustJSON(t, mutual(t, dF, "peers", "--json"), &peers)
		for _, p := range peers {
			if p.PeerID == aID.ID.String() && p.Connected {
				return nil
			}
		}
		return fmt.Errorf("peers: %+v", peers)
	})
	if r := mutual(t, dF, "follow", code); r.code != 0 || !strings.Contains(r.stderr, "dialling the 1 bootstrap peer") {
		t.Fatalf("online follow: %+v", r)
	}
}
