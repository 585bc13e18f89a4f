package sheet

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// isBidiControl reports whether c is a bidirectional embedding, override
// or isolate (U+202A-U+202E, U+2066-U+2069): each changes the direction
// of the text after it until its terminator, so one left in a title
// turns a table around. Read drops them; the API refuses them. The marks
// U+200E and U+200F, which change only the characters beside them, stay:
// Arabic and Hebrew text needs them.
func isBidiControl(c rune) bool {
	return (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)
}

// cleanLine makes s one line: control characters and runs of white
// space (line breaks included) become one space, bidirectional controls
// are dropped, and the ends are trimmed.
func cleanLine(s string) string {
	var b strings.Builder
	space := false
	for _, c := range s {
		if isBidiControl(c) {
			continue
		}
		if unicode.IsSpace(c) || unicode.IsControl(c) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(c)
	}
	return b.String()
}

// cleanBlock keeps line breaks and tabs, turns \r\n, \r and the Unicode
// line and paragraph separators into \n, drops other control characters
// and bidirectional controls, and trims the ends.
func cleanBlock(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.NewReplacer("\r", "\n", "\u2028", "\n", "\u2029", "\n").Replace(s)
	s = strings.Map(func(c rune) rune {
		if isBidiControl(c) {
			return -1
		}
		if c == '\n' || c == '\t' || !unicode.IsControl(c) {
			return c
		}
		return -1
	}, s)
	return strings.TrimSpace(s)
}

// formulaLead are the first characters that make a spreadsheet run a
// cell as a formula; an apostrophe before one keeps it text. The
// apostrophe itself is in the set so that a leading apostrophe survives
// Write then Read.
const formulaLead = "=+-@'"

// unescapeCell trims the cell and removes the apostrophe Write puts in
// front of a formula-like cell.
func unescapeCell(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '\'' && strings.IndexByte(formulaLead, s[1]) >= 0 {
		return s[1:]
	}
	return s
}

// escapeCell is unescapeCell's inverse, for Write.
func escapeCell(s string) string {
	if s != "" && strings.IndexByte(formulaLead, s[0]) >= 0 {
		return "'" + s
	}
	return s
}

// summary is the first line of s cut to about n characters at a word
// boundary, for a title made from details.
func summary(s string, n int) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	s = cleanLine(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	cut, count := len(s), 0
	for i := range s {
		if count == n {
			cut = i
			break
		}
		count++
	}
	t := s[:cut]
	if sp := strings.LastIndexByte(t, ' '); sp > n/2 {
		t = t[:sp]
	}
	return strings.TrimRight(t, " ,;:.-") + "…"
}

// words returns the words of a value, lower-cased, without punctuation.
func words(s string) string { return " " + normHeader(s) + " " }

func hasAny(padded string, phrases ...string) bool {
	for _, p := range phrases {
		if strings.Contains(padded, " "+p+" ") {
			return true
		}
	}
	return false
}

var kindWords = map[string]string{
	"need": KindNeed, "needs": KindNeed, "needed": KindNeed, "request": KindNeed, "requests": KindNeed,
	"requested": KindNeed, "ask": KindNeed, "asks": KindNeed, "want": KindNeed, "wanted": KindNeed,
	"i need": KindNeed, "need help": KindNeed, "help needed": KindNeed,
	"offer": KindOffer, "offers": KindOffer, "offering": KindOffer, "offered": KindOffer,
	"have": KindOffer, "give": KindOffer, "giving": KindOffer, "donation": KindOffer,
	"i can offer": KindOffer, "can offer": KindOffer, "i can help": KindOffer,
	// Spanish
	"necesidad": KindNeed, "necesidades": KindNeed, "necesito": KindNeed, "necesita": KindNeed,
	"necesitamos": KindNeed, "se necesita": KindNeed, "solicitud": KindNeed, "pedido": KindNeed,
	"peticion": KindNeed, "busco": KindNeed, "pido": KindNeed,
	"oferta": KindOffer, "ofertas": KindOffer, "ofrezco": KindOffer, "ofrece": KindOffer,
	"ofrecemos": KindOffer, "ofrecimiento": KindOffer, "donacion": KindOffer, "dono": KindOffer,
	"puedo ayudar": KindOffer, "doy": KindOffer, "regalo": KindOffer,
}

// parseKind maps a Type cell to a kind; "" for an empty cell.
func parseKind(s string) (string, error) {
	n := normHeader(s)
	if n == "" {
		return "", nil
	}
	if k, ok := kindWords[n]; ok {
		return k, nil
	}
	return "", fmt.Errorf("%q is neither need nor offer", s)
}

// parseUrgency maps urgency wording to low, normal or high.
func parseUrgency(s string) string {
	w := words(s)
	switch {
	case hasAny(w, "not urgent", "no rush", "not a rush", "whenever", "low", "flexible", "anytime",
		"any time", "when possible", "eventually", "not important",
		"no urgente", "no es urgente", "sin prisa", "baja", "bajo", "cuando se pueda", "cuando pueda",
		"cuando sea posible", "flexible"):
		return UrgencyLow
	case hasAny(w, "urgent", "asap", "high", "emergency", "immediately", "critical", "today",
		"24 hours", "24 hrs", "24h", "very urgent",
		"urgente", "muy urgente", "alta", "alto", "emergencia", "hoy", "ya", "inmediato", "lo antes posible",
		"cuanto antes", "critico", "critica"):
		return UrgencyHigh
	}
	return UrgencyNormal
}

var statusPhrases = map[string]string{}

func init() {
	for st, ps := range map[string][]string{
		StatusOpen: {"open", "new", "dispatch needed", "needs dispatch", "available", "pending", "unassigned",
			"unclaimed", "active", "waiting", "todo", "to do", "not started", "received", "submitted",
			"needs volunteer", "looking", "in queue", "queued",
			"abierto", "abierta", "nuevo", "nueva", "pendiente", "disponible", "sin asignar", "activo", "activa",
			"en espera", "recibido", "recibida"},
		StatusClaimed: {"taken", "claimed", "in progress", "assigned", "delivery assigned", "matched",
			"scheduled", "ongoing", "reserved", "booked", "accepted", "working on it", "in hand",
			"asignado", "asignada", "reservado", "reservada", "en curso", "en proceso", "tomado", "tomada",
			"en camino", "programado", "programada", "aceptado", "aceptada"},
		StatusFulfilled: {"done", "complete", "completed", "request complete", "fulfilled", "delivered",
			"closed", "resolved", "finished", "met", "given", "picked up", "collected",
			"completado", "completada", "entregado", "entregada", "cumplido", "cumplida", "hecho", "hecha",
			"cerrado", "cerrada", "resuelto", "resuelta", "terminado", "terminada", "listo", "lista"},
		StatusWithdrawn: {"cancelled", "canceled", "withdrawn", "expired", "duplicate", "removed",
			"no longer needed", "no longer available", "not available", "unavailable", "archived",
			"rejected", "declined", "spam", "deleted", "invalid",
			"cancelado", "cancelada", "retirado", "retirada", "vencido", "vencida", "duplicado", "duplicada",
			"ya no se necesita", "no disponible", "anulado", "anulada", "eliminado", "eliminada", "rechazado",
			"rechazada"},
	} {
		for _, p := range ps {
			statusPhrases[p] = st
		}
	}
}

// parseStatus maps status wording to a status. Known phrases first, then
// words in a fixed order (withdrawn before fulfilled before claimed, so
// "Delivery cancelled" is withdrawn and "Delivery assigned" claimed);
// what is left is open.
func parseStatus(s string) string {
	n := normHeader(s)
	if st, ok := statusPhrases[n]; ok {
		return st
	}
	w := " " + n + " "
	switch {
	case hasAny(w, "cancelled", "canceled", "cancel", "withdrawn", "duplicate", "expired", "unavailable",
		"removed", "archived", "rejected", "declined", "no longer",
		"cancelado", "cancelada", "retirado", "retirada", "vencido", "vencida", "ya no", "anulado", "anulada"):
		return StatusWithdrawn
	case hasAny(w, "done", "complete", "completed", "fulfilled", "delivered", "closed", "resolved", "finished",
		"completado", "completada", "entregado", "entregada", "cumplido", "cumplida", "cerrado", "cerrada"):
		return StatusFulfilled
	case hasAny(w, "assigned", "claimed", "taken", "progress", "matched", "scheduled", "reserved",
		"asignado", "asignada", "reservado", "reservada", "en curso", "en proceso"):
		return StatusClaimed
	}
	return StatusOpen
}

// parseQuantity reads a whole number; "" is 0 (unspecified).
func parseQuantity(s string) (uint32, error) {
	s = strings.TrimPrefix(s, "+")
	if s == "" {
		return 0, nil
	}
	if neg, ok := strings.CutPrefix(s, "-"); ok && neg != "" && strings.Trim(neg, "0123456789") == "" {
		return 0, errors.New("is negative")
	}
	if strings.Trim(s, "0123456789") != "" {
		return 0, errors.New("is not a whole number")
	}
	q, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, errors.New("is too large")
	}
	return uint32(q), nil
}

// parseQuantityWords reads a quantity cell: a whole number, alone or
// followed by words that say what it counts ("3 personas", "2 familias",
// "10 kg of rice"). It returns the number and those words ("" when there
// are none).
func parseQuantityWords(s string) (uint32, string, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	rest := strings.TrimSpace(s[i:])
	if i == 0 || rest == "" {
		q, err := parseQuantity(s)
		return q, "", err
	}
	if c, _ := utf8.DecodeRuneInString(rest); !unicode.IsLetter(c) {
		q, err := parseQuantity(s) // "3-4", "10+", "2.5": not a whole number
		return q, "", err
	}
	q, err := parseQuantity(s[:i])
	return q, rest, err
}

// countWords are the words that say only that a quantity counts things:
// a quantity's words are kept in the details unless they are these.
var countWords = map[string]bool{"unit": true, "units": true, "item": true, "items": true, "piece": true,
	"pieces": true, "pcs": true, "pc": true, "x": true, "u": true, "ud": true, "uds": true, "unidad": true,
	"unidades": true, "pieza": true, "piezas": true, "articulo": true, "articulos": true, "cosas": true}

// quantityNote is what the details keep of a quantity's words: the
// header and the cell ("Cantidad: 2 familias"), unless the words are a
// mere count ("units") or the header already says them ("Número de
// personas": "3 personas").
func quantityNote(header, cell, words string) string {
	ws := strings.Fields(normHeader(words))
	if len(ws) == 0 {
		return ""
	}
	hw := map[string]bool{}
	for _, w := range strings.Fields(normHeader(header)) {
		hw[w] = true
		hw[strings.TrimSuffix(w, "s")] = true
	}
	said := true
	for _, w := range ws {
		if !countWords[w] && !hw[w] && !hw[strings.TrimSuffix(w, "s")] {
			said = false
		}
	}
	if said {
		return ""
	}
	return header + ": " + cell
}

// Date layouts Read accepts. A date alone means the end of that day.
var (
	dateLayouts = []string{"2006-01-02", "1/2/2006", "2 Jan 2006", "2 January 2006", "Jan 2, 2006",
		"January 2, 2006", "Jan 2 2006", "January 2 2006", "Mon 2 Jan 2006", "Mon, 2 Jan 2006"}
	timeLayouts = []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05",
		"2006-01-02T15:04", "1/2/2006 15:04:05", "1/2/2006 15:04"}
	// A sheet that writes dates day first (see layout.dateOrder).
	dayFirstDateLayouts = append([]string{"2006-01-02", "2/1/2006"}, dateLayouts[2:]...)
	dayFirstTimeLayouts = append(timeLayouts[:4:4], "2/1/2006 15:04:05", "2/1/2006 15:04")
)

// parseDate reads a date or a date and time. A time without a zone is in
// loc.
func parseDate(s string, loc *time.Location, dayFirst bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		// time.Parse picks time.Local when the offset matches it; use a
		// plain offset so the result does not depend on the machine.
		if _, off := t.Zone(); off != 0 {
			return t.In(time.FixedZone("", off)), nil
		}
		return t.UTC(), nil
	}
	tl, dl := timeLayouts, dateLayouts
	if dayFirst {
		tl, dl = dayFirstTimeLayouts, dayFirstDateLayouts
	}
	for _, l := range tl {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, nil
		}
	}
	for _, l := range dl {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			y, m, d := t.Date()
			return time.Date(y, m, d, 23, 59, 59, 0, loc), nil
		}
	}
	if dateShape.MatchString(s) {
		return time.Time{}, errors.New("is not a real date")
	}
	return time.Time{}, errors.New("is not a date (write YYYY-MM-DD)")
}

// dateShape is what a date looks like in figures: when one fails to
// parse, it names a day that does not exist (2026-02-30, 31/02/2026).
var dateShape = regexp.MustCompile(`^(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{4})([ T]\d{1,2}:\d{2}(:\d{2})?)?$`)

// endOfDay reports whether t is 23:59:59 on its own clock: a date
// without a time, as parseDate makes it.
func endOfDay(t time.Time) bool {
	h, m, s := t.Clock()
	return h == 23 && m == 59 && s == 59 && t.Nanosecond() == 0
}
