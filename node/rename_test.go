package node_test

import (
	"fmt"
	"testing"
	"time"
)

// TestRenameReachesTheOtherNode: two nodes in a group over real libp2p
// on loopback; each renames itself through the API after joining (the
// admin, and the member that joined), and the other node's members list
// shows the new name: by gossip, then by catch-up for a node that was
// stopped while the other renamed again.
func TestRenameReachesTheOtherNode(t *testing.T) {
	a := serveNode(t, "A", t.TempDir())
	b := serveNode(t, "B", t.TempDir())
	g := formGroup(t, a, b)
	meshed(t, a, b)
	keyOf := func(s *served) string { return s.n.Local.Replica.Self().String() }
	b.must(t, "PATCH", "/api/v1/node", map[string]string{"name": "Bina"}, nil)
	a.must(t, "PATCH", "/api/v1/node", map[string]string{"name": "Amal (hall)"}, nil)
	want := map[string]string{keyOf(a): "Amal (hall)", keyOf(b): "Bina"}
	for _, s := range []*served{a, b} {
		waitNames(t, s, g, want)
	}
	b.stop()
	a.must(t, "PATCH", "/api/v1/node", map[string]string{"name": "Amal R"}, nil)
	want[keyOf(a)] = "Amal R"
	b = serveNode(t, "B again", b.dir)
	waitNames(t, b, g, want)
}

// waitNames waits until s shows the members of group named as want
// (key → name).
func waitNames(t *testing.T, s *served, g string, want map[string]string) {
	t.Helper()
	waitUntil(t, 10*time.Second, s.name+" shows the new names", func() error {
		var grp struct {
			Members []struct{ ID, Name, Role string }
		}
		if err := s.call(t.Context(), "GET", "/api/v1/groups/"+g, nil, &grp); err != nil {
			return err
		}
		got := map[string]string{}
		for _, m := range grp.Members {
			got[m.ID] = m.Name
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("members %v, want %v", got, want)
		}
		return nil
	})
}
