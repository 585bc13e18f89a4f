package node

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/httpapi"
	"github.com/mutual-aid/mutual/node/p2p"
	"github.com/mutual-aid/mutual/node/replica"
)

// addrsFile remembers the node's libp2p addresses from its last run, so
// that an invite made while the node is not running still tells the
// newcomer where to find it.
const addrsFile = "addrs.json"

// LocalInfo describes a data dir opened without a running host.
func LocalInfo(l *Local) httpapi.NodeInfo {
	ni := httpapi.NodeInfo{PeerID: l.ID.PeerID.String(), Name: l.Name()}
	if b, err := os.ReadFile(filepath.Join(l.Dir, addrsFile)); err == nil {
		json.Unmarshal(b, &ni.Addrs)
	}
	return ni
}

func nodeInfo(l *Local, h *p2p.Host) httpapi.NodeInfo {
	return httpapi.NodeInfo{PeerID: l.ID.PeerID.String(), Name: l.Name(), Addrs: h.Addrs(), Bootstrap: h.BootstrapAddrs()}
}

func peerInfos(l *Local, h *p2p.Host) []httpapi.PeerInfo {
	groups := l.Replica.Groups()
	var out []httpapi.PeerInfo
	for _, p := range h.Peers() {
		pi := httpapi.PeerInfo{PeerID: p.ID.String(), Addrs: p.Addrs, Connected: p.Connected, Via: p.Via, LastSeen: p.LastSeen, LastSynced: p.LastSynced}
		if p.Syncing != nil {
			pi.Syncing = &httpapi.Syncing{Done: p.Syncing.Done, Total: p.Syncing.Total}
		}
		for _, g := range groups {
			if l.Replica.IsMember(g.ID, p.Key) {
				pi.Groups = append(pi.Groups, g.ID)
				if pi.Name == "" {
					pi.Name = l.Replica.MemberName(g.ID, p.Key)
				}
			}
		}
		out = append(out, pi)
	}
	return out
}

func rememberAddrs(dir string, h *p2p.Host) {
	b, _ := json.Marshal(h.Addrs())
	os.WriteFile(filepath.Join(dir, addrsFile), b, 0o644)
}

// onGroup subscribes to a new group's topic and dials the inviter. The
// code's addresses join the bootstrap list too: through them the node
// joins the DHT and finds the group's other nodes.
func onGroup(ctx context.Context, h *p2p.Host, log interface{ Info(string, ...any) }, g crdt.ID, addrs []string) {
	if err := h.JoinGroup(g); err != nil {
		log.Info("subscribe", "group", g.Short(), "err", err)
	}
	h.AddBootstrap(addrs...)
	if len(addrs) > 0 {
		go connectInviters(ctx, h, log, addrs)
	}
}

// inviterAddrs collects the inviters' addresses of a node's groups,
// each once: a node in hundreds of groups, most joined with invites of
// a few inviters, dials each of them once at start (p2p.Host.ConnectAll).
func inviterAddrs(groups []replica.GroupInfo) []string {
	seen := map[string]bool{}
	var out []string
	for _, g := range groups {
		for _, a := range g.Addrs {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	return out
}

// connectInviters dials the peers at addrs, each once, and returns when
// the dials have ended (20 s at most).
func connectInviters(ctx context.Context, h *p2p.Host, log interface{ Info(string, ...any) }, addrs []string) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for _, p := range h.ConnectAll(ctx, addrs) {
		log.Info("connected to the inviter", "remote", p)
	}
}
