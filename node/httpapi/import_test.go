package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/node/sheet"
)

type importResult struct {
	Imported      int   `json:"imported"`
	Duplicates    int   `json:"duplicates"`
	Completed     int   `json:"completed"`
	CompletedRows []int `json:"completed_rows"`
	Errors        []struct {
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

// halfImport writes what an import that wrote a row's post and its status
// as two commits left when it stopped between them (a crash, a killed
// node): every row's post, by its Ref, and no status.
func (n *testNode) halfImport(data []byte) []sheet.Row {
	n.t.Helper()
	rows, bad, err := sheet.Read(bytes.NewReader(data), sheet.ReadOptions{})
	if err != nil || len(bad) != 0 {
		n.t.Fatal(err, bad)
	}
	for _, r := range rows {
		kind, _ := crdt.ParsePostKind(r.Kind)
		_, created, err := n.rep.CreatePost(context.Background(), n.group, replica.PostInput{Kind: kind, Fields: crdt.Fields{Title: r.Title}, Ref: r.Ref})
		if err != nil || !created {
			n.t.Fatal(err, created)
		}
	}
	return rows
}

func (n *testNode) statuses() map[string]string {
	n.t.Helper()
	var posts []post
	n.must(200, "GET", "/api/v1/posts", nil, &posts)
	m := map[string]string{}
	for _, p := range posts {
		m[p.Title] = p.Status
	}
	return m
}

// TestImportCSVCompletesRowsLeftHalfDone: importing the file again after
// an import stopped between a row's post and its status sets the status
// the sheet gives, and the receipt says which rows it completed.
func TestImportCSVCompletesRowsLeftHalfDone(t *testing.T) {
	data := []byte("Type,Title,Status\n" +
		"need,Winter coat,fulfilled\n" +
		"offer,Van on Saturdays,claimed\n" +
		"need,Rice,\n" +
		"need,Blankets,withdrawn\n")
	n := newTestNode(t, nil)
	n.halfImport(data)

	got := n.importCSV(data)
	if got.Imported != 0 || got.Duplicates != 1 || got.Completed != 3 || !slices.Equal(got.CompletedRows, []int{2, 3, 5}) || len(got.Errors) != 0 {
		t.Errorf("re-import after a crash: %+v", got)
	}
	want := map[string]string{"Winter coat": "fulfilled", "Van on Saturdays": "claimed", "Rice": "open", "Blankets": "withdrawn"}
	if st := n.statuses(); !maps.Equal(st, want) {
		t.Errorf("statuses = %v, want %v", st, want)
	}

	before := n.board()
	again := n.importCSV(data)
	if again.Imported != 0 || again.Duplicates != 4 || again.Completed != 0 || len(again.CompletedRows) != 0 {
		t.Errorf("third import: %+v", again)
	}
	if after := n.board(); string(after) != string(before) {
		t.Error("importing a complete file again changed the board")
	}
}

// TestImportCSVKeepsStatusesSetOnTheBoard: a status someone set on the
// board after the import is newer than the sheet, and importing the old
// sheet again leaves it.
func TestImportCSVKeepsStatusesSetOnTheBoard(t *testing.T) {
	data := []byte("Type,Title,Status\n" +
		"need,Winter coat,fulfilled\n" +
		"offer,Van on Saturdays,\n")
	n := newTestNode(t, nil)
	first := n.importCSV(data)
	if first.Imported != 2 {
		t.Fatalf("first import: %+v", first)
	}
	var posts []post
	n.must(200, "GET", "/api/v1/posts", nil, &posts)
	for _, p := range posts {
		n.must(200, "POST", "/api/v1/posts/"+p.ID+"/status", map[string]any{"status": "claimed"}, nil)
	}
	before := n.board()
	again := n.importCSV(data)
	if again.Duplicates != 2 || again.Completed != 0 {
		t.Errorf("re-import: %+v", again)
	}
	if after := n.board(); string(after) != string(before) {
		t.Error("re-importing the sheet overrode statuses set on the board")
	}
}

// TestImportCSVRowIsOneCommit: a row's post and its status are written
// together, so no one (the board, a live view, a peer) ever sees the post
// without the status the sheet gives it.
func TestImportCSVRowIsOneCommit(t *testing.T) {
	n := newTestNode(t, nil)
	events, cancel := n.rep.Subscribe()
	defer cancel()
	got := n.importCSV([]byte("Type,Title,Status\nneed,Winter coat,fulfilled\n"))
	if got.Imported != 1 {
		t.Fatalf("import: %+v", got)
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-events:
			if e.Type != "post" || e.Post.Title.V != "Winter coat" {
				continue
			}
			if s := e.Post.State(); s != crdt.Fulfilled {
				t.Fatalf("the post was committed with status %s before its status", s)
			}
			return
		case <-timeout:
			t.Fatal("no event for the imported post")
		}
	}
}
