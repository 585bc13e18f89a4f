package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// harbourAndRiverside makes two data dirs: Harbour's, where "harbour
// hall" posted a need for 4 winter coats, and Riverside's (rita), which
// follows Harbour by a bundle. bundle names a file for another bundle.
func harbourAndRiverside(t *testing.T) (harbour, riverside, need string, bundle func(string) string) {
	t.Helper()
	harbour, riverside = t.TempDir(), t.TempDir()
	bundle = func(name string) string { return filepath.Join(t.TempDir(), name) }
	cliOK(t, "init", "--name", "harbour hall", "--data", harbour)
	cliOK(t, "group", "create", "Harbour", "--data", harbour)
	need = cliID(t, "post", "need", "--title", "Winter coats", "--quantity", "4", "--data", harbour)
	cliOK(t, "init", "--name", "rita", "--data", riverside)
	cliOK(t, "group", "create", "Riverside", "--data", riverside)
	b := bundle("harbour.mutual")
	cliOK(t, "export", b, "--group", "Harbour", "--data", harbour)
	cliOK(t, "import", b, "--data", riverside)
	return harbour, riverside, need, bundle
}

// `mutual respond --contact` on a followed group's need, from the node's
// own group, and `mutual group block`: the whole way through the CLI,
// with bundles carrying the ops between two data dirs.
func TestCLIRespondFromAnotherGroupAndBlock(t *testing.T) {
	const contact = "canary +44 7700 900173"
	harbour, riverside, need, bundle := harbourAndRiverside(t)

	if r := cliRun(t, "respond", need[:8], "--contact", contact, "--as-group", "Harbour", "--data", riverside); r.code != 1 || !strings.Contains(r.stderr, "read-only") {
		t.Fatalf("answering as the followed group: exit %d, %s", r.code, r.stderr)
	}
	out := cliOK(t, "respond", need[:8], "--quantity", "4", "--note", "we have 4", "--contact", contact, "--data", riverside)
	if !strings.Contains(out, "responded to") || !strings.Contains(out, "from Riverside") {
		t.Fatalf("respond says %q", out)
	}
	if out := cliOK(t, "show", need[:8], "--data", riverside); strings.Contains(out, contact) {
		t.Fatalf("the responder's node, no member of Harbour, shows the contact: %s", out)
	}

	b := bundle("visit.mutual")
	cliOK(t, "export", b, "--data", riverside) // Harbour (the visit) and Riverside (its members)
	cliOK(t, "import", b, "--data", harbour)
	out = cliOK(t, "show", need[:8], "--data", harbour)
	for _, want := range []string{"rita, from Riverside", "we have 4 · contact: " + contact, "quantity 4, 4 promised"} {
		if !strings.Contains(out, want) {
			t.Fatalf("harbour shows no %q:\n%s", want, out)
		}
	}

	// Harbour's node follows Riverside to vouch for rita: it says so, and
	// keeps it.
	if out := cliOK(t, "groups", "--data", harbour); !strings.Contains(out, "helping: its members answer the needs of Harbour") {
		t.Fatalf("groups on harbour:\n%s", out)
	}
	if r := cliRun(t, "unfollow", "Riverside", "--data", harbour); r.code != 1 || !strings.Contains(r.stderr, "blocks it first") {
		t.Fatalf("unfollowing the helping group: exit %d, %s", r.code, r.stderr)
	}

	if r := cliRun(t, "group", "block", "Riverside", "--data", riverside); r.code == 0 {
		t.Fatalf("blocked its own group: %s", r.stdout)
	}
	out = cliOK(t, "group", "block", "Riverside", "--group", "Harbour", "--data", harbour)
	if !strings.Contains(out, "Harbour blocks the responses of") || !strings.Contains(out, "Riverside") {
		t.Fatalf("block says %q", out)
	}
	if out := cliOK(t, "show", need[:8], "--data", harbour); !strings.Contains(out, "no responses yet") {
		t.Fatalf("after the block harbour shows:\n%s", out)
	}
	if out := cliOK(t, "group", "unblock", "Riverside", "--group", "Harbour", "--data", harbour); !strings.Contains(out, "Harbour blocks no group's responses") {
		t.Fatalf("unblock says %q", out)
	}
	if out := cliOK(t, "show", need[:8], "--data", harbour); !strings.Contains(out, "from Riverside") {
		t.Fatalf("after the unblock harbour shows:\n%s", out)
	}
}

// `mutual respond --as-group` refuses an answer that Harbour's nodes
// could never count, with the reason and the command that changes it:
// Riverside accepts followers from its allies only and does not list
// Harbour. Run as printed, that command lets the next answer through,
// and the answer then reaches Harbour's member with its contact.
func TestCLIRespondRefusedWhenHarbourCannotFollow(t *testing.T) {
	const contact = "canary +44 7700 900188"
	harbour, riverside, need, bundle := harbourAndRiverside(t)
	cliOK(t, "group", "federation", "--group", "Riverside", "--policy", "allies", "--data", riverside)

	r := cliRun(t, "respond", need[:8], "--quantity", "4", "--contact", contact, "--as-group", "Riverside", "--data", riverside)
	const ask = "Ask a Riverside admin to list Harbour as an ally: "
	i := strings.Index(r.stderr, ask)
	if r.code != 1 || !strings.Contains(r.stderr, "Riverside accepts followers from its allies only and does not list Harbour") || i < 0 {
		t.Fatalf("respond from an allies-only group: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if out := cliOK(t, "show", need[:8], "--data", riverside); !strings.Contains(out, "no responses yet") {
		t.Fatalf("the refused response was written:\n%s", out)
	}
	cmd, _, _ := strings.Cut(r.stderr[i+len(ask):], " (or on the page")
	args := strings.Fields(cmd)
	if len(args) < 2 || args[0] != "mutual" {
		t.Fatalf("no command in %q", r.stderr)
	}
	cliOK(t, append(args[1:], "--data", riverside)...)
	out := cliOK(t, "respond", need[:8], "--quantity", "4", "--contact", contact, "--as-group", "Riverside", "--data", riverside)
	if !strings.Contains(out, "from Riverside") {
		t.Fatalf("respond says %q", out)
	}
	b := bundle("visit.mutual")
	cliOK(t, "export", b, "--data", riverside)
	cliOK(t, "import", b, "--data", harbour)
	if out := cliOK(t, "show", need[:8], "--data", harbour); !strings.Contains(out, "rita, from Riverside") || !strings.Contains(out, "contact: "+contact) {
		t.Fatalf("harbour shows:\n%s", out)
	}
}
