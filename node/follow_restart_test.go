package node_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/node"
)

// serveQuietWith runs a node like serveQuiet (periodic catch-up an hour
// apart) that dials peers at start.
func serveQuietWith(tb testing.TB, name, dir string, peers []string) *served {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *served, 1)
	done := make(chan error, 1)
	go func() {
		done <- node.Serve(ctx, node.ServeConfig{
			Dir: dir, Listen: loopback, HTTP: "127.0.0.1:0", Peers: peers, NoMDNS: true, Logger: quietLogger(), SyncEvery: time.Hour,
			Ready: func(addr, _ string, n *node.Node) {
				ready <- &served{name: name, dir: dir, n: n, base: "http://" + addr}
			},
		})
	}()
	var s *served
	select {
	case s = <-ready:
	case err := <-done:
		cancel()
		tb.Fatalf("serve %s: %v", name, err)
	case <-time.After(30 * time.Second):
		cancel()
		tb.Fatalf("serve %s: not ready after 30 s", name)
	}
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				tb.Errorf("serve %s: %v", name, err)
			}
		})
	}
	tb.Cleanup(s.stop)
	return s
}

// p2pAddrs returns the node's libp2p addresses with its peer ID, as
// --peer takes them.
func (s *served) p2pAddrs() []string {
	var out []string
	for _, a := range s.n.Host.Addrs() {
		out = append(out, a+"/p2p/"+s.n.Host.ID().String())
	}
	return out
}

// TestFollowerPushedAfterMemberRestart: a member's node pushes a group's
// new ops to the connected peers that follow it (a follower has no
// gossip topic). The member's node restarts: when the follower is
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

	// a restarts and dials f (a's new port is not the one f knows).
	a.stop()
	a = serveQuietWith(t, "a", filepath.Join(root, "a"), f.p2pAddrs())
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
