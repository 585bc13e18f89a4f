package web_test

// Helpers of browser_test.go: nodes run in-process with node.Serve, a headless Chromium driven by
// chromedp, and small waits with deadlines (never fixed sleeps).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/mutual-aid/mutual/node"
	"github.com/mutual-aid/mutual/node/logtest"
)

const chromiumPath = "/usr/bin/chromium"

// requireChromium skips the test when the browser is absent on a developer's machine, and fails
// it in CI (CI set), where a missing browser must not pass silently.
func requireChromium(tb testing.TB) {
	tb.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("CI is set but %s is missing (%v): install Debian's chromium package", chromiumPath, err)
		}
		tb.Skipf("%s is absent (apt-get install chromium); CI is empty, so skipping", chromiumPath)
	}
}

// ---- nodes ---------------------------------------------------------------------------------

// testNode is a node served in-process by node.Serve.
type testNode struct {
	name string
	url  string // http://host:port of its HTTP API and page
	join string // meeting-mode join URL; "" otherwise
	n    *node.Node
	logs *logtest.Buffer
}

// startNode runs a node named name on a fresh data dir, with libp2p on loopback and HTTP on
// httpAddr (host:0). Cleanup cancels it and waits for Serve to return; the node's log is
// printed if the test failed.
func startNode(tb testing.TB, name, httpAddr string) *testNode {
	tb.Helper()
	dir := tb.TempDir()
	if _, _, err := node.Init(dir, name); err != nil {
		tb.Fatalf("init %s: %v", name, err)
	}
	tn := &testNode{name: name, logs: &logtest.Buffer{}}
	logger := slog.New(slog.NewTextHandler(tn.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithCancel(context.Background())
	type readyInfo struct {
		addr, join string
		n          *node.Node
	}
	ready := make(chan readyInfo, 1)
	done := make(chan error, 1)
	go func() {
		done <- node.Serve(ctx, node.ServeConfig{
			Dir:    dir,
			Listen: []string{"/ip4/127.0.0.1/tcp/0"},
			HTTP:   httpAddr,
			NoMDNS: true,
			Logger: logger,
			Ready: func(addr, join string, n *node.Node) {
				ready <- readyInfo{addr, join, n}
			},
		})
	}()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("node %s: Serve: %v", name, err)
			}
		case <-time.After(20 * time.Second):
			tb.Errorf("node %s: Serve did not return within 20 s of its context ending", name)
		}
		if tb.Failed() {
			tb.Logf("log of node %s:\n%s", name, tn.logs)
		}
	})
	select {
	case r := <-ready:
		tn.url, tn.join, tn.n = "http://"+r.addr, r.join, r.n
	case err := <-done:
		tb.Fatalf("node %s: Serve returned before it was ready: %v", name, err)
	case <-time.After(30 * time.Second):
		tb.Fatalf("node %s: not ready after 30 s", name)
	}
	return tn
}

var httpClient = &http.Client{Timeout: 20 * time.Second}

// call sends a JSON request to the node's API and decodes the answer into out (if not nil). It
// returns the HTTP status; a status ≥ 300 is an error unless the caller asked for it with want.
func (tn *testNode) call(tb testing.TB, method, path string, body, out any, want ...int) int {
	tb.Helper()
	return callURL(tb, method, tn.url+path, body, out, want...)
}

func callURL(tb testing.TB, method, url string, body, out any, want ...int) int {
	tb.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := httpClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	ok := res.StatusCode < 300
	for _, w := range want {
		ok = ok || res.StatusCode == w
	}
	if !ok {
		tb.Fatalf("%s %s: HTTP %d: %s", method, url, res.StatusCode, data)
	}
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			tb.Fatalf("%s %s: decode %q: %v", method, url, data, err)
		}
	}
	return res.StatusCode
}

type apiPost struct {
	ID              string `json:"id"`
	Title           string `json:"title"`
	Kind            string `json:"kind"`
	Status          string `json:"status"`
	Category        string `json:"category"`
	Location        string `json:"location"`
	Quantity        uint32 `json:"quantity"`
	Urgency         string `json:"urgency"`
	AuthorName      string `json:"author_name"`
	By              string `json:"by"`
	ClaimedQuantity uint64 `json:"claimed_quantity"`
	Responses       []struct {
		ID string `json:"id"`
		By string `json:"by"`
	} `json:"responses"`
}

type apiGroup struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Members []struct {
		Name string `json:"name"`
		Role string `json:"role"`
	} `json:"members"`
}

func (tn *testNode) createGroup(tb testing.TB, name string) string {
	tb.Helper()
	var g struct{ ID string }
	tn.call(tb, http.MethodPost, "/api/v1/groups", map[string]string{"name": name}, &g)
	if g.ID == "" {
		tb.Fatal("POST /api/v1/groups: no id")
	}
	return g.ID
}

func (tn *testNode) posts(tb testing.TB) []apiPost {
	tb.Helper()
	var ps []apiPost
	tn.call(tb, http.MethodGet, "/api/v1/posts", nil, &ps)
	return ps
}

func (tn *testNode) post(tb testing.TB, body map[string]any) apiPost {
	tb.Helper()
	var p apiPost
	tn.call(tb, http.MethodPost, "/api/v1/posts", body, &p)
	return p
}

// waitFor polls cond every 50 ms until it holds, and fails the test after d. cond returns
// whether it holds and what it saw (for the failure message).
func waitFor(tb testing.TB, d time.Duration, what string, cond func() (bool, string)) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after %v: %s; last seen: %s", d, what, saw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startPair starts nodes A (founder of group "Eastgate Mutual Aid") and B, which joins with an
// invite from A and then dials A's addresses from it. It returns once both nodes list both
// members.
func startPair(tb testing.TB) (a, b *testNode, group string) {
	tb.Helper()
	a = startNode(tb, "Amal", "127.0.0.1:0")
	b = startNode(tb, "Ben", "127.0.0.1:0")
	group = a.createGroup(tb, "Eastgate Mutual Aid")
	var inv struct{ Code string }
	a.call(tb, http.MethodPost, "/api/v1/invites", map[string]string{"group": group, "role": "member", "expires": "1h"}, &inv)
	b.call(tb, http.MethodPost, "/api/v1/join", map[string]string{"code": inv.Code}, nil)
	members := func(tn *testNode) (int, string) {
		var g apiGroup
		if tn.call(tb, http.MethodGet, "/api/v1/groups/"+group, nil, &g, http.StatusNotFound) != http.StatusOK {
			return 0, tn.name + ": group not found yet"
		}
		return len(g.Members), fmt.Sprintf("%s: %d members", tn.name, len(g.Members))
	}
	waitFor(tb, 30*time.Second, "A and B see each other as members", func() (bool, string) {
		na, sa := members(a)
		nb, sb := members(b)
		return na == 2 && nb == 2, sa + ", " + sb
	})
	return a, b, group
}

// waitSynced waits until node tn lists every post in ids.
func waitSynced(tb testing.TB, tn *testNode, ids ...string) {
	tb.Helper()
	waitFor(tb, 30*time.Second, tn.name+" has every post", func() (bool, string) {
		have := map[string]bool{}
		for _, p := range tn.posts(tb) {
			have[p.ID] = true
		}
		missing := 0
		for _, id := range ids {
			if !have[id] {
				missing++
			}
		}
		return missing == 0, fmt.Sprintf("%d of %d missing", missing, len(ids))
	})
}

// ---- browser -------------------------------------------------------------------------------

// newBrowser starts a headless Chromium for this test and returns its root context. Tabs are made
// with newTab. The browser closes at cleanup, before the nodes started earlier in the test stop
// (cleanups run last-in first-out), so that no page holds an event stream open then.
func newBrowser(tb testing.TB) context.Context {
	tb.Helper()
	requireChromium(tb)
	profile := tb.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(profile),
		chromedp.NoSandbox, // the tests run as root in CI
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	tb.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// Do with no action starts the browser. Its life is bound to the context of this first call,
	// so that call gets ctx itself, and a timer cancels it if the start hangs.
	hung := time.AfterFunc(30*time.Second, cancel)
	err := chromedp.Do(ctx)
	if !hung.Stop() {
		tb.Fatalf("start chromium: no answer within 30 s (%v)", err)
	}
	if err != nil {
		tb.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// tab is a browser tab with the JavaScript exceptions it saw.
type tab struct {
	ctx  context.Context
	name string
	mu   sync.Mutex
	errs []string
}

// newTab opens a tab (in a window of its own, so that it gets animation frames) and fails the
// test at cleanup if the page threw an uncaught exception or called console.error. With
// chromedp.WithNewBrowserContext() the tab has cookies of its own, like another device.
func newTab(tb testing.TB, browser context.Context, name string, opts ...chromedp.ContextOption) *tab {
	tb.Helper()
	ctx, cancel := chromedp.NewContext(browser, opts...)
	tb.Cleanup(cancel)
	tt := &tab{ctx: ctx, name: name}
	err := chromedp.Listen(ctx, func(ev any) {
		var msg string
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg = "exception: " + e.ExceptionDetails.Text
			if ex := e.ExceptionDetails.Exception; ex != nil && ex.Description != "" {
				msg += " " + ex.Description
			}
		case *runtime.EventConsoleAPICalled:
			if e.Type != runtime.ConsoleAPICalledTypeError {
				return
			}
			msg = "console.error:"
			for _, a := range e.Args {
				msg += " " + string(a.Value) + a.Description
			}
		default:
			return
		}
		tt.mu.Lock()
		tt.errs = append(tt.errs, msg)
		tt.mu.Unlock()
	})
	if err != nil {
		tb.Fatalf("open tab %s: %v", name, err)
	}
	tb.Cleanup(func() {
		tt.mu.Lock()
		defer tt.mu.Unlock()
		for _, e := range tt.errs {
			tb.Errorf("tab %s: %s", name, e)
		}
	})
	return tt
}

// do runs actions in the tab with a deadline of 20 s, and fails the test with what if one fails.
func (tt *tab) do(tb testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tt.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.Fatalf("tab %s: %s: %v", tt.name, what, err)
	}
}

// eval evaluates a JavaScript expression (awaiting a promise) and decodes its value.
func eval[T any](tb testing.TB, tt *tab, expr string) T {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tt.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.Fatalf("tab %s: evaluate %s: %v", tt.name, expr, err)
	}
	return v
}

// waitJS polls a JavaScript expression in the page every 50 ms until it is truthy, for at most d.
// On a timeout it fails the test with what and the value of show (an expression).
func (tt *tab) waitJS(tb testing.TB, d time.Duration, what, expr, show string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tt.ctx, d+5*time.Second)
	defer cancel()
	deadline := time.Now().Add(d)
	var err error
	for {
		_, err = chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
			chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(time.Until(deadline))))
		// A poll started just before a navigation or reload replaced the
		// page loses its JavaScript context; poll again in the new one.
		if err == nil || !contextGone(err) || time.Until(deadline) <= 0 {
			break
		}
	}
	if err != nil {
		saw := ""
		if show != "" {
			sctx, scancel := context.WithTimeout(tt.ctx, 5*time.Second)
			raw, _ := chromedp.Run(sctx, chromedp.Evaluate[[]byte](show))
			scancel()
			saw = string(raw)
		}
		tb.Fatalf("tab %s: after %v: %s (%v); page shows %s", tt.name, d, what, err, saw)
	}
}

// contextGone reports whether err says the page's JavaScript context went away under an
// evaluation (the page navigated or reloaded).
func contextGone(err error) bool {
	m := err.Error()
	return strings.Contains(m, "Cannot find context with specified id") || strings.Contains(m, "Execution context was destroyed") ||
		strings.Contains(m, "Inspected target navigated or closed")
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// screenshot captures the tab's viewport as PNG, checks that it decodes to w×h pixels, and writes
// it to dir/name.
// It first waits until the page has rendered its data: nothing says "Loading…".
func (tt *tab) screenshot(tb testing.TB, dir, name string, w, h int) string {
	tb.Helper()
	tt.waitJS(tb, 10*time.Second, "the page has rendered before "+name, `!!document.getElementById('view-title') && !document.getElementById('main').textContent.includes('Loading')`,
		`document.getElementById('main').textContent.slice(0, 300)`)
	ctx, cancel := context.WithTimeout(tt.ctx, 20*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.Fatalf("tab %s: screenshot %s: %v", tt.name, name, err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(buf))
	if err != nil {
		tb.Fatalf("screenshot %s is not a PNG: %v", name, err)
	}
	if cfg.Width != w || cfg.Height != h {
		tb.Errorf("screenshot %s is %d×%d, want %d×%d", name, cfg.Width, cfg.Height, w, h)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// lanIPv4 returns this machine's first non-loopback IPv4 address, or "".
func lanIPv4() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	return ""
}

// noOverflowJS is true when nothing on the page is wider than the viewport.
const noOverflowJS = `document.documentElement.scrollWidth <= innerWidth && document.body.scrollWidth <= innerWidth`

// overflowJS lists the elements that stick out past the right edge of the viewport.
const overflowJS = `JSON.stringify({scrollWidth: document.documentElement.scrollWidth, innerWidth,
  wide: Array.from(document.querySelectorAll('body *')).filter((e) => e.getBoundingClientRect().right > innerWidth + 0.5)
    .slice(0, 8).map((e) => e.tagName + (e.id ? '#' + e.id : '') + (e.className ? '.' + String(e.className).replace(/ /g, '.') : '') + ' ' + Math.round(e.getBoundingClientRect().right))})`

func trimID(hash string) string {
	return strings.TrimPrefix(hash, "#/post/")
}
