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
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ReadOptions tunes Read. The zero value works.
type ReadOptions struct {
	// DefaultKind is the kind of rows when the sheet has no Type column
	// or the cell is empty: "need", "offer", or "" to infer it from the
	// headers (a header like "Offer" or "What can you offer?" makes a
	// sheet of offers, anything else a sheet of needs).
	DefaultKind string
	// Location is the time zone of dates and times written without one.
	// nil means UTC.
	Location *time.Location
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
// returned.
func Read(r io.Reader, opt ReadOptions) (rows []Row, bad []RowError, err error) {
	switch opt.DefaultKind {
	case "", KindNeed, KindOffer:
	default:
		return nil, nil, fmt.Errorf("sheet: ReadOptions.DefaultKind %q is neither need nor offer", opt.DefaultKind)
	}
	loc := opt.Location
	if loc == nil {
		loc = time.UTC
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("sheet: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, nil, fmt.Errorf("sheet: %w", ErrTooLarge)
	}
	if bytes.HasPrefix(data, []byte{0xff, 0xfe}) || bytes.HasPrefix(data, []byte{0xfe, 0xff}) {
		return nil, nil, fmt.Errorf("sheet: %w: it is UTF-16; save it as \"CSV UTF-8\"", ErrNotCSV)
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, nil, fmt.Errorf("sheet: %w: it holds NUL bytes (a binary file?)", ErrNotCSV)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil, fmt.Errorf("sheet: %w: the file is empty", ErrNoHeader)
	}

	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma = sniffComma(data)
	cr.FieldsPerRecord = -1 // a short row is reported, not fatal

	l, err := readHeader(cr)
	if err != nil {
		return nil, nil, fmt.Errorf("sheet: %w", err)
	}
	kind := opt.DefaultKind
	if kind == "" {
		kind = KindNeed
		if l.offers {
			kind = KindOffer
		}
	}

	seen := make(map[[sha256.Size]byte]int)
	for n := 0; ; n++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if n >= MaxRows {
			return nil, nil, fmt.Errorf("sheet: %w", ErrTooManyRows)
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, nil, fmt.Errorf("sheet: %w", err)
			}
			bad = append(bad, RowError{Line: pe.StartLine, Err: "not valid CSV: " + pe.Err.Error()})
			continue
		}
		line, _ := cr.FieldPos(0)
		row, stamp, problems := l.row(rec, kind, loc)
		if row == nil {
			continue // an empty row
		}
		if len(problems) > 0 {
			bad = append(bad, RowError{Line: line, Err: strings.Join(problems, "; ")})
			continue
		}
		row.Line = line
		row.Ref = ref(row, stamp, seen)
		rows = append(rows, *row)
	}
	return rows, bad, nil
}

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
func (l *layout) row(rec []string, defKind string, loc *time.Location) (*Row, string, []string) {
	if allEmpty(rec) {
		return nil, "", nil
	}
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }

	if need := l.width(); len(rec) < need {
		bad("the row has %d cells but the header has %d (cut short?)", len(rec), need)
		return &Row{}, "", problems
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
	if v, col := one(roleQuantity); v != "" {
		v = cleanLine(v)
		q, err := parseQuantity(v)
		if err != nil {
			bad("%s %s %v", col, quote(v), err)
		}
		row.Quantity = q
	}
	if v, _ := one(roleUrgency); v != "" {
		row.Urgency = parseUrgency(v)
	}
	if v, _ := one(roleStatus); v != "" {
		row.Status = parseStatus(v)
	}
	if v, col := one(roleExpires); v != "" {
		v = cleanLine(v)
		t, err := parseDate(v, loc)
		if err != nil {
			bad("%s %s %v", col, quote(v), err)
		}
		row.Expires = t
	}
	stamp, col := one(roleStamp)
	if stamp = cleanLine(stamp); stamp != "" {
		if _, err := parseDate(stamp, loc); err != nil {
			bad("%s %s %v", col, quote(stamp), err)
		}
	}
	row.Contact = l.contact(join)
	if len(problems) == 0 {
		if err := row.check(); err != nil {
			bad("%v", err)
		}
	}
	return row, stamp, problems
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
func ref(r *Row, stamp string, seen map[[sha256.Size]byte]int) string {
	h := sha256.New()
	h.Write([]byte("mutual/sheet/ref/v1"))
	for _, v := range []string{r.Kind, r.Title, r.Details, r.Category, r.Location, r.Contact, stamp} {
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
