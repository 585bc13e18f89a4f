package httpapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/protocol"
)

// Following (docs/design.md, "Following"): follow codes, follow and
// unfollow, and a group's federation settings.

// federationJSON is a group's federation settings.
type federationJSON struct {
	Policy  string   `json:"policy"` // "open" or "allies"
	Allies  []string `json:"allies"`
	Blocked []string `json:"blocked"`
}

func toFederationJSON(f crdt.Federation) federationJSON {
	out := federationJSON{Policy: f.Policy.String(), Allies: []string{}, Blocked: []string{}}
	for _, id := range f.Allies {
		out.Allies = append(out.Allies, id.String())
	}
	for _, id := range f.Blocked {
		out.Blocked = append(out.Blocked, id.String())
	}
	return out
}

// GET /api/v1/groups/{id}/share -> {code}: a follow code for the group,
// with this node's addresses (a follower's node shares the groups it
// follows too: it serves them).
func (s *Server) shareGroup(w http.ResponseWriter, r *http.Request) error {
	gi, err := s.group(r.PathValue("id"), false)
	if err != nil {
		return err
	}
	ni := s.nodeInfo()
	code, err := protocol.EncodeFollowCode(&protocol.FollowCode{Group: gi.ID, GroupName: gi.Name, Addrs: ni.Addrs, Bootstrap: ni.Bootstrap})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"code": code})
	return nil
}

// POST /api/v1/follow {code} -> 201 {id, name, role, holders, bootstrap,
// dialing}: follow a group by its follow code or its full ID. The board
// arrives from the peers the code names, or from any peer that serves
// it. The code's addresses — the nodes that hold the group (holders) and
// its bootstrap peers — are kept with the group's record, so that every
// start of the node dials them and joins the DHT through them; a running
// node dials them now too (dialing).
func (s *Server) follow(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Code string `json:"code"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	fc, err := ParseFollow(body.Code)
	if err != nil {
		return err
	}
	var via []crdt.PublicKey
	if s.cfg.PeerKeys != nil {
		via = s.cfg.PeerKeys(fc.Addrs) // the holders only: a bootstrap peer is not offered the group
	}
	addrs := append(slices.Clone(fc.Addrs), fc.Bootstrap...)
	if err := s.cfg.Board.Follow(r.Context(), fc.Group, fc.GroupName, addrs, via); err != nil {
		return err
	}
	gi, err := s.cfg.Board.Group(fc.Group)
	if err != nil {
		return err
	}
	if s.cfg.OnGroup != nil {
		// The code's bootstrap peers too: through them the node joins
		// the DHT and finds the group's other nodes.
		s.cfg.OnGroup(fc.Group, addrs)
	}
	writeJSON(w, http.StatusCreated, followJSON{ID: gi.ID.String(), Name: gi.Name, Role: roleName(gi),
		Holders: len(fc.Addrs), Bootstrap: len(fc.Bootstrap), Dialing: s.cfg.OnGroup != nil})
	return nil
}

// followJSON is the answer to a follow.
type followJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
	// Holders and Bootstrap count the addresses the code named: nodes
	// that hold the group, and peers to join the DHT through.
	Holders   int `json:"holders"`
	Bootstrap int `json:"bootstrap"`
	// Dialing is true when a running node dials them now; false when the
	// data dir was opened without one (the next `mutual serve` will).
	Dialing bool `json:"dialing"`
}

// ParseFollow reads what `mutual follow` takes: a follow code, or a
// group's full ID (64 hex digits).
func ParseFollow(s string) (*protocol.FollowCode, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil, inputErr("code: a follow code (mutual group share) or a group ID is needed")
	case protocol.IsFollowCode(s):
		fc, err := protocol.DecodeFollowCode(s)
		if err != nil {
			return nil, inputErr("code: %v", err)
		}
		return fc, nil
	}
	id, err := crdt.ParseID(s)
	if err != nil || id.IsZero() {
		return nil, inputErr("code: %q is neither a follow code (mutualf1-...) nor a group ID (64 hex digits)", s)
	}
	return &protocol.FollowCode{Group: id}, nil
}

// DELETE /api/v1/follow/{group} -> {id}: stop following a group, and
// forget its ops. A member cannot unfollow: it leaves.
func (s *Server) unfollow(w http.ResponseWriter, r *http.Request) error {
	gi, err := s.group(r.PathValue("group"), false)
	if err != nil {
		return err
	}
	if err := s.cfg.Board.Unfollow(r.Context(), gi.ID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": gi.ID.String(), "name": gi.Name})
	return nil
}

// POST /api/v1/groups/{id}/federation {policy?, allies?, blocked?} ->
// {policy, allies, blocked}: admin only. Fields left out keep their
// value; allies and blocked are group IDs (full, 64 hex digits) or
// follow codes (whose group counts), so that an admin can paste the code
// another group shared.
func (s *Server) setFederation(w http.ResponseWriter, r *http.Request) error {
	gi, err := s.group(r.PathValue("id"), true)
	if err != nil {
		return err
	}
	var body struct {
		Policy  *string   `json:"policy"`
		Allies  *[]string `json:"allies"`
		Blocked *[]string `json:"blocked"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	f := gi.Federation
	if body.Policy != nil {
		switch *body.Policy {
		case "open":
			f.Policy = crdt.FollowOpen
		case "allies":
			f.Policy = crdt.FollowAllies
		default:
			return inputErr("policy: %q is neither open nor allies", *body.Policy)
		}
	}
	for name, l := range map[string]struct {
		in  *[]string
		out *[]crdt.ID
	}{"allies": {body.Allies, &f.Allies}, "blocked": {body.Blocked, &f.Blocked}} {
		if l.in == nil {
			continue
		}
		if len(*l.in) > crdt.MaxFederationGroups {
			return inputErr("%s: at most %d groups", name, crdt.MaxFederationGroups)
		}
		ids := []crdt.ID{}
		for _, v := range *l.in {
			fc, err := ParseFollow(v)
			if err != nil {
				return inputErr("%s: %q is neither a group ID (64 hex digits) nor a follow code", name, v)
			}
			ids = append(ids, fc.Group)
		}
		*l.out = ids
	}
	if err := s.cfg.Board.SetFederation(r.Context(), gi.ID, f); err != nil {
		return err
	}
	gi, err = s.cfg.Board.Group(gi.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toFederationJSON(gi.Federation))
	return nil
}

// followed reports whether gi is a group this node follows.
func followed(relation store.Relation) bool { return relation == store.Follower }
