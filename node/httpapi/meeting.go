package httpapi

import (
	"crypto/rand"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mutual-aid/mutual/crdt"
)

// Meeting mode: a laptop at a meeting serves the board to the phones in
// the room. The organiser shows the join link (a QR code of JoinURL); a
// browser that opens it gets a session cookie. Anyone on the Wi-Fi who
// has not seen the link gets 401 from the API. Revoking ends every
// session and changes the token, so an old photo of the link stops
// working. What a session may do is in phones.go.

const (
	sessionCookie = "mutual_session"
	// maxSessions bounds the sessions kept; past it the oldest goes.
	maxSessions = 10000
	// sessionTTL is how long a session lasts without a revoke: a meeting.
	sessionTTL = 24 * time.Hour
)

// sessions holds the join token and the live sessions. Sessions live in
// memory only: a restart of the node ends them.
type sessions struct {
	mu    sync.Mutex
	token string
	live  map[string]*session // by session ID
}

// session is one phone's: its display name, and what it made through
// this node, which it alone (and the organiser) may change or withdraw.
type session struct {
	expires   time.Time
	name      string
	posts     map[crdt.ID]bool
	responses map[crdt.ID]bool
}

// maxOwned bounds the posts and responses a session remembers as its
// own; past it the session can still make more, but not change them.
const maxOwned = 10000

func newSessions() *sessions {
	return &sessions{token: rand.Text(), live: map[string]*session{}}
}

func (ss *sessions) joinToken() string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.token
}

// validToken reports whether token is the current join token.
func (ss *sessions) validToken(token string) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return subtle.ConstantTimeCompare([]byte(token), []byte(ss.token)) == 1
}

// start makes a session if token is the current one.
func (ss *sessions) start(token string, now time.Time) (string, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if subtle.ConstantTimeCompare([]byte(token), []byte(ss.token)) != 1 {
		return "", false
	}
	if len(ss.live) >= maxSessions {
		var oldest string
		var at time.Time
		for id, se := range ss.live {
			if oldest == "" || se.expires.Before(at) {
				oldest, at = id, se.expires
			}
		}
		delete(ss.live, oldest)
	}
	id := rand.Text()
	ss.live[id] = &session{expires: now.Add(sessionTTL), posts: map[crdt.ID]bool{}, responses: map[crdt.ID]bool{}}
	return id, true
}

// lookup returns the ID of the live session the request carries, or "".
func (ss *sessions) lookup(r *http.Request, now time.Time) string {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return ""
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	se, ok := ss.live[c.Value]
	if !ok {
		return ""
	}
	if now.After(se.expires) {
		delete(ss.live, c.Value)
		return ""
	}
	return c.Value
}

// name returns a session's display name ("" when it has given none).
func (ss *sessions) name(id string) string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if se := ss.live[id]; se != nil {
		return se.name
	}
	return ""
}

// setName sets a session's display name; false if the session ended.
func (ss *sessions) setName(id, name string) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	se := ss.live[id]
	if se != nil {
		se.name = name
	}
	return se != nil
}

// addPost and addResponse record a post or a response (its op ID) as
// made by a session.
func (ss *sessions) addPost(id string, post crdt.ID) {
	ss.add(id, post, func(se *session) map[crdt.ID]bool { return se.posts })
}
func (ss *sessions) addResponse(id string, resp crdt.ID) {
	ss.add(id, resp, func(se *session) map[crdt.ID]bool { return se.responses })
}

func (ss *sessions) add(id string, x crdt.ID, set func(*session) map[crdt.ID]bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if se := ss.live[id]; se != nil && len(set(se)) < maxOwned {
		set(se)[x] = true
	}
}

// ownsPost and ownsResponse report whether a session made a post or a
// response.
func (ss *sessions) ownsPost(id string, post crdt.ID) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	se := ss.live[id]
	return se != nil && se.posts[post]
}

func (ss *sessions) ownsResponse(id string, resp crdt.ID) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	se := ss.live[id]
	return se != nil && se.responses[resp]
}

// revoke ends every session and rotates the token; it returns how many
// sessions ended.
func (ss *sessions) revoke() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	n := len(ss.live)
	clear(ss.live)
	ss.token = rand.Text()
	return n
}

// JoinURL returns the link that gives a browser a session in meeting
// mode: base (e.g. "http://192.168.1.20:7777") followed by
// /join?token=…. It returns "" when the server is not in meeting mode.
// The token changes when sessions are revoked.
func (s *Server) JoinURL(base string) string {
	if s.sessions == nil {
		return ""
	}
	return strings.TrimSuffix(base, "/") + "/join?token=" + url.QueryEscape(s.sessions.joinToken())
}

// GET /join?token=T: start a session and go to the board.
func (s *Server) join(w http.ResponseWriter, r *http.Request) error {
	if s.sessions == nil {
		return errorf(errNotMeeting, "this node is not in meeting mode; there is nothing to join")
	}
	now := time.Now()
	token := r.URL.Query().Get("token")
	if id := s.sessions.lookup(r, now); id != "" && s.sessions.validToken(token) {
		// The same phone scanning the code again keeps its session: its
		// name, and its posts and responses as its own.
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	id, ok := s.sessions.start(token, now)
	if !ok {
		return errorf(errUnauthorized, "this join link is not (or no longer) valid; ask the organiser for the current one")
	}
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    id,
		Path:     "/",
		MaxAge:   int(sessionTTL / time.Second),
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	})
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

// POST /api/v1/sessions/revoke → {revoked: n}: end every session and
// change the join token. For the organiser only (not in phoneRoutes): a
// phone could otherwise log every other phone out.
func (s *Server) revokeSessions(w http.ResponseWriter, r *http.Request) error {
	if s.sessions == nil {
		return errorf(errNotMeeting, "this node is not in meeting mode; there are no sessions")
	}
	n := s.sessions.revoke()
	s.log.Info("meeting sessions revoked", "sessions", n)
	writeJSON(w, http.StatusOK, map[string]int{"revoked": n})
	return nil
}
