package node_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/node"
)

// serveQuietOn runs a node like serveQuiet (periodic catch-up an hour
// apart) that listens on listen.
func serveQuietOn(tb testing.TB, name, dir string, listen []string) *served {
	tb.Helper()
	return serveWith(tb, name, node.ServeConfig{Dir: dir, Listen: listen, SyncEvery: time.Hour})
}

// TestFollowerPushedAfterMemberRestart: a member's node pushes a group's
// new ops to the connected peers that follow it (a follower has no
// gossip topic). The member's node restarts on its ports, and the
// follower redials it (it keeps the members it met): once the two are
// connected again, a new post still reaches it by a push, with the
// periodic catch-up an hour apart and the sessions that follow the
// connection over (so only a push can carry the post).
func TestFollowerPushedAfterMemberRestart(t *testing.T) {
	root := t.TempDir()
	a := serveQuiet(t, "a", filepath.Join(root, "a"))
	var g struct{ ID string }
	a.must(t, "POST", "/api/v1/groups", map[string]string{"name": "Eastgate"}, &g)
	a.must(t, "POST", "/api/v1/posts", map[string]any{"kind": "need", "title": "coats"}, nil)
	f := serveQuiet(t, "f", filepath.Join(root, "f"))
	f.must(t, "POST", "/api/v1/follow", map[string]string{"code": a.share(t, g.ID)}, nil)
	waitUntil(t, 30*time.Second, "the follower gets the board", func() error { return f.hasTitles(t, g.ID, "coats") })
	a.must(t, "POST", "/api/v1/posts", map[string]any{"kind": "offer", "title": "soup"}, nil)
	waitUntil(t, 30*time.Second, "the follower gets a post by a push", func() error { return f.hasTitles(t, g.ID, "soup") })

	// a restarts on the ports it had, as a node on the default port
	// does; f redials it (f keeps the members it met).
	var listen []string
	for _, addr := range a.n.Host.Addrs() {
		listen = append(listen, strings.TrimSuffix(addr, "/p2p/"+a.n.Host.ID().String()))
	}
	a.stop()
	a = serveQuietOn(t, "a", filepath.Join(root, "a"), listen)
	fID := f.n.Host.ID()
	lastSynced := func() time.Time {
		for _, p := range a.n.Host.Peers() {
			if p.ID == fID && p.Connected {
				return p.LastSynced
			}
		}
		return time.Time{}
	}
	// The sessions that follow the connection: the first ends at tc, the
	// second starts afterMesh (3 s, +-25%) later.
	var tc time.Time
	waitUntil(t, 60*time.Second, "a and f synced after the restart", func() error {
		if tc = lastSynced(); tc.IsZero() {
			return fmt.Errorf("a has not synced with f since it restarted")
		}
		return nil
	})
	waitUntil(t, 60*time.Second, "the session after the mesh formed", func() error {
		if !lastSynced().After(tc.Add(2250 * time.Millisecond)) {
			return fmt.Errorf("a and f have not synced since the mesh formed")
		}
		return nil
	})

	a.must(t, "POST", "/api/v1/posts", map[string]any{"kind": "offer", "title": "bread, after the restart"}, nil)
	// Well within the periodic session's hour: a push goes within 0.5 s.
	d := waitUntil(t, 60*time.Second, "the follower gets a post made after the member restarted", func() error {
		return f.hasTitles(t, g.ID, "bread, after the restart")
	})
	t.Logf("member -> follower after the member's restart: %v", d)
}
