package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSneakernetEndToEnd runs the USB-stick round of
// docs/operations.md with the real binary on two data dirs that are
// never online: a whole bundle with a receipt, the receipt read back on
// the hall's node, a bundle of only what the home node lacks (by the
// remembered receipt, and by a summary file), a tampered bundle refused
// op by op, and a cut one refused with exit status 1.
func TestSneakernetEndToEnd(t *testing.T) {
	hall, home := t.TempDir(), t.TempDir()
	usb := t.TempDir()
	file := func(name string) string { return filepath.Join(usb, name) }
	ok := func(r result, what string) result {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("%s: exit %d: %s%s", what, r.code, r.stdout, r.stderr)
		}
		return r
	}
	ok(mutual(t, hall, "init", "--name", "hall"), "init hall")
	ok(mutual(t, home, "init", "--name", "home"), "init home")
	ok(mutual(t, hall, "group", "create", "Eastgate Aid"), "group create")
	for _, title := range []string{"Winter coats", "Nappies", "Soup pots"} {
		ok(mutual(t, hall, "post", "need", "--title", title, "--contact", "call Ruth on 555-0199"), "post")
	}
	ok(mutual(t, hall, "export", file("all.mutual")), "export")

	// The home node imports it all and writes a receipt.
	r := ok(mutual(t, home, "import", file("all.mutual"), "--receipt", file("home.receipt")), "import")
	if !strings.HasPrefix(r.stdout, "new 5, already had 0, refused 0\n") || !strings.Contains(r.stdout, "now following group") {
		t.Fatalf("import: %s", r.stdout)
	}
	// The hall's node reads the receipt (as `mutual import` of it too).
	r = ok(mutual(t, hall, "receipt", file("home.receipt")), "receipt")
	if !strings.Contains(r.stdout, "Eastgate Aid") || !strings.Contains(r.stdout, "new 5, already had 0, refused 0") || !strings.Contains(r.stdout, "remembered") {
		t.Fatalf("receipt: %s", r.stdout)
	}
	var rc struct{ Node string }
	mustJSON(t, mutual(t, hall, "import", file("home.receipt"), "--json"), &rc)
	if len(rc.Node) != 64 {
		t.Fatalf("receipt as import: %+v", rc)
	}

	// Two more posts at the hall: the next bundle holds only them, by the
	// remembered receipt, and by the home node's summary.
	ok(mutual(t, hall, "post", "offer", "--title", "A van on Saturdays", "--contact", "call Ruth on 555-0199"), "post")
	ok(mutual(t, hall, "post", "need", "--title", "Blankets"), "post")
	r = ok(mutual(t, hall, "export", file("next.mutual"), "--since", rc.Node[:8]), "export --since NODE")
	if !strings.Contains(r.stdout, "(2 ops, the ones the other node lacks") {
		t.Fatalf("export --since NODE: %s", r.stdout)
	}
	r = ok(mutual(t, home, "summary"), "summary")
	if !strings.HasPrefix(r.stdout, "mutualS1-") || !strings.Contains(r.stdout, "█") {
		t.Fatalf("summary (with its QR code): %s", r.stdout)
	}
	ok(mutual(t, home, "summary", "--out", file("home.summary")), "summary --out")
	r = ok(mutual(t, hall, "export", file("next2.mutual"), "--since", file("home.summary")), "export --since FILE")
	if !strings.Contains(r.stdout, "(2 ops,") {
		t.Fatalf("export --since FILE: %s", r.stdout)
	}
	next, err := os.ReadFile(file("next.mutual"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(next, []byte("555-0199")) {
		t.Fatal("the bundle holds a contact in clear text")
	}

	// Tampered: a byte of the last op flipped. The home node refuses that
	// op and says which; the other is new.
	bad := bytes.Clone(next)
	bad[len(bad)-20] ^= 0xff
	if err := os.WriteFile(file("bad.mutual"), bad, 0o600); err != nil {
		t.Fatal(err)
	}
	r = ok(mutual(t, home, "import", file("bad.mutual")), "import tampered")
	if !strings.HasPrefix(r.stdout, "new 1, already had 0, refused 1\n") || !strings.Contains(r.stdout, "refused frame 0, op 1") {
		t.Fatalf("tampered import: %s", r.stdout)
	}
	// Cut short: exit 1, and why.
	if err := os.WriteFile(file("cut.mutual"), next[:len(next)-30], 0o600); err != nil {
		t.Fatal(err)
	}
	if r := mutual(t, home, "import", file("cut.mutual")); r.code != 1 || !strings.Contains(r.stderr, "cut short") {
		t.Fatalf("cut import: %+v", r)
	}
	// The intact bundle brings the refused op.
	r = ok(mutual(t, home, "import", file("next.mutual")), "import")
	if !strings.HasPrefix(r.stdout, "new 1, already had 1, refused 0\n") {
		t.Fatalf("import after the tampered one: %s", r.stdout)
	}
	var board []jpost
	mustJSON(t, mutual(t, home, "board", "--json"), &board)
	if len(board) != 5 {
		t.Fatalf("home's board has %d posts, want 5", len(board))
	}
	if r := mutual(t, hall, "export", file("x.mutual"), "--since", "mutualS1-!!"); r.code != 1 || !strings.Contains(r.stderr, "since") {
		t.Fatalf("a bad summary: %+v", r)
	}
}
