package protocol

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
)

// docLimits are the rows of docs/protocol.md section 6, by the name in
// their first cell (a constant in backquotes, else the row's text), with
// the numbers their value cell gives, in order: sizes in bytes, times in
// milliseconds.
var docLimits = map[string][]int64{
	"MaxOpBytes":       {MaxOpBytes},
	"MaxFrameOps":      {MaxFrameOps},
	"MaxFrameBytes":    {MaxFrameBytes},
	"MaxTitle":         {MaxTitle},
	"MaxDetails":       {MaxDetails},
	"MaxCategory":      {MaxCategory},
	"MaxLocation":      {MaxLocation},
	"MaxContact":       {MaxContact},
	"MaxBlobBytes":     {MaxBlobBytes},
	"MaxSealedTo":      {MaxSealedTo},
	"crdt.MaxShares":   {crdt.MaxShares},
	"MaxRef":           {MaxRef},
	"MaxName":          {MaxName},
	"MaxNote":          {MaxNote},
	"MaxInviteAddrs":   {MaxInviteAddrs},
	"MaxAddrLen":       {MaxAddrLen},
	"MaxInviteCodeLen": {MaxInviteCodeLen},
	"MaxInviteMembers": {MaxInviteMembers},
	"nesting depth below the outermost value": {maxDepth},
	"post record":   {maxPostRecord, maxRecordStamps},
	"crdt.MaxDrift": {crdt.MaxDrift.Milliseconds()},
	"crdt.MaxLead":  {crdt.MaxLead.Milliseconds()},
}

// limitsDocNames maps the constants of limits.go to their row in
// docLimits when the row is not named after them.
var limitsDocNames = map[string]string{"maxDepth": "nesting depth below the outermost value"}

// TestLimitsTable checks the limits table of docs/protocol.md (section
// 6), which another implementation is built from, against the
// constants: every row's value, and a row for every limit of limits.go.
func TestLimitsTable(t *testing.T) {
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := limitsRows(t, string(doc))
	for name, want := range docLimits {
		cell, ok := rows[name]
		if !ok {
			t.Errorf("docs/protocol.md section 6 has no row for %s", name)
			continue
		}
		if got := limitNumbers(cell); !slices.Equal(got, want) {
			t.Errorf("docs/protocol.md section 6 says %s is %q (%v), the code %v", name, cell, got, want)
		}
	}
	for name := range rows {
		if _, ok := docLimits[name]; !ok {
			t.Errorf("docs/protocol.md section 6 has a row for %q, which this test does not check: add it to docLimits", name)
		}
	}
	// A limit added to limits.go must be added to the table.
	f, err := parser.ParseFile(token.NewFileSet(), "limits.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			for _, id := range s.(*ast.ValueSpec).Names {
				name := id.Name
				if n, ok := limitsDocNames[name]; ok {
					name = n
				}
				if _, ok := rows[name]; !ok {
					t.Errorf("limits.go has %s, which docs/protocol.md section 6 does not list", id.Name)
				}
			}
		}
	}
}

// limitsRows returns the value cell of each row of section 6's table by
// the row's name.
func limitsRows(t *testing.T, doc string) map[string]string {
	_, sec, ok := strings.Cut(doc, "\n## 6. Limits\n")
	if !ok {
		t.Fatal("docs/protocol.md has no section 6. Limits")
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	named := regexp.MustCompile("^`([A-Za-z.]+)`")
	rows := map[string]string{}
	for _, line := range strings.Split(sec, "\n") {
		cells := strings.Split(strings.Trim(line, "| "), "|")
		if !strings.HasPrefix(line, "|") || len(cells) != 2 || strings.HasPrefix(cells[0], "---") || strings.TrimSpace(cells[0]) == "limit" {
			continue
		}
		name := strings.TrimSpace(cells[0])
		if m := named.FindStringSubmatch(name); m != nil {
			name = m[1]
		}
		if _, dup := rows[name]; dup {
			t.Errorf("docs/protocol.md section 6 lists %s twice", name)
		}
		rows[name] = strings.TrimSpace(cells[1])
	}
	if len(rows) == 0 {
		t.Fatal("docs/protocol.md section 6 has no table")
	}
	return rows
}

// limitNumbers reads the numbers of a value cell ("8192 bytes", "512
// KiB", "16 MiB; at most 65536 stamps", "2.5 minutes"): sizes in bytes,
// times in milliseconds.
func limitNumbers(cell string) []int64 {
	units := map[string]float64{"": 1, "bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20,
		"minutes": float64(time.Minute.Milliseconds()), "seconds": float64(time.Second.Milliseconds())}
	var out []int64
	for _, m := range regexp.MustCompile(`(\d+(?:\.\d+)?)(?:\s+(bytes|KiB|MiB|minutes|seconds)\b)?`).FindAllStringSubmatch(cell, -1) {
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			return nil
		}
		out = append(out, int64(v*units[m[2]]))
	}
	return out
}

// TestProtocolIDsInDoc checks that docs/protocol.md section 7 names the
// protocol IDs, topic prefix and domains of ids.go and seal.go as they
// are, and that docs/protocol-catchup.md is headed by the catch-up
// protocol's ID: a version bumped in the code and not in the spec fails.
func TestProtocolIDsInDoc(t *testing.T) {
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(doc), "\n## 7. Protocol IDs and topics\n")
	if !ok {
		t.Fatal("docs/protocol.md has no section 7. Protocol IDs and topics")
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	quoted := func(s string) string { return "`" + s + "`" }
	domain := func(s string) string { return `"` + strings.ReplaceAll(s, "\n", `\n`) + `"` }
	for _, want := range []string{
		quoted(SyncProtocol), quoted(PexProtocol), quoted(DHTPrefix + "/kad/1.0.0"), quoted(topicPrefix),
		domain(rendezvousDomain), domain(topicDomain),
	} {
		if !strings.Contains(sec, want) {
			t.Errorf("docs/protocol.md section 7 does not say %s", want)
		}
	}
	catchup, err := os.ReadFile("../docs/protocol-catchup.md")
	if err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(string(catchup), "\n"); !strings.Contains(first, quoted(SyncProtocol)) {
		t.Errorf("docs/protocol-catchup.md is headed %q, not by %s", first, quoted(SyncProtocol))
	}
}
