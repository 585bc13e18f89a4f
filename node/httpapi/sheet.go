package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/node/sheet"
	"github.com/mutual-aid/mutual/node/store"
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
			ID:       p.ID.String(),
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

// GET /api/v1/posts.csv?group=&kind=&status=&category=&q=&limit=&after=
// → the posts the board's filters select (as GET /api/v1/posts), as CSV
// under sheet.Header. The ID column is what lets the file be imported
// back without making a post twice.
func (s *Server) exportCSV(w http.ResponseWriter, r *http.Request) error {
	posts, err := s.boardPosts(r)
	if err != nil {
		return err
	}
	rows := s.viewer(r).rows(posts)
	if r.URL.Query().Get("group") == "" {
		s.nameGroups(posts, rows)
	}
	var buf bytes.Buffer
	if err := sheet.Write(&buf, rows); err != nil {
		return err
	}
	name := "mutual-board.csv"
	if g := r.URL.Query().Get("group"); g != "" {
		if gi, err := s.group(g, false); err == nil {
			name = "mutual-" + gi.ID.Short() + ".csv"
		}
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
	return nil
}

// nameGroups fills the Group cell of an export of several groups (no
// group= and a node that holds more than one): each row's group by its
// name, or by its full ID where another group here has the same name,
// so that importing the file back sends each row to its group.
func (s *Server) nameGroups(posts []*crdt.Post, rows []sheet.Row) {
	groups := s.cfg.Board.Groups()
	if len(groups) < 2 {
		return
	}
	names := map[string]int{}
	for _, gi := range groups {
		names[strings.ToLower(gi.Name)]++
	}
	cell := map[crdt.ID]string{}
	for _, gi := range groups {
		cell[gi.ID] = gi.ID.String()
		if gi.Name != "" && names[strings.ToLower(gi.Name)] == 1 && !isHex(strings.ToLower(gi.Name)) {
			cell[gi.ID] = gi.Name
		}
	}
	for i, p := range posts {
		rows[i].Group = cell[p.Group]
	}
}

type rowErrorJSON struct {
	Row   int    `json:"row"`
	Error string `json:"error"`
}

// Fates of a row in an import's answer.
const (
	fateImported  = "imported"  // a new post (in a dry run: would be)
	fateDuplicate = "duplicate" // the post is already on the board: nothing written
	fateCompleted = "completed" // the post was there without its status, which was added
	fateError     = "error"     // not imported: see error
)

type rowFateJSON struct {
	Row   int    `json:"row"`
	Fate  string `json:"fate"`
	ID    string `json:"id,omitempty"`    // the post, when there is one
	Group string `json:"group,omitempty"` // the group the row went to, when the sheet has a Group column
	Error string `json:"error,omitempty"`
}

// groupCountJSON is what an import did in one group, for a sheet with a
// Group column.
type groupCountJSON struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Imported   int    `json:"imported"`
	Duplicates int    `json:"duplicates"`
	Completed  int    `json:"completed"`
}

type columnJSON struct {
	Column int    `json:"column"` // 1-based
	Header string `json:"header"`
	Field  string `json:"field"` // "" when the column is not used
}

// previewJSON is a row as it would be imported.
type previewJSON struct {
	Row      int    `json:"row"`
	ID       string `json:"id,omitempty"`
	Kind     string `json:"kind"`
	Title    string `json:"title"`
	Details  string `json:"details"`
	Category string `json:"category"`
	Location string `json:"location"`
	Quantity uint32 `json:"quantity"`
	Urgency  string `json:"urgency"`
	Expires  string `json:"expires"`
	Contact  string `json:"contact"`
	Status   string `json:"status"`
	Group    string `json:"group,omitempty"` // the Group cell, as written
}

type importJSON struct {
	DryRun        bool           `json:"dry_run"`
	Columns       []columnJSON   `json:"columns"`
	Kind          string         `json:"kind"`      // of rows that do not say
	KindFrom      string         `json:"kind_from"` // "default" (kind=) or the header that said
	Warnings      []string       `json:"warnings"`
	Imported      int            `json:"imported"`
	Duplicates    int            `json:"duplicates"`
	Completed     int            `json:"completed"`
	CompletedRows []int          `json:"completed_rows"`
	Errors        []rowErrorJSON `json:"errors"`
	Rows          []rowFateJSON  `json:"rows"`    // every row's fate, in file order
	Preview       []previewJSON  `json:"preview"` // the first rows as imported
	// Groups, for a sheet with a Group column, counts each group's rows.
	Groups []groupCountJSON `json:"groups,omitempty"`
}

// previewRows is how many rows an import's answer shows as imported.
const previewRows = 10

// POST /api/v1/import/csv?group=&kind=&dry_run=&lines= body: CSV →
// {dry_run, columns, kind, kind_from, warnings, imported, duplicates,
// completed, completed_rows, errors, rows, preview}
//
// The sheet is read as node/sheet reads it: columns maps each header
// cell to the post field it feeds ("" for one not used: warnings names
// it). kind=need|offer is the kind of rows whose Type cell is empty, and
// of every row of a sheet with no Type column; without it, such a sheet
// must name its kind in a header ("What can you offer?") or it is
// refused (400). Every row is either imported or reported: rows lists
// each row's line and fate (imported, duplicate, completed or error, with
// the post's ID or the reason), errors the refused ones again.
//
// dry_run=1 writes nothing and answers the same, with the fates the
// rows would have, and preview the first rows as they would be imported.
//
// Each row becomes a post keyed by its Ref, with its status, in one
// commit; importing the same file again adds nothing and reports
// duplicates. A row with a post ID (the ID column of GET
// /api/v1/posts.csv) is that post: when it is on this group's board the
// row is a duplicate and nothing is written, whatever the row's cells
// say (the board's own history is newer than any file); otherwise the
// post is made from the row, keyed by the ID, once. A row whose post is
// there without its status (left so by an import of older versions that
// stopped between the two) gets the status, and is reported as completed
// with its line. A row the board refuses is reported with its line and
// the rest go on; an error of the node itself (closing, disk) stops the
// import and is the answer, and the rows written before it stay
// (importing the file again completes it). A row that would be open or
// claimed with an expiry that has passed is refused: it would never show.
//
// Big files in parts (for progress): send the whole file each time with
// lines=A-B (or lines=A- for the rest); only the rows that start on lines
// A to B of the file (the header is line 1) are imported and reported,
// with their lines in the file. Refs are the whole file's, so importing
// in parts, in any order, any number of times, is the same as importing
// the file once. (A part cut out of the file with the header copied on
// top would not do: two identical rows are two posts only when the
// reader sees both.)
//
// A sheet with a Group column (an export of several groups, GET
// /api/v1/posts.csv with no group=) sends each row to the group its cell
// names — by name, ID or unique ID prefix, as group= does — and a row
// whose cell is empty to group= (or the node's only group). A row naming
// a group this node follows but is no member of, or one it does not
// hold, is an error row saying so; nothing is dropped. rows then carry
// each row's group, and groups counts each group's rows.
func (s *Server) importCSV(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var gi replica.GroupInfo
	var defErr error // no group= and no single group: fatal unless every row names its own
	var err error
	if name := q.Get("group"); name != "" {
		if gi, err = s.group(name, true); err != nil {
			return err
		}
	} else {
		gi, defErr = s.group("", true)
	}
	opt := sheet.ReadOptions{Now: s.now()}
	if k := q.Get("kind"); k != "" {
		kind, ok := crdt.ParsePostKind(strings.ToLower(k))
		if !ok {
			return inputErr("kind: %q is not need or offer", k)
		}
		opt.DefaultKind = kind.String()
	}
	dry := false
	switch d := q.Get("dry_run"); d {
	case "", "0", "false":
	case "1", "true":
		dry = true
	default:
		return inputErr("dry_run: %q is not 1 or 0", d)
	}
	if l := q.Get("lines"); l != "" {
		if opt.FromLine, opt.ToLine, err = parseLines(l); err != nil {
			return err
		}
	}
	sh, err := sheet.Parse(http.MaxBytesReader(w, r.Body, maxCSVBody), opt)
	if err != nil {
		return err
	}
	rows := sh.Rows
	byCell := slices.ContainsFunc(sh.Columns, func(c sheet.Column) bool { return c.Field == "group" })
	if defErr != nil && !byCell {
		return defErr
	}
	results := make([]rowResult, len(rows))
	targets, used := s.rowGroups(rows, gi, defErr, results)
	// Each row is checked as the API checks a post, then written (unless
	// this is a dry run) by a few workers at once, so that the replica's
	// group commit turns many rows into one fsync.
	now := s.now()
	known := map[crdt.ID]map[string]crdt.ID{} // a dry run's Refs on the boards
	if dry {
		for _, g := range slices.Compact(slices.SortedFunc(slices.Values(targets), crdt.ID.Compare)) {
			if g.IsZero() {
				continue
			}
			if known[g], err = s.refs(g); err != nil {
				return err
			}
		}
	}
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	sem := make(chan struct{}, importWorkers)
	var wg sync.WaitGroup
	for i := range rows {
		if ctx.Err() != nil {
			break
		}
		if results[i].err != nil {
			continue // no group to go to
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			res := s.importRow(ctx, targets[i], &rows[i], now, dry, known[targets[i]])
			if res.err != nil && statusOf(res.err) != http.StatusBadRequest {
				cancel(res.err)
			}
			results[i] = res
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	out := importJSON{DryRun: dry, Kind: sh.Kind, KindFrom: sh.KindFrom, Warnings: nonNil(sh.Warnings),
		CompletedRows: []int{}, Errors: []rowErrorJSON{}, Rows: []rowFateJSON{}, Preview: []previewJSON{}}
	for _, c := range sh.Columns {
		out.Columns = append(out.Columns, columnJSON{c.Index + 1, c.Header, c.Field})
	}
	for _, b := range sh.Bad {
		out.Errors = append(out.Errors, rowErrorJSON{b.Line, b.Err})
		out.Rows = append(out.Rows, rowFateJSON{Row: b.Line, Fate: fateError, Error: b.Err})
	}
	counts := make([]groupCountJSON, len(used))
	for i, g := range used {
		counts[i] = groupCountJSON{ID: g.ID.String(), Name: g.Name}
	}
	count := func(g crdt.ID) *groupCountJSON {
		for i := range used {
			if used[i].ID == g {
				return &counts[i]
			}
		}
		return &groupCountJSON{}
	}
	for i, res := range results {
		line := rows[i].Line
		f := rowFateJSON{Row: line}
		if !res.id.IsZero() {
			f.ID = res.id.String()
		}
		if res.err != nil {
			out.Errors = append(out.Errors, rowErrorJSON{line, res.err.Error()})
			f.Fate, f.Error = fateError, res.err.Error()
			out.Rows = append(out.Rows, f)
			continue
		}
		if byCell {
			f.Group = targets[i].String()
		}
		c := count(targets[i])
		switch res.what {
		case replica.ImportedNew:
			out.Imported++
			c.Imported++
			f.Fate = fateImported
		case replica.ImportedHad:
			out.Duplicates++
			c.Duplicates++
			f.Fate = fateDuplicate
		case replica.ImportedCompleted:
			out.Completed++
			c.Completed++
			out.CompletedRows = append(out.CompletedRows, line)
			f.Fate = fateCompleted
		}
		out.Rows = append(out.Rows, f)
		if len(out.Preview) < previewRows {
			out.Preview = append(out.Preview, preview(&rows[i]))
		}
	}
	if byCell {
		out.Groups = counts
	}
	slices.SortStableFunc(out.Errors, func(a, b rowErrorJSON) int { return cmp.Compare(a.Row, b.Row) })
	slices.SortStableFunc(out.Rows, func(a, b rowFateJSON) int { return cmp.Compare(a.Row, b.Row) })
	writeJSON(w, http.StatusOK, out)
	return nil
}

// rowGroups finds each row's group: the one its Group cell names, else
// def (group=, or the node's only group), whose absence (defErr) is then
// the row's error. A row with no group gets its error in results. used
// lists the groups rows go to, in the order the sheet first names them.
func (s *Server) rowGroups(rows []sheet.Row, def replica.GroupInfo, defErr error, results []rowResult) (targets []crdt.ID, used []replica.GroupInfo) {
	targets = make([]crdt.ID, len(rows))
	found := map[string]sheetTarget{} // a Group cell (lower case) → its group, or why not
	use := func(id crdt.ID) {
		if !slices.ContainsFunc(used, func(u replica.GroupInfo) bool { return u.ID == id }) {
			if id == def.ID {
				used = append(used, def)
			} else if g, err := s.cfg.Board.Group(id); err == nil {
				used = append(used, g)
			}
		}
	}
	for i := range rows {
		cell := rows[i].Group
		if cell == "" {
			if defErr != nil {
				results[i].err = inputErr("the Group cell is empty and the import names no group (group=): %v", defErr)
				continue
			}
			targets[i] = def.ID
			use(def.ID)
			continue
		}
		key := strings.ToLower(cell)
		t, ok := found[key]
		if !ok {
			t = s.sheetGroup(cell)
			found[key] = t
		}
		if results[i].err, targets[i] = t.err, t.id; t.err == nil {
			use(t.id)
		}
	}
	return targets, used
}

// sheetGroup finds the group a row's Group cell names, as group= is
// found: the group if this node is a member of it, else why the row
// cannot go there (a bad-input error, so that the import goes on).
func (s *Server) sheetGroup(cell string) sheetTarget {
	gi, err := s.findGroup(cell)
	switch {
	case err != nil && statusOf(err) == http.StatusBadRequest:
		return sheetTarget{err: inputErr("group: %v", err)}
	case err != nil:
		return sheetTarget{err: inputErr("group %q: this node holds no such group; its groups: %s", cell, listGroups(s.cfg.Board.Groups()))}
	case gi.Relation != store.Member:
		return sheetTarget{err: inputErr("group %q: %v", cell, &replica.FollowerError{Group: gi.Name})}
	case gi.Role == 0:
		// Its rows are this row's problem, not the whole import's (a 403
		// would stop it).
		return sheetTarget{err: inputErr("group %q: this node may not write there: its join is not confirmed yet, or it is no longer a member", cell)}
	}
	return sheetTarget{id: gi.ID}
}

// sheetTarget is the group a Group cell names, or why a row cannot go
// there.
type sheetTarget struct {
	id  crdt.ID
	err error
}

// parseLines reads lines=A-B, A- or A.
func parseLines(s string) (from, to int, err error) {
	a, b, dash := strings.Cut(s, "-")
	from, err1 := strconv.Atoi(a)
	to = from
	var err2 error
	if dash {
		to = 0
		if b != "" {
			to, err2 = strconv.Atoi(b)
		}
	}
	if err1 != nil || err2 != nil || from < 1 || (to != 0 && to < from) {
		return 0, 0, inputErr("lines: %q is not a range of lines like 2-500 or 501-", s)
	}
	return from, to, nil
}

func preview(row *sheet.Row) previewJSON {
	p := previewJSON{Row: row.Line, ID: row.ID, Kind: row.Kind, Title: row.Title, Details: row.Details,
		Category: row.Category, Location: row.Location, Quantity: row.Quantity, Urgency: row.Urgency,
		Contact: row.Contact, Status: row.Status, Group: row.Group}
	if !row.Expires.IsZero() {
		p.Expires = fmtTime(row.Expires)
	}
	return p
}

// refs maps the import keys of a group's posts to the posts, for a dry
// run to tell which rows the board has.
func (s *Server) refs(group crdt.ID) (map[string]crdt.ID, error) {
	posts, err := s.cfg.Board.Posts(replica.Filter{Group: group})
	if err != nil {
		return nil, err
	}
	m := make(map[string]crdt.ID, len(posts))
	for _, p := range posts {
		if p.Ref != "" {
			m[p.Ref] = p.ID
		}
	}
	return m, nil
}

// importWorkers is how many rows an import writes at once.
const importWorkers = 16

type rowResult struct {
	what replica.Imported
	id   crdt.ID // the post
	err  error
}

// importRow checks the post of one row as the API checks a post and
// writes it with its status, unless dry, and says what it did (or would
// do: known holds the board's Refs then).
func (s *Server) importRow(ctx context.Context, group crdt.ID, row *sheet.Row, now time.Time, dry bool, known map[string]crdt.ID) rowResult {
	in, err := rowInput(row, now)
	if err != nil {
		return rowResult{err: err}
	}
	if row.ID != "" {
		id, err := crdt.ParseID(row.ID)
		if err != nil {
			return rowResult{err: inputErr("ID %q is not a post ID", row.ID)}
		}
		p, err := s.cfg.Board.Post(id)
		switch {
		case err == nil && p.Group == group:
			return rowResult{what: replica.ImportedHad, id: id}
		case err != nil && statusOf(err) != http.StatusNotFound:
			return rowResult{err: err}
		}
	}
	if dry {
		if id, ok := known[in.Ref]; ok {
			return rowResult{what: replica.ImportedHad, id: id}
		}
		return rowResult{what: replica.ImportedNew}
	}
	p, what, err := s.cfg.Board.ImportPost(ctx, group, in)
	res := rowResult{what: what, err: err}
	if p != nil {
		res.id = p.ID
	}
	return res
}

// rowInput makes a row into the post to import, with the checks a post
// made through the API gets (fields.go).
func rowInput(row *sheet.Row, now time.Time) (replica.PostInput, error) {
	in := replica.PostInput{
		Fields: crdt.Fields{Quantity: row.Quantity},
		Ref:    row.Ref,
	}
	var err error
	for _, f := range []struct {
		name string
		v    string
		max  int
		line bool
		dst  *string
	}{
		{"title", row.Title, protocol.MaxTitle, true, &in.Fields.Title},
		{"details", row.Details, protocol.MaxDetails, false, &in.Fields.Details},
		{"category", row.Category, protocol.MaxCategory, true, &in.Fields.Category},
		{"location", row.Location, protocol.MaxLocation, true, &in.Fields.Location},
		{"contact", row.Contact, protocol.MaxContact, true, &in.Fields.Contact},
	} {
		if f.line {
			*f.dst, err = oneLine(f.name, f.v, f.max)
		} else {
			*f.dst, err = textBlock(f.name, f.v, f.max)
		}
		if err != nil {
			return in, err
		}
	}
	var ok bool
	if in.Kind, ok = crdt.ParsePostKind(row.Kind); !ok {
		return in, inputErr("kind %q is neither need nor offer", row.Kind)
	}
	if in.Fields.Urgency, ok = crdt.ParseUrgency(row.Urgency); !ok {
		return in, inputErr("urgency %q is not low, normal or high", row.Urgency)
	}
	if row.Status != "" {
		if in.Status, ok = crdt.ParseStatus(row.Status); !ok {
			return in, inputErr("status %q is not open, claimed, fulfilled or withdrawn", row.Status)
		}
	}
	if !row.Expires.IsZero() {
		in.Fields.Expires = row.Expires.UnixMilli()
		if y := row.Expires.UTC().Year(); y < 1971 || y > 9999 {
			return in, inputErr("expires: year %d is out of range", y)
		}
		if (in.Status == crdt.Open || in.Status == crdt.Claimed) && in.Fields.Expires <= now.UnixMilli() {
			return in, inputErr("expires %s has passed: an open post that expired never shows on the board (mark the row done or cancelled, or give a later date)",
				fmtTime(row.Expires))
		}
	}
	if len(in.Ref) > protocol.MaxRef {
		return in, inputErr("import key is over %d bytes", protocol.MaxRef)
	}
	if err := protocol.CheckFields(&in.Fields); err != nil {
		return in, inputErr("%v", err)
	}
	return in, nil
}
