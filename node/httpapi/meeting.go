package httpapi

import (
	"crypto/rand"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Meeting mode: a laptop at a meeting serves the board to the phones in
// the room. The organiser shows the join link (a QR code of JoinURL); a
// browser that opens it gets a session cookie. Anyone on the Wi-Fi who
// has not seen the link gets 401 from the API. Revoking ends every
// session and changes the token, so an old photo of the link stops
// working.

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
	live  map[string]time.Time // session ID → expiry
}

func newSessions() *sessions {
	return &sessions{token: rand.Text(), live: map[string]time.Time{}}
}

func (ss *sessions) joinToken() string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.token
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
		for id, exp := range ss.live {
			if oldest == "" || exp.Before(at) {
				oldest, at = id, exp
			}
		}
		delete(ss.live, oldest)
	}
	id := rand.Text()
	ss.live[id] = now.Add(sessionTTL)
	return id, true
}

// valid reports whether the request carries a live session.
func (ss *sessions) valid(r *http.Request) bool {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	exp, ok := ss.live[c.Value]
	if ok && time.Now().After(exp) {
		delete(ss.live, c.Value)
		return false
	}
	return ok
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
	id, ok := s.sessions.start(r.URL.Query().Get("token"), time.Now())
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
// change the join token. Allowed from this machine or a valid session.
func (s *Server) revokeSessions(w http.ResponseWriter, r *http.Request) error {
	if s.sessions == nil {
		return errorf(errNotMeeting, "this node is not in meeting mode; there are no sessions")
	}
	n := s.sessions.revoke()
	s.log.Info("meeting sessions revoked", "sessions", n)
	writeJSON(w, http.StatusOK, map[string]int{"revoked": n})
	return nil
}
