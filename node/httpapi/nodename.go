package httpapi

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// PATCH /api/v1/node {"name"} → node: rename this node. In every group
// it is a member of (or has asked to join) it signs a Rename op, so that
// the other members' nodes show the new name once they sync; the name
// also goes into the genesis and join ops it signs from now on. The ops
// come first: if one fails, the node keeps its old name, and the same
// request again finishes the groups that have not the name yet.
func (s *Server) patchNode(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name *string `json:"name"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.Name == nil {
		return inputErr("name: missing")
	}
	name, err := checkNodeName(*body.Name)
	if err != nil {
		return err
	}
	if s.cfg.Rename == nil {
		if name == s.nodeInfo().Name {
			return s.getNode(w, r)
		}
		return errorf(errConflict, "this node cannot be renamed while it runs this way")
	}
	if _, err := s.cfg.Board.Rename(r.Context(), name); err != nil {
		return err
	}
	if name != s.nodeInfo().Name {
		if err := s.cfg.Rename(name); err != nil {
			return err
		}
	}
	return s.getNode(w, r)
}

// checkNodeName trims a node's name and refuses one that is empty, too
// long, not UTF-8, or holds control or bidi formatting characters (it is
// shown on one line in every member's list).
func checkNodeName(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", inputErr("name: not valid UTF-8")
	}
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", inputErr("name: must not be empty")
	case len(s) > protocol.MaxName:
		return "", inputErr("name: %d bytes, at most %d", len(s), protocol.MaxName)
	}
	if crdt.CheckName(s) != nil {
		// the rule a Rename op's name follows: one line of plain text
		return "", inputErr("name: %q holds a control or formatting character; a name is one line of plain text", s)
	}
	return s, nil
}
