package httpapi

import (
	"encoding/json"
	"testing"
)

// A peer being caught up from carries "syncing": {done, total}; the
// others carry no such key.
func TestPeersSyncing(t *testing.T) {
	n := newTestNode(t, func(c *Config) {
		c.Peers = func() []PeerInfo {
			return []PeerInfo{
				{PeerID: "12D3KooWIdle", Connected: true},
				{PeerID: "12D3KooWBusy", Connected: true, Syncing: &Syncing{Done: 1200, Total: 5000}},
			}
		}
	})
	var peers []map[string]json.RawMessage
	n.must(200, "GET", "/api/v1/peers", nil, &peers)
	if len(peers) != 2 {
		t.Fatalf("peers = %v", peers)
	}
	if s, ok := peers[0]["syncing"]; ok {
		t.Errorf("an idle peer has syncing %s", s)
	}
	if s := string(peers[1]["syncing"]); s != `{"done":1200,"total":5000}` {
		t.Errorf("a peer being synced from has syncing %s", s)
	}
}

// Each peer says how it is reached (via) and when it last synced; a
// peer never reached has via "".
func TestPeersVia(t *testing.T) {
	n := newTestNode(t, func(c *Config) {
		c.Peers = func() []PeerInfo {
			return []PeerInfo{
				{PeerID: "12D3KooWRelayed", Connected: true, Via: "relayed"},
				{PeerID: "12D3KooWNever"},
			}
		}
	})
	var peers []map[string]json.RawMessage
	n.must(200, "GET", "/api/v1/peers", nil, &peers)
	if len(peers) != 2 || string(peers[0]["via"]) != `"relayed"` || string(peers[1]["via"]) != `""` {
		t.Fatalf("peers = %v", peers)
	}
	if _, ok := peers[0]["last_synced"]; !ok {
		t.Error("no last_synced")
	}
}
