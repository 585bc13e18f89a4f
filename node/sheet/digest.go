package sheet

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Digest writes a plain-text summary of the board, short enough to paste
// into a WhatsApp or Signal group:
//
//	Riverside Mutual Aid
//	NEEDS (2)
//	- [HIGH] Winter coat, size L — clothing (qty 4) · until Mon 7 Dec
//	- Groceries for a family of 3 — food
//
//	OFFERS (1)
//	- Van with driver on Saturdays — transport · until Fri 18 Dec
//
// Only open posts (an empty Status counts as open) that have not expired
// at now are listed: needs, then offers; within each, high urgency
// first, then normal, then low, then the soonest expiry, then title.
// Dates are shown in the expiry's own zone, with the year only when it
// is not now's. Details are left out, and neither a contact nor a
// location ever appears (a chat is no place for an address; both are for
// the group's members, on the board): those fields are not printed, and
// any phone number or e-mail address from the contact that was also
// typed into a title is blanked out. The category stands in for where.
// An empty title leaves out the first line; a board with nothing open
// says so.
func Digest(w io.Writer, title string, rows []Row, now time.Time) error {
	var needs, offers []*Row
	for i := range rows {
		r := &rows[i]
		if r.Status != StatusOpen && r.Status != "" {
			continue
		}
		if !r.Expires.IsZero() && !now.Before(r.Expires) {
			continue
		}
		switch r.Kind {
		case KindNeed:
			needs = append(needs, r)
		case KindOffer:
			offers = append(offers, r)
		}
	}
	var b strings.Builder
	if t := cleanLine(title); t != "" {
		b.WriteString(t + "\n")
	}
	if len(needs) == 0 && len(offers) == 0 {
		b.WriteString("Nothing open on the board right now.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	section := func(name string, rs []*Row) {
		slices.SortStableFunc(rs, compareDigest)
		fmt.Fprintf(&b, "%s (%d)\n", name, len(rs))
		for _, r := range rs {
			b.WriteString(digestLine(r, now) + "\n")
		}
	}
	section("NEEDS", needs)
	b.WriteString("\n")
	section("OFFERS", offers)
	_, err := io.WriteString(w, b.String())
	return err
}

func urgencyRank(u string) int {
	switch u {
	case UrgencyHigh:
		return 0
	case UrgencyLow:
		return 2
	}
	return 1
}

func compareDigest(a, b *Row) int {
	if c := cmp.Compare(urgencyRank(a.Urgency), urgencyRank(b.Urgency)); c != 0 {
		return c
	}
	switch az, bz := a.Expires.IsZero(), b.Expires.IsZero(); {
	case az && !bz:
		return 1
	case !az && bz:
		return -1
	case !az:
		if c := a.Expires.Compare(b.Expires); c != 0 {
			return c
		}
	}
	return strings.Compare(a.Title, b.Title)
}

func digestLine(r *Row, now time.Time) string {
	var b strings.Builder
	b.WriteString("- ")
	if r.Urgency == UrgencyHigh {
		b.WriteString("[HIGH] ")
	}
	b.WriteString(cleanLine(r.Title))
	if c := cleanLine(r.Category); c != "" {
		b.WriteString(" — " + c)
	}
	if r.Quantity > 0 {
		fmt.Fprintf(&b, " (qty %d)", r.Quantity)
	}
	if !r.Expires.IsZero() {
		b.WriteString(" · until " + untilText(r.Expires, now))
	}
	return scrubContact(b.String(), r.Contact)
}

func untilText(t, now time.Time) string {
	layout := "Mon 2 Jan"
	if t.Year() != now.In(t.Location()).Year() {
		layout += " 2006"
	}
	if h, m, _ := t.Clock(); !endOfDay(t) && (h != 0 || m != 0) {
		layout += " 15:04"
	}
	return t.Format(layout)
}

// oneLine keeps a field on its line.

// scrubContact blanks out of line the contact as a whole and each part of
// it that holds a digit or an @ (a phone number, an e-mail address).
func scrubContact(line, contact string) string {
	contact = cleanLine(contact)
	if contact == "" {
		return line
	}
	parts := []string{contact}
	for _, p := range strings.FieldsFunc(contact, func(c rune) bool { return strings.ContainsRune(",;/()|", c) }) {
		if p = strings.TrimSpace(p); len(p) >= 3 && strings.ContainsFunc(p, func(c rune) bool { return unicode.IsDigit(c) || c == '@' }) {
			parts = append(parts, p)
		}
	}
	for _, p := range parts {
		line = strings.ReplaceAll(line, p, "[contact withheld]")
	}
	return line
}
