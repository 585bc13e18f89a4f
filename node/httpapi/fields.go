package httpapi

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// A fieldParser reads one post field from its JSON value into f. JSON
// null sets the field's zero value (empty, 0, normal, never).
type fieldParser struct {
	mask  crdt.FieldMask
	parse func(raw json.RawMessage, f *crdt.Fields) error
}

// postFields are the editable fields by JSON name, as in POST and PATCH
// /api/v1/posts.
var postFields = map[string]fieldParser{
	"title":    {crdt.FieldTitle, textField("title", protocol.MaxTitle, true, func(f *crdt.Fields) *string { return &f.Title })},
	"details":  {crdt.FieldDetails, textField("details", protocol.MaxDetails, false, func(f *crdt.Fields) *string { return &f.Details })},
	"category": {crdt.FieldCategory, textField("category", protocol.MaxCategory, true, func(f *crdt.Fields) *string { return &f.Category })},
	"location": {crdt.FieldLocation, textField("location", protocol.MaxLocation, true, func(f *crdt.Fields) *string { return &f.Location })},
	"contact":  {crdt.FieldContact, textField("contact", protocol.MaxContact, true, func(f *crdt.Fields) *string { return &f.Contact })},
	"quantity": {crdt.FieldQuantity, func(raw json.RawMessage, f *crdt.Fields) (err error) {
		f.Quantity, err = parseQuantity(raw)
		return err
	}},
	"urgency": {crdt.FieldUrgency, func(raw json.RawMessage, f *crdt.Fields) error {
		s, err := jsonString("urgency", raw)
		if err != nil {
			return err
		}
		u, ok := crdt.ParseUrgency(s)
		if !ok {
			return inputErr("urgency: %q is not low, normal or high", s)
		}
		f.Urgency = u
		return nil
	}},
	"expires": {crdt.FieldExpires, func(raw json.RawMessage, f *crdt.Fields) error {
		s, err := jsonString("expires", raw)
		if err != nil {
			return err
		}
		f.Expires, err = parseExpires(s)
		return err
	}},
}

// fieldNames lists postFields' keys for messages.
const fieldNames = "title, details, category, location, contact, quantity, urgency, expires"

// parseFields reads the post fields among obj's keys into f and returns
// the mask of those present. Keys in skip are left to the caller; any
// other key is an error.
func parseFields(obj map[string]json.RawMessage, f *crdt.Fields, skip ...string) (crdt.FieldMask, error) {
	var mask crdt.FieldMask
	for k, raw := range obj {
		fp, ok := postFields[k]
		if !ok {
			if slices.Contains(skip, k) {
				continue
			}
			return 0, inputErr("unknown field %q (the fields are %s)", k, fieldNames)
		}
		if err := fp.parse(raw, f); err != nil {
			return 0, err
		}
		mask |= fp.mask
	}
	if mask&crdt.FieldTitle != 0 && f.Title == "" {
		return 0, inputErr("title: must not be empty")
	}
	if err := protocol.CheckFields(f); err != nil {
		return 0, inputErr("%v", err) // the handlers' own checks should have caught it
	}
	return mask, nil
}

// textField parses a string field of at most max bytes: one line of
// text (oneLine) if line, else a block (textBlock).
func textField(name string, max int, line bool, field func(*crdt.Fields) *string) func(json.RawMessage, *crdt.Fields) error {
	return func(raw json.RawMessage, f *crdt.Fields) error {
		s, err := jsonString(name, raw)
		if err != nil {
			return err
		}
		if line {
			s, err = oneLine(name, s, max)
		} else {
			s, err = textBlock(name, s, max)
		}
		if err != nil {
			return err
		}
		*field(f) = s
		return nil
	}
}

// The text rules, for every text the API takes in (post fields, group
// and member names, response notes), whichever client sends it: the
// page, the CLI, a sheet import, a script. Text is refused, never
// silently changed, apart from trimming space at the ends and writing
// line ends as \n:
//   - not UTF-8 (decodeJSON refuses the whole body), or holding U+FFFD,
//     the mark a decoder leaves where text was damaged or a JSON \u
//     escape named half a character;
//   - a control character (U+0000-U+001F, U+007F-U+009F), except line
//     breaks and tabs in a block (details, notes);
//   - a bidirectional embedding, override or isolate (U+202A-U+202E,
//     U+2066-U+2069): it turns the rest of a line around, in the board's
//     table as on the page, and can make a title read as another. The
//     marks U+200E and U+200F stay (Arabic and Hebrew text needs them);
//   - in one-line text (titles, categories, locations, contacts, names),
//     any line break: U+2028 and U+2029 too.
//
// A sheet import cleans its cells first (node/sheet: control characters
// and line breaks become a space in one-line fields, bidi controls are
// dropped), and what it makes then passes these same checks.

// oneLine checks one line of text of at most max bytes, trimmed.
func oneLine(name, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if err := checkText(name, s, max, false); err != nil {
		return "", err
	}
	return s, nil
}

// textBlock checks text that may run over several lines, of at most max
// bytes; \r\n and \r become \n.
func textBlock(name, s string, max int) (string, error) {
	if strings.ContainsRune(s, '\r') {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	if err := checkText(name, s, max, true); err != nil {
		return "", err
	}
	return s, nil
}

func checkText(name, s string, max int, block bool) error {
	if len(s) > max {
		return inputErr("%s: %d bytes, at most %d", name, len(s), max)
	}
	if !utf8.ValidString(s) {
		return inputErr("%s: not UTF-8 text", name)
	}
	for i, c := range s {
		switch {
		case c == utf8.RuneError:
			return inputErr("%s: holds U+FFFD at byte %d, the mark of damaged text (or of a \\u escape of half a character): send the text itself", name, i)
		case block && (c == '\n' || c == '\t'):
		case c == '\n' || c == '\r' || c == '\u2028' || c == '\u2029':
			return inputErr("%s: one line of text, please: it holds a line break (U+%04X) at byte %d", name, c, i)
		case unicode.IsControl(c):
			return inputErr("%s: holds the control character U+%04X at byte %d", name, c, i)
		case (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069):
			return inputErr("%s: holds the bidirectional control U+%04X at byte %d, which would turn the text around where it is shown", name, c, i)
		}
	}
	return nil
}

// checkExpiry refuses an expiry that has passed at now: the post would
// never show on the board. Set when mask has FieldExpires; 0 is never.
func checkExpiry(mask crdt.FieldMask, f *crdt.Fields, now time.Time) error {
	if mask&crdt.FieldExpires == 0 || f.Expires == 0 || f.Expires > now.UnixMilli() {
		return nil
	}
	return inputErr("expires: %s has passed (it is %s now): a post that expired never shows on the board; give a later time, or none",
		fmtMillis(f.Expires), now.UTC().Format(time.RFC3339))
}

// jsonString decodes a JSON string or null (""); a missing value is "".
func jsonString(name string, raw json.RawMessage) (string, error) {
	if raw == nil {
		return "", nil
	}
	if s, ok := plainString(raw); ok {
		return s, nil
	}
	var s *string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", inputErr("%s: expected a string, got %s", name, sprint(raw))
	}
	if s == nil {
		return "", nil
	}
	return *s, nil
}

// plainString returns the text of a JSON string that has no escapes:
// what json.Unmarshal would make of it, without its second pass over
// the bytes (every post's fields come this way). ok is false for any
// other value, which jsonString leaves to json.Unmarshal.
func plainString(raw []byte) (s string, ok bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	in := raw[1 : len(raw)-1]
	for _, c := range in {
		if c < 0x20 || c == '"' || c == '\\' {
			return "", false
		}
	}
	if !utf8.Valid(in) {
		return "", false
	}
	return string(in), true
}

// parseQuantity decodes a whole number from 0 to 2³²-1, or null (0).
func parseQuantity(raw json.RawMessage) (uint32, error) {
	s := strings.TrimSpace(string(raw))
	if s == "null" || s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, inputErr("quantity: expected a whole number from 0 to %d, got %s", uint32(math.MaxUint32), sprint(raw))
	}
	return uint32(n), nil
}

// parseExpires reads an expiry: RFC 3339, or a date YYYY-MM-DD meaning
// the end of that day in UTC; "" means never (0).
func parseExpires(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		d, derr := time.Parse(time.DateOnly, s)
		if derr != nil {
			return 0, inputErr("expires: %q is neither RFC 3339 (2006-01-02T15:04:05Z) nor a date (2006-01-02)", s)
		}
		t = d.Add(24*time.Hour - time.Second)
	}
	if y := t.UTC().Year(); y < 1971 || y > 9999 {
		return 0, inputErr("expires: year %d is out of range", y)
	}
	return t.UnixMilli(), nil
}

// parseTTL reads an invite's lifetime: a Go duration ("72h", "90m") or a
// number of days ("7d").
func parseTTL(s string) (time.Duration, error) {
	if s == "" {
		return 72 * time.Hour, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n > 0 && n <= 366 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, inputErr("expires: %q is not a positive duration like 72h or 7d", s)
	}
	if d > 366*24*time.Hour {
		return 0, inputErr("expires: an invite may last at most a year")
	}
	return d, nil
}
