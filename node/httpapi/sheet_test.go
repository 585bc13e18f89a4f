package httpapi

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
)

type fateResult struct {
	DryRun  bool `json:"dry_run"`
	Columns []struct {
		Column int    `json:"column"`
		Header string `json:"header"`
		Field  string `json:"field"`
	} `json:"columns"`
	Kind     string   `json:"kind"`
	KindFrom string   `json:"kind_from"`
	Warnings []string `json:"warnings"`
	importResult
	Rows []struct {
		Row   int    `json:"row"`
		Fate  string `json:"fate"`
		ID    string `json:"id"`
		Error string `json:"error"`
	} `json:"rows"`
	Preview []struct {
		Row   int    `json:"row"`
		Kind  string `json:"kind"`
		Title string `json:"title"`
	} `json:"preview"`
}

// importQ imports data with the query q and wants status code.
func (n *testNode) importQ(q string, data []byte, code int) (fateResult, string) {
	n.t.Helper()
	c, body, _ := n.do("POST", "/api/v1/import/csv?group="+n.group.String()+q, data, "text/csv")
	if c != code {
		n.t.Fatalf("import%s: %d %s, want %d", q, c, body, code)
	}
	var r fateResult
	if code == 200 {
		if err := json.Unmarshal(body, &r); err != nil {
			n.t.Fatal(err)
		}
	}
	return r, string(body)
}

// fates is "line:fate" for every row of an answer.
func (r *fateResult) fates() []string {
	var out []string
	for _, f := range r.Rows {
		out = append(out, strings.Join([]string{itoa(f.Row), f.Fate}, ":"))
	}
	return out
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func (n *testNode) kinds() map[string]string {
	n.t.Helper()
	var ps []post
	n.must(200, "GET", "/api/v1/posts", nil, &ps)
	m := map[string]string{}
	for _, p := range ps {
		m[p.Title] = p.Kind + "/" + p.Status
	}
	return m
}

func readShape(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../sheet/testdata/shapes/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Sheets of different shapes through the API: each row imported once,
// with its kind, or reported with its line; a dry run first writes
// nothing and foretells the same fates.
func TestImportShapes(t *testing.T) {
	for _, tc := range []struct {
		file, q string
		fates   []string
		kinds   map[string]string
	}{
		{"value-lists.csv", "", []string{"2:imported", "3:imported", "4:imported", "5:error", "6:error", "7:imported"},
			map[string]string{"Winter coats size L": "need/open", "20 hot meals Friday": "offer/open", "Ride to clinic": "need/open",
				"Van on Saturdays": "offer/open"}},
		{"value-lists.csv", "&kind=Offer", []string{"2:imported", "3:imported", "4:imported", "5:error", "6:imported", "7:imported"},
			map[string]string{"Winter coats size L": "need/open", "20 hot meals Friday": "offer/open", "Ride to clinic": "need/open",
				"Soup": "offer/open", "Van on Saturdays": "offer/open"}},
		{"spanish.csv", "", []string{"2:imported", "3:imported", "4:imported", "5:error", "6:imported"},
			map[string]string{"Mantas para familia": "need/open", "Sopa caliente los viernes": "offer/open",
				"Transporte al hospital": "need/claimed", "Furgoneta los sábados": "offer/fulfilled"}},
		{"no-kind.csv", "&kind=need", []string{"2:imported", "3:imported"},
			map[string]string{"Winter coats": "need/open", "Hot meals": "need/open"}},
		{"offer-form.csv", "", []string{"2:imported", "3:imported"},
			map[string]string{"Sewing machine to lend": "offer/open", "Spare room for a week": "offer/open"}},
	} {
		t.Run(tc.file+tc.q, func(t *testing.T) {
			n := newTestNode(t, nil)
			data := readShape(t, tc.file)
			dry, _ := n.importQ(tc.q+"&dry_run=1", data, 200)
			if got := n.kinds(); len(got) != 0 {
				t.Fatalf("a dry run wrote %v", got)
			}
			if !dry.DryRun || !slices.Equal(dry.fates(), tc.fates) {
				t.Errorf("dry run: fates %v, want %v", dry.fates(), tc.fates)
			}
			if len(dry.Preview) == 0 || dry.Preview[0].Row != 2 || len(dry.Columns) == 0 {
				t.Errorf("dry run: preview %+v, columns %+v", dry.Preview, dry.Columns)
			}
			res, _ := n.importQ(tc.q, data, 200)
			if !slices.Equal(res.fates(), tc.fates) {
				t.Errorf("fates %v, want %v", res.fates(), tc.fates)
			}
			for _, f := range res.Rows {
				if (f.Fate == "error") != (f.Error != "") || (f.Fate == "imported") != (f.ID != "") {
					t.Errorf("row %+v", f)
				}
			}
			if got := n.kinds(); !maps_equal(got, tc.kinds) {
				t.Errorf("board %v, want %v", got, tc.kinds)
			}
			again, _ := n.importQ(tc.q, data, 200)
			if again.Imported != 0 || again.Duplicates != res.Imported {
				t.Errorf("again: imported %d, duplicates %d; want 0, %d", again.Imported, again.Duplicates, res.Imported)
			}
		})
	}
}

func maps_equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// The value-list sheet's answer names the mapping and the unused column;
// a sheet with no kind column and no kind= is refused with a clear error,
// and nothing is written.
func TestImportMappingAndNoKind(t *testing.T) {
	n := newTestNode(t, nil)
	res, _ := n.importQ("&dry_run=1", readShape(t, "value-lists.csv"), 200)
	var got []string
	for _, c := range res.Columns {
		got = append(got, c.Header+"="+c.Field)
	}
	want := []string{"Type (Need/Offer)=kind", "What (one item per row)=title", "Category (Food/Clothes/Transport)=category",
		"Urgency [low/normal/high]=urgency", "Your phone number (optional)=contact", "Pronouns="}
	if !slices.Equal(got, want) {
		t.Errorf("columns %q, want %q", got, want)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "Pronouns") {
		t.Errorf("warnings %q", res.Warnings)
	}
	_, body := n.importQ("", readShape(t, "no-kind.csv"), 400)
	if !strings.Contains(body, "need or an offer") || !strings.Contains(body, "kind=need or kind=offer") {
		t.Errorf("no kind column: %s", body)
	}
	n.importQ("&kind=gift", readShape(t, "no-kind.csv"), 400)
	if got := n.kinds(); len(got) != 0 {
		t.Errorf("refused imports wrote %v", got)
	}
}

// A big file in parts (lines=A-B): the same posts, lines and
// idempotence as the whole file, identical rows in different parts
// included.
func TestImportInParts(t *testing.T) {
	csv := []byte("Type,Title\nneed,Coats\nneed,Coats\noffer,\"Van\nwith driver\"\nmaybe,Rice\nneed,Soap\n")
	n := newTestNode(t, nil)
	var fates []string
	for _, part := range []string{"1-2", "3-3", "4-5", "6-"} {
		res, _ := n.importQ("&lines="+part, csv, 200)
		fates = append(fates, res.fates()...)
	}
	if want := []string{"2:imported", "3:imported", "4:imported", "6:error", "7:imported"}; !slices.Equal(fates, want) {
		t.Errorf("fates %v, want %v", fates, want)
	}
	whole, _ := n.importQ("", csv, 200)
	if whole.Imported != 0 || whole.Duplicates != 4 {
		t.Errorf("whole after parts: imported %d, duplicates %d", whole.Imported, whole.Duplicates)
	}
	n.importQ("&lines=5-2", csv, 400)
	n.importQ("&lines=x", csv, 400)
}

// Export honours the board's filters and carries the IDs; importing the
// export back changes nothing, for posts made with POST /posts and posts
// imported alike, even after the sheet was edited.
func TestExportImportRoundTrip(t *testing.T) {
	n := newTestNode(t, nil)
	coat := n.create(map[string]any{"kind": "need", "title": "Winter coat", "category": "Clothes", "contact": "555-0101"})
	n.create(map[string]any{"kind": "offer", "title": "Van on Saturdays", "category": "Transport"})
	sofa := n.create(map[string]any{"kind": "offer", "title": "Old sofa", "category": "Furniture"})
	n.must(200, "POST", "/api/v1/posts/"+sofa.ID+"/status", map[string]any{"status": "withdrawn"}, nil)
	n.importQ("", readShape(t, "spanish.csv"), 200)
	before := string(n.board())

	get := func(q string) string {
		t.Helper()
		code, body, _ := n.do("GET", "/api/v1/posts.csv?group="+n.group.String()+q, nil, "")
		if code != 200 {
			t.Fatalf("export%s: %d %s", q, code, body)
		}
		return string(body)
	}
	all := get("")
	if lines := strings.Count(all, "\n"); lines != 8 || !strings.HasPrefix(all, "ID,Type,") || !strings.Contains(all, coat.ID+",need,Winter coat") {
		t.Fatalf("export:\n%s", all)
	}
	for q, want := range map[string][]string{
		"&kind=need":           {"Winter coat", "Mantas para familia", "Transporte al hospital"},
		"&status=withdrawn":    {"Old sofa"},
		"&category=Transporte": {"Transporte al hospital", "Furgoneta los sábados"},
		"&q=sofa":              {"Old sofa"},
		"&kind=offer&limit=1":  {",offer,"},
	} {
		got := get(q)
		if strings.Count(got, "\n") != len(want)+1 {
			t.Errorf("export%s has %d rows, want %v:\n%s", q, strings.Count(got, "\n")-1, want, got)
		}
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("export%s lacks %q:\n%s", q, w, got)
			}
		}
	}
	n.must(400, "GET", "/api/v1/posts.csv?kind=gift", nil, nil)

	res, _ := n.importQ("", []byte(all), 200)
	if res.Imported != 0 || res.Duplicates != 7 || len(res.Errors) != 0 {
		t.Errorf("re-import: %+v", res.importResult)
	}
	// Edited in a spreadsheet: still the same posts, left as the board has them.
	edited := strings.Replace(all, "Winter coat", "Winter coat (size L)", 1)
	res, _ = n.importQ("", []byte(edited), 200)
	if res.Imported != 0 || res.Duplicates != 7 {
		t.Errorf("re-import of an edited export: %+v", res.importResult)
	}
	if after := string(n.board()); after != before {
		t.Errorf("the board changed:\n%s\nwas\n%s", after, before)
	}
}

// A sheet with a Group column: each row goes to the group it names (by
// name, any case), an empty cell to group=; a row naming a group this
// node only follows, or one it does not hold, is an error row saying so.
// An export of all the node's groups has that column, and importing it
// back finds every post where it is.
func TestImportGroupColumn(t *testing.T) {
	ctx := context.Background()
	n := newTestNode(t, nil) // Riverside Mutual Aid
	east, err := n.rep.CreateGroup(ctx, "Eastgate")
	if err != nil {
		t.Fatal(err)
	}
	var harbour crdt.ID
	harbour[0] = 7
	if err := n.rep.Follow(ctx, harbour, "Harbour", nil, nil); err != nil {
		t.Fatal(err)
	}
	data := readShape(t, "multi-group.csv")
	want := []string{"2:imported", "3:imported", "4:imported", "5:error", "6:error", "7:imported"}
	dry, _ := n.importQ("&dry_run=1", data, 200)
	if !slices.Equal(dry.fates(), want) || len(n.kinds()) != 0 {
		t.Fatalf("dry run: fates %v, board %v", dry.fates(), n.kinds())
	}
	res, _ := n.importQ("", data, 200)
	if !slices.Equal(res.fates(), want) {
		t.Fatalf("fates %v, want %v", res.fates(), want)
	}
	errs := map[int]string{}
	for _, e := range res.Errors {
		errs[e.Row] = e.Error
	}
	if !strings.Contains(errs[5], "you follow Harbour read-only") || !strings.Contains(errs[6], `no group "Northside Pantry"`) {
		t.Errorf("errors %v", errs)
	}
	in := func(g crdt.ID) []string {
		var ps []post
		n.must(200, "GET", "/api/v1/posts?group="+g.String(), nil, &ps)
		var titles []string
		for _, p := range ps {
			titles = append(titles, p.Title)
		}
		slices.Sort(titles)
		return titles
	}
	if got := in(n.group); !slices.Equal(got, []string{"Rice", "Winter coats"}) {
		t.Errorf("Riverside holds %v", got)
	}
	if got := in(east); !slices.Equal(got, []string{"Hot meals Friday", "Nappies size 4"}) {
		t.Errorf("Eastgate holds %v", got)
	}
	if got := in(harbour); len(got) != 0 {
		t.Errorf("Harbour holds %v", got)
	}

	// The export of all groups names each row's group; back in, nothing new.
	code, body, _ := n.do("GET", "/api/v1/posts.csv", nil, "")
	if code != 200 || !strings.HasPrefix(string(body), "ID,Group,Type,") || !strings.Contains(string(body), ",Eastgate,offer,Hot meals Friday,") {
		t.Fatalf("export: %d\n%s", code, body)
	}
	c, b, _ := n.do("POST", "/api/v1/import/csv", body, "text/csv") // no group=: the cells say
	var again fateResult
	if c != 200 || json.Unmarshal(b, &again) != nil || again.Imported != 0 || again.Duplicates != 4 || len(again.Errors) != 0 {
		t.Fatalf("re-import: %d %s", c, b)
	}
	// A row with no group, and no group= on a node of several groups.
	c, b, _ = n.do("POST", "/api/v1/import/csv", []byte("Group,Type,Title\n,need,Soap\n"), "text/csv")
	if c != 200 || !strings.Contains(string(b), "the Group cell is empty and the import names no group") {
		t.Fatalf("an empty Group cell: %d %s", c, b)
	}
	// A group this node has joined but whose admins have not confirmed it
	// yet: that row is reported, the others go in (a 403 stopped the import).
	other, north := newReplica(t)
	invite, _, err := other.Invite(ctx, north, replica.InviteOptions{Role: crdt.RoleMember, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.rep.Join(ctx, invite); err != nil {
		t.Fatal(err)
	}
	c, b, _ = n.do("POST", "/api/v1/import/csv", []byte("Group,Type,Title\nRiverside Mutual Aid Test,need,Soap\n"+north.String()+",need,Towels\nEastgate,offer,Soap\n"), "text/csv")
	var pend fateResult
	if c != 200 || json.Unmarshal(b, &pend) != nil || !slices.Equal(pend.fates(), []string{"2:error", "3:error", "4:imported"}) ||
		!strings.Contains(pend.Errors[1].Error, "its join is not confirmed yet") {
		t.Fatalf("a pending group's row: %d %s", c, b)
	}
	// One group's export: no Group column.
	if _, body, _ := n.do("GET", "/api/v1/posts.csv?group=Eastgate", nil, ""); !strings.HasPrefix(string(body), "ID,Type,") {
		t.Fatalf("one group's export:\n%s", body)
	}
}
