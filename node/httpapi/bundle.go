package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/protocol"
)

// maxBundleBody caps an uploaded bundle.
const maxBundleBody = 256 << 20

// GET /api/v1/bundle?group=&since=|for= -> a bundle of the group's signed
// ops (all groups when group is omitted), for `mutual export`. With since,
// a summary's text (GET /api/v1/summary on the node that will import it),
// only the ops that node lacks, of the groups it names (or of group); for
// names that node by a prefix of its key, whose last receipt this node
// read (POST /api/v1/receipts), and its summary then is the one used.
func (s *Server) exportBundle(w http.ResponseWriter, r *http.Request) error {
	var groups []crdt.ID
	for _, g := range r.URL.Query()["group"] {
		gi, err := s.group(g, false)
		if err != nil {
			return err
		}
		groups = append(groups, gi.ID)
	}
	var since *protocol.Summary
	q := r.URL.Query()
	switch text, node := q.Get("since"), q.Get("for"); {
	case text != "" && node != "":
		return inputErr("give since or for, not both")
	case text != "":
		var err error
		if since, err = protocol.ParseSummaryText(text); err != nil {
			return inputErr("since: %v", err)
		}
	case node != "":
		if s.cfg.Receipts == nil {
			return errorf(errNotFound, "this node keeps no receipts")
		}
		rc, err := s.cfg.Receipts.Find(node)
		if err != nil {
			return errorf(errNotFound, "%v", err)
		}
		since = &rc.Summary
	}
	// Build it first, so that an error is still a clean 4xx/5xx.
	var buf bytes.Buffer
	n, err := s.cfg.Board.ExportSince(&buf, groups, since)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Mutual-Ops", strconv.Itoa(n))
	_, err = w.Write(buf.Bytes())
	return err
}

// GET /api/v1/summary?group= (repeatable) -> {code, bytes, groups[{id,
// name, authors, ops, evidence}]}: what this node holds (every group
// when group is omitted), as the text another node's `mutual export
// --since` reads.
func (s *Server) summary(w http.ResponseWriter, r *http.Request) error {
	var groups []crdt.ID
	for _, g := range r.URL.Query()["group"] {
		gi, err := s.group(g, false)
		if err != nil {
			return err
		}
		groups = append(groups, gi.ID)
	}
	sum, err := s.cfg.Board.Summary(groups)
	if err != nil {
		return err
	}
	code, err := protocol.SummaryText(sum)
	if err != nil {
		return err
	}
	type groupOut struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Authors  int    `json:"authors"`
		Ops      uint64 `json:"ops"`
		Evidence int    `json:"evidence"`
	}
	out := []groupOut{}
	for _, g := range s.cfg.Board.Groups() {
		gs, ok := sum.Find(protocol.PrefixOf(g.ID))
		if !ok {
			continue
		}
		o := groupOut{ID: g.ID.String(), Name: g.Name, Authors: len(gs.Authors), Evidence: len(gs.Evidence)}
		for _, a := range gs.Authors {
			o.Ops += a.Seq
		}
		out = append(out, o)
	}
	writeJSON(w, http.StatusOK, map[string]any{"code": code, "bytes": len(code) - len(protocol.SummaryPrefix), "groups": out})
	return nil
}

// POST /api/v1/bundle?receipt=1 (application/octet-stream) -> {new, had,
// refused, waiting, followed[], errors[], groups[], cut, receipt?}: every
// op validated as from the network. groups has each group's counts and
// its refused ops (frame, index, op, author, seq, reason); cut, if not
// empty, says why the import stopped before the end of a damaged bundle
// (the ops before it were imported); receipt, when asked for, is the
// signed receipt file, base64, for the node that made the bundle.
func (s *Server) importBundle(w http.ResponseWriter, r *http.Request) error {
	// The body is read as it is ingested, which takes longer than
	// ReadTimeout for a large bundle.
	// When the node stops, the request's context ends: a read blocked on
	// a slow client must end too, or the store would wait for it.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(importReadTimeout))
	defer context.AfterFunc(r.Context(), func() { _ = rc.SetReadDeadline(time.Now()) })()
	rep, err := s.cfg.Board.Import(r.Context(), http.MaxBytesReader(w, r.Body, maxBundleBody))
	if rep.New > 0 && s.cfg.OnImport != nil {
		s.cfg.OnImport()
	}
	if err != nil && r.Context().Err() != nil {
		return errorf(errBusy, "the node stopped during the import; the ops stored so far stay, import the bundle again for the rest (%v)", err)
	}
	if err != nil && !errors.Is(err, replica.ErrDamaged) {
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
	out := map[string]any{"new": rep.New, "had": rep.Had, "refused": rep.Refused,
		"waiting": rep.Waiting, "followed": followed, "errors": errs, "groups": groupReceipts(rep.Groups), "cut": rep.Cut}
	if r.URL.Query().Get("receipt") != "" {
		b, err := s.cfg.Board.Receipt(&rep)
		if err != nil {
			return err
		}
		out["receipt"] = base64.StdEncoding.EncodeToString(b)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// ReceiptGroup is a group's part of an import report or receipt in JSON.
type ReceiptGroup struct {
	Group    string       `json:"group"`
	Name     string       `json:"name"`
	New      uint64       `json:"new"`
	Had      uint64       `json:"had"`
	Waiting  uint64       `json:"waiting"`
	Refused  uint64       `json:"refused"`
	Refusals []RefusalOut `json:"refusals"`
}

// RefusalOut is one refused op in JSON; op and author are empty when the
// op could not be read that far.
type RefusalOut struct {
	Frame  uint64 `json:"frame"`
	Index  uint64 `json:"index"`
	Op     string `json:"op,omitempty"`
	Author string `json:"author,omitempty"`
	Seq    uint64 `json:"seq,omitempty"`
	Reason string `json:"reason"`
}

// groupReceipts renders receipt groups as JSON.
func groupReceipts(gs []protocol.GroupReceipt) []ReceiptGroup {
	out := make([]ReceiptGroup, 0, len(gs))
	for _, g := range gs {
		o := ReceiptGroup{Group: g.Group.String(), Name: g.Name, New: g.New, Had: g.Had, Waiting: g.Waiting, Refused: g.Refused, Refusals: []RefusalOut{}}
		for _, x := range g.Refusals {
			ro := RefusalOut{Frame: x.Frame, Index: x.Index, Seq: x.Seq, Reason: x.Reason}
			if x.Op != (crdt.ID{}) {
				ro.Op = x.Op.String()
			}
			if x.Author != (crdt.PublicKey{}) {
				ro.Author = x.Author.String()
			}
			o.Refusals = append(o.Refusals, ro)
		}
		out = append(out, o)
	}
	return out
}

// ReceiptBook keeps the receipts of the nodes this node sent bundles to
// (node.Receipts).
type ReceiptBook interface {
	// Remember checks a receipt and keeps it unless a newer one of its
	// node is kept; kept says whether it is now the one kept.
	Remember(raw []byte) (rc *protocol.Receipt, kept bool, err error)
	// Find returns the receipt kept of the node whose key starts with a
	// hex prefix.
	Find(node string) (*protocol.Receipt, error)
}

// maxReceiptBody caps an uploaded receipt.
const maxReceiptBody = protocol.MaxReceiptBytes

// POST /api/v1/receipts (application/octet-stream: a receipt file) ->
// {node, time, groups[], cut, kept}: what a bundle this node made brought
// to the node that imported it. The receipt's signature is checked, and
// it is kept (kept: true) unless a newer one of that node is, so that
// GET /api/v1/bundle?for=NODE carries only what that node still lacks.
func (s *Server) readReceipt(w http.ResponseWriter, r *http.Request) error {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxReceiptBody))
	if err != nil {
		return err
	}
	var rc *protocol.Receipt
	kept := false
	if s.cfg.Receipts != nil {
		rc, kept, err = s.cfg.Receipts.Remember(raw)
	} else {
		rc, err = protocol.DecodeReceipt(raw)
	}
	if err != nil {
		return inputErr("%v", err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"node": rc.Node.String(), "time": time.UnixMilli(int64(rc.Time)).UTC().Format(time.RFC3339),
		"groups": groupReceipts(rc.Groups), "cut": rc.Cut, "kept": kept})
	return nil
}
