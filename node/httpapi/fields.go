package httpapi

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

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

// textField parses a string field of at most max bytes, trimmed of
// surrounding space if trim.
func textField(name string, max int, trim bool, field func(*crdt.Fields) *string) func(json.RawMessage, *crdt.Fields) error {
	return func(raw json.RawMessage, f *crdt.Fields) error {
		s, err := jsonString(name, raw)
		if err != nil {
			return err
		}
		if trim {
			s = strings.TrimSpace(s)
		}
		if len(s) > max {
			return inputErr("%s: %d bytes, at most %d", name, len(s), max)
		}
		*field(f) = s
		return nil
	}
}

// jsonString decodes a JSON string or null (""); a missing value is "".
func jsonString(name string, raw json.RawMessage) (string, error) {
	if raw == nil {
		return "", nil
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
