package httpapi

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

type importResult struct {
	Imported   int `json:"imported"`
	Duplicates int `json:"duplicates"`
	Errors     []struct {
		Row   int    `json:"row"`
		Error string `json:"error"`
	} `json:"errors"`
}

func (n *testNode) importCSV(data []byte) importResult {
	n.t.Helper()
	code, body, _ := n.do("POST", "/api/v1/import/csv?group="+n.group.String(), data, "text/csv")
	if code != 200 {
		n.t.Fatalf("import: %d %s", code, body)
	}
	var r importResult
	if err := json.Unmarshal(body, &r); err != nil {
		n.t.Fatal(err)
	}
	return r
}

func TestImportCSVIsIdempotent(t *testing.T) {
	files, _ := filepath.Glob("../sheet/testdata/*.csv")
	inputs := map[string][]byte{"inline": []byte("Type,Title,Quantity,Urgency,Expires,Contact,Status\n" +
		"need,Winter coat,2,high,2099-01-01,555-0101,\n" +
		"offer,Van on Saturdays,,low,,,claimed\n" +
		"need,,3,,,,\n")}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs[filepath.Base(f)] = b
	}
	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			n := newTestNode(t, nil)
			first := n.importCSV(data)
			if first.Imported == 0 || first.Duplicates != 0 {
				t.Fatalf("first import: %+v", first)
			}
			var posts []post
			n.must(200, "GET", "/api/v1/posts", nil, &posts)
			if len(posts) != first.Imported {
				t.Fatalf("%d posts after importing %d", len(posts), first.Imported)
			}
			before := n.board()
			again := n.importCSV(data)
			if again.Imported != 0 || again.Duplicates != first.Imported || len(again.Errors) != len(first.Errors) {
				t.Errorf("re-import: %+v, first %+v", again, first)
			}
			if after := n.board(); string(after) != string(before) {
				t.Error("re-import changed the board")
			}
			if name == "inline" {
				if len(first.Errors) != 1 || first.Errors[0].Row != 4 {
					t.Errorf("errors = %+v", first.Errors)
				}
				var claimed []post
				n.must(200, "GET", "/api/v1/posts?status=claimed", nil, &claimed)
				if len(claimed) != 1 || claimed[0].Title != "Van on Saturdays" || claimed[0].Urgency != "low" {
					t.Errorf("claimed = %+v", claimed)
				}
			}
		})
	}
}

func TestImportTooLarge(t *testing.T) {
	n := newTestNode(t, nil)
	big := make([]byte, 10<<20+10)
	for i := range big {
		big[i] = 'a'
	}
	code, body, _ := n.do("POST", "/api/v1/import/csv", big, "text/csv")
	if code != 413 {
		t.Errorf("%d %s", code, body)
	}
}
