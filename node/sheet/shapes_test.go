package sheet

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func parseFile(t *testing.T, path string, opt ReadOptions) (*Sheet, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Parse(f, opt)
}

func fields(cs []Column) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Field)
	}
	return out
}

// fate is a row's fate as a test states it: "need"/"offer" for a row read
// with that kind, or "bad: <part of the reason>".
type fate struct {
	line int
	want string
}

func checkFates(t *testing.T, sh *Sheet, fates []fate) {
	t.Helper()
	got := map[int]string{}
	for _, r := range sh.Rows {
		got[r.Line] = r.Kind
	}
	for _, b := range sh.Bad {
		if _, ok := got[b.Line]; ok {
			t.Errorf("line %d both read and bad", b.Line)
		}
		got[b.Line] = "bad: " + b.Err
	}
	if len(got) != len(fates) {
		t.Errorf("%d rows have a fate, want %d: %v", len(got), len(fates), got)
	}
	for _, f := range fates {
		g := got[f.line]
		if g != f.want && !(strings.HasPrefix(f.want, "bad: ") && strings.HasPrefix(g, "bad: ") && strings.Contains(g, f.want[5:])) {
			t.Errorf("line %d: %q, want %q", f.line, g, f.want)
		}
	}
}

// A header that lists its values, "Type (Need/Offer)", is the Type column
// (it made every row an offer before); "Category (Food/...)" is the
// category; an unused column is warned about; a row whose Type is
// neither need nor offer, or empty with nothing to say, is reported.
func TestShapeValueLists(t *testing.T) {
	sh, err := parseFile(t, "testdata/shapes/value-lists.csv", ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(fields(sh.Columns), ","), "kind,title,category,urgency,contact,"; got != want {
		t.Errorf("columns %s, want %s", got, want)
	}
	if len(sh.Warnings) != 1 || !strings.Contains(sh.Warnings[0], `"Pronouns" is not used`) {
		t.Errorf("warnings %q, want one about Pronouns", sh.Warnings)
	}
	checkFates(t, sh, []fate{{2, "need"}, {3, "offer"}, {4, "need"}, {5, `bad: "Maybe" is neither need nor offer`},
		{6, "bad: Type (Need/Offer) is empty"}, {7, "offer"}})
	if r := rowAt(t, sh.Rows, 2); r.Category != "Clothes" || r.Urgency != UrgencyHigh || r.Contact != "555-0101" {
		t.Errorf("line 2: %+v", r)
	}
	// With kind=offer, the row with an empty Type is an offer; the others
	// keep their own.
	sh, err = parseFile(t, "testdata/shapes/value-lists.csv", ReadOptions{DefaultKind: KindOffer})
	if err != nil {
		t.Fatal(err)
	}
	checkFates(t, sh, []fate{{2, "need"}, {3, "offer"}, {4, "need"}, {5, "bad: neither"}, {6, "offer"}, {7, "offer"}})
}

// Spanish headers and values, dates day first, an organisers' column
// ("Notas internas") never taken as details.
func TestShapeSpanish(t *testing.T) {
	sh, err := parseFile(t, "testdata/shapes/spanish.csv", ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := "timestamp,kind,title,details,category,urgency,quantity,location,contact,expires,status,"
	if got := strings.Join(fields(sh.Columns), ","); got != want {
		t.Errorf("columns %s, want %s", got, want)
	}
	checkFates(t, sh, []fate{{2, "need"}, {3, "offer"}, {4, "need"}, {5, `bad: "quizás" is neither need nor offer`}, {6, "offer"}})
	for _, tc := range []struct {
		line int
		want Row
	}{
		{2, Row{Kind: KindNeed, Title: "Mantas para familia", Details: "Familia de cuatro, dos niños", Category: "Ropa",
			Urgency: UrgencyHigh, Quantity: 4, Location: "Barrio Norte", Contact: "555-0201",
			Expires: time.Date(2036, 12, 20, 23, 59, 59, 0, time.UTC), Status: StatusOpen}},
		{3, Row{Kind: KindOffer, Title: "Sopa caliente los viernes", Category: "Comida", Urgency: UrgencyLow, Quantity: 20,
			Location: "Centro", Contact: "555-0202", Status: StatusOpen}},
		{4, Row{Kind: KindNeed, Title: "Transporte al hospital", Category: "Transporte", Urgency: UrgencyNormal, Quantity: 1,
			Location: "Sur", Contact: "555-0203", Status: StatusClaimed}},
		{6, Row{Kind: KindOffer, Title: "Furgoneta los sábados", Category: "Transporte", Urgency: UrgencyLow,
			Location: "Oeste", Contact: "555-0205", Expires: time.Date(2036, 12, 31, 23, 59, 59, 0, time.UTC), Status: StatusFulfilled}},
	} {
		got := rowAt(t, sh.Rows, tc.line)
		got.Ref = ""
		tc.want.Line = tc.line
		if !rowsEqual(got, tc.want) {
			t.Errorf("line %d:\ngot  %+v\nwant %+v", tc.line, got, tc.want)
		}
	}
}

// No column says need or offer: the file is refused unless told; a form
// whose headers name offers is a sheet of offers, with a warning.
func TestShapeNoKind(t *testing.T) {
	if _, err := parseFile(t, "testdata/shapes/no-kind.csv", ReadOptions{}); !errors.Is(err, ErrNoKind) ||
		!strings.Contains(err.Error(), "kind=need or kind=offer") {
		t.Errorf("err %v, want ErrNoKind naming kind=", err)
	}
	sh, err := parseFile(t, "testdata/shapes/no-kind.csv", ReadOptions{DefaultKind: KindOffer})
	if err != nil {
		t.Fatal(err)
	}
	checkFates(t, sh, []fate{{2, "offer"}, {3, "offer"}})
	sh, err = parseFile(t, "testdata/shapes/offer-form.csv", ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkFates(t, sh, []fate{{2, "offer"}, {3, "offer"}})
	if sh.Kind != KindOffer || sh.KindFrom != "What can you offer?" || len(sh.Warnings) != 1 {
		t.Errorf("kind %q from %q, warnings %q", sh.Kind, sh.KindFrom, sh.Warnings)
	}
}

// An exported sheet's ID column identifies the post: the Ref depends on
// the ID alone, so edited cells still find it; a repeated ID is reported;
// an ID column of the organisers' own row numbers is not a post ID.
func TestIDColumn(t *testing.T) {
	const id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	sh, err := Parse(strings.NewReader("ID,Type,Title\n"+id+",need,Coats\n"+strings.ToUpper(id)+",need,Coats again\n7,offer,Van\n"), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkFates(t, sh, []fate{{2, "need"}, {3, "bad: the same post ID as row 2"}, {4, "offer"}})
	if sh.Rows[0].ID != id || sh.Rows[1].ID != "" {
		t.Errorf("IDs %q %q", sh.Rows[0].ID, sh.Rows[1].ID)
	}
	edited, _, err := Read(strings.NewReader("ID,Type,Title,Status\n"+id+",need,Winter coats,done\n"), ReadOptions{})
	if err != nil || len(edited) != 1 || edited[0].Ref != sh.Rows[0].Ref {
		t.Errorf("edited row: %+v, %v; want Ref %s", edited, err, sh.Rows[0].Ref)
	}
	if len(sh.Warnings) != 1 || !strings.Contains(sh.Warnings[0], "not post IDs") {
		t.Errorf("warnings %q", sh.Warnings)
	}
}

// Rows read in parts (FromLine, ToLine) have the Refs and lines they have
// when the file is read whole: two identical rows in different parts are
// still two rows.
func TestReadInParts(t *testing.T) {
	csv := "Type,Title\nneed,Coats\nneed,Coats\noffer,\"Van\nwith driver\"\nneed,Rice\n"
	whole, _, err := Read(strings.NewReader(csv), ReadOptions{})
	if err != nil || len(whole) != 4 {
		t.Fatalf("%+v %v", whole, err)
	}
	var parts []Row
	for _, p := range [][2]int{{1, 2}, {3, 3}, {4, 5}, {6, 0}} {
		rows, _, err := Read(strings.NewReader(csv), ReadOptions{FromLine: p[0], ToLine: p[1]})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, rows...)
	}
	if len(parts) != len(whole) {
		t.Fatalf("parts give %d rows, whole %d", len(parts), len(whole))
	}
	for i := range whole {
		if parts[i].Ref != whole[i].Ref || parts[i].Line != whole[i].Line {
			t.Errorf("row %d: part %s line %d, whole %s line %d", i, parts[i].Ref, parts[i].Line, whole[i].Ref, whole[i].Line)
		}
	}
	if whole[0].Ref == whole[1].Ref {
		t.Error("identical rows share a Ref")
	}
}

// Cells with control characters, line breaks and bidi controls are
// cleaned: one-line fields become one line, no bidi control survives.
func TestReadCleansCells(t *testing.T) {
	rows, bad, err := Read(strings.NewReader("Type,Title,Details,Location\nneed,\"Coats\u202e\tfor\nkids\u2066\",\"a\u2028b\u202a\",North\u2029side\u200f\n"), ReadOptions{})
	if err != nil || len(bad) != 0 || len(rows) != 1 {
		t.Fatalf("%+v %v %v", rows, bad, err)
	}
	r := rows[0]
	if r.Title != "Coats for kids" || r.Details != "a\nb" || r.Location != "North side\u200f" {
		t.Errorf("cleaned to %q %q %q", r.Title, r.Details, r.Location)
	}
}
