package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A full disk, for real: the node's data dir on a small tmpfs. Needs
// root (mount); skipped with a message elsewhere.
func TestFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	mnt := filepath.Join(t.TempDir(), "fs")
	os.MkdirAll(mnt, 0o700)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs here (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	data := filepath.Join(mnt, "data")
	if r := mutual(t, data, "group", "create", "Full"); r.code != 0 {
		t.Fatalf("group create: %s", r.stderr)
	}

	node, base := serveAt(t, data)
	// Fill the disk with posts from 8 clients; keep what was acknowledged.
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		full  string
		wg    sync.WaitGroup
	)
	details := strings.Repeat("x", 900)
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				code, msg, id := postJSON(base, fmt.Sprintf("coats %d-%d", c, i), details)
				mu.Lock()
				switch code {
				case 201:
					acked[id] = true
				case 507:
					full = msg
				default:
					t.Errorf("post: %d %s", code, msg)
				}
				stop := full != ""
				mu.Unlock()
				if stop {
					return
				}
			}
		}(c)
	}
	wg.Wait()
	if full == "" {
		t.Fatalf("the disk never filled (%d posts)", len(acked))
	}
	if !strings.Contains(full, "is full") || !strings.Contains(full, mnt) {
		t.Fatalf("the error for a full disk should say so and name it: %q", full)
	}
	var info struct {
		StoreError string `json:"store_error"`
	}
	getJSON(t, base+"/api/v1/node", &info)
	if !strings.Contains(info.StoreError, "is full") {
		t.Fatalf("GET /api/v1/node store_error = %q", info.StoreError)
	}

	// It stops within seconds, whatever Badger is doing.
	stopWithin(t, node, 10*time.Second)

	// It starts on the full disk, read-only: the board is there, writes
	// are refused with the same message.
	node, base = serveAt(t, data)
	if got := boardIDsAt(t, base); len(missing(got, keys(acked))) > 0 {
		t.Fatalf("on restart %d of %d acknowledged posts are missing", len(missing(got, keys(acked))), len(acked))
	}
	if code, msg, _ := postJSON(base, "one more", ""); code != 507 || !strings.Contains(msg, "is full") {
		t.Fatalf("post on a full disk: %d %q", code, msg)
	}
	stopWithin(t, node, 10*time.Second)

	// With room again, everything acknowledged is there and writes work.
	if out, err := exec.Command("mount", "-o", "remount,size=64m", mnt).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v %s", err, out)
	}
	if r := mutual(t, data, "check"); r.code != 0 {
		t.Fatalf("check after the disk was full: %s%s", r.stdout, r.stderr)
	}
	node, base = serveAt(t, data)
	if got := boardIDsAt(t, base); len(missing(got, keys(acked))) > 0 {
		t.Fatalf("with room again %d acknowledged posts are missing", len(missing(got, keys(acked))))
	}
	if code, msg, _ := postJSON(base, "room again", ""); code != 201 {
		t.Fatalf("post with room again: %d %s", code, msg)
	}
	stopWithin(t, node, 10*time.Second)
}

// serveAt starts `mutual serve` on a free port (a full disk has no room
// for api.addr) and waits until it answers.
func serveAt(t *testing.T, data string) (*exec.Cmd, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(binary(t), "serve", "--data", data, "--http", addr, "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = dieWithTest()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base := "http://" + addr
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/api/v1/node"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd, base
			}
		}
	}
	t.Fatalf("serve did not answer within 20 s:\n%s", logs.String())
	return nil, ""
}

func stopWithin(t *testing.T, cmd *exec.Cmd, d time.Duration) {
	t.Helper()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("the node did not stop within %s of SIGTERM", d)
	}
}

func postJSON(base, title, details string) (int, string, string) {
	b, _ := json.Marshal(map[string]string{"kind": "need", "title": title, "details": details})
	resp, err := http.Post(base+"/api/v1/posts", "application/json", bytes.NewReader(b))
	if err != nil {
		return 0, err.Error(), ""
	}
	defer resp.Body.Close()
	var out struct{ ID, Error string }
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.Error, out.ID
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func boardIDsAt(t *testing.T, base string) map[string]bool {
	t.Helper()
	var posts []jpost
	getJSON(t, base+"/api/v1/posts", &posts)
	out := map[string]bool{}
	for _, p := range posts {
		out[p.ID] = true
	}
	return out
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
