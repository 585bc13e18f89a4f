package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The end-to-end tests build the real binary and run it as separate
// processes on a data dir in a temp dir.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary returns the mutual binary the end-to-end tests run: the one
// $MUTUAL_TEST_BINARY names (test.sh builds it once for every package
// and step that runs it), else one built here, once per package run.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if p := os.Getenv("MUTUAL_TEST_BINARY"); p != "" {
			binPath, binErr = p, checkBinary(p)
			return
		}
		dir, err := os.MkdirTemp("", "mutual-e2e")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "mutual")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// checkBinary fails on a $MUTUAL_TEST_BINARY that is not an absolute
// path to an executable file, rather than let every test fail on it in its own way.
func checkBinary(p string) error {
	if !filepath.IsAbs(p) {
		return fmt.Errorf("MUTUAL_TEST_BINARY=%s: an absolute path, please (the tests run in their package's directory)", p)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("MUTUAL_TEST_BINARY: %w", err)
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("MUTUAL_TEST_BINARY=%s is not an executable file", p)
	}
	return nil
}

type result struct {
	stdout, stderr string
	code           int
}

func mutual(t *testing.T, data string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary(t), append(args, "--data", data)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

func mustJSON(t *testing.T, r result, v any) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
}

type jpost struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Status string `json:"status"`
	Kind   string `json:"kind"`
}

func TestCLIEndToEnd(t *testing.T) {
	data := t.TempDir()
	r := mutual(t, data, "init", "--name", "hall-laptop")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "12D3Koo") {
		t.Fatalf("init: %+v", r)
	}
	var g struct{ ID, Name string }
	mustJSON(t, mutual(t, data, "group", "create", "Eastgate Aid", "--json"), &g)
	if len(g.ID) != 64 || g.Name != "Eastgate Aid" {
		t.Fatalf("group create: %+v", g)
	}
	var p jpost
	// Flags after and before the positional argument.
	mustJSON(t, mutual(t, data, "post", "need", "--title", "Winter coats", "--quantity", "4", "--category", "clothing", "--json"), &p)
	var p2 jpost
	mustJSON(t, mutual(t, data, "post", "--json", "--title", "Van on Saturdays", "offer"), &p2)
	if p.Title != "Winter coats" || p.Status != "open" || p2.Kind != "offer" {
		t.Fatalf("post: %+v %+v", p, p2)
	}
	var board []jpost
	mustJSON(t, mutual(t, data, "board", "--kind", "need", "--json"), &board)
	if len(board) != 1 || board[0].ID != p.ID {
		t.Fatalf("board: %+v", board)
	}
	mustJSON(t, mutual(t, data, "status", p.ID, "claimed", "--json"), &p)
	if p.Status != "claimed" {
		t.Fatalf("status: %+v", p)
	}
	if r := mutual(t, data, "board"); r.code != 0 || !strings.Contains(r.stdout, "Winter coats") {
		t.Fatalf("board table: %+v", r)
	}
	if r := mutual(t, data, "check"); r.code != 0 || !strings.Contains(r.stdout, " ok") {
		t.Fatalf("check: %+v", r)
	}
	if r := mutual(t, data, "help", "post"); r.code != 0 || !strings.Contains(r.stdout, "Example") {
		t.Fatalf("help post: %+v", r)
	}
}

func TestCLIBadInputChangesNothing(t *testing.T) {
	data := t.TempDir()
	mutual(t, data, "init")
	var g struct{ ID string }
	mustJSON(t, mutual(t, data, "group", "create", "G", "--json"), &g)
	var p jpost
	mustJSON(t, mutual(t, data, "post", "need", "--title", "rice", "--json"), &p)
	before := mutual(t, data, "board", "--json").stdout
	for _, args := range [][]string{
		{"post", "need"},
		{"post", "need", "--title", ""},
		{"post", "thing", "--title", "x"},
		{"post", "need", "--title", "x", "--urgency", "asap"},
		{"post", "need", "--title", "x", "--quantity", "-1"},
		{"post", "need", "--title", "x", "--quantity", "many"},
		{"post", "need", "--title", "x", "--expires", "tomorrow"},
		{"post", "need", "--title", strings.Repeat("x", 201)},
		{"post", "need", "--title", "x", "--group", "nope"},
		{"status", p.ID, "done"},
		{"status", strings.Repeat("0", 64), "claimed"},
		{"status", p.ID},
		{"join", "not-a-code"},
		{"join", "mutual1-AAAA"},
		{"board", "--kind", "wish"},
		{"frobnicate"},
		{"post", "need", "--title", "x", "--bogus-flag"},
	} {
		r := mutual(t, data, args...)
		if r.code == 0 {
			t.Errorf("%q: exit 0, want an error", args)
			continue
		}
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "mutual: ") {
			t.Errorf("%q: want one error line on stderr, got %q", args, r.stderr)
		}
	}
	if after := mutual(t, data, "board", "--json").stdout; after != before {
		t.Fatalf("bad input changed the board:\nbefore %s\nafter %s", before, after)
	}
}

// serve starts `mutual serve` on loopback with free ports and waits until
// its API answers.
func serve(t *testing.T, data string) (*exec.Cmd, string) {
	t.Helper()
	os.Remove(filepath.Join(data, "api.addr"))
	cmd := exec.Command(binary(t), "serve", "--data", data, "--http", "127.0.0.1:0",
		"--listen", "/ip4/127.0.0.1/tcp/0", "--listen", "/ip4/127.0.0.1/udp/0/quic-v1", "--no-mdns")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = dieWithTest()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(data, "api.addr")); err == nil {
			base := "http://" + strings.TrimSpace(string(b))
			if resp, err := http.Get(base + "/api/v1/node"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return cmd, base
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("serve did not come up:\n%s", logs.String())
	return nil, ""
}

func TestServeSurvivesSIGKILLWithEveryAcknowledgedPost(t *testing.T) {
	data := t.TempDir()
	mutual(t, data, "init")
	var g struct{ ID string }
	mustJSON(t, mutual(t, data, "group", "create", "G", "--json"), &g)
	cmd, base := serve(t, data)

	// While serving, the CLI goes through the node's API.
	var viaCLI jpost
	mustJSON(t, mutual(t, data, "post", "offer", "--title", "via the CLI", "--json"), &viaCLI)

	// Many concurrent API clients; keep every post the API acknowledged.
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	acked := map[string]bool{viaCLI.ID: true}
	var wg sync.WaitGroup
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				body := fmt.Sprintf(`{"kind":"need","title":"post %d-%d"}`, c, i)
				req, _ := http.NewRequestWithContext(ctx, "POST", base+"/api/v1/posts", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return
				}
				var p jpost
				if resp.StatusCode != 201 {
					b, _ := io.ReadAll(resp.Body)
					t.Errorf("POST: %s %s", resp.Status, b)
					resp.Body.Close()
					return
				}
				if json.NewDecoder(resp.Body).Decode(&p) == nil {
					mu.Lock()
					acked[p.ID] = true
					mu.Unlock()
				}
				resp.Body.Close()
			}
		}(c)
	}
	// Kill the node hard while posts are in flight.
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 200 {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("only %d posts acknowledged in 60 s", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill()
	cancel()
	wg.Wait()
	cmd.Wait()

	_, base = serve(t, data)
	resp, err := http.Get(base + "/api/v1/posts")
	if err != nil {
		t.Fatal(err)
	}
	var posts []jpost
	json.NewDecoder(resp.Body).Decode(&posts)
	resp.Body.Close()
	have := map[string]bool{}
	for _, p := range posts {
		have[p.ID] = true
	}
	missing := 0
	for id := range acked {
		if !have[id] {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged posts lost after SIGKILL", missing, len(acked))
	}
	t.Logf("%d acknowledged posts, all present after SIGKILL and restart (%d stored)", len(acked), len(posts))
}
