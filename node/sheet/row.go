package sheet

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/mutual-aid/mutual/protocol"
)

// Field limits in bytes, the protocol's: a row over one is bad.
const (
	MaxTitle    = protocol.MaxTitle
	MaxDetails  = protocol.MaxDetails
	MaxCategory = protocol.MaxCategory
	MaxLocation = protocol.MaxLocation
	MaxContact  = protocol.MaxContact
)

// File limits: a file over one is not read at all.
const (
	MaxFileSize = 10 << 20 // bytes
	MaxRows     = 100_000  // records after the header, empty ones included
)

// Kinds, urgencies and statuses as they appear in a Row.
const (
	KindNeed  = "need"
	KindOffer = "offer"

	UrgencyLow    = "low"
	UrgencyNormal = "normal"
	UrgencyHigh   = "high"

	StatusOpen      = "open"
	StatusClaimed   = "claimed"
	StatusFulfilled = "fulfilled"
	StatusWithdrawn = "withdrawn"
)

// Errors returned by Read for a file that cannot be read at all, and by
// Write for a row that could not be read back. They are wrapped with
// detail; test with errors.Is.
var (
	ErrTooLarge    = fmt.Errorf("file is over %d MiB", MaxFileSize>>20)
	ErrTooManyRows = fmt.Errorf("file has over %d rows", MaxRows)
	ErrNoHeader    = errors.New("file has no header row")
	ErrNotCSV      = errors.New("file is not a UTF-8 CSV")
	ErrNoColumns   = errors.New("no column to take a title, details or category from")
	ErrNoKind      = errors.New("no column says whether a row is a need or an offer: add a Type column, or say which the whole sheet holds (kind=need or kind=offer)")
	ErrInvalidRow  = errors.New("invalid row")
)

// Row is one post as read from or written to a spreadsheet.
type Row struct {
	Line     int    // 1-based line number in the file (header is line 1), 0 when written
	Kind     string // "need" or "offer"
	Title    string
	Details  string
	Category string
	Location string
	Contact  string
	Quantity uint32    // 0 = unspecified
	Urgency  string    // "low" | "normal" | "high"
	Expires  time.Time // zero = none
	Status   string    // "open" | "claimed" | "fulfilled" | "withdrawn"
	// Ref is the stable import key: "csv:" and 16 hex digits of a SHA-256
	// over the row's normalised identity cells (see the package doc). The
	// same row in the same file always gets the same Ref.
	Ref string
	// ID is the post's ID when the sheet has one (an ID column, as Write
	// writes it): the row is that post. "" otherwise.
	ID string
	// Group is the group the row belongs to when the sheet has a Group
	// column (a multi-group export): a group's name or ID, as written;
	// the importer finds the group. "" when the sheet or the cell says
	// none (the import's group).
	Group string
}

// RowError is a row that was not imported, and why.
type RowError struct {
	Line int // as Row.Line
	Err  string
}

func (e RowError) Error() string { return fmt.Sprintf("row %d: %s", e.Line, e.Err) }

// check reports the first way r breaks the limits or the enumerations,
// or nil. Empty Urgency and Status are allowed (they mean normal and
// open).
func (r *Row) check() error {
	switch r.Kind {
	case KindNeed, KindOffer:
	default:
		return fmt.Errorf("kind %q is neither need nor offer", r.Kind)
	}
	if r.Title == "" {
		return errors.New("no title")
	}
	switch r.Urgency {
	case "", UrgencyLow, UrgencyNormal, UrgencyHigh:
	default:
		return fmt.Errorf("urgency %q is not low, normal or high", r.Urgency)
	}
	switch r.Status {
	case "", StatusOpen, StatusClaimed, StatusFulfilled, StatusWithdrawn:
	default:
		return fmt.Errorf("status %q is not open, claimed, fulfilled or withdrawn", r.Status)
	}
	for _, f := range [...]struct {
		name string
		v    string
		max  int
	}{
		{"title", r.Title, MaxTitle},
		{"details", r.Details, MaxDetails},
		{"category", r.Category, MaxCategory},
		{"location", r.Location, MaxLocation},
		{"contact", r.Contact, MaxContact},
		{"group", r.Group, protocol.MaxName},
	} {
		if len(f.v) > f.max {
			return fmt.Errorf("%s is %d bytes, at most %d", f.name, len(f.v), f.max)
		}
		if !utf8.ValidString(f.v) {
			return fmt.Errorf("%s is not UTF-8", f.name)
		}
	}
	return nil
}
