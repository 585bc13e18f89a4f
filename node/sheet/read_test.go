package sheet

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // America/New_York below, on machines without a zoneinfo database too
)

// sampleDirs are where the sample spreadsheets live: the copies in
// testdata/ (always), and /work/shared/data beside the repository when
// it is there.
var sampleDirs = []string{"testdata", filepath.Join("..", "..", "..", "shared", "data")}

var samples = []struct {
	file string
	kind string
	good int
	bad  []int // line numbers, header = 1
}{
	// Row 9 has no need at all, 21 an unreadable timestamp, 35 is cut
	// short, 43 has household size "four".
	{"requests-google-form.csv", KindNeed, 56, []int{9, 21, 35, 43}},
	// Row 7 has no offer, 24 a negative quantity, 32 the date 31/02/2026.
	{"offers-airtable.csv", KindOffer, 37, []int{7, 24, 32}},
}

var refPattern = regexp.MustCompile(`^csv:[0-9a-f]{16}$`)

func readFile(t *testing.T, path string, opt ReadOptions) ([]Row, []RowError) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, bad, err := Read(f, opt)
	if err != nil {
		t.Fatalf("Read(%s): %v", path, err)
	}
	return rows, bad
}

func badLines(bad []RowError) []int {
	var ls []int
	for _, b := range bad {
		ls = append(ls, b.Line)
	}
	return ls
}

func TestReadSamples(t *testing.T) {
	for _, dir := range sampleDirs {
		for _, s := range samples {
			path := filepath.Join(dir, s.file)
			t.Run(path, func(t *testing.T) {
				if _, err := os.Stat(path); err != nil && dir != "testdata" {
					t.Skipf("no %s here", path)
				}
				rows, bad := readFile(t, path, ReadOptions{})
				if len(rows) != s.good {
					t.Errorf("read %d good rows, want %d", len(rows), s.good)
				}
				if got := badLines(bad); !slices.Equal(got, s.bad) {
					t.Errorf("bad rows at lines %v, want %v: %v", got, s.bad, bad)
				}
				lines := map[int]bool{}
				refs := map[string]int{}
				for _, r := range rows {
					if r.Kind != s.kind {
						t.Errorf("line %d: kind %q, want %q", r.Line, r.Kind, s.kind)
					}
					if err := r.check(); err != nil {
						t.Errorf("line %d: %v", r.Line, err)
					}
					if r.Urgency == "" || r.Status == "" {
						t.Errorf("line %d: empty urgency or status: %+v", r.Line, r)
					}
					if lines[r.Line] || slices.Contains(s.bad, r.Line) {
						t.Errorf("line %d read twice or both good and bad", r.Line)
					}
					lines[r.Line] = true
					if !refPattern.MatchString(r.Ref) {
						t.Errorf("line %d: Ref %q", r.Line, r.Ref)
					}
					if l, dup := refs[r.Ref]; dup {
						t.Errorf("lines %d and %d share Ref %s", l, r.Line, r.Ref)
					}
					refs[r.Ref] = r.Line
				}
			})
		}
	}
}

// The shared copies, when present, are the same files as testdata/.
func TestSamplesMatchShared(t *testing.T) {
	for _, s := range samples {
		shared, err := os.ReadFile(filepath.Join(sampleDirs[1], s.file))
		if err != nil {
			t.Skip("no shared data beside the repository")
		}
		local, err := os.ReadFile(filepath.Join("testdata", s.file))
		if err != nil {
			t.Fatal(err)
		}
		if string(shared) != string(local) {
			t.Errorf("testdata/%s differs from %s: copy it again", s.file, sampleDirs[1])
		}
	}
}

func rowAt(t *testing.T, rows []Row, line int) Row {
	t.Helper()
	for _, r := range rows {
		if r.Line == line {
			return r
		}
	}
	t.Fatalf("no row at line %d", line)
	return Row{}
}

func TestReadSampleValues(t *testing.T) {
	req, _ := readFile(t, "testdata/requests-google-form.csv", ReadOptions{})
	off, _ := readFile(t, "testdata/offers-airtable.csv", ReadOptions{})
	end := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 23, 59, 59, 0, time.UTC) }
	for _, tc := range []struct {
		name string
		got  Row
		want Row
	}{
		{"form, low urgency, dispatch needed", rowAt(t, req, 2), Row{Line: 2, Kind: KindNeed,
			Title: "Groceries for a family of 3, no pork please", Details: "Groceries for a family of 3, no pork please",
			Category: "Groceries", Location: "Northside", Contact: "Quinn Mensah, 555-0197 (WhatsApp)",
			Quantity: 3, Urgency: UrgencyLow, Status: StatusOpen}},
		{"form, urgent, request complete", rowAt(t, req, 3), Row{Line: 3, Kind: KindNeed,
			Title: "Cooked meals for 7 people, one diabetic", Details: "Cooked meals for 7 people, one diabetic",
			Category: "Hot meals", Location: "Eastgate", Contact: "Uma Baker, 555-0136 (Signal)",
			Quantity: 7, Urgency: UrgencyHigh, Status: StatusFulfilled}},
		{"form, within a few days, duplicate", rowAt(t, req, 8), Row{Line: 8, Kind: KindNeed,
			Title: "Cooked meals for 1 people, one diabetic", Details: "Cooked meals for 1 people, one diabetic",
			Category: "Hot meals", Location: "Hillcrest", Contact: "Dara Farah, 555-0135 (WhatsApp)",
			Quantity: 1, Urgency: UrgencyNormal, Status: StatusWithdrawn}},
		{"form, multi-choice, delivery assigned", rowAt(t, req, 34), Row{Line: 34, Kind: KindNeed,
			Title: "Someone to call my mum twice a week", Details: "Someone to call my mum twice a week",
			Category: "Friendly call, Household supplies", Location: "Ward 5", Contact: "Dara Ito, 555-0132 (Text)",
			Quantity: 4, Urgency: UrgencyNormal, Status: StatusClaimed}},
		{"airtable, available", rowAt(t, off, 2), Row{Line: 2, Kind: KindOffer, Title: "Sewing machine to lend",
			Category: "Household", Location: "Ward 5", Contact: "Pia Diallo, 555-0133", Quantity: 1,
			Urgency: UrgencyNormal, Expires: end(2026, 12, 8), Status: StatusOpen}},
		{"airtable, taken", rowAt(t, off, 3), Row{Line: 3, Kind: KindOffer, Title: "Van with driver on Saturdays",
			Category: "Transport", Location: "Northside", Contact: "Eli Haddad, 555-0144", Quantity: 1,
			Urgency: UrgencyNormal, Expires: end(2026, 12, 18), Status: StatusClaimed}},
		{"airtable, quoted comma", rowAt(t, off, 8), Row{Line: 8, Kind: KindOffer,
			Title: "Bags of children's clothes, ages 3-8", Category: "Clothing", Location: "Hillcrest",
			Contact: "Xavi Alvarez, 555-0104", Quantity: 6, Urgency: UrgencyNormal, Expires: end(2026, 12, 21),
			Status: StatusWithdrawn}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.got.Ref = ""
			if !rowsEqual(tc.got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", tc.got, tc.want)
			}
		})
	}
}

func TestReadSampleErrors(t *testing.T) {
	_, bad := readFile(t, "testdata/requests-google-form.csv", ReadOptions{})
	_, bad2 := readFile(t, "testdata/offers-airtable.csv", ReadOptions{})
	want := []string{
		"row 9: no title: nothing in Tell us more or What do you need? (check all that apply)",
		`row 21: Timestamp "yesterday-ish" is not a date (write YYYY-MM-DD)`,
		"row 35: the row has 4 cells but the header has 13 (cut short?)",
		`row 43: Household size "four" is not a whole number`,
		"row 7: no title: Offer is empty",
		`row 24: Quantity "-3" is negative`,
		`row 32: Available until "31/02/2026" is not a real date`,
	}
	var got []string
	for _, b := range append(bad, bad2...) {
		got = append(got, b.Error())
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// mixed-headers.csv: 60 rows under "TYPE, Request ,Description:,
// Neighbourhood,Qty.,Urgency,Needed by,Phone #,Status", with multi-line
// cells, an all-empty row and a blank line in between, and four broken
// rows: "Row 13" has quantity -2, "Row 27" needs it by 2026-02-30, "Row
// 41" is cut short and row 55 has no title.
func TestReadMixedHeaders(t *testing.T) {
	rows, bad := readFile(t, "testdata/mixed-headers.csv", ReadOptions{})
	if got, want := badLines(bad), []int{14, 29, 46, 62}; !slices.Equal(got, want) {
		t.Errorf("bad lines %v, want %v: %v", got, want, bad)
	}
	seen := map[int]int{}
	titleRE := regexp.MustCompile(`^Row (\d\d): `)
	for _, r := range rows {
		m := titleRE.FindStringSubmatch(r.Title)
		if m == nil {
			t.Errorf("line %d: unexpected title %q", r.Line, r.Title)
			continue
		}
		n := 0
		for _, c := range m[1] {
			n = n*10 + int(c-'0')
		}
		seen[n]++
	}
	for n := 1; n <= 60; n++ {
		want := 1
		if n == 13 || n == 27 || n == 41 || n == 55 {
			want = 0
		}
		if seen[n] != want {
			t.Errorf("Row %02d read %d times, want %d", n, seen[n], want)
		}
	}
	if len(rows) != 56 {
		t.Errorf("%d rows, want 56", len(rows))
	}

	loc := time.UTC
	for _, tc := range []struct {
		line int
		want Row
	}{
		{2, Row{Kind: KindOffer, Title: "Row 01: Hot meals", Details: "Details for row 1", Location: "Old Town",
			Urgency: UrgencyHigh, Expires: time.Date(2026, 12, 3, 23, 59, 59, 0, loc), Contact: "555-0101", Status: StatusOpen}},
		{3, Row{Kind: KindNeed, Title: "Row 02: Winter coats", Details: "Details for row 2", Location: "Ward 4", Quantity: 12,
			Urgency: UrgencyLow, Expires: time.Date(2026, 12, 5, 18, 0, 0, 0, loc), Contact: "555-0102", Status: StatusClaimed}},
		{4, Row{Kind: KindOffer, Title: "Row 03: Nappies", Location: "Riverside, near the bridge", Quantity: 3,
			Urgency: UrgencyLow, Expires: time.Date(2026, 12, 5, 14, 0, 0, 0, loc), Contact: "555-0103", Status: StatusClaimed}},
		{5, Row{Kind: KindNeed, Title: "Row 04: Ride to clinic", Details: "Details for row 4", Location: "Eastgate",
			Urgency: UrgencyNormal, Contact: "555-0104", Status: StatusClaimed}},
		{6, Row{Kind: KindNeed, Title: "Row 05: Dog food", Details: "Details for row 5", Location: "Northside", Quantity: 2,
			Urgency: UrgencyNormal, Expires: time.Date(2026, 12, 24, 9, 30, 0, 0, loc), Contact: "555-0105", Status: StatusFulfilled}},
		{15, Row{Kind: KindNeed, Title: "Row 14: Ride to clinic", Details: "Details for row 14", Location: "Eastgate", Quantity: 12,
			Urgency: UrgencyHigh, Expires: time.Date(2026, 12, 5, 18, 0, 0, 0, loc), Contact: "555-0114", Status: StatusOpen}},
		{44, Row{Kind: KindNeed, Title: "Row 40: Blankets",
			Details: "First line of row 40\nsecond line, with \"quotes\", and commas", Location: "Northside",
			Urgency: UrgencyHigh, Contact: "555-0140", Status: StatusOpen}},
		{46 + 6, Row{Kind: KindNeed, Title: "Row 46: Groceries", Details: "Details for row 46", Location: "Old Town",
			Urgency: UrgencyHigh, Contact: "555-0146", Status: StatusOpen}},
		{67, Row{Kind: KindNeed, Title: "Row 60: Blankets",
			Details: "First line of row 60\nsecond line, with \"quotes\", and commas", Location: "Northside", Quantity: 1,
			Urgency: UrgencyNormal, Expires: time.Date(2026, 12, 1, 23, 59, 59, 0, loc), Contact: "555-0160", Status: StatusOpen}},
	} {
		got := rowAt(t, rows, tc.line)
		got.Ref = ""
		tc.want.Line = tc.line
		if !rowsEqual(got, tc.want) {
			t.Errorf("line %d:\ngot  %+v\nwant %+v", tc.line, got, tc.want)
		}
	}
}

// rowsEqual compares rows, times by instant.
func rowsEqual(a, b Row) bool {
	ta, tb := a.Expires, b.Expires
	a.Expires, b.Expires = time.Time{}, time.Time{}
	return a == b && ta.Equal(tb)
}

func TestHeaderRole(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   role
	}{
		{"Type", roleKind}, {"KIND", roleKind}, {"Need or offer", roleKind}, {"Need / Offer", roleKind},
		{"Title", roleTitle}, {"Request", roleTitle}, {" Offer ", roleTitle}, {"Need", roleTitle},
		{"What do you need?", roleTitle}, {"What can you offer? (one item per row)", roleTitle},
		{"What do you need? (check all that apply)", roleCategory}, {"Type of support", roleCategory},
		{"Category", roleCategory},
		{"Details", roleDetails}, {"Description:", roleDetails}, {"Tell us more", roleDetails}, {"Notes", roleDetails},
		{"Neighbourhood", roleLocation}, {"Neighborhood", roleLocation}, {"Area", roleLocation},
		{"Location", roleLocation}, {"Address", roleLocation}, {"Home address (street and number)", roleLocation},
		{"Quantity", roleQuantity}, {"Qty.", roleQuantity}, {"Household size", roleQuantity}, {"How many?", roleQuantity},
		{"Urgency", roleUrgency}, {"How urgent is your need?", roleUrgency},
		{"Needed by", roleExpires}, {"Expires", roleExpires}, {"Available until", roleExpires}, {"Deadline", roleExpires},
		{"Contact", roleContact}, {"Phone", roleContact}, {"Phone #", roleContact}, {"Phone or email", roleContact},
		{"Email", roleContact}, {"E-mail", roleContact}, {"Your phone number", roleContact},
		{"Name", roleName}, {"Volunteer", roleName},
		{"Preferred contact method", roleMethod},
		{"Status", roleStatus}, {"Timestamp", roleStamp}, {"\ufeffTimestamp", roleStamp},
		{"Type (Need/Offer)", roleKind}, {"Kind: need / offer", roleKind}, {"Need or offer?", roleKind},
		{"Entry [Need|Offer]", roleKind}, {"Type (Food/Housing/Transport)", roleCategory},
		{"Title of request", roleTitle}, {"Short title (required)", roleTitle}, {"Date needed by", roleExpires},
		{"Delivery address (street and number)", roleLocation}, {"Volunteer notes (internal)", roleNone},
		{"Tipo", roleKind}, {"¿Necesidad u oferta?", roleKind}, {"Título", roleTitle}, {"TITULO", roleTitle},
		{"Descripción", roleDetails}, {"Categoría", roleCategory}, {"Urgencia", roleUrgency}, {"¿Es urgente?", roleUrgency},
		{"Cantidad", roleQuantity}, {"Ubicación", roleLocation}, {"Dirección", roleLocation}, {"Contacto", roleContact},
		{"Teléfono", roleContact}, {"Detalles", roleDetails}, {"Vence", roleExpires}, {"Fecha límite", roleExpires},
		{"Nombre", roleName}, {"Estado", roleStatus}, {"Marca temporal", roleStamp}, {"¿Qué necesita?", roleTitle},
		{"Notas internas", roleNone}, {"ID", roleID}, {"Post ID", roleID},
		{"Pronouns", roleNone}, {"Dispatcher notes", roleNone}, {"Is your need recurring?", roleNone}, {"", roleNone},
	} {
		if got := headerRole(tc.header); got != tc.want {
			t.Errorf("headerRole(%q) = %s, want %s", tc.header, roleNames[got], roleNames[tc.want])
		}
	}
}

func TestValueMapping(t *testing.T) {
	for in, want := range map[string]string{
		"Urgent! (within 24 hours)": UrgencyHigh, "ASAP": UrgencyHigh, "high": UrgencyHigh, "HIGH": UrgencyHigh,
		"Emergency": UrgencyHigh, "Whenever possible": UrgencyLow, "low": UrgencyLow, "not urgent": UrgencyLow,
		"Not urgent at all": UrgencyLow, "Within a few days": UrgencyNormal, "normal": UrgencyNormal, "": UrgencyNormal,
	} {
		if got := parseUrgency(in); got != want {
			t.Errorf("parseUrgency(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"Open": StatusOpen, "New": StatusOpen, "Dispatch needed": StatusOpen, "Available": StatusOpen,
		"Pending": StatusOpen, "": StatusOpen, "On hold": StatusOpen,
		"Taken": StatusClaimed, "Claimed": StatusClaimed, "In progress": StatusClaimed, "Assigned": StatusClaimed,
		"Delivery assigned": StatusClaimed, "Driver assigned": StatusClaimed,
		"Done": StatusFulfilled, "Complete": StatusFulfilled, "Request complete": StatusFulfilled,
		"Fulfilled": StatusFulfilled, "Delivered": StatusFulfilled, "Delivery complete": StatusFulfilled,
		"Cancelled": StatusWithdrawn, "Withdrawn": StatusWithdrawn, "Expired": StatusWithdrawn,
		"Duplicate": StatusWithdrawn, "Delivery cancelled": StatusWithdrawn, "Not available": StatusWithdrawn,
	} {
		if got := parseStatus(in); got != want {
			t.Errorf("parseStatus(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"need": KindNeed, "Need": KindNeed, "REQUEST": KindNeed,
		"offer": KindOffer, "Offer ": KindOffer, "Offering": KindOffer, "": ""} {
		if got, err := parseKind(in); got != want || err != nil {
			t.Errorf("parseKind(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, want := range map[string]string{"Necesidad": KindNeed, "necesito": KindNeed, "Solicitud": KindNeed,
		"Oferta": KindOffer, "ofrezco": KindOffer, "Donación": KindOffer} {
		if got, err := parseKind(in); got != want || err != nil {
			t.Errorf("parseKind(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, want := range map[string]string{"Urgente": UrgencyHigh, "muy urgente": UrgencyHigh, "Alta": UrgencyHigh,
		"baja": UrgencyLow, "No urgente": UrgencyLow, "sin prisa": UrgencyLow, "normal": UrgencyNormal} {
		if got := parseUrgency(in); got != want {
			t.Errorf("parseUrgency(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"Pendiente": StatusOpen, "Asignado": StatusClaimed, "En curso": StatusClaimed,
		"Entregado": StatusFulfilled, "Completada": StatusFulfilled, "Cancelado": StatusWithdrawn, "Ya no se necesita": StatusWithdrawn} {
		if got := parseStatus(in); got != want {
			t.Errorf("parseStatus(%q) = %q, want %q", in, got, want)
		}
	}
	if _, err := parseKind("maybe"); err == nil {
		t.Error(`parseKind("maybe") did not fail`)
	}

	berlin := time.FixedZone("Berlin", 3600)
	for _, tc := range []struct {
		in   string
		want time.Time
		err  string
	}{
		{in: "2026-12-02", want: time.Date(2026, 12, 2, 23, 59, 59, 0, berlin)},
		{in: "12/2/2026", want: time.Date(2026, 12, 2, 23, 59, 59, 0, berlin)},
		{in: "01/09/2026", want: time.Date(2026, 1, 9, 23, 59, 59, 0, berlin)},
		{in: "11/7/2026 8:20:36", want: time.Date(2026, 11, 7, 8, 20, 36, 0, berlin)},
		{in: "2026-12-02 18:30", want: time.Date(2026, 12, 2, 18, 30, 0, 0, berlin)},
		{in: "2026-12-02T18:30:00Z", want: time.Date(2026, 12, 2, 18, 30, 0, 0, time.UTC)},
		{in: "2026-12-02T18:30:00-05:00", want: time.Date(2026, 12, 2, 23, 30, 0, 0, time.UTC)},
		{in: "2 Dec 2026", want: time.Date(2026, 12, 2, 23, 59, 59, 0, berlin)},
		{in: "2026-02-30", err: "is not a real date"},
		{in: "31/02/2026", err: "is not a real date"},
		{in: "13/13/2026", err: "is not a real date"},
		{in: "yesterday-ish", err: "is not a date"},
		{in: "2026-12", err: "is not a date"},
	} {
		got, err := parseDate(tc.in, berlin, false)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("parseDate(%q) = %v, %v; want error %q", tc.in, got, err, tc.err)
		case tc.err == "" && (err != nil || !got.Equal(tc.want)):
			t.Errorf("parseDate(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for in, want := range map[string]string{"": "0", "0": "0", "7": "7", "+2": "2", "4294967295": "4294967295",
		"four": "is not a whole number", "-3": "is negative", "2.5": "is not a whole number",
		"4294967296": "is too large", "-": "is not a whole number"} {
		q, err := parseQuantity(in)
		got := strconv.FormatUint(uint64(q), 10)
		if err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("parseQuantity(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReadRowProblems(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	const header = "Type,Title,Details,Category,Location,Quantity,Urgency,Expires,Contact,Status\n"
	for _, tc := range []struct {
		name, row, err string
	}{
		{"ok", "need,Coats,,,,,,,,", ""},
		{"title at limit", "need," + long(MaxTitle) + ",,,,,,,,", ""},
		{"title over limit", "need," + long(MaxTitle+1) + ",,,,,,,,", "title is 201 bytes, at most 200"},
		{"details over limit", "need,Coats," + long(MaxDetails+1) + ",,,,,,,", "details is 4001 bytes"},
		{"category over limit", "need,Coats,," + long(MaxCategory+1) + ",,,,,,", "category is 65 bytes"},
		{"location over limit", "need,Coats,,," + long(MaxLocation+1) + ",,,,,", "location is 201 bytes"},
		{"contact over limit", "need,Coats,,,,,,," + long(MaxContact+1) + ",", "contact is 201 bytes"},
		{"no title", "need, ,Details,,,,,,,", "no title: Title is empty"},
		{"negative", "need,Coats,,,,-1,,,,", `Quantity "-1" is negative`},
		{"not a number", "need,Coats,,,,lots,,,,", `Quantity "lots" is not a whole number`},
		{"impossible date", "need,Coats,,,,,,2026-02-30,,", `Expires "2026-02-30" is not a real date`},
		{"unreadable date", "need,Coats,,,,,,soon,,", `Expires "soon" is not a date`},
		{"cut short", "need,Coats,,", "the row has 4 cells but the header has 10"},
		{"unknown type", "maybe,Coats,,,,,,,,", `Type "maybe" is neither need nor offer`},
		{"not UTF-8", "need,Co\xffats,,,,,,,,", "Title is not UTF-8 text"},
		{"two problems", "need,Coats,,,,-1,,soon,,", `Quantity "-1" is negative; Expires "soon" is not a date`},
		{"bad quotes", `need,"Coats" and hats,,,,,,,,`, "not valid CSV"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, bad, err := Read(strings.NewReader(header+tc.row+"\nneed,Hats,,,,,,,,\n"), ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.err == "" {
				if len(bad) != 0 || len(rows) != 2 {
					t.Fatalf("rows %d, bad %v", len(rows), bad)
				}
				return
			}
			if len(rows) != 1 || rows[0].Title != "Hats" || rows[0].Line != 3 {
				t.Errorf("the good row was not read: %+v", rows)
			}
			if len(bad) != 1 || bad[0].Line != 2 || !strings.Contains(bad[0].Err, tc.err) {
				t.Errorf("bad = %v, want one at line 2 containing %q", bad, tc.err)
			}
		})
	}
}

func TestReadOptions(t *testing.T) {
	// No Type column: the kind the headers name, unless told; headers
	// that name none (or both) are an error.
	for _, csv := range []string{"Title\nCoats\n", "Title,Location,Phone\nCoats,x,555\n",
		"Título,Teléfono\nMantas,555\n"} {
		if _, _, err := Read(strings.NewReader(csv), ReadOptions{}); !errors.Is(err, ErrNoKind) {
			t.Errorf("Read(%q) err = %v, want ErrNoKind", csv, err)
		}
	}
	for _, tc := range []struct {
		csv, def, want string
	}{
		{"What do you need?\nCoats\n", "", KindNeed},
		{"Offer\nVan\n", "", KindOffer},
		{"What can you offer?\nVan\n", "", KindOffer},
		{"Offer\nVan\n", KindNeed, KindNeed},
		{"Title\nCoats\n", KindOffer, KindOffer},
		{"Need or offer,Request\n,Coats\n", "", KindNeed},
		{"Need or offer,Title\n,Coats\n", KindOffer, KindOffer},
		{"Need or offer,Title\noffer,Coats\n", KindNeed, KindOffer},
	} {
		rows, _, err := Read(strings.NewReader(tc.csv), ReadOptions{DefaultKind: tc.def})
		if err != nil || len(rows) != 1 || rows[0].Kind != tc.want {
			t.Errorf("Read(%q, DefaultKind %q) = %+v, %v; want kind %s", tc.csv, tc.def, rows, err, tc.want)
		}
	}
	// An empty Type cell and nothing to say what it is: a bad row.
	if rows, bad, err := Read(strings.NewReader("Need or offer,Title\n,Coats\nneed,Hats\n"), ReadOptions{}); err != nil ||
		len(rows) != 1 || len(bad) != 1 || bad[0].Line != 2 || !strings.Contains(bad[0].Err, "Need or offer is empty") {
		t.Errorf("empty Type cell: rows %+v, bad %v, err %v", rows, bad, err)
	}
	if _, _, err := Read(strings.NewReader("Title\nx\n"), ReadOptions{DefaultKind: "gift"}); err == nil {
		t.Error("DefaultKind gift accepted")
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := Read(strings.NewReader("Title,Needed by\nCoats,12/2/2026 9:00:00\n"), ReadOptions{Location: ny, DefaultKind: KindNeed})
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC); len(rows) != 1 || !rows[0].Expires.Equal(want) {
		t.Errorf("in New York: %+v, want expires %v", rows, want)
	}
}

func TestReadFormats(t *testing.T) {
	for _, tc := range []struct {
		name, csv string
		want      []string // titles
	}{
		{"semicolons", "Title;Location\nCoats;Northside\nHats;Old Town\n", []string{"Coats", "Hats"}},
		{"tabs", "Title\tLocation\nCoats\tNorthside\n", []string{"Coats"}},
		{"excel sep line", "sep=;\nTitle;Location\nCoats;Northside\n", []string{"Coats"}},
		{"BOM and CRLF", "\ufeffTitle,Location\r\nCoats,Northside\r\n", []string{"Coats"}},
		{"title row above header", "Requests - November,,\n,,\nTitle,Location,Status\nCoats,Northside,Open\n", []string{"Coats"}},
		{"empty rows skipped", "Title,Location\n,\n\nCoats,Northside\n  ,  \n", []string{"Coats"}},
		{"formula escape", "Title\n'=1+1\n'+44 555\n", []string{"=1+1", "+44 555"}},
		{"only header", "Title,Details\n", nil},
		{"no title column: from details", "Tell us more,Category\n\"A very long description of what is needed, which goes on and on for quite a while, more than eighty characters\",Food\n,Rides\n",
			[]string{"A very long description of what is needed, which goes on and on for quite a…", "Rides"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, bad, err := Read(strings.NewReader(tc.csv), ReadOptions{DefaultKind: KindNeed})
			if err != nil || len(bad) != 0 {
				t.Fatalf("err %v, bad %v", err, bad)
			}
			var got []string
			for _, r := range rows {
				got = append(got, r.Title)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("titles %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRef(t *testing.T) {
	a, _ := readFile(t, "testdata/requests-google-form.csv", ReadOptions{})
	b, _ := readFile(t, "testdata/requests-google-form.csv", ReadOptions{})
	for i := range a {
		if a[i].Ref != b[i].Ref {
			t.Errorf("line %d: Ref %s then %s", a[i].Line, a[i].Ref, b[i].Ref)
		}
	}
	read := func(csv string) []Row {
		t.Helper()
		rows, bad, err := Read(strings.NewReader(csv), ReadOptions{})
		if err != nil || len(bad) > 0 {
			t.Fatal(err, bad)
		}
		return rows
	}
	const h = "Title,Location,Status,Needed by\n"
	rows := read(h + "Coats,Northside,Open,2026-12-01\nCoats,Northside,Open,2026-12-01\nCoats,Old Town,Open,2026-12-01\n")
	if rows[0].Ref == rows[1].Ref || rows[0].Ref == rows[2].Ref || rows[1].Ref == rows[2].Ref {
		t.Errorf("refs not distinct: %s %s %s", rows[0].Ref, rows[1].Ref, rows[2].Ref)
	}
	// The same post, marked done and moved to a later line, keeps its Ref:
	// a re-import updates it instead of adding a second post.
	later := read(h + "Hats,Eastgate,Open,\nCoats,Northside,Delivered,2026-12-09\n")
	if later[1].Ref != rows[0].Ref {
		t.Errorf("status change changed the Ref: %s -> %s", rows[0].Ref, later[1].Ref)
	}
	if edited := read(h + "Warm coats,Northside,Open,2026-12-01\n"); edited[0].Ref == rows[0].Ref {
		t.Error("a different title kept the Ref")
	}
}

func TestRowErrorString(t *testing.T) {
	if got := (RowError{Line: 7, Err: "no title"}).Error(); got != "row 7: no title" {
		t.Errorf("got %q", got)
	}
	var err error = RowError{Line: 1}
	var re RowError
	if !errors.As(err, &re) {
		t.Error("RowError is not an error")
	}
}
