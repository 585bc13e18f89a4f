package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// readEvent reads SSE lines until a complete event with a data line.
func readEvent(t *testing.T, sc *bufio.Scanner) (name, data string) {
	t.Helper()
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		case line == "" && data != "":
			return name, data
		}
	}
	t.Fatalf("stream ended: %v", sc.Err())
	return "", ""
}

func TestEventsStreamPostChanges(t *testing.T) {
	n := newTestNode(t, func(c *Config) { c.Heartbeat = 20 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", n.srv.URL+"/api/v1/events", nil)
	res, err := n.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(res.Body)

	// The subscription is taken before the headers are sent, so a post
	// made now is on the stream.
	p := n.create(map[string]any{"kind": "offer", "title": "20 hot meals Friday", "contact": "555-0199"})
	name, data := readEvent(t, sc)
	var ev struct {
		Type string `json:"type"`
		Post post   `json:"post"`
	}
	if err := json.Unmarshal([]byte(data), &ev); err != nil {
		t.Fatal(err)
	}
	if name != "post" || ev.Type != "post" || ev.Post.ID != p.ID || ev.Post.Title != "20 hot meals Friday" ||
		ev.Post.Contact == nil || *ev.Post.Contact != "555-0199" {
		t.Errorf("event %q %+v", name, ev)
	}

	n.must(200, "POST", "/api/v1/posts/"+p.ID+"/status", map[string]any{"status": "claimed"}, nil)
	_, data = readEvent(t, sc)
	if err := json.Unmarshal([]byte(data), &ev); err != nil || ev.Post.Status != "claimed" {
		t.Errorf("second event: %s", data)
	}
}

func TestEventsHeartbeatAndClose(t *testing.T) {
	n := newTestNode(t, func(c *Config) { c.Heartbeat = 10 * time.Millisecond })
	res, err := n.srv.Client().Get(n.srv.URL + "/api/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sawPing := false
	for !sawPing && sc.Scan() {
		sawPing = sc.Text() == ": ping"
	}
	if !sawPing {
		t.Fatal("no heartbeat")
	}
	n.api.Close() // ends the stream
	done := make(chan struct{})
	go func() {
		for sc.Scan() {
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("stream still open after Close")
	}
}

// TestEventsSubscribersCapped: beyond Config.MaxSubscribers open streams,
// one more gets 503; when one closes, a new one is served.
func TestEventsSubscribersCapped(t *testing.T) {
	n := newTestNode(t, func(c *Config) { c.MaxSubscribers = 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	open := func() *http.Response {
		req, _ := http.NewRequestWithContext(ctx, "GET", n.srv.URL+"/api/v1/events", nil)
		res, err := n.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	first, second := open(), open()
	defer second.Body.Close()
	if first.StatusCode != 200 || second.StatusCode != 200 {
		t.Fatalf("the first two streams: %d, %d", first.StatusCode, second.StatusCode)
	}
	third := open()
	third.Body.Close()
	if third.StatusCode != http.StatusServiceUnavailable || third.Header.Get("Retry-After") == "" {
		t.Fatalf("a third stream: %d, Retry-After %q; want 503 with Retry-After", third.StatusCode, third.Header.Get("Retry-After"))
	}
	first.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		res := open()
		res.Body.Close()
		if res.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no stream served after one closed: %d", res.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestEventsBurstEachOnce: posts made faster than the stream is read
// (the stream writes what has queued up together) each arrive once,
// as a whole event.
func TestEventsBurstEachOnce(t *testing.T) {
	n := newTestNode(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", n.srv.URL+"/api/v1/events", nil)
	res, err := n.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	const posts, clients = 120, 8
	want := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < posts; i += clients {
				code, b, _ := n.do("POST", "/api/v1/posts", map[string]any{"kind": "need", "title": fmt.Sprintf("coats %d", i)}, "")
				var p post
				if err := json.Unmarshal(b, &p); code != http.StatusCreated || err != nil {
					t.Errorf("post %d: %d %s", i, code, b)
					return
				}
				mu.Lock()
				want[p.ID] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	seen := map[string]bool{}
	for len(seen) < posts {
		name, data := readEvent(t, sc)
		var ev struct {
			Type string `json:"type"`
			Post post   `json:"post"`
		}
		if err := json.Unmarshal([]byte(data), &ev); err != nil || name != "post" || ev.Type != "post" {
			t.Fatalf("event %q %s: %v", name, data, err)
		}
		if !want[ev.Post.ID] || seen[ev.Post.ID] {
			t.Fatalf("post %s: made here %v, announced before %v", ev.Post.ID, want[ev.Post.ID], seen[ev.Post.ID])
		}
		seen[ev.Post.ID] = true
	}
}

// TestEventsGroupOnRename: another node's Rename (kind 11) reaches this
// node — here in a bundle — and a stream opened with ?with=group gets a
// "group" event naming the group as GET /api/v1/node does, so that a
// page can show the new name at once. A stream opened without it (a
// client written for posts and "lagged") gets no such event, and an
// unknown with= value is refused.
func TestEventsGroupOnRename(t *testing.T) {
	a, b, group := amalJoinsBo(t)
	bundle(t, b, a)
	bundle(t, a, b)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	open := func(query string) *bufio.Scanner {
		req, _ := http.NewRequestWithContext(ctx, "GET", a.srv.URL+"/api/v1/events"+query, nil)
		res, err := a.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		if res.StatusCode != http.StatusOK {
			t.Fatalf("events%s: %d", query, res.StatusCode)
		}
		return bufio.NewScanner(res.Body)
	}
	withGroups, plain := open("?with=group"), open("")

	b.must(http.StatusOK, "PATCH", "/api/v1/node", map[string]string{"name": "Bina"}, nil)
	bundle(t, b, a)
	if got := memberNames(a, group); got["Bina"] != b.rep.Self().String() {
		t.Fatalf("a's members after b's rename: %v", got)
	}
	name, data := readEvent(t, withGroups)
	var ev struct {
		Type  string `json:"type"`
		Group struct {
			ID, Name, Role string
		} `json:"group"`
	}
	if err := json.Unmarshal([]byte(data), &ev); err != nil {
		t.Fatal(err)
	}
	if name != "group" || ev.Type != "group" || ev.Group.ID != group || ev.Group.Name != "Eastgate" || ev.Group.Role != "admin" {
		t.Fatalf("event %q %s, want a group event for %s", name, data, group)
	}

	// The plain stream: the next event it sends is the post made now.
	p := a.create(map[string]any{"kind": "offer", "title": "soup"})
	if name, data := readEvent(t, plain); name != "post" || !strings.Contains(data, p.ID) {
		t.Fatalf("a stream without with=group got %q %s first, want the post", name, data)
	}

	for _, q := range []string{"?with=groups", "?with=group,rename"} {
		code, body, _ := a.do("GET", "/api/v1/events"+q, nil, "")
		if code != http.StatusBadRequest || !strings.Contains(string(body), `"error"`) {
			t.Errorf("events%s: %d %s, want 400 with an error", q, code, body)
		}
	}
}
