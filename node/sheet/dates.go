package sheet

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// Dates written with a month's name, in English or Spanish: "25 dic",
// "3 de enero", "ene 2027", "25 de diciembre de 2026", "Dec 25",
// "viernes 3 de enero de 2027 18:00". The layouts of parseDate that take
// figures are tried first; these are what a person types in a sheet.

// months maps a month's name or abbreviation (lower case, accents
// folded) to the month.
var months = map[string]time.Month{}

func init() {
	for m, names := range map[time.Month][]string{
		time.January:   {"jan", "january", "ene", "enero"},
		time.February:  {"feb", "february", "febrero"},
		time.March:     {"mar", "march", "marzo"},
		time.April:     {"apr", "april", "abr", "abril"},
		time.May:       {"may", "mayo"},
		time.June:      {"jun", "june", "junio"},
		time.July:      {"jul", "july", "julio"},
		time.August:    {"aug", "august", "ago", "agosto"},
		time.September: {"sep", "sept", "september", "set", "septiembre", "setiembre"},
		time.October:   {"oct", "october", "octubre"},
		time.November:  {"nov", "november", "noviembre"},
		time.December:  {"dec", "december", "dic", "diciembre"},
	} {
		for _, n := range names {
			months[n] = m
		}
	}
}

// dateFillers are the words a named date may hold that say nothing of
// its value: "3 de enero", "the 3rd of January", weekday names.
var dateFillers = map[string]bool{"de": true, "del": true, "of": true, "the": true, "el": true,
	"a": true, "las": true, "at": true, "on": true,
	"lunes": true, "martes": true, "miercoles": true, "jueves": true, "viernes": true, "sabado": true, "domingo": true,
	"lun": true, "mie": true, "jue": true, "vie": true, "sab": true, "dom": true, // "mar" is March, or Tuesday beside a month
	"mon": true, "monday": true, "tue": true, "tues": true, "tuesday": true, "wed": true, "wednesday": true,
	"thu": true, "thur": true, "thurs": true, "thursday": true, "fri": true, "friday": true,
	"sat": true, "saturday": true, "sun": true, "sunday": true}

// errNotNamed says a cell is not a date with a month's name.
var errNotNamed = errors.New("not a named date")

// parseNamedDate reads a date with a month's name. A day and month with
// no year are the next such day after now, or a day of the last 31 days
// (read on 30 Nov, 25 Dec and 29 Nov are this year's, 3 Jan and 2 Jun
// next year's); a month and a year with no day mean the end of that
// month. Without a time, a date is the end
// of its day, as in parseDate; a time without a zone is in loc. It
// returns errNotNamed when s is not of this shape, and an error for a
// day the month does not have.
func parseNamedDate(s string, loc *time.Location, now time.Time) (time.Time, error) {
	s = foldAccent.Replace(strings.ToLower(s))
	toks := strings.FieldsFunc(s, func(c rune) bool {
		return c == ' ' || c == ',' || c == '.' || c == '/' || c == '-' || c == '\t'
	})
	var (
		month             time.Month
		day, year         int
		hh, mm, ss        int
		hasTime, hasMonth bool
		marFirst          bool // the month came from "mar", which may be martes
	)
	for _, t := range toks {
		if dateFillers[t] {
			continue
		}
		if m, ok := months[t]; ok {
			switch {
			case !hasMonth:
				month, hasMonth, marFirst = m, true, t == "mar"
			case marFirst:
				month, marFirst = m, false // "mar 5 dic": martes, 5 December
			case t != "mar":
				return time.Time{}, errNotNamed
			}
			continue
		}
		if strings.Contains(t, ":") {
			if hasTime {
				return time.Time{}, errNotNamed
			}
			var err error
			if hh, mm, ss, err = clock(t); err != nil {
				return time.Time{}, errNotNamed
			}
			hasTime = true
			continue
		}
		digits := strings.TrimRight(t, "stndrheoaº°ª") // 25th, 1º, 1ero
		if digits == "" || strings.Trim(digits, "0123456789") != "" || (digits != t && len(digits) > 2) {
			return time.Time{}, errNotNamed
		}
		n, _ := strconv.Atoi(digits)
		switch {
		case len(digits) <= 2 && day == 0 && n >= 1:
			day = n
		case len(digits) == 4 && year == 0:
			year = n
		default:
			return time.Time{}, errNotNamed
		}
	}
	if !hasMonth || (day == 0 && (year == 0 || hasTime)) {
		return time.Time{}, errNotNamed
	}
	if !hasTime {
		hh, mm, ss = 23, 59, 59
	}
	if day == 0 {
		// The end of the month: day 0 of the next is its last day.
		return time.Date(year, month+1, 0, hh, mm, ss, 0, loc), nil
	}
	at := func(y int) (time.Time, bool) {
		t := time.Date(y, month, day, hh, mm, ss, 0, loc)
		return t, t.Day() == day
	}
	if year != 0 {
		t, ok := at(year)
		if !ok {
			return time.Time{}, errors.New("is not a real date")
		}
		return t, nil
	}
	// The next such day, or one in the last month: a sheet kept up to
	// date holds yesterday's needs, but "2 jun" written in November is
	// next June's.
	now = now.In(loc)
	from := now.AddDate(0, 0, -recentDays)
	for y := now.Year() - 1; y <= now.Year()+4; y++ {
		if t, ok := at(y); ok && !t.Before(from) {
			return t, nil
		}
	}
	return time.Time{}, errors.New("is not a real date")
}

// recentDays is how far back a date with no year may be: see
// parseNamedDate.
const recentDays = 31

// clock reads H:MM or H:MM:SS.
func clock(s string) (h, m, sec int, err error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, 0, 0, errNotNamed
	}
	var v [3]int
	for i, p := range parts {
		if p == "" || len(p) > 2 || strings.Trim(p, "0123456789") != "" {
			return 0, 0, 0, errNotNamed
		}
		v[i], _ = strconv.Atoi(p)
	}
	if v[0] > 23 || v[1] > 59 || v[2] > 59 {
		return 0, 0, 0, errNotNamed
	}
	return v[0], v[1], v[2], nil
}
