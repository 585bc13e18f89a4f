package httpapi

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/mutual-aid/mutual/crdt"
)

// maxBundleBody caps an uploaded bundle.
const maxBundleBody = 256 << 20

// GET /api/v1/bundle?group= -> a bundle of the group's signed ops (all
// groups when group is omitted), for `mutual export`.
func (s *Server) exportBundle(w http.ResponseWriter, r *http.Request) error {
	var groups []crdt.ID
	if g := r.URL.Query().Get("group"); g != "" {
		gi, err := s.group(g, false)
		if err != nil {
			return err
		}
		groups = []crdt.ID{gi.ID}
	}
	// Build it first, so that an error is still a clean 4xx/5xx.
	var buf bytes.Buffer
	n, err := s.cfg.Board.Export(&buf, groups)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Mutual-Ops", strconv.Itoa(n))
	_, err = w.Write(buf.Bytes())
	return err
}

// POST /api/v1/bundle (application/octet-stream) -> {new, had, refused,
// waiting, followed[], errors[]}: every op validated as from the network.
func (s *Server) importBundle(w http.ResponseWriter, r *http.Request) error {
	// The body is read as it is ingested, which takes longer than
	// ReadTimeout for a large bundle.
	// When the node stops, the request's context ends: a read blocked on
	// a slow client must end too, or the store would wait for it.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(importReadTimeout))
	defer context.AfterFunc(r.Context(), func() { _ = rc.SetReadDeadline(time.Now()) })()
	rep, err := s.cfg.Board.Import(r.Context(), http.MaxBytesReader(w, r.Body, maxBundleBody))
	if err != nil && r.Context().Err() != nil {
		return errorf(errBusy, "the node stopped during the import; the ops stored so far stay, import the bundle again for the rest (%v)", err)
	}
	if err != nil {
		return err
	}
	followed := []string{}
	for _, g := range rep.Followed {
		followed = append(followed, g.String())
		if s.cfg.OnGroup != nil {
			s.cfg.OnGroup(g, nil)
		}
	}
	errs := rep.Errors
	if errs == nil {
		errs = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"new": rep.New, "had": rep.Had, "refused": rep.Refused,
		"waiting": rep.Waiting, "followed": followed, "errors": errs})
	return nil
}
