package httpapi

import (
	"encoding/json"
	"testing"

	"github.com/mutual-aid/mutual/protocol"
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

// A follow code carries the node's bootstrap peers: the follower's node
// joins the DHT through them and finds the group's other nodes.
func TestShareCarriesBootstrap(t *testing.T) {
	const boot = "/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"
	n := newTestNode(t, func(c *Config) {
		c.Node = func() NodeInfo { return NodeInfo{PeerID: "12D3KooWTest", Name: "t", Bootstrap: []string{boot}} }
	})
	var share struct{ Code string }
	n.must(200, "GET", "/api/v1/groups/"+n.group.String()+"/share", nil, &share)
	fc, err := protocol.DecodeFollowCode(share.Code)
	if err != nil || len(fc.Bootstrap) != 1 || fc.Bootstrap[0] != boot {
		t.Fatalf("share: %+v, %v", fc, err)
	}
}
