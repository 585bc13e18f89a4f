package httpapi

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
)

// Help across boards (docs/design.md): a response from another group is
// refused up front when this node can tell that it would never count on
// the post's group's nodes, instead of being shown as sent here and held
// there for ever with no word anywhere. The refusal says why and who can
// change it, with the command.

// wouldCount returns nil, or why a response from group from to a post of
// group to (which this node follows, and answers as a visitor) could
// never count on to's nodes, as far as this node knows:
//   - to's admins block from (403);
//   - from accepts followers from its allies only and none of them is to
//     or a group that one of to's members belongs to: to's nodes could
//     never follow from, so never check that the responder is one of its
//     members, and would hold the response for ever (409);
//   - to already holds as many visitors that do not count as a node
//     stores: its nodes would ignore this node's first visit (409).
func (s *Server) wouldCount(to, from replica.GroupInfo) error {
	if slices.Contains(to.Federation.Blocked, from.ID) {
		return errorf(errForbidden, "%s's admins have blocked responses from %s: its members would not see your answer. Only a %s admin can let them count again: mutual group unblock %s --group %s",
			to.Name, from.Name, to.Name, from.ID, shellWord(to.Name))
	}
	if f := from.Federation; f.Policy == crdt.FollowAllies && !slices.Contains(f.Allies, to.ID) && !s.allyHolds(f.Allies, to) {
		cmd := "mutual group federation --group " + shellWord(from.Name) + " --policy allies"
		for _, a := range append(slices.Clone(f.Allies), to.ID) {
			cmd += " --ally " + a.String()
		}
		return errorf(errConflict, "%s accepts followers from its allies only and does not list %s: %s's members could not check that you are a member of %s, so your answer would never show there. Ask a %s admin to list %s as an ally: %s (or on the page: Group, Who may follow this group)",
			from.Name, to.Name, to.Name, from.Name, from.Name, to.Name, cmd)
	}
	if s.cfg.Board.VisitorOf(to.ID, s.cfg.Board.Self()) == nil {
		if n, full := s.cfg.Board.VisitorsFull(to.ID); full {
			return errorf(errConflict, "%s already holds %d visitors from groups its nodes cannot check, the most they keep: they would ignore your answer. Only a %s admin can make room, by blocking the groups those visitors come from (mutual group block GROUP --group %s)",
				to.Name, n, to.Name, shellWord(to.Name))
		}
	}
	return nil
}

// allyHolds reports whether one of the allies, as this node holds it,
// has a current member of group to among its members: that member's node
// may follow the allies-only group and serve it to to's other nodes.
func (s *Server) allyHolds(allies []crdt.ID, to replica.GroupInfo) bool {
	for _, a := range allies {
		for _, m := range to.Members {
			if m.Role != crdt.RoleNone && s.cfg.Board.IsMember(a, m.Key) {
				return true
			}
		}
	}
	return false
}

var plainWord = regexp.MustCompile(`^[A-Za-z0-9._,:/@+-]+$`)

// shellWord quotes a group's name for a command line to copy, when it
// needs quotes.
func shellWord(s string) string {
	if plainWord.MatchString(s) {
		return s
	}
	if !strings.ContainsAny(s, `"$`+"`\\") {
		return strconv.Quote(s)
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
