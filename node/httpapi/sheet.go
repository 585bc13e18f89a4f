package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/node/sheet"
	"github.com/mutual-aid/mutual/protocol"
)

// rows turns posts into spreadsheet rows. Contacts go in only where this
// node may show them.
func (v *viewer) rows(posts []*crdt.Post) []sheet.Row {
	rows := make([]sheet.Row, len(posts))
	for i, p := range posts {
		r := sheet.Row{
			Kind:     p.Kind.String(),
			Title:    p.Title.V,
			Details:  p.Details.V,
			Category: p.Category.V,
			Location: p.Location.V,
			Quantity: p.Quantity.V,
			Urgency:  p.Urgency.V.String(),
			Status:   p.State().String(),
			Ref:      p.Ref,
		}
		if p.Expires.V != 0 {
			r.Expires = time.UnixMilli(p.Expires.V).UTC()
		}
		if v.canSeeContact(p) {
			r.Contact = p.Contact.V
		}
		rows[i] = r
	}
	return rows
}

// GET /api/v1/digest?group= → the open board as plain text
func (s *Server) digest(w http.ResponseWriter, r *http.Request) error {
	gi, err := s.group(r.URL.Query().Get("group"), false)
	if err != nil {
		return err
	}
	now := s.now()
	posts, err := s.cfg.Board.Posts(replica.Filter{Group: gi.ID, OpenOnly: true, Now: now.UnixMilli()})
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := sheet.Digest(&buf, gi.Name, s.viewer(r).rows(posts), now); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
	return nil
}

// GET /api/v1/posts.csv?group= → every post of the group as CSV
func (s *Server) exportCSV(w http.ResponseWriter, r *http.Request) error {
	gi, err := s.group(r.URL.Query().Get("group"), false)
	if err != nil {
		return err
	}
	posts, err := s.cfg.Board.Posts(replica.Filter{Group: gi.ID, Now: s.now().UnixMilli()})
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := sheet.Write(&buf, s.viewer(r).rows(posts)); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="mutual-`+gi.ID.Short()+`.csv"`)
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
	return nil
}

type rowErrorJSON struct {
	Row   int    `json:"row"`
	Error string `json:"error"`
}

type importJSON struct {
	Imported      int            `json:"imported"`
	Duplicates    int            `json:"duplicates"`
	Completed     int            `json:"completed"`
	CompletedRows []int          `json:"completed_rows"`
	Errors        []rowErrorJSON `json:"errors"`
}

// POST /api/v1/import/csv?group= body: CSV →
// {imported, duplicates, completed, completed_rows, errors}
//
// Each row becomes a post keyed by its Ref, with its status, in one
// commit; importing the same file again adds nothing and reports
// duplicates. A row whose post is there without its status (left so by
// an import of older versions that stopped between the two) gets the
// status, and is reported as completed with its line. A row the board
// refuses is reported with its line and the rest go on; an error of the
// node itself (closing, disk) stops the import and is the answer, and the
// rows written before it stay (importing the file again completes it).
func (s *Server) importCSV(w http.ResponseWriter, r *http.Request) error {
	gi, err := s.group(r.URL.Query().Get("group"), true)
	if err != nil {
		return err
	}
	rows, bad, err := sheet.Read(http.MaxBytesReader(w, r.Body, maxCSVBody), sheet.ReadOptions{})
	if err != nil {
		return err
	}
	// Rows are written by a few workers at once, so that the replica's
	// group commit turns many rows into one fsync.
	type result struct {
		what replica.Imported
		err  error
	}
	results := make([]result, len(rows))
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	sem := make(chan struct{}, importWorkers)
	var wg sync.WaitGroup
	for i := range rows {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			what, err := s.importRow(ctx, gi.ID, &rows[i])
			if err != nil && statusOf(err) != http.StatusBadRequest {
				cancel(err)
			}
			results[i] = result{what, err}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	out := importJSON{CompletedRows: []int{}, Errors: []rowErrorJSON{}}
	for _, b := range bad {
		out.Errors = append(out.Errors, rowErrorJSON{b.Line, b.Err})
	}
	for i, res := range results {
		if res.err != nil {
			out.Errors = append(out.Errors, rowErrorJSON{rows[i].Line, res.err.Error()})
			continue
		}
		switch res.what {
		case replica.ImportedNew:
			out.Imported++
		case replica.ImportedHad:
			out.Duplicates++
		case replica.ImportedCompleted:
			out.Completed++
			out.CompletedRows = append(out.CompletedRows, rows[i].Line)
		}
	}
	slices.SortStableFunc(out.Errors, func(a, b rowErrorJSON) int { return cmp.Compare(a.Row, b.Row) })
	writeJSON(w, http.StatusOK, out)
	return nil
}

// importWorkers is how many rows an import writes at once.
const importWorkers = 16

// importRow writes the post of one row, with its status, and says what
// it did.
func (s *Server) importRow(ctx context.Context, group crdt.ID, row *sheet.Row) (replica.Imported, error) {
	in := replica.PostInput{
		Fields: crdt.Fields{
			Title:    row.Title,
			Details:  row.Details,
			Category: row.Category,
			Location: row.Location,
			Contact:  row.Contact,
			Quantity: row.Quantity,
		},
		Ref: row.Ref,
	}
	var ok bool
	if in.Kind, ok = crdt.ParsePostKind(row.Kind); !ok {
		return 0, inputErr("kind %q is neither need nor offer", row.Kind)
	}
	if in.Fields.Urgency, ok = crdt.ParseUrgency(row.Urgency); !ok {
		return 0, inputErr("urgency %q is not low, normal or high", row.Urgency)
	}
	if row.Status != "" {
		if in.Status, ok = crdt.ParseStatus(row.Status); !ok {
			return 0, inputErr("status %q is not open, claimed, fulfilled or withdrawn", row.Status)
		}
	}
	if !row.Expires.IsZero() {
		in.Fields.Expires = row.Expires.UnixMilli()
	}
	if len(in.Ref) > protocol.MaxRef {
		return 0, inputErr("import key is over %d bytes", protocol.MaxRef)
	}
	if err := protocol.CheckFields(&in.Fields); err != nil {
		return 0, inputErr("%v", err)
	}
	_, what, err := s.cfg.Board.ImportPost(ctx, group, in)
	return what, err
}
