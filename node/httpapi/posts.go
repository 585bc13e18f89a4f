package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/protocol"
)

// GET /api/v1/posts?group=&kind=&status=&category=&q=&limit=&after=
func (s *Server) listPosts(w http.ResponseWriter, r *http.Request) error {
	posts, err := s.boardPosts(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.viewer(r).posts(posts))
	return nil
}

// boardPosts returns the posts the board's filters in r's query select:
// group, kind, status, category, q, limit and after, as GET
// /api/v1/posts takes them. GET /api/v1/posts.csv takes the same.
func (s *Server) boardPosts(r *http.Request) ([]*crdt.Post, error) {
	q := r.URL.Query()
	var groups []crdt.ID
	if g := q.Get("group"); g != "" {
		gi, err := s.group(g, false)
		if err != nil {
			return nil, err
		}
		groups = []crdt.ID{gi.ID}
	} else {
		for _, gi := range s.cfg.Board.Groups() {
			groups = append(groups, gi.ID)
		}
	}
	f := replica.Filter{Category: q.Get("category"), Text: q.Get("q"), Now: s.now().UnixMilli()}
	if k := q.Get("kind"); k != "" {
		kind, ok := crdt.ParsePostKind(k)
		if !ok {
			return nil, inputErr("kind: %q is not need or offer", k)
		}
		f.Kind = kind
	}
	openBoard := false
	if st := q.Get("status"); st != "" {
		for _, name := range strings.Split(st, ",") {
			s, ok := crdt.ParseStatus(strings.TrimSpace(name))
			if !ok {
				return nil, inputErr("status: %q is not open, claimed, fulfilled or withdrawn", name)
			}
			if s == crdt.Open {
				openBoard = true
			}
			if !slices.Contains(f.Statuses, s) {
				f.Statuses = append(f.Statuses, s)
			}
		}
	}
	limit := -1
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return nil, inputErr("limit: %q is not a whole number ≥ 1", l)
		}
		limit = n
	}
	var after *crdt.Post
	if a := q.Get("after"); a != "" {
		id, err := parseID("after", a)
		if err != nil {
			return nil, err
		}
		if after, err = s.cfg.Board.Post(id); err != nil {
			if statusOf(err) == http.StatusNotFound {
				return nil, inputErr("after: no post %s on this node", a)
			}
			return nil, err
		}
	}

	var posts []*crdt.Post
	for _, g := range groups {
		f.Group = g
		ps, err := s.cfg.Board.Posts(f)
		if err != nil {
			return nil, err
		}
		posts = append(posts, ps...)
	}
	if len(groups) > 1 {
		slices.SortFunc(posts, replica.ComparePosts)
	}
	if openBoard { // "open" is the open board: open posts that have not expired
		posts = slices.DeleteFunc(posts, func(p *crdt.Post) bool {
			return p.State() == crdt.Open && p.Expired(f.Now)
		})
	}
	if after != nil {
		i, found := slices.BinarySearchFunc(posts, after, replica.ComparePosts)
		if found {
			i++
		}
		posts = posts[i:]
	}
	if limit >= 0 && len(posts) > limit {
		posts = posts[:limit]
	}
	return posts, nil
}

// GET /api/v1/posts/{id}
func (s *Server) getPost(w http.ResponseWriter, r *http.Request) error {
	p, err := s.pathPost(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.viewer(r).post(p))
	return nil
}

// pathPost returns the post named by the URL's {id}.
func (s *Server) pathPost(r *http.Request) (*crdt.Post, error) {
	id, err := parseID("post", r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	return s.cfg.Board.Post(id)
}

// POST /api/v1/posts {group?, kind, title, ...}
func (s *Server) createPost(w http.ResponseWriter, r *http.Request) error {
	var obj map[string]json.RawMessage
	if err := decodeJSON(w, r, &obj); err != nil {
		return err
	}
	if obj == nil {
		return inputErr("body: expected a JSON object")
	}
	var in replica.PostInput
	mask, err := parseFields(obj, &in.Fields, "group", "kind")
	if err != nil {
		return err
	}
	if err := checkExpiry(mask, &in.Fields, s.now()); err != nil {
		return err
	}
	kind, err := jsonString("kind", obj["kind"])
	if err != nil {
		return err
	}
	var ok bool
	if in.Kind, ok = crdt.ParsePostKind(kind); !ok {
		if kind == "" {
			return inputErr("kind: missing; need or offer")
		}
		return inputErr("kind: %q is not need or offer", kind)
	}
	if in.Fields.Title == "" {
		return inputErr("title: missing")
	}
	g, err := jsonString("group", obj["group"])
	if err != nil {
		return err
	}
	gi, err := s.group(g, true)
	if err != nil {
		return err
	}
	if in.By, err = s.actingName(r); err != nil {
		return err
	}
	p, _, err := s.cfg.Board.CreatePost(r.Context(), gi.ID, in)
	if err != nil {
		return err
	}
	if sid := sessionOf(r); sid != "" {
		s.sessions.addPost(sid, p.ID)
	}
	w.Header().Set("Location", "/api/v1/posts/"+p.ID.String())
	writeJSON(w, http.StatusCreated, s.viewer(r).post(p))
	return nil
}

// PATCH /api/v1/posts/{id} {field: value, ...}
func (s *Server) editPost(w http.ResponseWriter, r *http.Request) error {
	id, err := parseID("post", r.PathValue("id"))
	if err != nil {
		return err
	}
	var obj map[string]json.RawMessage
	if err := decodeJSON(w, r, &obj); err != nil {
		return err
	}
	if len(obj) == 0 {
		return inputErr("body: name at least one field to change (%s)", fieldNames)
	}
	for _, k := range []string{"kind", "group", "id", "status"} {
		if _, ok := obj[k]; ok {
			return inputErr("%s: cannot be changed by PATCH", k)
		}
	}
	var f crdt.Fields
	mask, err := parseFields(obj, &f)
	if err != nil {
		return err
	}
	p, err := s.cfg.Board.Post(id)
	if err != nil {
		return err
	}
	// An edit that sends the expiry the post has (a form sends every
	// field) is not setting a past one.
	if f.Expires != p.Expires.V {
		if err := checkExpiry(mask, &f, s.now()); err != nil {
			return err
		}
	}
	p, err = s.cfg.Board.EditPost(r.Context(), p.Group, id, mask, f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.viewer(r).post(p))
	return nil
}

// POST /api/v1/posts/{id}/status {status}
func (s *Server) setStatus(w http.ResponseWriter, r *http.Request) error {
	id, err := parseID("post", r.PathValue("id"))
	if err != nil {
		return err
	}
	var body struct {
		Status *string `json:"status"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.Status == nil {
		return inputErr("status: missing; open, claimed, fulfilled or withdrawn")
	}
	st, ok := crdt.ParseStatus(*body.Status)
	if !ok {
		return inputErr("status: %q is not open, claimed, fulfilled or withdrawn", *body.Status)
	}
	p, err := s.cfg.Board.Post(id)
	if err != nil {
		return err
	}
	if p, err = s.cfg.Board.SetStatus(r.Context(), p.Group, id, st); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.viewer(r).post(p))
	return nil
}

// POST /api/v1/posts/{id}/erase → post: its private fields are erased on
// every member's node (the post and its history stay). The post's
// author or an admin only.
func (s *Server) erasePost(w http.ResponseWriter, r *http.Request) error {
	id, err := parseID("post", r.PathValue("id"))
	if err != nil {
		return err
	}
	p, err := s.cfg.Board.Post(id)
	if err != nil {
		return err
	}
	if p, err = s.cfg.Board.Erase(r.Context(), p.Group, id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.viewer(r).post(p))
	return nil
}

// POST /api/v1/posts/{id}/responses {quantity?, note?, contact?,
// as_group?} → post. On a post of a group this node follows, the node
// answers from one of its own groups (as_group, or its only group): a
// visitor's response, whose contact is sealed to the post's group's
// members (help across boards).
func (s *Server) respond(w http.ResponseWriter, r *http.Request) error {
	id, err := parseID("post", r.PathValue("id"))
	if err != nil {
		return err
	}
	var body struct {
		Quantity json.RawMessage `json:"quantity"`
		Note     string          `json:"note"`
		Contact  string          `json:"contact"`
		AsGroup  string          `json:"as_group"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	qty, err := parseQuantity(body.Quantity)
	if err != nil {
		return err
	}
	note, err := textBlock("note", strings.TrimSpace(body.Note), protocol.MaxNote)
	if err != nil {
		return err
	}
	contact, err := oneLine("contact", body.Contact, protocol.MaxContact)
	if err != nil {
		return err
	}
	by, err := s.actingName(r)
	if err != nil {
		return err
	}
	p, err := s.cfg.Board.Post(id)
	if err != nil {
		return err
	}
	var rid crdt.ID
	if s.cfg.Board.IsMember(p.Group, s.cfg.Board.Self()) && strings.TrimSpace(body.AsGroup) == "" {
		if contact != "" {
			return inputErr("contact: a response carries a contact only when it answers another group's post; the group's members reach each other already")
		}
		if p, rid, err = s.cfg.Board.Respond(r.Context(), p.Group, id, qty, note, by); err != nil {
			return err
		}
	} else {
		from, err := s.answeringGroup(body.AsGroup, p.Group)
		if err != nil {
			return err
		}
		in := replica.RespondInput{Quantity: qty, Note: note, By: by, Contact: contact, From: from.ID}
		if p, rid, err = s.cfg.Board.RespondFrom(r.Context(), p.Group, id, in); err != nil {
			return err
		}
	}
	if sid := sessionOf(r); sid != "" {
		s.sessions.addResponse(sid, rid)
	}
	writeJSON(w, http.StatusOK, s.viewer(r).post(p))
	return nil
}

// answeringGroup is the group this node answers another group's post
// from: the one named, else its only group it is a member of.
func (s *Server) answeringGroup(name string, post crdt.ID) (replica.GroupInfo, error) {
	if strings.TrimSpace(name) != "" {
		gi, err := s.group(name, true)
		if err == nil && gi.ID == post {
			return gi, inputErr("as_group: %s is the post's own group; answer from one of this node's other groups", gi.Name)
		}
		return gi, err
	}
	var cands []replica.GroupInfo
	for _, gi := range s.cfg.Board.Groups() {
		if gi.Relation == store.Member && gi.Role != crdt.RoleNone && gi.ID != post {
			cands = append(cands, gi)
		}
	}
	switch len(cands) {
	case 1:
		return cands[0], nil
	case 0:
		return replica.GroupInfo{}, errorf(errConflict, "this node follows the post's group and is a member of no group to answer from: start or join one first")
	}
	return replica.GroupInfo{}, inputErr("as_group: missing; this node is in %d groups, so say which one answers: %s", len(cands), listGroups(cands))
}

// DELETE /api/v1/posts/{id}/responses/{rid}: withdraw one of this
// node's responses (a phone: one of its own, see phoneRoutes).
func (s *Server) unrespond(w http.ResponseWriter, r *http.Request) error {
	id, err := parseID("post", r.PathValue("id"))
	if err != nil {
		return err
	}
	rid, err := parseID("response", r.PathValue("rid"))
	if err != nil {
		return err
	}
	p, err := s.cfg.Board.Post(id)
	if err != nil {
		return err
	}
	self := s.cfg.Board.Self()
	i := slices.IndexFunc(p.ActiveResponses(), func(x crdt.Response) bool { return x.ID == rid })
	switch {
	case i < 0:
		return errorf(errNotFound, "post %s has no active response %s", id.Short(), rid.Short())
	case p.ActiveResponses()[i].Author != self:
		return errorf(errForbidden, "only the response's author can withdraw it")
	}
	if p, err = s.cfg.Board.Unrespond(r.Context(), p.Group, id, rid); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.viewer(r).post(p))
	return nil
}
