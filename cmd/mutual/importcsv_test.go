package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/node/sheet"
)

// TestImportCSVPrintsRowsCompleted: after an import that stopped between
// rows' posts and their statuses (as older versions could), import-csv
// sets the statuses and says which rows it completed; a third run finds
// nothing to do.
func TestImportCSVPrintsRowsCompleted(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	cli := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if err := run(ctx, append(args, "--data", data), strings.NewReader(""), &out, &errb); err != nil {
			t.Fatalf("%v: %v: %s", args, err, errb.String())
		}
		return out.String()
	}
	cli("init")
	cli("group", "create", "Eastgate")

	csv := []byte("Type,Title,Status\nneed,Winter coat,fulfilled\noffer,Van on Saturdays,\nneed,Rice,claimed\n")
	file := filepath.Join(t.TempDir(), "requests.csv")
	if err := os.WriteFile(file, csv, 0o600); err != nil {
		t.Fatal(err)
	}
	rows, _, err := sheet.Read(bytes.NewReader(csv), sheet.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := node.OpenLocal(data, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	g := l.Replica.Groups()[0].ID
	for _, r := range rows {
		kind, _ := crdt.ParsePostKind(r.Kind)
		if _, _, err := l.Replica.CreatePost(ctx, g, replica.PostInput{Kind: kind, Fields: crdt.Fields{Title: r.Title}, Ref: r.Ref}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()

	want := "imported 0, already had 1, completed 2 left half done, could not read 0\n  completed (status set): rows 2, 4\n"
	if got := cli("import-csv", file); got != want {
		t.Errorf("import after a crash printed\n%s\nwant\n%s", got, want)
	}
	if got := cli("board"); !strings.Contains(got, "fulfilled") || !strings.Contains(got, "claimed") {
		t.Errorf("board:\n%s", got)
	}
	if got, want := cli("import-csv", file), "imported 0, already had 3, completed 0 left half done, could not read 0\n"; got != want {
		t.Errorf("third import printed %q, want %q", got, want)
	}
}

// TestImportCSVGroupColumn: import-csv of a sheet with a Group column
// says what went to each group and which rows named a group this node
// does not hold.
func TestImportCSVGroupColumn(t *testing.T) {
	data := t.TempDir()
	cliOK(t, "init", "--data", data)
	cliOK(t, "group", "create", "Riverside Mutual Aid", "--data", data)
	cliOK(t, "group", "create", "Eastgate", "--data", data)
	out := cliOK(t, "import-csv", "../../node/sheet/testdata/shapes/multi-group.csv", "--group", "Riverside", "--data", data)
	for _, want := range []string{"imported 4, already had 0", "Riverside Mutual Aid (", "): imported 2, already had 0", "Eastgate (",
		`row 5: group: no group "Harbour" on this node`, `row 6: group: no group "Northside Pantry" on this node`} {
		if !strings.Contains(out, want) {
			t.Errorf("import-csv says no %q:\n%s", want, out)
		}
	}
	out = cliOK(t, "import-csv", "../../node/sheet/testdata/shapes/multi-group.csv", "--dry-run", "--data", data)
	for _, want := range []string{"GROUP", "Hot meals Friday  Eastgate", "would import 0, already had 3", `row 5: group: no group "Harbour"`, "row 7: the Group cell is empty and the import names no group"} {
		if !strings.Contains(out, want) {
			t.Errorf("the dry run says no %q:\n%s", want, out)
		}
	}
}
