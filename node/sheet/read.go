package sheet

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ReadOptions tunes Read. The zero value works.
type ReadOptions struct {
	// DefaultKind is the kind of a row whose Type cell is empty, and of
	// every row of a sheet with no Type column: "need", "offer", or ""
	// for none. With "", a sheet with no Type column takes the kind its
	// headers name ("What can you offer?" makes a sheet of offers,
	// "What do you need?" one of needs) and, when they name none or
	// both, is not read at all (ErrNoKind); a row with an empty Type
	// cell is a bad row.
	DefaultKind string
	// Location is the time zone of dates and times written without one.
	// nil means UTC.
	Location *time.Location
	// Now is when the sheet is read: a date written without a year
	// ("25 dic", "3 de enero") is the nearest such day to it. The zero
	// value means the clock's time.
	Now time.Time
	// FromLine and ToLine, when not 0, keep only the rows that start on
	// those lines of the file (both included): the rest are read (so
	// that Refs are the same as when the whole file is read) but neither
	// returned nor reported. This is how a big file is imported in
	// parts.
	FromLine, ToLine int
}

// A Column is one header cell and what it feeds.
type Column struct {
	Index  int    // 0-based
	Header string // as written
	// Field is the post field the column feeds: kind, title, details,
	// category, location, quantity, urgency, expires, contact,
	// contact_name and contact_method (both go into contact), status,
	// timestamp (checked, part of the Ref), id (a post ID, as Write
	// writes it) or "" for a column that is not used.
	Field string
}

// Sheet is a spreadsheet as Parse read it.
type Sheet struct {
	Columns []Column
	// Kind is the kind of the rows without a Type cell, and KindFrom
	// where it came from: "default" (ReadOptions.DefaultKind) or the
	// header that named it. Both are "" when such rows are bad.
	Kind, KindFrom string
	// Warnings are what the reader did not use or had to guess: each
	// column it does not use, the kind taken from a header, the date
	// order taken for D/M/YYYY dates.
	Warnings []string
	Rows     []Row
	Bad      []RowError
}

// maxHeaderSearch is how many non-empty records Read looks through for
// the header, so that a title row above it ("Requests - November") does
// not stop an import.
const maxHeaderSearch = 5

// Read reads a spreadsheet exported as CSV (comma, semicolon or tab
// separated, UTF-8 with or without a byte-order mark). It returns the
// rows it could import and the rows it could not, each with its line and
// the reason; see the package doc for the mapping. err is non-nil only
// when the file as a whole cannot be read, and then no rows are
// returned. Parse returns the same and how the columns were mapped.
func Read(r io.Reader, opt ReadOptions) (rows []Row, bad []RowError, err error) {
	sh, err := Parse(r, opt)
	if err != nil {
		return nil, nil, err
	}
	return sh.Rows, sh.Bad, nil
}

// record is a CSV record with the line it starts on, or the error that
// stopped it.
type record struct {
	line  int
	cells []string
	err   string
}

// Parse is Read, with the column mapping and the warnings.
func Parse(r io.Reader, opt ReadOptions) (*Sheet, error) {
	switch opt.DefaultKind {
	case "", KindNeed, KindOffer:
	default:
		return nil, fmt.Errorf("sheet: ReadOptions.DefaultKind %q is neither need nor offer", opt.DefaultKind)
	}
	loc := opt.Location
	if loc == nil {
		loc = time.UTC
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("sheet: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("sheet: %w", ErrTooLarge)
	}
	if bytes.HasPrefix(data, []byte{0xff, 0xfe}) || bytes.HasPrefix(data, []byte{0xfe, 0xff}) {
		return nil, fmt.Errorf("sheet: %w: it is UTF-16; save it as \"CSV UTF-8\"", ErrNotCSV)
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, fmt.Errorf("sheet: %w: it holds NUL bytes (a binary file?)", ErrNotCSV)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("sheet: %w: the file is empty", ErrNoHeader)
	}

	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma = sniffComma(data)
	cr.FieldsPerRecord = -1 // a short row is reported, not fatal

	l, err := readHeader(cr)
	if err != nil {
		return nil, fmt.Errorf("sheet: %w", err)
	}
	l.now = opt.Now
	if l.now.IsZero() {
		l.now = time.Now()
	}
	sh := &Sheet{Columns: l.columns()}
	for i, c := range sh.Columns {
		if c.Field == "" && strings.TrimSpace(c.Header) != "" {
			sh.Warnings = append(sh.Warnings, fmt.Sprintf("column %d %s is not used: no post field goes by that name", i+1, quote(c.Header)))
		}
	}
	switch {
	case opt.DefaultKind != "":
		sh.Kind, sh.KindFrom = opt.DefaultKind, "default"
	case l.hint != "":
		sh.Kind, sh.KindFrom = l.hint, l.hintFrom
		what := "no column says need or offer: every row is taken as"
		if len(l.cols[roleKind]) > 0 {
			what = "a row with an empty " + l.colName(roleKind, l.cols[roleKind][0]) + " is taken as"
		}
		sh.Warnings = append(sh.Warnings, fmt.Sprintf("%s %s, as the header %s says", what, article(l.hint), quote(l.hintFrom)))
	case len(l.cols[roleKind]) > 0:
		// each row says; an empty cell is a bad row
	default:
		return nil, fmt.Errorf("sheet: %w (the header reads %s)", ErrNoKind, quoteList(l.names, 12))
	}

	var recs []record
	for n := 0; ; n++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if n >= MaxRows {
			return nil, fmt.Errorf("sheet: %w", ErrTooManyRows)
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, fmt.Errorf("sheet: %w", err)
			}
			recs = append(recs, record{line: pe.StartLine, err: "not valid CSV: " + pe.Err.Error()})
			continue
		}
		line, _ := cr.FieldPos(0)
		recs = append(recs, record{line: line, cells: rec})
	}
	l.dayFirst = l.dateOrder(recs)
	if l.dayFirst {
		sh.Warnings = append(sh.Warnings, "dates like 3/4/2026 are read day first (3 April)")
	}

	in := func(line int) bool {
		return (opt.FromLine == 0 || line >= opt.FromLine) && (opt.ToLine == 0 || line <= opt.ToLine)
	}
	seen := make(map[[sha256.Size]byte]int)
	ids := make(map[string]int) // post ID → the row it was first on
	for _, rec := range recs {
		if rec.err != "" {
			if in(rec.line) {
				sh.Bad = append(sh.Bad, RowError{Line: rec.line, Err: rec.err})
			}
			continue
		}
		row, stamp, note, problems := l.row(rec.cells, sh.Kind, loc)
		if row == nil {
			continue // an empty row
		}
		if len(problems) > 0 {
			if in(rec.line) {
				sh.Bad = append(sh.Bad, RowError{Line: rec.line, Err: strings.Join(problems, "; ")})
			}
			continue
		}
		row.Line = rec.line
		if row.ID != "" {
			if first, ok := ids[row.ID]; ok {
				if in(rec.line) {
					sh.Bad = append(sh.Bad, RowError{Line: rec.line, Err: fmt.Sprintf("the same post ID as row %d", first)})
				}
				continue
			}
			ids[row.ID] = rec.line
		}
		row.Ref = ref(row, stamp, seen)
		// A quantity's words go into the details after the Ref is made:
		// the Ref leaves the quantity out, so that a sheet whose "3
		// personas" became "4 personas" still finds the same post.
		row.Details = withNote(row.Details, note)
		if in(rec.line) {
			sh.Rows = append(sh.Rows, *row)
		}
	}
	if l.badIDs > 0 {
		sh.Warnings = append(sh.Warnings, fmt.Sprintf("%d cells of the ID column are not post IDs (64 hex digits): those rows are matched by their cells", l.badIDs))
	}
	return sh, nil
}

func article(kind string) string {
	if kind == KindOffer {
		return "an offer"
	}
	return "a need"
}

// columns is the header as Columns.
func (l *layout) columns() []Column {
	cs := make([]Column, len(l.names))
	for i, h := range l.names {
		cs[i] = Column{Index: i, Header: strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")), Field: roleFields[l.roles[i]]}
	}
	return cs
}

// dateOrder reports whether the sheet writes dates day first
// (31/12/2026): yes when a date cell can only be read so, no when one can
// only be read month first (12/31/2026, as Google Forms writes), and
// otherwise as the sheet's language does (Spanish headers: day first).
func (l *layout) dateOrder(recs []record) bool {
	dayOnly, monthOnly := false, false
	for _, rec := range recs {
		for _, r := range []role{roleExpires, roleStamp} {
			for _, i := range l.cols[r] {
				if i >= len(rec.cells) {
					continue
				}
				m := slashDate.FindStringSubmatch(strings.TrimSpace(rec.cells[i]))
				if m == nil {
					continue
				}
				a, _ := strconv.Atoi(m[1])
				b, _ := strconv.Atoi(m[2])
				dayOnly = dayOnly || (a > 12 && b <= 12)
				monthOnly = monthOnly || (b > 12 && a <= 12)
			}
		}
	}
	switch {
	case dayOnly && !monthOnly:
		return true
	case monthOnly:
		return false
	}
	return l.spanish
}

// date reads a date cell: in figures (parseDate, in the sheet's date
// order), else with a month's name (parseNamedDate).
func (l *layout) date(s string, loc *time.Location) (time.Time, error) {
	t, err := parseDate(s, loc, l.dayFirst)
	if err == nil {
		return t, nil
	}
	if nt, nerr := parseNamedDate(s, loc, l.now); !errors.Is(nerr, errNotNamed) {
		return nt, nerr
	}
	return t, err
}

// postID is a post ID as Write writes it.
var postID = regexp.MustCompile(`^[0-9a-f]{64}$`)

var slashDate = regexp.MustCompile(`^(\d{1,2})/(\d{1,2})/\d{4}`)

// readHeader finds the header: the first non-empty record, or one of the
// next few if that one has no usable column.
func readHeader(cr *csv.Reader) (layout, error) {
	var first []string
	for tries := 0; tries < maxHeaderSearch; {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return layout{}, fmt.Errorf("%w: line %d: %v", ErrNotCSV, pe.StartLine, pe.Err)
			}
			return layout{}, err
		}
		if allEmpty(rec) {
			continue
		}
		tries++
		for _, h := range rec {
			if !utf8.ValidString(h) || strings.ContainsFunc(h, func(c rune) bool { return unicode.IsControl(c) && c != '\t' }) {
				return layout{}, fmt.Errorf("%w: the header is not UTF-8 text", ErrNotCSV)
			}
		}
		if first == nil {
			first = rec
		}
		if l := mapHeader(rec); l.usable() {
			return l, nil
		}
	}
	if first == nil {
		return layout{}, ErrNoHeader
	}
	return layout{}, fmt.Errorf("%w (the header reads %s)", ErrNoColumns, quoteList(first, 12))
}

// sniffComma picks the separator from the first line: a comma if it has
// one, else a tab or a semicolon (Excel in many locales). An Excel
// "sep=;" first line is obeyed.
func sniffComma(data []byte) rune {
	line := data
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimRight(line, "\r")
	if s, ok := bytes.CutPrefix(line, []byte("sep=")); ok && len(s) == 1 && bytes.IndexByte([]byte(",;\t|"), s[0]) >= 0 {
		return rune(s[0])
	}
	commas, semis, tabs := bytes.Count(line, []byte(",")), bytes.Count(line, []byte(";")), bytes.Count(line, []byte("\t"))
	switch {
	case commas > 0:
		return ','
	case tabs > 0 && tabs >= semis:
		return '\t'
	case semis > 0:
		return ';'
	}
	return ','
}

func allEmpty(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// row maps one record. It returns nil for a record with no content,
// else the row, the Timestamp cell (for the Ref) and what is wrong with
// the row, if anything.
func (l *layout) row(rec []string, defKind string, loc *time.Location) (*Row, string, string, []string) {
	if allEmpty(rec) {
		return nil, "", "", nil
	}
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }

	if need := l.width(); len(rec) < need {
		bad("the row has %d cells but the header has %d (cut short?)", len(rec), need)
		return &Row{}, "", "", problems
	}
	// cells returns the non-empty cells of a role's columns, unescaped,
	// with the column each came from.
	cells := func(r role) (vs []string, cols []int) {
		for _, i := range l.cols[r] {
			if i >= len(rec) {
				continue
			}
			v := unescapeCell(rec[i])
			if v == "" {
				continue
			}
			if !utf8.ValidString(v) {
				bad("%s is not UTF-8 text (save the sheet as \"CSV UTF-8\")", l.colName(r, i))
				continue
			}
			vs, cols = append(vs, v), append(cols, i)
		}
		return vs, cols
	}
	one := func(r role) (string, string) {
		vs, cols := cells(r)
		if len(vs) == 0 {
			return "", ""
		}
		return vs[0], l.colName(r, cols[0])
	}
	join := func(r role, sep string, clean func(string) string) string {
		vs, _ := cells(r)
		var out []string
		seen := make(map[string]bool, len(vs))
		for _, v := range vs {
			if v = clean(v); v != "" && !seen[strings.ToLower(v)] {
				seen[strings.ToLower(v)] = true
				out = append(out, v)
			}
		}
		return strings.Join(out, sep)
	}

	row := &Row{Urgency: UrgencyNormal, Status: StatusOpen, Kind: defKind}
	if v, col := one(roleKind); v != "" {
		k, err := parseKind(v)
		if err != nil {
			bad("%s %v", col, err)
		} else {
			row.Kind = k
		}
	} else if row.Kind == "" {
		bad("%s is empty: need or offer?", l.colName(roleKind, l.cols[roleKind][0]))
	}
	if v, _ := one(roleID); v != "" {
		if id := strings.ToLower(cleanLine(v)); postID.MatchString(id) {
			row.ID = id
		} else {
			l.badIDs++
		}
	}
	if v, _ := one(roleGroup); v != "" {
		row.Group = cleanLine(v)
	}
	row.Details = join(roleDetails, "\n\n", cleanBlock)
	row.Category = join(roleCategory, ", ", cleanLine)
	row.Location = join(roleLocation, ", ", cleanLine)
	if len(l.cols[roleTitle]) > 0 {
		v, _ := one(roleTitle)
		row.Title = cleanLine(v)
		if row.Title == "" {
			bad("no title: %s is empty", l.colName(roleTitle, l.cols[roleTitle][0]))
		}
	} else {
		row.Title = summary(row.Details, 80)
		if row.Title == "" {
			row.Title = row.Category
		}
		if row.Title == "" {
			bad("no title: nothing in %s", l.contentCols())
		}
	}
	var note string
	if v, col := one(roleQuantity); v != "" {
		v = cleanLine(v)
		q, words, err := parseQuantityWords(v)
		if err != nil {
			bad("%s %s %v", col, quote(v), err)
		}
		row.Quantity = q
		note = quantityNote(col, v, words)
	}
	if v, _ := one(roleUrgency); v != "" {
		row.Urgency = parseUrgency(v)
	}
	if v, _ := one(roleStatus); v != "" {
		row.Status = parseStatus(v)
	}
	if v, col := one(roleExpires); v != "" {
		v = cleanLine(v)
		t, err := l.date(v, loc)
		if err != nil {
			bad("%s %s %v", col, quote(v), err)
		}
		row.Expires = t
	}
	stamp, col := one(roleStamp)
	if stamp = cleanLine(stamp); stamp != "" {
		if _, err := l.date(stamp, loc); err != nil {
			bad("%s %s %v", col, quote(stamp), err)
		}
	}
	row.Contact = l.contact(join)
	if len(problems) == 0 {
		c := *row
		c.Details = withNote(c.Details, note)
		if err := c.check(); err != nil {
			bad("%v", err)
		}
	}
	return row, stamp, note, problems
}

// withNote adds a note (a quantity's words) to the details, in a
// paragraph of its own.
func withNote(details, note string) string {
	switch {
	case note == "":
		return details
	case details == "":
		return note
	}
	return details + "\n\n" + note
}

// contact composes "Name, 555-0101 (WhatsApp)" from the name, contact
// and contact-method columns.
func (l *layout) contact(join func(role, string, func(string) string) string) string {
	name := join(roleName, " ", cleanLine)
	c := join(roleContact, ", ", cleanLine)
	method := join(roleMethod, ", ", cleanLine)
	out := c
	if name != "" && !strings.Contains(strings.ToLower(c), strings.ToLower(name)) {
		out = strings.TrimSuffix(name+", "+c, ", ")
	}
	if c != "" && method != "" && !strings.Contains(strings.ToLower(c), strings.ToLower(method)) {
		out += " (" + method + ")"
	}
	return out
}

// width is the number of cells a row must have: up to the last named
// header cell.
func (l *layout) width() int {
	for i := len(l.names) - 1; i >= 0; i-- {
		if strings.TrimSpace(l.names[i]) != "" {
			return i + 1
		}
	}
	return 0
}

func (l *layout) contentCols() string {
	var names []string
	for _, r := range []role{roleDetails, roleCategory} {
		for _, i := range l.cols[r] {
			names = append(names, l.colName(r, i))
		}
	}
	return strings.Join(names, " or ")
}

// quote quotes a cell for a message, cut to 40 characters.
func quote(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		s = string([]rune(s)[:40]) + "…"
	}
	return fmt.Sprintf("%q", s)
}

func quoteList(cells []string, max int) string {
	var qs []string
	for i, c := range cells {
		if i == max {
			qs = append(qs, "…")
			break
		}
		qs = append(qs, quote(strings.TrimSpace(c)))
	}
	return strings.Join(qs, ", ")
}

// ref is the row's import key: a hash of its identity cells, with the
// number of earlier rows that had the same cells, so that two identical
// rows still get different Refs.
//
// A row with a post ID (a sheet Write wrote) is keyed by the ID alone, so
// that it finds the same post however its cells were edited.
func ref(r *Row, stamp string, seen map[[sha256.Size]byte]int) string {
	h := sha256.New()
	h.Write([]byte("mutual/sheet/ref/v1"))
	cells := []string{r.Kind, r.Title, r.Details, r.Category, r.Location, r.Contact, stamp}
	if r.ID != "" {
		h.Write([]byte("/id"))
		cells = []string{r.ID}
	}
	for _, v := range cells {
		v = strings.ToLower(v)
		h.Write(binary.AppendUvarint(nil, uint64(len(v))))
		h.Write([]byte(v))
	}
	var key [sha256.Size]byte
	h.Sum(key[:0])
	n := seen[key]
	seen[key] = n + 1
	if n > 0 {
		h.Write(binary.AppendUvarint(nil, uint64(n)))
	}
	return "csv:" + hex.EncodeToString(h.Sum(nil))[:16]
}
