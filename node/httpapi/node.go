package httpapi

import (
	"net/http"
	"strings"

	"github.com/skip2/go-qrcode"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/protocol"
)

type groupRefJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
	// Refused, for a group this node follows: why a node that holds it
	// refused to serve it (its federation policy).
	Refused string `json:"refused,omitempty"`
	// Helps, for a group this node follows, lists the groups held here
	// whose boards count responses from its members (help across
	// boards): the node follows it to vouch for them, and it cannot be
	// unfollowed until those groups block it.
	Helps []string `json:"helps,omitempty"`
}

// groupRef is a group as GET /api/v1/node lists it (and the events'
// "group" event carries it).
func groupRef(gi replica.GroupInfo) groupRefJSON {
	g := groupRefJSON{ID: gi.ID.String(), Name: gi.Name, Role: roleName(gi), Refused: gi.Refused}
	for _, id := range gi.Helps {
		g.Helps = append(g.Helps, id.String())
	}
	return g
}

type nodeJSON struct {
	PeerID  string         `json:"peer_id"`
	Name    string         `json:"name"`
	Key     string         `json:"key"`
	Addrs   []string       `json:"addrs"`
	Groups  []groupRefJSON `json:"groups"`
	Meeting bool           `json:"meeting"`
	// StoreError says why the node cannot save anything (a full disk);
	// absent while it can.
	StoreError string `json:"store_error,omitempty"`
}

// roleName is this node's role in a group: admin or member; pending
// while its join is not confirmed; follower for a group it follows.
func roleName(gi replica.GroupInfo) string {
	switch {
	case gi.Relation == store.Follower:
		return "follower"
	case gi.Role == 0:
		return "pending"
	}
	return gi.Role.String()
}

func (s *Server) nodeInfo() NodeInfo {
	var ni NodeInfo
	if s.cfg.Node != nil {
		ni = s.cfg.Node()
	}
	return ni
}

// GET /api/v1/node
func (s *Server) getNode(w http.ResponseWriter, r *http.Request) error {
	ni := s.nodeInfo()
	out := nodeJSON{
		PeerID:  ni.PeerID,
		Name:    ni.Name,
		Key:     s.cfg.Board.Self().String(),
		Addrs:   nonNil(ni.Addrs),
		Groups:  []groupRefJSON{},
		Meeting: s.cfg.Meeting,
	}
	for _, gi := range s.cfg.Board.Groups() {
		out.Groups = append(out.Groups, groupRef(gi))
	}
	if err := s.cfg.Board.Writable(); err != nil {
		out.StoreError = err.Error()
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type peerJSON struct {
	PeerID     string   `json:"peer_id"`
	Name       string   `json:"name"`
	Addrs      []string `json:"addrs"`
	Groups     []string `json:"groups"`
	Connected  bool     `json:"connected"`
	Via        string   `json:"via"` // direct, lan or relayed; "" if never reached
	LastSeen   string   `json:"last_seen"`
	LastSynced string   `json:"last_synced"`
	// Syncing is there only while a catch-up with the peer receives ops.
	Syncing *syncingJSON `json:"syncing,omitempty"`
}

type syncingJSON struct {
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
}

// GET /api/v1/peers
func (s *Server) getPeers(w http.ResponseWriter, r *http.Request) error {
	out := []peerJSON{}
	if s.cfg.Peers != nil {
		for _, p := range s.cfg.Peers() {
			pj := peerJSON{PeerID: p.PeerID, Name: p.Name, Addrs: nonNil(p.Addrs), Groups: []string{},
				Connected: p.Connected, Via: p.Via, LastSeen: fmtTime(p.LastSeen), LastSynced: fmtTime(p.LastSynced)}
			if p.Syncing != nil {
				pj.Syncing = &syncingJSON{Done: p.Syncing.Done, Total: p.Syncing.Total}
			}
			for _, g := range p.Groups {
				pj.Groups = append(pj.Groups, g.String())
			}
			out = append(out, pj)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// POST /api/v1/invites {group?, role?, expires?, uses?} → {code, id, expires, uses}
func (s *Server) createInvite(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Group   string `json:"group"`
		Role    string `json:"role"`
		Expires string `json:"expires"`
		Uses    uint32 `json:"uses"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	role := crdt.RoleMember
	if body.Role != "" {
		var ok bool
		if role, ok = crdt.ParseRole(body.Role); !ok {
			return inputErr("role: %q is not member or admin", body.Role)
		}
	}
	ttl, err := parseTTL(body.Expires)
	if err != nil {
		return err
	}
	gi, err := s.group(body.Group, true)
	if err != nil {
		return err
	}
	code, c, err := s.cfg.Board.Invite(r.Context(), gi.ID, replica.InviteOptions{Role: role, TTL: ttl, Uses: body.Uses, Addrs: s.inviteAddrs()})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"code": code, "id": c.Invite.ID.String(), "expires": fmtMillis(c.Invite.Expires), "uses": c.Invite.Uses})
	return nil
}

// inviteAddrs returns the node's addresses for an invite code: each with
// its /p2p/ suffix, within the protocol's limits.
func (s *Server) inviteAddrs() []string {
	ni := s.nodeInfo()
	var lan, loop []string
	for _, a := range ni.Addrs {
		if ni.PeerID != "" && !strings.Contains(a, "/p2p/") {
			a += "/p2p/" + ni.PeerID
		}
		if len(a) > protocol.MaxAddrLen {
			continue
		}
		if strings.HasPrefix(a, "/ip4/127.") || strings.HasPrefix(a, "/ip6/::1/") {
			loop = append(loop, a)
		} else {
			lan = append(lan, a)
		}
	}
	// Loopback addresses only help a newcomer on this same machine: use
	// them only when there is nothing else. Keep the code short enough
	// for a QR code a phone can read across a table.
	out := lan
	if len(out) == 0 {
		out = loop
	}
	return out[:min(len(out), maxInviteAddrs)]
}

// maxInviteAddrs is how many addresses an invite code carries (the
// protocol allows protocol.MaxInviteAddrs).
const maxInviteAddrs = 4

// GET /api/v1/invites/qr.png?code= → the code as a QR image: an invite
// code, or a follow code (the page's "Share this group's board").
func (s *Server) inviteQR(w http.ResponseWriter, r *http.Request) error {
	code := r.URL.Query().Get("code")
	if code == "" {
		return inputErr("code: missing")
	}
	if protocol.IsFollowCode(code) {
		if _, err := protocol.DecodeFollowCode(code); err != nil {
			return inputErr("code: not a follow code: %v", err)
		}
	} else if _, err := protocol.DecodeInviteCode(code); err != nil {
		return inputErr("code: not an invite code: %v", err)
	}
	png, err := qrcode.Encode(code, qrcode.Medium, 512)
	if err != nil {
		if png, err = qrcode.Encode(code, qrcode.Low, 512); err != nil {
			return inputErr("code: too long for a QR code")
		}
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "private, max-age=3600")
	w.WriteHeader(http.StatusOK)
	w.Write(png)
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
