package sheet

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

// readNow is when the fixture sheets are read: 30 Nov 2026, noon UTC.
var readNow = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// A Spanish sheet as people type it: months by name, with or without a
// year or a day, and quantities with the words that say what they count.
func TestSpanishMonthsAndQuantityWords(t *testing.T) {
	sh, err := parseFile(t, "testdata/shapes/spanish-dates.csv", ReadOptions{Now: readNow})
	if err != nil {
		t.Fatal(err)
	}
	checkFates(t, sh, []fate{{2, "need"}, {3, "need"}, {4, "offer"}, {5, "offer"}, {6, "need"},
		{7, `bad: Vence "31 feb" is not a real date`}, {8, `bad: Cantidad "3-4" is not a whole number`}, {9, "offer"}, {10, "need"}})
	end := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 23, 59, 59, 0, time.UTC) }
	for _, tc := range []struct {
		line     int
		quantity uint32
		details  string
		expires  time.Time
	}{
		{2, 3, "Cantidad: 3 personas", end(2026, 12, 25)},              // this year's 25 Dec
		{3, 2, "Sin lactosa\n\nCantidad: 2 familias", end(2027, 1, 3)}, // the nearest 3 Jan is next year's
		{4, 10, "", end(2027, 1, 31)},                                  // a month: its end; "unidades" says nothing
		{5, 20, "", end(2026, 12, 25)},                                 // "de ... de": a full date
		{6, 1, "", time.Date(2027, 1, 3, 18, 0, 0, 0, time.UTC)},       // a weekday and a time
		{9, 1, "", end(2026, 12, 25)},                                  // English works too
		{10, 2, "Cantidad: 2 garrafas de 5 l", end(2027, 3, 1)},        // 1 Mar: next year's is nearer
	} {
		r := rowAt(t, sh.Rows, tc.line)
		if r.Quantity != tc.quantity || r.Details != tc.details || !r.Expires.Equal(tc.expires) {
			t.Errorf("line %d: quantity %d, details %q, expires %v; want %d, %q, %v", tc.line, r.Quantity, r.Details, r.Expires, tc.quantity, tc.details, tc.expires)
		}
	}
	// The quantity's words are not part of the Ref: "4 personas" next
	// time is the same post.
	data := readShapeBytes(t, "spanish-dates.csv")
	again, err := Parse(bytes.NewReader(bytes.Replace(data, []byte("3 personas"), []byte("4 personas"), 1)), ReadOptions{Now: readNow})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := rowAt(t, sh.Rows, 2), rowAt(t, again.Rows, 2); a.Ref != b.Ref || b.Quantity != 4 || b.Details != "Cantidad: 4 personas" {
		t.Errorf("after the quantity changed: ref %s → %s, %+v", a.Ref, b.Ref, b)
	}
}

func TestNamedDates(t *testing.T) {
	madrid, err := time.LoadLocation("Europe/Madrid")
	if err != nil {
		t.Skip(err) // no tzdata
	}
	end := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 23, 59, 59, 0, madrid) }
	for in, want := range map[string]time.Time{
		"25 dic": end(2026, 12, 25), "25 DIC.": end(2026, 12, 25), "25-dic-2027": end(2027, 12, 25), "dic 25": end(2026, 12, 25),
		"3 de enero": end(2027, 1, 3), "3 de Enero de 2027": end(2027, 1, 3), "1º de febrero": end(2027, 2, 1),
		"ene 2027": end(2027, 1, 31), "febrero 2028": end(2028, 2, 29), "septiembre de 2027": end(2027, 9, 30), "setiembre 2027": end(2027, 9, 30),
		"29 nov": end(2026, 11, 29), "1 jun": end(2027, 6, 1), "31 oct": end(2026, 10, 31), "29 oct": end(2027, 10, 29), "sábado 5 de diciembre": end(2026, 12, 5),
		"Dec 25th": end(2026, 12, 25), "the 3rd of January 2027": end(2027, 1, 3), "25 dic 2026 9:30": time.Date(2026, 12, 25, 9, 30, 0, 0, madrid),
		"29 feb": end(2028, 2, 29), "mar 5 dic": end(2026, 12, 5), "5 dic mar": end(2026, 12, 5), "mar 2027": end(2027, 3, 31),
		"sáb. 5 dic.": end(2026, 12, 5), "1ero de enero": end(2027, 1, 1),
	} {
		got, err := parseNamedDate(in, madrid, readNow)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseNamedDate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, wantErr := range map[string]string{
		"31 feb": "not a real date", "30 de febrero de 2027": "not a real date",
		"diciembre": errNotNamed.Error(), "25": errNotNamed.Error(), "mañana": errNotNamed.Error(), "25 dic 26": errNotNamed.Error(),
		"dic ene 2027": errNotNamed.Error(), "25 dic 2026 2027": errNotNamed.Error(), "ene 2027 10:00": errNotNamed.Error(),
		"25 dic 25:00": errNotNamed.Error(), "3 de enero de 2027 en la sala": errNotNamed.Error(),
	} {
		if got, err := parseNamedDate(in, madrid, readNow); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("parseNamedDate(%q) = %v, %v; want error %q", in, got, err, wantErr)
		}
	}
}

func TestQuantityWords(t *testing.T) {
	for _, tc := range []struct {
		header, cell string
		q            uint32
		note, err    string
	}{
		{"Cantidad", "3 personas", 3, "Cantidad: 3 personas", ""},
		{"Cantidad", "2 familias", 2, "Cantidad: 2 familias", ""},
		{"Número de personas", "3 personas", 3, "", ""},
		{"Personas", "5 persona", 5, "", ""},
		{"Quantity", "10 units", 10, "", ""},
		{"Qty", "4x", 4, "", ""},
		{"Quantity", "10 kg of rice", 10, "Quantity: 10 kg of rice", ""},
		{"Household size", "4", 4, "", ""},
		{"Quantity", "3-4", 0, "", "not a whole number"},
		{"Quantity", "10+", 0, "", "not a whole number"},
		{"Quantity", "personas", 0, "", "not a whole number"},
		{"Quantity", "-2 personas", 0, "", "not a whole number"},
		{"Quantity", "99999999999 personas", 0, "", "too large"},
	} {
		q, words, err := parseQuantityWords(tc.cell)
		note := quantityNote(tc.header, tc.cell, words)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s %q: %d, %v; want error %q", tc.header, tc.cell, q, err, tc.err)
			}
			continue
		}
		if err != nil || q != tc.q || note != tc.note {
			t.Errorf("%s %q: %d, %q, %v; want %d, %q", tc.header, tc.cell, q, note, err, tc.q, tc.note)
		}
	}
}

// An export of several groups has a Group column: each row's group is
// read as written, and Write puts the column back.
func TestGroupColumn(t *testing.T) {
	sh, err := parseFile(t, "testdata/shapes/multi-group.csv", ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(fields(sh.Columns), ","); got != "id,group,kind,title,category,quantity,status" {
		t.Fatalf("columns %s", got)
	}
	var groups []string
	for _, r := range sh.Rows {
		groups = append(groups, r.Group)
	}
	if got := strings.Join(groups, "|"); got != "Riverside Mutual Aid|Eastgate|EASTGATE|Harbour|Northside Pantry|" || len(sh.Bad) != 0 || len(sh.Warnings) != 0 {
		t.Fatalf("groups %q, bad %v, warnings %v", got, sh.Bad, sh.Warnings)
	}
	var buf bytes.Buffer
	if err := Write(&buf, sh.Rows); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "ID,Group,Type,Title,") || !strings.Contains(buf.String(), ",Northside Pantry,offer,Spare bike,") {
		t.Fatalf("written:\n%s", buf.String())
	}
	back, err := Parse(&buf, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range back.Rows {
		if r.Group != sh.Rows[i].Group || r.Title != sh.Rows[i].Title {
			t.Errorf("row %d read back as %+v, was %+v", i, r, sh.Rows[i])
		}
	}
	// A single group's rows: no Group column.
	buf.Reset()
	one := sh.Rows[5:]
	if err := Write(&buf, one); err != nil || !strings.HasPrefix(buf.String(), "ID,Type,") {
		t.Fatalf("one group's export: %v\n%s", err, buf.String())
	}
}

func readShapeBytes(t *testing.T, name string) []byte {
	t.Helper()
	f, err := parseFileBytes("testdata/shapes/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func parseFileBytes(path string) ([]byte, error) { return os.ReadFile(path) }
