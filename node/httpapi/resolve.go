package httpapi

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/node/store"
)

// Names, not hex: a group is named by its ID, a unique prefix of at
// least minPrefix hex digits, or its name in any case (or the start of
// it, when only one group's name starts so); a post by its ID
// or a unique prefix. A name that is ambiguous or names nothing gets an
// error that lists the candidates, on one line.

// minPrefix is the fewest hex digits a prefix may have.
const minPrefix = 4

// maxCandidates caps the candidates an error lists.
const maxCandidates = 10

// GET /api/v1/resolve?group=G or ?post=P → {id, name} of the group (with
// role) or {id, title, group} of the post, or the error that names the
// candidates.
func (s *Server) resolve(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	switch {
	case q.Has("group") && q.Has("post"):
		return inputErr("resolve: give group= or post=, not both")
	case q.Has("group"):
		gi, err := s.group(q.Get("group"), false)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, groupRefJSON{ID: gi.ID.String(), Name: gi.Name, Role: roleName(gi)})
		return nil
	case q.Has("post"):
		p, err := s.findPost(q.Get("post"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]string{"id": p.ID.String(), "title": p.Title.V, "group": p.Group.String()})
		return nil
	}
	return inputErr("resolve: give group= or post=")
}

// group resolves a group named in a request, or, when name is "", the
// node's only group (its only group it may write to, if writable).
func (s *Server) group(name string, writable bool) (replica.GroupInfo, error) {
	if name = strings.TrimSpace(name); name != "" {
		gi, err := s.findGroup(name)
		if err != nil {
			return gi, err
		}
		if writable && gi.Relation != store.Member {
			return gi, &replica.FollowerError{Group: gi.Name}
		}
		return gi, nil
	}
	var cands []replica.GroupInfo
	for _, gi := range s.cfg.Board.Groups() {
		if !writable || gi.Relation == store.Member {
			cands = append(cands, gi)
		}
	}
	switch len(cands) {
	case 1:
		return cands[0], nil
	case 0:
		return replica.GroupInfo{}, errorf(errConflict, "this node is in no group yet: create or join one first")
	}
	return replica.GroupInfo{}, inputErr("group: missing; this node has %d groups, so say which: %s", len(cands), listGroups(cands))
}

// findGroup returns the group named by its ID, a unique ID prefix, or its
// name (case-insensitive).
func (s *Server) findGroup(name string) (replica.GroupInfo, error) {
	if id, err := crdt.ParseID(strings.ToLower(name)); err == nil {
		return s.cfg.Board.Group(id)
	}
	groups := s.cfg.Board.Groups()
	// The name, then an ID prefix, then the start of the name.
	var byName, byPrefix, byNameStart []replica.GroupInfo
	lower := strings.ToLower(name)
	for _, gi := range groups {
		if strings.EqualFold(gi.Name, name) {
			byName = append(byName, gi)
		}
		if isHex(lower) && len(lower) >= minPrefix && strings.HasPrefix(gi.ID.String(), lower) {
			byPrefix = append(byPrefix, gi)
		}
		if strings.HasPrefix(strings.ToLower(gi.Name), lower) {
			byNameStart = append(byNameStart, gi)
		}
	}
	for _, found := range [][]replica.GroupInfo{byName, byPrefix, byNameStart} {
		switch {
		case len(found) == 1:
			return found[0], nil
		case len(found) > 1:
			return replica.GroupInfo{}, inputErr("group %q matches %d groups: %s; give more of the ID", name, len(found), listGroups(found))
		}
	}
	// A name that names nothing is bad input (400), as a malformed ID
	// was; a well-formed ID of no group here is 404 (above).
	if len(groups) == 0 {
		return replica.GroupInfo{}, inputErr("no group %q: this node is in no group yet", name)
	}
	hint := ""
	if isHex(lower) && len(lower) < minPrefix {
		hint = fmt.Sprintf(" (an ID prefix needs %d digits or more)", minPrefix)
	}
	return replica.GroupInfo{}, inputErr("no group %q on this node%s; its groups: %s", name, hint, listGroups(groups))
}

// findPost returns the post named by its ID or a unique ID prefix.
func (s *Server) findPost(ref string) (*crdt.Post, error) {
	ref = strings.TrimSpace(ref)
	lower := strings.ToLower(ref)
	if id, err := crdt.ParseID(lower); err == nil {
		return s.cfg.Board.Post(id)
	}
	if !isHex(lower) || len(lower) > 64 {
		msg := fmt.Sprintf("%q is not a post ID: name a post by its ID or the ID's first %d or more digits (0-9, a-f)", ref, minPrefix)
		if ps, err := s.allPosts(func(p *crdt.Post) bool { return ref != "" && strings.Contains(strings.ToLower(p.Title.V), lower) }); err == nil && len(ps) > 0 {
			msg += "; posts whose title has it: " + listPosts(ps)
		}
		return nil, inputErr("%s", msg)
	}
	if len(lower) < minPrefix {
		return nil, inputErr("post ID %q is too short: give %d digits or more", ref, minPrefix)
	}
	ps, err := s.allPosts(func(p *crdt.Post) bool { return strings.HasPrefix(p.ID.String(), lower) })
	if err != nil {
		return nil, err
	}
	switch len(ps) {
	case 1:
		return ps[0], nil
	case 0:
		return nil, errorf(errNotFound, "no post on this node has an ID starting with %s (`mutual board` lists them)", lower)
	}
	return nil, inputErr("post ID %q matches %d posts: %s; give more digits", ref, len(ps), listPosts(ps))
}

// allPosts returns the posts of every group of the node that keep says
// to keep, newest first.
func (s *Server) allPosts(keep func(*crdt.Post) bool) ([]*crdt.Post, error) {
	var out []*crdt.Post
	for _, gi := range s.cfg.Board.Groups() {
		ps, err := s.cfg.Board.Posts(replica.Filter{Group: gi.ID, Now: s.now().UnixMilli()})
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if keep(p) {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

func isHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return s != ""
}

// listGroups is `3f2a9c0b12de "Eastgate Aid" (admin), ...`.
func listGroups(gs []replica.GroupInfo) string {
	return candidates(gs, func(gi replica.GroupInfo) string {
		return fmt.Sprintf("%s %s (%s)", gi.ID.Short(), quoteLine(gi.Name), roleName(gi))
	})
}

// listPosts is `3f2a9c0b12de "Winter coats", ...`.
func listPosts(ps []*crdt.Post) string {
	return candidates(ps, func(p *crdt.Post) string {
		return fmt.Sprintf("%s %s", p.ID.Short(), quoteLine(p.Title.V))
	})
}

// candidates lists the first maxCandidates of xs on one line, and how
// many more there are.
func candidates[T any](xs []T, name func(T) string) string {
	var b strings.Builder
	for i, x := range xs {
		if i == maxCandidates {
			fmt.Fprintf(&b, ", and %d more", len(xs)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(name(x))
	}
	return b.String()
}

// quoteLine quotes a name or title for a one-line message: Go quoting
// escapes newlines, other control characters and bidi overrides.
func quoteLine(s string) string {
	if r := []rune(s); len(r) > 60 {
		s = string(r[:60]) + "…"
	}
	return fmt.Sprintf("%q", s)
}
