package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/mutual-aid/mutual/node"
)

// TestImportCSVInStepsImportsAsOneRequest: on a terminal import-csv
// sends a big sheet in parts and prints "N of M rows"; what it imports
// and reports is what one request imports and reports, identical rows
// (told apart by their order in the file) and a bad row's line included.
func TestImportCSVInStepsImportsAsOneRequest(t *testing.T) {
	var b strings.Builder
	b.WriteString("Type,Title,Details\n")
	defer func(n int) { csvStepRows = n }(csvStepRows)
	csvStepRows = 50
	for i := 1; i <= 150; i++ {
		switch {
		case i%3 == 0:
			b.WriteString("need,Rice,\n") // 50 identical rows, across the steps
		case i == 70:
			b.WriteString("need,5\" screen,broken\n") // a stray quote: this row alone is refused
		case i == 71:
			b.WriteString("offer,\"Two\nlines\",\"a \"\"quoted\"\" word\"\n") // a row over two lines
		default:
			fmt.Fprintf(&b, "offer,Item %d,\n", i)
		}
	}
	file := filepath.Join(t.TempDir(), "big.csv")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	importIn := func(progress bool) (first, again, stderr string) {
		t.Helper()
		showProgress = func(io.Writer) bool { return progress }
		defer func() { showProgress = isTerminal }()
		data := t.TempDir()
		cliOK(t, "init", "--data", data)
		cliOK(t, "group", "create", "G", "--data", data)
		r := cliRun(t, "import-csv", file, "--data", data)
		if r.code != 0 {
			t.Fatalf("import: %s", r.stderr)
		}
		return r.stdout, cliOK(t, "import-csv", file, "--data", data), r.stderr
	}
	oneFirst, oneAgain, _ := importIn(false)
	stepFirst, stepAgain, stderr := importIn(true)
	if !strings.HasPrefix(oneFirst, "imported 149, already had 0, completed 0 left half done, could not read 1\n  row 71: ") {
		t.Errorf("one request: %q", oneFirst)
	}
	if stepFirst != oneFirst || stepAgain != oneAgain {
		t.Errorf("in steps:\n%s%s\nin one request:\n%s%s", stepFirst, stepAgain, oneFirst, oneAgain)
	}
	for _, want := range []string{"imported 50 of 150 rows", "imported 100 of 150 rows", "imported 150 of 150 rows\n"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("no %q in the progress: %q", want, stderr)
		}
	}
}

func TestCSVRowStarts(t *testing.T) {
	for _, c := range []struct {
		in     string
		starts []int
	}{
		{"a,b\n", nil},
		{"a,b\n1,2\n3,4", []int{2, 3}},
		{"a\r\n\"x\ny\",2\r\n", []int{2}},
		{"a\n5\" x\n\"q\"\"\n\"\n", []int{2, 3}},
		{"a;b\n1;\"x;\ny\"\n4;5\n", []int{2, 4}},
	} {
		if got := csvRowStarts([]byte(c.in)); !reflect.DeepEqual(got, c.starts) {
			t.Errorf("%q: starts %v, want %v", c.in, got, c.starts)
		}
	}
}

// TestCLIPassesOptionsToTheNode: with a node running on the data dir,
// the CLI sends its options as the API takes them (import-csv's dry_run
// and kind, board --csv's filters) and shows a peer's catch-up under way.
func TestCLIPassesOptionsToTheNode(t *testing.T) {
	data := t.TempDir()
	cliOK(t, "init", "--data", data)
	// Hold the data dir as a running node does, and answer as one.
	l, err := node.OpenLocal(data, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var mu sync.Mutex
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.Method+" "+r.URL.RequestURI())
		mu.Unlock()
		io.Copy(io.Discard, r.Body)
		switch r.URL.Path {
		case "/api/v1/peers":
			io.WriteString(w, `[{"peer_id":"12D3KooWPeer","name":"bob","connected":true,"via":"relayed","last_synced":"","groups":[],"syncing":{"done":1200,"total":5000}},
				{"peer_id":"12D3KooWOther","name":"sam","connected":false,"last_synced":"","groups":[]}]`)
		case "/api/v1/posts.csv":
			io.WriteString(w, "id,kind,title\n")
		case "/api/v1/import/csv":
			io.WriteString(w, `{"dry_run":true,"columns":[{"column":1,"header":"Title","field":"title"},{"column":2,"header":"Notes","field":""}],
				"kind":"offer","kind_from":"default","warnings":[],"imported":1,"duplicates":0,"completed":0,"completed_rows":[],"errors":[],
				"rows":[{"row":2,"fate":"imported"}],"preview":[{"row":2,"kind":"offer","title":"Rice","status":"open","urgency":"normal"}]}`)
		default:
			http.Error(w, `{"error":"no"}`, 404)
		}
	}))
	defer srv.Close()
	if err := os.WriteFile(filepath.Join(data, "api.addr"), []byte(strings.TrimPrefix(srv.URL, "http://")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sheet := filepath.Join(t.TempDir(), "s.csv")
	os.WriteFile(sheet, []byte("Title\nRice\n"), 0o600)

	out := cliOK(t, "peers", "--data", data)
	if !strings.Contains(out, "syncing 1200 of 5000") || !strings.Contains(out, "never") || !strings.Contains(out, "relayed") {
		t.Errorf("peers:\n%s", out)
	}
	cliOK(t, "board", "--csv", "--kind", "Need", "--status", "open", "--category", "food", "--q", "rice", "--group", "g", "--data", data)
	if out := cliOK(t, "import-csv", sheet, "--dry-run", "--kind", "Offer", "--data", data); !strings.Contains(out, "-> title") ||
		!strings.Contains(out, "Notes") || !strings.Contains(out, "(not used)") || !strings.Contains(out, "Rice") || !strings.Contains(out, "would import 1") {
		t.Errorf("dry run printed %q", out)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{
		"GET /api/v1/posts.csv?category=food&group=g&kind=need&q=rice&status=open",
		"POST /api/v1/import/csv?dry_run=1&kind=offer",
	} {
		found := false
		for _, a := range asked {
			found = found || a == want
		}
		if !found {
			t.Errorf("the CLI did not ask %q; it asked %q", want, asked)
		}
	}
}
