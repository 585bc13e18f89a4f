package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node"
	"github.com/mutual-aid/mutual/node/replica"
)

// The command line as issue 11 found it, one row per thing seen ("Why"),
// run in-process through run() on real data dirs.

type cliResult struct {
	stdout, stderr string
	code           int
}

// cliRun runs the CLI as main does: an error is one line on stderr and an
// exit code.
func cliRun(t *testing.T, args ...string) cliResult {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(""), &out, &errb)
	r := cliResult{stdout: out.String(), stderr: errb.String()}
	if err != nil {
		r.code = exitCode(err)
		r.stderr += "mutual: " + err.Error() + "\n"
	}
	return r
}

// cliOK runs the CLI and fails the test unless it exits 0.
func cliOK(t *testing.T, args ...string) string {
	t.Helper()
	r := cliRun(t, args...)
	if r.code != 0 {
		t.Fatalf("%q: exit %d: %s", args, r.code, r.stderr)
	}
	return r.stdout
}

func cliID(t *testing.T, args ...string) string {
	t.Helper()
	var v struct{ ID string }
	if err := json.Unmarshal([]byte(cliOK(t, append(args, "--json")...)), &v); err != nil || len(v.ID) != 64 {
		t.Fatalf("%q: no ID: %v", args, err)
	}
	return v.ID
}

func TestCLIIssue11(t *testing.T) {
	one, two := t.TempDir(), t.TempDir()
	cliOK(t, "init", "--name", "hall", "--data", one)
	g1 := cliID(t, "group", "create", "Eastgate Aid", "--data", one)
	coats := cliID(t, "post", "need", "--title", "Winter coats", "--quantity", "4", "--data", one)
	cliID(t, "post", "offer", "--title", "Van on Saturdays", "--data", one)
	cliOK(t, "init", "--data", two)
	e2 := cliID(t, "group", "create", "Eastgate Aid", "--data", two)
	w2 := cliID(t, "group", "create", "Westside", "--data", two)
	// A 4-digit prefix that names one of two's groups only.
	w2prefix := w2[:4]
	if strings.HasPrefix(e2, w2prefix) {
		w2prefix = w2[:8]
	}

	ok := func(r cliResult) error {
		if r.code != 0 {
			return fmt.Errorf("exit %d: %s", r.code, r.stderr)
		}
		return nil
	}
	has := func(r cliResult, words ...string) error {
		for _, w := range words {
			if !strings.Contains(r.stdout+r.stderr, w) {
				return fmt.Errorf("no %q in\n%s%s", w, r.stdout, r.stderr)
			}
		}
		return nil
	}
	refused := func(code int, words ...string) func(cliResult) error {
		return func(r cliResult) error {
			if r.code != code {
				return fmt.Errorf("exit %d, want %d: %s", r.code, code, r.stderr)
			}
			return has(r, words...)
		}
	}
	okHas := func(words ...string) func(cliResult) error {
		return func(r cliResult) error {
			if err := ok(r); err != nil {
				return err
			}
			return has(r, words...)
		}
	}
	isJSON := func(r cliResult) error {
		if err := ok(r); err != nil {
			return err
		}
		if !json.Valid([]byte(r.stdout)) {
			return fmt.Errorf("not JSON:\n%s", r.stdout)
		}
		return nil
	}

	for _, row := range []struct {
		name  string
		args  []string
		check func(cliResult) error
	}{
		// `--group` takes only the 64-hex ID: neither the group's name nor a prefix works.
		{"group by its name, any case", []string{"post", "need", "--title", "Rice", "--group", "WESTSIDE", "--data", two}, ok},
		{"group by an ID prefix", []string{"post", "need", "--title", "Rice", "--group", w2prefix, "--data", two}, ok},
		{"group by the start of its name", []string{"members", "--group", "eastgate", "--data", two}, ok},
		// `mutual group` and `mutual help group` say "unknown command".
		{"mutual group lists the groups", []string{"group", "--data", two}, okHas("Eastgate Aid", "Westside", "admin", w2[:12])},
		{"mutual groups --json", []string{"groups", "--json", "--data", two}, isJSON},
		{"mutual help group", []string{"help", "group"}, okHas("create")},
		// With two groups, post/invite/digest say "say which" without listing them.
		{"post: say which lists the groups", []string{"post", "need", "--title", "x", "--data", two}, refused(1, "Eastgate Aid", "Westside")},
		{"invite: say which lists the groups", []string{"invite", "--data", two}, refused(1, "Eastgate Aid", "Westside")},
		{"digest: say which lists the groups", []string{"digest", "--data", two}, refused(1, "Eastgate Aid", "Westside")},
		{"an unknown group lists the groups", []string{"members", "--group", "Northside", "--data", two}, refused(1, "Eastgate Aid", "Westside")},
		// Post IDs: 12 and 8 hex digits work, 4 do not ("is not an ID").
		{"post by a 4-digit prefix", []string{"status", coats[:4], "claimed", "--data", one}, okHas("claimed")},
		// ... while a non-hex word gets "no post with ID".
		{"a word that is not an ID says so", []string{"status", "coats", "open", "--data", one}, refused(1, "not a post ID", "Winter coats")},
		// No CLI command to respond ("I can help"), withdraw a response or edit a post.
		{"respond", []string{"respond", coats[:6], "--quantity", "2", "--note", "two on Friday", "--data", one}, okHas("Winter coats")},
		{"show a post with its responses", []string{"show", coats[:6], "--data", one}, okHas("Winter coats", "two on Friday", "hall (you)", "quantity 4, 2 promised")},
		{"show --json", []string{"show", coats[:6], "--json", "--data", one}, isJSON},
		{"unrespond", []string{"unrespond", coats[:6], "--data", one}, okHas("withdrew")},
		{"unrespond again: none left", []string{"unrespond", coats[:6], "--data", one}, refused(1, "no response")},
		{"edit", []string{"edit", coats[:6], "--title", "Winter coats, size L", "--urgency", "High", "--data", one}, okHas("size L")},
		{"edit shows in the board", []string{"board", "--data", one}, okHas("Winter coats, size L", "high")},
		// A past `--expires` is accepted silently and the post never shows.
		{"a past --expires is refused", []string{"post", "need", "--title", "Old", "--expires", "2020-01-01", "--data", one}, refused(1, "has passed")},
		{"edit to a past --expires is refused", []string{"edit", coats[:6], "--expires", "2020-01-01T10:00:00Z", "--data", one}, refused(1, "has passed")},
		// `--urgency HIGH` and `--kind=Offer` are refused (case).
		{"--urgency HIGH", []string{"post", "need", "--title", "Soup", "--urgency", "HIGH", "--data", one}, ok},
		{"--kind=Offer", []string{"board", "--kind=Offer", "--data", one}, okHas("Van on Saturdays")},
		{"post Offer", []string{"post", "Offer", "--title", "Ladder", "--data", one}, ok},
		{"status Fulfilled", []string{"status", coats[:6], "Fulfilled", "--data", one}, okHas("fulfilled")},
		// Quantity errors exit 2, others 1.
		{"a bad quantity exits 1, as a bad urgency", []string{"post", "need", "--title", "x", "--quantity", "many", "--data", one}, refused(1, "quantity")},
		{"a bad urgency exits 1", []string{"post", "need", "--title", "x", "--urgency", "asap", "--data", one}, refused(1, "urgency")},
		{"an unknown flag exits 2", []string{"post", "need", "--title", "x", "--bogus", "--data", one}, refused(2, "bogus")},
		{"mutual help says which exit code is which", []string{"help"}, okHas("Exit status", "1 refused", "2 the command line")},
		// `mutual --data X board` is "unknown command --data".
		{"global flags before the command", []string{"--data", one, "board"}, okHas("Van on Saturdays")},
		{"--json before the command", []string{"--json", "--data", one, "groups"}, isJSON},
		// A mistyped command suggests the right one.
		{"a typo suggests the command", []string{"borad", "--data", one}, refused(2, "mutual board")},
		{"a typo in a subcommand", []string{"group", "craete", "X", "--data", one}, refused(2, "mutual group create")},
		// `digest --json` prints plain text.
		{"digest --json", []string{"digest", "--json", "--data", one}, isJSON},
		// `digest`, `peers`, `check` help have no example.
		{"help digest has an example", []string{"help", "digest"}, okHas("Example")},
		{"help peers has an example", []string{"help", "peers"}, okHas("Example")},
		{"help check has an example", []string{"check", "--help"}, okHas("Example")},
		// Issue 10: across cities.
		{"help serve names the ways across cities", []string{"help", "serve"}, okHas("--bootstrap", "--relay", "--public-dht", "--no-dht")},
		{"a bootstrap address without /p2p/ is refused", []string{"serve", "--bootstrap", "/ip4/203.0.113.7/tcp/4001", "--http", "127.0.0.1:0", "--no-mdns", "--data", one}, refused(1, "bootstrap address", "/p2p/")},
		// Shell completion exists for bash/zsh/fish.
		{"completion bash", []string{"completion", "bash"}, okHas("complete")},
		{"completion zsh", []string{"completion", "zsh"}, okHas("compdef")},
		{"completion fish", []string{"completion", "fish"}, okHas("complete -c mutual")},
		// Every node is named after the host; the README never says how to set a name.
		// In a group, a new name reaches the group too (a Rename op, session 7).
		{"a node in a group is renamed there too", []string{"name", "Hall laptop", "--data", one}, okHas("Hall laptop")},
		{"its members list shows the new name", []string{"members", "--data", one}, okHas("Hall laptop")},
	} {
		t.Run(row.name, func(t *testing.T) {
			if err := row.check(cliRun(t, row.args...)); err != nil {
				t.Errorf("mutual %s: %v", strings.Join(row.args, " "), err)
			}
		})
	}
	_ = g1
}

// TestCLINameBeforeAGroup: a fresh node is named once, and the name is
// the one its genesis op carries, so the group's members see it; named
// again once in the group (init --name, name), the members list shows
// the new name.
func TestCLINameBeforeAGroup(t *testing.T) {
	data := t.TempDir()
	cliOK(t, "init", "--data", data)
	if got := cliOK(t, "name", "Hall laptop", "--data", data); got != "Hall laptop\n" {
		t.Fatalf("name printed %q", got)
	}
	if r := cliRun(t, "name", "Hall\u202elaptop", "--data", data); r.code != 1 || !strings.Contains(r.stderr, "control or formatting") {
		t.Fatalf("a name with a bidi override: %+v", r)
	}
	cliOK(t, "group", "create", "Eastgate Aid", "--data", data)
	var ms []struct{ Name string }
	var out struct{ Members []struct{ Name string } }
	if err := json.Unmarshal([]byte(cliOK(t, "members", "--json", "--data", data)), &out); err != nil {
		t.Fatal(err)
	}
	ms = out.Members
	if len(ms) != 1 || ms[0].Name != "Hall laptop" {
		t.Fatalf("members: %+v", ms)
	}
	if got := cliOK(t, "name", "--data", data); got != "Hall laptop\n" {
		t.Fatalf("name printed %q", got)
	}
	// init --name with the name it has already is no rename; another
	// name renames the node in its group too (a Rename op), as name does.
	cliOK(t, "init", "--name", "Hall laptop", "--data", data)
	cliOK(t, "init", "--name", "Other", "--data", data)
	if got := cliOK(t, "name", "--data", data); got != "Other\n" {
		t.Fatalf("after init --name in a group, name printed %q", got)
	}
	cliOK(t, "name", "Hall, back room", "--data", data)
	if err := json.Unmarshal([]byte(cliOK(t, "members", "--json", "--data", data)), &out); err != nil {
		t.Fatal(err)
	}
	if ms = out.Members; len(ms) != 1 || ms[0].Name != "Hall, back room" {
		t.Fatalf("members after renaming in the group: %+v", ms)
	}
}

// TestCLIResolve: groups and posts named by prefix and name; ambiguous
// and unknown ones list the candidates.
func TestCLIResolve(t *testing.T) {
	data := t.TempDir()
	cliOK(t, "init", "--data", data)
	a := cliID(t, "group", "create", "Food Bank", "--data", data)
	b := cliID(t, "group", "create", "Food Share", "--data", data)
	// Posts until two share their first 4 digits (made in one opening
	// of the data dir: a command per post would take half a minute).
	l, err := node.OpenLocal(data, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	bank, _ := crdt.ParseID(a)
	ids := map[string]string{}
	var p1, p2 string
	for i := 0; p1 == ""; i++ {
		p, _, err := l.Replica.CreatePost(context.Background(), bank, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: fmt.Sprintf("Item %d", i)}})
		if err != nil {
			t.Fatal(err)
		}
		id := p.ID.String()
		if other, ok := ids[id[:4]]; ok {
			p1, p2 = other, id
		}
		ids[id[:4]] = id
		if i > 5000 {
			t.Fatal("no two posts share 4 digits")
		}
	}
	l.Close()
	for _, c := range []struct {
		args  []string
		code  int
		wants []string
	}{
		{[]string{"members", "--group", "food"}, 1, []string{"matches 2 groups", a[:12], b[:12], "Food Bank", "Food Share"}},
		{[]string{"members", "--group", "FOOD SHARE"}, 0, nil},
		{[]string{"members", "--group", b[:5]}, 0, nil},
		{[]string{"members", "--group", b}, 0, nil},
		{[]string{"members", "--group", "abc"}, 1, []string{"4 digits or more", "Food Bank"}},
		{[]string{"show", p1[:4]}, 1, []string{"matches 2 posts", p1[:12], p2[:12], "Item"}},
		{[]string{"show", p1[:4+commonPrefix(p1[4:], p2[4:])+1]}, 0, []string{p1}},
		{[]string{"show", strings.ToUpper(p2)}, 0, []string{p2}},
		{[]string{"show", "ffff0000ffff"}, 1, []string{"no post on this node has an ID starting with ffff0000ffff"}},
		{[]string{"show", "abc"}, 1, []string{"too short"}},
		{[]string{"show", "Item 3"}, 1, []string{"not a post ID", "Item 3"}},
	} {
		r := cliRun(t, append(c.args, "--data", data)...)
		if r.code != c.code {
			t.Errorf("%q: exit %d, want %d: %s", c.args, r.code, c.code, r.stderr)
			continue
		}
		for _, w := range c.wants {
			if !strings.Contains(r.stdout+r.stderr, w) {
				t.Errorf("%q: no %q in %s%s", c.args, w, r.stdout, r.stderr)
			}
		}
		if lines := strings.Count(strings.TrimSpace(r.stderr), "\n"); r.code != 0 && lines != 0 {
			t.Errorf("%q: the error is %d lines:\n%s", c.args, lines+1, r.stderr)
		}
	}
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// TestCLIBoardEscapesPeersText: a title from a peer with a newline, a
// tab, an escape sequence or a right-to-left override prints on its row,
// escaped, and the table keeps its shape.
func TestCLIBoardEscapesPeersText(t *testing.T) {
	data := t.TempDir()
	cliOK(t, "init", "--data", data)
	cliOK(t, "group", "create", "G", "--data", data)
	l, err := node.OpenLocal(data, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	g := l.Replica.Groups()[0].ID
	title := "Coats\nfor\tkids \u202eregdab\x1b[31m red"
	_, _, err = l.Replica.CreatePost(context.Background(), g, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: title, Category: "a\u2066b"}})
	l.Close()
	if err != nil {
		// Refused at the door: nothing raw to print.
		t.Logf("the replica refuses such a title: %v", err)
		return
	}
	out := cliOK(t, "board", "--data", data)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("the board is %d lines, want a header and one row:\n%s", len(lines), out)
	}
	for _, bad := range []string{"\u202e", "\u2066", "\x1b", "\t"} {
		if strings.Contains(out, bad) {
			t.Errorf("the board prints %q raw:\n%s", bad, out)
		}
	}
	if !strings.Contains(lines[1], `Coats\nfor\tkids \u202eregdab\x1b[31m red`) {
		t.Errorf("the title is not shown escaped:\n%s", out)
	}
	if strings.Index(lines[0], "TITLE") != strings.Index(lines[1], "Coats") {
		t.Errorf("the title is not in its column:\n%s", out)
	}
}

// syncBuffer is a bytes.Buffer safe to read while a goroutine writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeLANKeepsPort: `serve --lan --http 0.0.0.0:PORT` listens on
// PORT (it listened on 7777) and prints addresses a phone can open, not
// http://[::]:PORT.
func TestServeLANKeepsPort(t *testing.T) {
	data := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--lan", "--http", "0.0.0.0:" + port, "--data", data,
			"--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns"}, strings.NewReader(""), &out, &errb)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	for !strings.Contains(out.String(), "join with this link") {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("serve ended: %v\n%s\n%s", err, out.String(), errb.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	b, err := os.ReadFile(filepath.Join(data, "api.addr"))
	if err != nil {
		t.Fatal(err)
	}
	if _, p, _ := net.SplitHostPort(strings.TrimSpace(string(b))); p != port {
		t.Errorf("serves HTTP on port %s, want %s", p, port)
	}
	s := out.String()
	if strings.Contains(s, "http://[::]") || strings.Contains(s, "http://0.0.0.0") {
		t.Errorf("prints an address no phone can open:\n%s", s)
	}
	if !strings.Contains(s, "http://127.0.0.1:"+port) {
		t.Errorf("does not print this machine's address:\n%s", s)
	}
	for _, ip := range lanIPs() {
		if !strings.Contains(s, "http://"+net.JoinHostPort(ip.String(), port)) {
			t.Errorf("does not print the LAN address %s:\n%s", ip, s)
		}
	}
}
