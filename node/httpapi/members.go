package httpapi

import (
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
)

type memberJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Role      string `json:"role"` // "none" once removed or left
	JoinedAt  string `json:"joined_at"`
	RemovedAt string `json:"removed_at,omitempty"`
	Removed   bool   `json:"removed,omitempty"`
	Left      bool   `json:"left,omitempty"`
	// Cut is the member's last op that counts, when removed or left.
	Cut uint64 `json:"cut,omitempty"`
	// Forked is the seq at which the member signed two histories: its
	// ops from there on count nowhere.
	Forked uint64 `json:"forked,omitempty"`
}

type groupJSON struct {
	ID      string       `json:"id"`
	Name    string       `json:"name"`
	Role    string       `json:"role"` // this node's
	Members []memberJSON `json:"members"`
	// RetentionDays: how long a fulfilled or withdrawn post keeps its
	// private fields before every member's node erases them.
	RetentionDays float64 `json:"retention_days"`
	// Blocked are the groups whose members' responses count nowhere in
	// this group (help across boards), with their names.
	Blocked []groupNameJSON `json:"blocked"`
	// Federation: who may follow the group, its allies, the groups whose
	// responses it refuses.
	Federation federationJSON `json:"federation"`
	// Refused, for a group this node follows: why a node that holds it
	// refused to serve it.
	Refused string `json:"refused,omitempty"`
}

func membersJSON(ms []crdt.Member) []memberJSON {
	out := make([]memberJSON, 0, len(ms))
	for _, m := range ms {
		j := memberJSON{ID: m.Key.String(), Name: m.Name, Role: m.Role.String(), JoinedAt: fmtTime(m.JoinedAt.Time()),
			Removed: m.Removed, Left: m.Left, Forked: m.Forked}
		if m.Removed || m.Left {
			j.RemovedAt, j.Cut = fmtTime(m.EndedAt.Time()), m.Cut
		}
		out = append(out, j)
	}
	return out
}

// GET /api/v1/groups/{id} → {id, name, role, members[]}: members past
// and present.
func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) error {
	gi, err := s.group(r.PathValue("id"), false)
	if err != nil {
		return err
	}
	ret, err := s.cfg.Board.Retention(gi.ID)
	if err != nil {
		return err
	}
	fed, err := s.cfg.Board.Federation(gi.ID)
	if err != nil {
		return err
	}
	blocked := []groupNameJSON{}
	v := s.viewer(r)
	for _, g := range fed.Blocked {
		blocked = append(blocked, v.groupName(g))
	}
	writeJSON(w, http.StatusOK, groupJSON{ID: gi.ID.String(), Name: gi.Name, Role: roleName(gi), Members: membersJSON(gi.Members),
		RetentionDays: ret.Hours() / 24, Federation: toFederationJSON(gi.Federation), Refused: gi.Refused, Blocked: blocked})
	return nil
}

// POST /api/v1/groups/{id}/retention {days} → group: admin only.
func (s *Server) setRetention(w http.ResponseWriter, r *http.Request) error {
	gi, err := s.group(r.PathValue("id"), false)
	if err != nil {
		return err
	}
	var body struct {
		Days *float64 `json:"days"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.Days == nil || *body.Days <= 0 || *body.Days > 3650 {
		return inputErr("days: how many days a fulfilled or withdrawn post keeps its private fields, more than 0 and at most 3650")
	}
	if err := s.cfg.Board.SetRetention(r.Context(), gi.ID, time.Duration(*body.Days*24*float64(time.Hour))); err != nil {
		return err
	}
	return s.getGroup(w, r)
}

// POST /api/v1/groups/{id}/blocked {group, blocked} → group: admin
// only. A blocked group's members' responses (help across boards) count
// nowhere in this group; {blocked: false} lets them count again.
func (s *Server) setBlocked(w http.ResponseWriter, r *http.Request) error {
	gi, err := s.group(r.PathValue("id"), true)
	if err != nil {
		return err
	}
	var body struct {
		Group   string `json:"group"`
		Blocked *bool  `json:"blocked"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.Blocked == nil {
		return inputErr("blocked: true to block the group's responses, false to let them count again")
	}
	from, err := s.otherGroup(body.Group)
	if err != nil {
		return err
	}
	if err := s.cfg.Board.Block(r.Context(), gi.ID, from, *body.Blocked); err != nil {
		return err
	}
	return s.getGroup(w, r)
}

// otherGroup names a group that may not be on this node: one it holds
// (by ID, prefix or name), or a full group ID.
func (s *Server) otherGroup(name string) (crdt.ID, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return crdt.ID{}, inputErr("group: the group to block or unblock, by ID or name")
	}
	if gi, err := s.findGroup(name); err == nil {
		return gi.ID, nil
	}
	id, err := crdt.ParseID(name)
	if err != nil {
		return crdt.ID{}, inputErr("group: %q is no group this node knows, nor a group ID", name)
	}
	return id, nil
}

// POST /api/v1/groups/{id}/members/{key}/remove | promote | demote:
// admin only. {key} is a member's key, a unique prefix of it, or a
// unique name.
func (s *Server) changeMember(role crdt.Role) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		gi, err := s.group(r.PathValue("id"), false)
		if err != nil {
			return err
		}
		k, err := findMember(gi.Members, r.PathValue("key"))
		if err != nil {
			return err
		}
		if err := s.cfg.Board.SetRole(r.Context(), gi.ID, k, role); err != nil {
			return err
		}
		return s.getGroup(w, r)
	}
}

// POST /api/v1/groups/{id}/leave: this node stops being a member.
func (s *Server) leaveGroup(w http.ResponseWriter, r *http.Request) error {
	gi, err := s.group(r.PathValue("id"), false)
	if err != nil {
		return err
	}
	if err := s.cfg.Board.Leave(r.Context(), gi.ID); err != nil {
		return err
	}
	return s.getGroup(w, r)
}

type inviteJSON struct {
	ID      string `json:"id"`
	Role    string `json:"role"`
	Expires string `json:"expires"`
	Uses    uint32 `json:"uses"` // 0: any number
	Used    int    `json:"used"`
	MadeBy  string `json:"made_by"`
	MadeAt  string `json:"made_at"`
	Revoked bool   `json:"revoked,omitempty"`
	Open    bool   `json:"open"` // can still admit someone
}

// GET /api/v1/groups/{id}/invites[?all=1] → [invite]: the invites that
// can still admit someone (all=1: every invite recorded).
func (s *Server) listInvites(w http.ResponseWriter, r *http.Request) error {
	gi, ins, err := s.invites(r)
	if err != nil {
		return err
	}
	all := r.URL.Query().Get("all") != ""
	now := s.now().UnixMilli()
	out := []inviteJSON{}
	for _, in := range ins {
		open := in.Open(now)
		if !open && !all {
			continue
		}
		out = append(out, inviteJSON{ID: in.Invite.ID.String(), Role: in.Invite.Role.String(), Expires: fmtMillis(in.Invite.Expires),
			Uses: in.Invite.Uses, Used: in.Used, MadeBy: s.cfg.Board.MemberName(gi.ID, in.MadeBy), MadeAt: fmtTime(in.MadeAt.Time()),
			Revoked: in.Revoked, Open: open})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// POST /api/v1/groups/{id}/invites/{invite}/revoke: admin only; {invite}
// is an invite ID or a unique prefix of it.
func (s *Server) revokeInvite(w http.ResponseWriter, r *http.Request) error {
	gi, ins, err := s.invites(r)
	if err != nil {
		return err
	}
	want := strings.ToLower(strings.TrimSpace(r.PathValue("invite")))
	var found []crdt.ID
	for _, in := range ins {
		if strings.HasPrefix(in.Invite.ID.String(), want) {
			found = append(found, in.Invite.ID)
		}
	}
	switch {
	case want == "" || len(found) == 0:
		return errorf(errNotFound, "no invite %q in this group", want)
	case len(found) > 1:
		return inputErr("invite %q: %d invites start so; give more of the ID", want, len(found))
	}
	if err := s.cfg.Board.RevokeInvite(r.Context(), gi.ID, found[0]); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"revoked": found[0].String()})
	return nil
}

// invites returns the group named by the path's {id} and its invites.
func (s *Server) invites(r *http.Request) (replica.GroupInfo, []crdt.InviteState, error) {
	gi, err := s.group(r.PathValue("id"), false)
	if err != nil {
		return gi, nil, err
	}
	ins, err := s.cfg.Board.Invites(gi.ID)
	return gi, ins, err
}

// findMember resolves a member's key, a unique hex prefix of it, or a
// unique name (case-insensitive).
func findMember(ms []crdt.Member, s string) (crdt.PublicKey, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return crdt.PublicKey{}, inputErr("member: give a key or a name")
	}
	var byKey, byName []crdt.PublicKey
	lower := strings.ToLower(s)
	_, hexErr := hex.DecodeString(strings.TrimSuffix(lower, lower[len(lower)%2:]))
	for _, m := range ms {
		if hexErr == nil && strings.HasPrefix(m.Key.String(), lower) {
			byKey = append(byKey, m.Key)
		}
		if strings.EqualFold(m.Name, s) {
			byName = append(byName, m.Key)
		}
	}
	switch {
	case len(byKey) == 1:
		return byKey[0], nil
	case len(byKey) > 1:
		return crdt.PublicKey{}, inputErr("member %q: %d members' keys start so; give more of the key", s, len(byKey))
	case len(byName) == 1:
		return byName[0], nil
	case len(byName) > 1:
		return crdt.PublicKey{}, inputErr("member %q: %d members have that name; give the key", s, len(byName))
	}
	return crdt.PublicKey{}, errorf(errNotFound, "no member %q in this group", s)
}
