package sheet

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
)

// Header is the header row Write writes; when a row names its group,
// a Group column follows the ID.
var Header = []string{"ID", "Type", "Title", "Details", "Category", "Location", "Quantity", "Urgency", "Expires", "Contact", "Status"}

// Write writes rows as CSV under Header. The ID column holds Row.ID, the
// post's ID, which is how Read (and an import) knows the row is that
// post whatever else was changed in the sheet. It checks every row first and
// writes nothing if one could not be read back (unknown kind, urgency or
// status, no title, a field over its limit, text that is not UTF-8, an
// expiry outside the years 0-9999): such an error wraps ErrInvalidRow.
// Empty Urgency and Status are written empty and read back as normal and
// open.
func Write(w io.Writer, rows []Row) error {
	for i := range rows {
		if err := rows[i].check(); err != nil {
			return fmt.Errorf("sheet: row %d: %w: %v", i+1, ErrInvalidRow, err)
		}
		if id := rows[i].ID; id != "" && !postID.MatchString(id) {
			return fmt.Errorf("sheet: row %d: %w: ID %q is not 64 hex digits", i+1, ErrInvalidRow, id)
		}
		if y := rows[i].Expires.Year(); !rows[i].Expires.IsZero() && (y < 0 || y > 9999) {
			return fmt.Errorf("sheet: row %d: %w: expires in the year %d", i+1, ErrInvalidRow, y)
		}
	}
	// A Group column after the ID when a row names its group (an export
	// of several groups).
	group := slices.ContainsFunc(rows, func(r Row) bool { return r.Group != "" })
	cw := csv.NewWriter(w)
	header := Header
	if group {
		header = slices.Insert(slices.Clone(Header), 1, "Group")
	}
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("sheet: %w", err)
	}
	for i := range rows {
		r := &rows[i]
		qty := ""
		if r.Quantity > 0 {
			qty = strconv.FormatUint(uint64(r.Quantity), 10)
		}
		rec := []string{r.ID, r.Kind, escapeCell(r.Title), escapeCell(r.Details), escapeCell(r.Category),
			escapeCell(r.Location), qty, r.Urgency, formatExpires(r.Expires), escapeCell(r.Contact), r.Status}
		if group {
			rec = slices.Insert(rec, 1, escapeCell(r.Group))
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("sheet: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("sheet: %w", err)
	}
	return nil
}

// formatExpires writes the end of a day in a named zone (UTC,
// Europe/London...) as its date and any other time as RFC 3339 (in UTC when its zone's offset is not whole minutes, which
// RFC 3339 cannot say).
func formatExpires(t time.Time) string {
	switch {
	case t.IsZero():
		return ""
	case endOfDay(t) && t.Location().String() != "":
		// A date, as Read makes it from a date-only cell. A bare offset
		// (unnamed zone, as from an RFC 3339 cell) keeps the offset.
		return t.Format("2006-01-02")
	}
	if _, off := t.Zone(); off%60 != 0 {
		t = t.UTC()
	}
	return t.Format(time.RFC3339Nano)
}
