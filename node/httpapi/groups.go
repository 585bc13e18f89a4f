package httpapi

import (
	"net/http"
	"strings"
)

// POST /api/v1/groups {name} -> 201 {id, name}: found a group with this
// node as its first admin.
func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	name := strings.TrimSpace(body.Name)
	if name == "" {
		return inputErr("name: a group needs a name")
	}
	id, err := s.cfg.Board.CreateGroup(r.Context(), name)
	if err != nil {
		return err
	}
	if s.cfg.OnGroup != nil {
		s.cfg.OnGroup(id, nil)
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": id.String(), "name": name})
	return nil
}

// POST /api/v1/join {code} -> 201 {id, name}: join a group with an
// invite code. The code is checked offline; the board arrives at the
// first sync with a member.
func (s *Server) joinGroup(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Code string `json:"code"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if strings.TrimSpace(body.Code) == "" {
		return inputErr("code: an invite code is needed")
	}
	c, err := s.cfg.Board.Join(r.Context(), body.Code)
	if err != nil {
		return err
	}
	if s.cfg.OnGroup != nil {
		s.cfg.OnGroup(c.Invite.Group, c.Addrs)
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": c.Invite.Group.String(), "name": c.GroupName})
	return nil
}

// GET /api/v1/groups/{id}/check -> {group, stored, recomputed, ok}: the
// group's state recomputed from its stored ops alone, compared with the
// materialised board that queries read.
func (s *Server) checkGroup(w http.ResponseWriter, r *http.Request) error {
	gi, err := s.group(r.PathValue("id"), false)
	if err != nil {
		return err
	}
	stored, recomputed, err := s.cfg.Board.Check(gi.ID)
	if err != nil {
		return err
	}
	forks, err := s.cfg.Board.Forks(gi.ID)
	if err != nil {
		return err
	}
	fj := []map[string]any{}
	for _, f := range forks {
		fj = append(fj, map[string]any{"author": f.Author.String(), "author_name": s.cfg.Board.MemberName(gi.ID, f.Author), "seq": f.Seq, "op": f.Op.String()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"group": gi.ID.String(), "stored": stored.String(),
		"recomputed": recomputed.String(), "ok": stored == recomputed, "forks": fj})
	return nil
}
