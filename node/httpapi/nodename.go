package httpapi

import (
	"net/http"
	"strings"
	"unicode"

	"github.com/mutual-aid/mutual/node/store"
)

// PATCH /api/v1/node {"name"} -> the node as GET /api/v1/node shows it.
//
// The node's name goes into the op that puts it in a group (genesis or
// join), where the other members read it; no op renames a member. So the
// name may change only while the node is in no group (following one puts
// no name in an op): after that, 409. Sending the current name is always
// fine, so that a page may save its form again.
func (s *Server) renameNode(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name *string `json:"name"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.Name == nil {
		return inputErr("name: missing; send {\"name\": \"...\"}")
	}
	name, err := displayName(*body.Name)
	if err != nil {
		return err
	}
	if strings.ContainsFunc(name, func(c rune) bool { return unicode.Is(unicode.Bidi_Control, c) }) {
		return inputErr("name: contains a text-direction control character; type the name plainly")
	}
	if name != s.nodeInfo().Name {
		if s.cfg.Rename == nil {
			return errorf(errConflict, "this node cannot be renamed while it runs this way; stop it and run `mutual init --name NAME`")
		}
		for _, gi := range s.cfg.Board.Groups() {
			if gi.Relation != store.Follower {
				return errorf(errConflict, "this node is already in the group %q under the name %q: the other members know it by that name, and renaming a member is not possible yet",
					gi.Name, s.nodeInfo().Name)
			}
		}
		if err := s.cfg.Rename(name); err != nil {
			return err
		}
	}
	return s.getNode(w, r)
}
