package httpapi

import (
	"net/http"
	"strings"

	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/protocol"
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
	name, err := oneLine("name", body.Name, protocol.MaxName)
	if err != nil {
		return err
	}
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

// GET /api/v1/groups/{id}/check -> {group, stored, recomputed, ok,
// problems, forks}: the group's state recomputed from its stored ops
// alone, compared with the materialised board read from disk, and every
// stored record of the group audited.
func (s *Server) checkGroup(w http.ResponseWriter, r *http.Request) error {
	gi, err := s.group(r.PathValue("id"), false)
	if err != nil {
		return err
	}
	res, err := s.groupCheck(gi)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) groupCheck(gi replica.GroupInfo) (map[string]any, error) {
	res := map[string]any{"group": gi.ID.String(), "name": gi.Name}
	problems, err := s.cfg.Board.Audit(gi.ID)
	if err != nil {
		problems = append(problems, err.Error())
	}
	stored, recomputed, err := s.cfg.Board.Check(gi.ID)
	if err != nil {
		problems = append(problems, err.Error())
	} else {
		res["stored"], res["recomputed"] = stored.String(), recomputed.String()
	}
	forks, err := s.cfg.Board.Forks(gi.ID)
	if err != nil {
		return nil, err
	}
	fj := []map[string]any{}
	for _, f := range forks {
		fj = append(fj, map[string]any{"author": f.Author.String(), "author_name": s.cfg.Board.MemberName(gi.ID, f.Author), "seq": f.Seq, "op": f.Op.String()})
	}
	if problems == nil {
		problems = []string{}
	}
	res["ok"] = len(problems) == 0 && stored == recomputed
	res["problems"], res["forks"] = problems, fj
	return res, nil
}

// GET /api/v1/check -> {ok, files[], groups[]}: the store's files checked
// byte for byte, and every group as GET /api/v1/groups/{id}/check.
func (s *Server) checkAll(w http.ResponseWriter, r *http.Request) error {
	files, err := s.cfg.Board.CheckFiles()
	if err != nil {
		return err
	}
	ok := true
	for _, f := range files {
		ok = ok && f.Unfinished
	}
	if files == nil {
		files = []store.FileProblem{}
	}
	groups := []map[string]any{}
	for _, gi := range s.cfg.Board.Groups() {
		if !ok {
			break // damaged files: reading records may crash Badger
		}
		res, err := s.groupCheck(gi)
		if err != nil {
			return err
		}
		ok = ok && res["ok"] == true
		groups = append(groups, res)
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": ok, "files": files, "groups": groups})
	return nil
}
