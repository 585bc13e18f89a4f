package httpapi

import (
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/protocol"
)

// PATCH /api/v1/node {"name"} → node: rename this node. The name goes
// into the genesis and join ops this node signs, which every member of
// the group keeps; no op renames a member yet, so a node that is a
// member of a group (or has asked to join one) keeps its name: 409.
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
	if name == s.nodeInfo().Name {
		return s.getNode(w, r)
	}
	if s.cfg.Rename == nil {
		return errorf(errConflict, "this node cannot be renamed while it runs this way")
	}
	for _, gi := range s.cfg.Board.Groups() {
		if gi.Relation == store.Member {
			return errorf(errConflict, "this node is already in group %q, whose members know it by its name %q: a new name would not reach them (renaming a member needs a new kind of op). Name a node before it creates or joins a group", gi.Name, s.nodeInfo().Name)
		}
	}
	if err := s.cfg.Rename(name); err != nil {
		return err
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
	for _, r := range s {
		if unicode.IsControl(r) || isBidiControl(r) {
			return "", inputErr("name: %q holds a control or formatting character; a name is one line of plain text", s)
		}
	}
	return s, nil
}

// isBidiControl reports the characters that reorder the text around them
// (embeddings, overrides, isolates, marks) or break it into lines.
func isBidiControl(r rune) bool {
	switch {
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F, r == 0x061C, r == 0x2028, r == 0x2029:
		return true
	}
	return false
}
