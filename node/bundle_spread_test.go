package node_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
)

// serveQuiet runs a node like serveNode, whose periodic catch-up is an
// hour apart: in a test, ops reach a peer only through the sessions that
// follow a connection, gossip, or a spread.
func serveQuiet(tb testing.TB, name, dir string) *served {
	tb.Helper()
	return serveQuietOn(tb, name, dir, loopback)
}

// TestBundleImportSpreadsAtOnce: a member whose node never goes online
// (x) joins with an invite and posts; its bundle is imported on a, a
// serving node connected to b. With periodic catch-up an hour apart,
// and the sessions that follow the connection over, b gets x's posts
// only if the import makes a spread them (p2p.Host.Spread).
func TestBundleImportSpreadsAtOnce(t *testing.T) {
	root := t.TempDir()
	a := serveQuiet(t, "a", filepath.Join(root, "a"))
	b := serveQuiet(t, "b", filepath.Join(root, "b"))
	formGroup(t, a, b)
	var inv struct{ Code string }
	a.must(t, "POST", "/api/v1/invites", map[string]string{}, &inv)

	// x: a member that is never online. It joins with the code and
	// posts; its bundle carries its join and its posts.
	x := openLocal(t, filepath.Join(root, "x"))
	ctx := context.Background()
	code, err := x.Replica.Join(ctx, inv.Code)
	if err != nil {
		t.Fatal(err)
	}
	g := code.Invite.Group
	var titles []string
	for i := range 5 {
		title := fmt.Sprintf("blankets %d, from the USB stick", i)
		if _, _, err := x.Replica.CreatePost(ctx, g, replica.PostInput{Kind: crdt.Offer, Fields: crdt.Fields{Title: title}}); err != nil {
			t.Fatal(err)
		}
		titles = append(titles, title)
	}
	var bundle bytes.Buffer
	if _, err := x.Replica.Export(&bundle, []crdt.ID{g}); err != nil {
		t.Fatal(err)
	}
	x.Close()

	// Let the sessions that follow the connection end: the first ends at
	// tc, the second starts afterMesh (3 s, +-25%) later, so a session
	// that ends more than 2.25 s after tc is the second or a later one.
	lastSynced := func() time.Time {
		for _, p := range a.n.Host.Peers() {
			if p.ID == b.n.Host.ID() {
				return p.LastSynced
			}
		}
		return time.Time{}
	}
	var tc time.Time
	waitUntil(t, 30*time.Second, "a and b synced", func() error {
		if tc = lastSynced(); tc.IsZero() {
			return fmt.Errorf("a has not synced with b")
		}
		return nil
	})
	waitUntil(t, 30*time.Second, "the session after the mesh formed", func() error {
		if !lastSynced().After(tc.Add(2250 * time.Millisecond)) {
			return fmt.Errorf("a and b have not synced since the mesh formed")
		}
		return nil
	})
	if has(t, b, titles[0]) {
		t.Fatal("b has x's posts before the bundle was imported")
	}

	req, _ := http.NewRequest("POST", a.base+"/api/v1/bundle", bytes.NewReader(bundle.Bytes()))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := httpc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("import on a: %s", resp.Status)
	}
	if !has(t, a, titles[4]) {
		t.Fatal("the import did not put x's posts on a's board")
	}
	// Well within the periodic session's hour; the spread comes 200 ms
	// after the import.
	took := waitUntil(t, 30*time.Second, "b gets x's posts", func() error {
		for _, title := range titles {
			if !has(t, b, title) {
				return fmt.Errorf("b lacks %q", title)
			}
		}
		return nil
	})
	t.Logf("b had the bundle's posts %v after the import on a", took)
}

// has reports whether s's board has a post titled title.
func has(tb testing.TB, s *served, title string) bool {
	tb.Helper()
	var ps []apiPost
	s.must(tb, "GET", "/api/v1/posts", nil, &ps)
	for _, p := range ps {
		if p.Title == title {
			return true
		}
	}
	return false
}
