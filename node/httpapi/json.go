package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/mutual-aid/mutual/crdt"
)

// writeJSON encodes v fully before writing anything, so that an encoding
// failure cannot leave half a body.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b = []byte(`{"error":"internal error: encoding the response"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// decodeJSON reads a request body of at most maxJSONBody bytes into v,
// refusing unknown fields and trailing data.
// A body that is not UTF-8 is refused whole: encoding/json would
// otherwise turn each bad byte into U+FFFD without a word.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err != nil {
		return jsonErr(err)
	}
	if !utf8.Valid(body) {
		i := 0
		for i < len(body) {
			c, n := utf8.DecodeRune(body[i:])
			if c == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return inputErr("body: not UTF-8 text (byte %d is 0x%02x): send text as UTF-8", i, body[i])
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonErr(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return jsonErr(err)
		}
		return inputErr("body: unexpected data after the JSON value")
	}
	return nil
}

// jsonErr turns a decoding error into an input error that names the
// field, keeping a too-large body's own error.
func jsonErr(err error) error {
	var mbe *http.MaxBytesError
	var ute *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, io.EOF):
		return inputErr("body: empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return inputErr("body: truncated JSON")
	case errors.As(err, &ute):
		if ute.Field == "" {
			return inputErr("body: expected a JSON object, got %s", ute.Value)
		}
		return inputErr("%s: expected %s, got %s", ute.Field, jsonType(ute.Type.Kind().String()), ute.Value)
	case errors.As(err, &se):
		return inputErr("body: invalid JSON at byte %d: %v", se.Offset, se)
	}
	return inputErr("body: %v", err)
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "uint32", "uint64", "int", "int64":
		return "a whole number"
	case "bool":
		return "true or false"
	}
	return kind
}

// fmtTime formats a time as RFC 3339 in UTC (with milliseconds when it
// has them), or "" for the zero time.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func fmtMillis(ms int64) string {
	if ms == 0 {
		return ""
	}
	return fmtTime(time.UnixMilli(ms))
}

// postJSON is a post as the API shows it.
type postJSON struct {
	ID              string         `json:"id"`
	Group           string         `json:"group"`
	Kind            string         `json:"kind"`
	Title           string         `json:"title"`
	Details         string         `json:"details"`
	Category        string         `json:"category"`
	Location        *string        `json:"location,omitempty"` // absent for a followed group's posts
	Quantity        uint32         `json:"quantity"`
	Urgency         string         `json:"urgency"`
	Expires         string         `json:"expires"`
	Contact         *string        `json:"contact,omitempty"`
	Status          string         `json:"status"`
	Author          string         `json:"author"`
	AuthorName      string         `json:"author_name"`
	CreatedAt       string         `json:"created_at"`
	UpdatedAt       string         `json:"updated_at"`
	Expired         bool           `json:"expired"`
	OverClaimed     bool           `json:"over_claimed"`
	ClaimedQuantity uint64         `json:"claimed_quantity"`
	Responses       []responseJSON `json:"responses"`
	Ref             string         `json:"ref,omitempty"`
	// By is who made the post through the author's node (a phone at a
	// meeting): shown as "By, via AuthorName". "" for the node's user.
	By string `json:"by"`
	// Yours: the caller may change the post (a phone: it made it).
	Yours bool `json:"yours"`
}

type responseJSON struct {
	ID         string `json:"id"`
	Author     string `json:"author"`
	AuthorName string `json:"author_name"`
	Quantity   uint32 `json:"quantity"`
	Note       string `json:"note"`
	CreatedAt  string `json:"created_at"`
	By         string `json:"by"`    // as the post's
	Yours      bool   `json:"yours"` // the caller may withdraw it
	// Group is the responder's group: the post's for a member, the
	// group a visitor answers from (help across boards).
	Group groupNameJSON `json:"group"`
	// Visitor: the responder is a member of another group.
	Visitor bool `json:"visitor,omitempty"`
	// Contact is the contact a visitor sealed to the post's group's
	// members: only on a member's node, which opens it.
	Contact *string `json:"contact,omitempty"`
}

type groupNameJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// viewer renders posts for one request: it remembers which groups this
// node is a member of, which decides whether contacts are shown, and who
// asks (a phone's session, or this node's user), which decides "yours".
type viewer struct {
	s       *Server
	self    crdt.PublicKey
	session string
	member  map[crdt.ID]bool
	follow  map[crdt.ID]bool
	now     int64
}

func (s *Server) viewer(r *http.Request) *viewer {
	return &viewer{s: s, self: s.cfg.Board.Self(), session: sessionOf(r), member: map[crdt.ID]bool{}, follow: map[crdt.ID]bool{}, now: s.now().UnixMilli()}
}

// canSeeContact: contacts are for the group's members only. This node's
// own posts are always its own to see.
func (v *viewer) canSeeContact(p *crdt.Post) bool {
	if p.Author == v.self {
		return true
	}
	m, ok := v.member[p.Group]
	if !ok {
		m = v.s.cfg.Board.IsMember(p.Group, v.self)
		v.member[p.Group] = m
	}
	return m
}

// follows: a followed group's posts carry no private field at all (not
// even empty ones): this node holds them sealed and can never open them.
func (v *viewer) follows(g crdt.ID) bool {
	f, ok := v.follow[g]
	if !ok {
		gi, err := v.s.cfg.Board.Group(g)
		f = err == nil && followed(gi.Relation)
		v.follow[g] = f
	}
	return f
}

func (v *viewer) post(p *crdt.Post) postJSON {
	b := v.s.cfg.Board
	out := postJSON{
		ID:              p.ID.String(),
		Group:           p.Group.String(),
		Kind:            p.Kind.String(),
		Title:           p.Title.V,
		Details:         p.Details.V,
		Category:        p.Category.V,
		Quantity:        p.Quantity.V,
		Urgency:         p.Urgency.V.String(),
		Expires:         fmtMillis(p.Expires.V),
		Status:          p.State().String(),
		Author:          p.Author.String(),
		AuthorName:      b.MemberName(p.Group, p.Author),
		CreatedAt:       fmtTime(p.CreatedAt.Time()),
		UpdatedAt:       fmtTime(p.UpdatedAt.Time()),
		Expired:         p.Expired(v.now),
		OverClaimed:     p.OverClaimed(),
		ClaimedQuantity: p.Claimed(),
		Responses:       []responseJSON{},
		Ref:             p.Ref,
		By:              p.By,
		Yours:           v.yoursPost(p),
	}
	if v.canSeeContact(p) {
		c := p.Contact.V
		out.Contact = &c
	}
	if !v.follows(p.Group) {
		l := p.Location.V
		out.Location = &l
	}
	for _, r := range p.ActiveResponses() {
		rj := responseJSON{
			ID:         r.ID.String(),
			Author:     r.Author.String(),
			AuthorName: b.MemberName(p.Group, r.Author),
			Quantity:   r.Quantity,
			Note:       r.Note,
			CreatedAt:  fmtTime(r.Time.Time()),
			By:         r.By,
			Yours:      v.yoursResponse(&r),
			Group:      v.groupName(p.Group),
		}
		if vis := b.VisitorOf(p.Group, r.Author); vis != nil && !b.IsMember(p.Group, r.Author) {
			rj.Group, rj.Visitor = v.groupName(vis.From), true
			if rj.AuthorName == "" {
				rj.AuthorName = vis.Name
			}
		}
		if v.canSeeContact(p) || r.Author == v.self {
			if c, ok := b.ResponseContact(p, &r); ok {
				rj.Contact = &c
			}
		}
		out.Responses = append(out.Responses, rj)
	}
	return out
}

// groupName names a group as this node knows it (a followed group whose
// genesis has not arrived yet has no name).
func (v *viewer) groupName(g crdt.ID) groupNameJSON {
	out := groupNameJSON{ID: g.String()}
	if gi, err := v.s.cfg.Board.Group(g); err == nil {
		out.Name = gi.Name
	}
	return out
}

func (v *viewer) posts(ps []*crdt.Post) []postJSON {
	out := make([]postJSON, len(ps))
	for i, p := range ps {
		out[i] = v.post(p)
	}
	return out
}

// parseID parses a post, group or response ID from the URL.
func parseID(what, s string) (crdt.ID, error) {
	id, err := crdt.ParseID(s)
	if err != nil {
		return crdt.ID{}, inputErr("%s: %q is not an ID (64 hex digits)", what, s)
	}
	return id, nil
}

// sprint is fmt.Sprint for a raw JSON value, shortened for messages.
func sprint(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 40 {
		return fmt.Sprintf("%s…", raw[:40])
	}
	return string(raw)
}
