package httpapi

import (
	"context"
	"net/http"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// What a phone may do. In meeting mode a phone on the Wi-Fi that opened
// the join link has a session. It acts through the laptop's node, with
// the laptop's key, so everything it writes is, to the group, the
// laptop's. It must therefore not have the organiser's rights: phoneRoutes
// below is the one list of what a session may do, and everything else
// (invites, bundles, spreadsheet import and export, creating and joining
// groups, following, members and roles, ending sessions, checks, and any
// route added later) is refused to it with 403 before its handler runs.
// The organiser at the laptop (a trusted caller, see Server.trusted) may
// do everything.

// phoneRight is what a session may do on a route.
type phoneRight int

const (
	phoneAny      phoneRight = iota + 1 // any session
	phoneOwnPost                        // only on a post the session made: {id}
	phoneOwnReply                       // only on a response the session made: {rid}
)

// phoneRoutes lists, by the pattern the route is registered with, what a
// phone's session may use.
var phoneRoutes = map[string]phoneRight{
	// Reading the board, and what the page needs around it.
	"GET /api/v1/node":       phoneAny,
	"GET /api/v1/peers":      phoneAny, // the page's status line: peers connected
	"GET /api/v1/posts":      phoneAny,
	"GET /api/v1/posts/{id}": phoneAny,
	"GET /api/v1/events":     phoneAny,
	// The phone's own name.
	"GET /api/v1/session":  phoneAny,
	"POST /api/v1/session": phoneAny,
	// Posting and responding, as the name the phone gave.
	"POST /api/v1/posts":                phoneAny,
	"POST /api/v1/posts/{id}/responses": phoneAny,
	// Changing what the phone made itself.
	"PATCH /api/v1/posts/{id}":                  phoneOwnPost,
	"POST /api/v1/posts/{id}/status":            phoneOwnPost,
	"POST /api/v1/posts/{id}/erase":             phoneOwnPost,
	"DELETE /api/v1/posts/{id}/responses/{rid}": phoneOwnReply,
}

// phoneMay returns nil if the request may use the route registered as
// pattern: always for a trusted caller, and for a session as phoneRoutes
// says. Otherwise it returns a 403 error and the handler must not run.
func (s *Server) phoneMay(pattern string, r *http.Request) error {
	sid := sessionOf(r)
	if sid == "" {
		return nil
	}
	switch phoneRoutes[pattern] {
	case phoneAny:
		return nil
	case phoneOwnPost:
		id, err := parseID("post", r.PathValue("id"))
		if err != nil {
			return err
		}
		if !s.sessions.ownsPost(sid, id) {
			return errorf(errForbidden, "only the phone that made this post (or the organiser, at the laptop) may change it")
		}
		return nil
	case phoneOwnReply:
		rid, err := parseID("response", r.PathValue("rid"))
		if err != nil {
			return err
		}
		if !s.sessions.ownsResponse(sid, rid) {
			return errorf(errForbidden, "only the phone that made this response (or the organiser, at the laptop) may withdraw it")
		}
		return nil
	}
	return errorf(errForbidden, "a phone at the meeting may read the board, post, respond, and change its own posts and responses; this is for the organiser, at the laptop")
}

type sessionKey struct{}

// withSession returns r marked as made with the session id.
func withSession(r *http.Request, id string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), sessionKey{}, id))
}

// sessionOf returns the ID of the phone's session the request was made
// with, or "" for a trusted caller (this node's own user).
func sessionOf(r *http.Request) string {
	id, _ := r.Context().Value(sessionKey{}).(string)
	return id
}

// actingName returns the name that ops made for the request carry (their
// By): "" for this node's own user, the session's name for a phone. A
// phone that has not given a name yet may not write.
func (s *Server) actingName(r *http.Request) (string, error) {
	sid := sessionOf(r)
	if sid == "" {
		return "", nil
	}
	name := s.sessions.name(sid)
	if name == "" {
		return "", errorf(errConflict, "say who you are first: give a name (POST /api/v1/session {\"name\"}); it is shown with your posts and responses")
	}
	return name, nil
}

type sessionJSON struct {
	Phone bool   `json:"phone"` // a phone's session; false for the node's own user
	Name  string `json:"name"`  // the phone's name; "" until it gives one
}

// GET /api/v1/session → {phone, name}: who the caller is to the node.
func (s *Server) getSession(w http.ResponseWriter, r *http.Request) error {
	sid := sessionOf(r)
	writeJSON(w, http.StatusOK, sessionJSON{Phone: sid != "", Name: s.sessions.nameOf(sid)})
	return nil
}

// POST /api/v1/session {name} → {phone, name}: a phone gives the name
// shown with its posts and responses ("Sam, via Amal's laptop"). It may
// change it; what it made before keeps the name it had.
func (s *Server) setSession(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name *string `json:"name"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	sid := sessionOf(r)
	if sid == "" {
		return errorf(errConflict, "this is the node's own user, not a phone: what you post here carries the node's name")
	}
	if body.Name == nil {
		return inputErr("name: missing")
	}
	name, err := displayName(*body.Name)
	if err != nil {
		return err
	}
	if !s.sessions.setName(sid, name) {
		return errorf(errUnauthorized, "your session has ended: open the join link again")
	}
	writeJSON(w, http.StatusOK, sessionJSON{Phone: true, Name: name})
	return nil
}

// displayName checks a phone's name: one line of text, not empty, within
// the protocol's limit for names.
func displayName(s string) (string, error) {
	s, err := oneLine("name", s, protocol.MaxName)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", inputErr("name: empty; give the name others should see")
	}
	return s, nil
}

// nameOf is name for a session ID that may be "" (no session).
func (ss *sessions) nameOf(id string) string {
	if ss == nil || id == "" {
		return ""
	}
	return ss.name(id)
}

// yoursPost and yoursResponse tell a caller what it may change: a phone
// what it made; this node's own user everything this node wrote.
func (v *viewer) yoursPost(p *crdt.Post) bool {
	if v.session == "" {
		return p.Author == v.self
	}
	return v.s.sessions.ownsPost(v.session, p.ID)
}

func (v *viewer) yoursResponse(r *crdt.Response) bool {
	if v.session == "" {
		return r.Author == v.self
	}
	return v.s.sessions.ownsResponse(v.session, r.ID)
}
