package httpapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/node/store"
)

// BenchmarkCreatePost measures posts per second through the HTTP API on
// loopback, against a real replica on a real Badger store with SyncWrites
// on: every 201 is on disk. Concurrent clients share fsyncs through the
// replica's group commit.
func BenchmarkCreatePost(b *testing.B) {
	for _, c := range []struct {
		clients int
		contact string // sealed into a blob when set
	}{{1, ""}, {1, `,"contact":"555-0101","location":"12 Elm St"`}, {16, ""}, {16, `,"contact":"555-0101","location":"12 Elm St"`}} {
		clients, extra := c.clients, c.contact
		b.Run(fmt.Sprintf("clients=%d/sealed=%v", clients, c.contact != ""), func(b *testing.B) {
			st, err := store.Open(b.TempDir(), store.Config{})
			if err != nil {
				b.Fatal(err)
			}
			_, key, _ := ed25519.GenerateKey(nil)
			rep, err := replica.Open(st, replica.Config{Key: key, Name: "bench", Logger: quietLogger()})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			defer rep.Close()
			if _, err := rep.CreateGroup(context.Background(), "bench"); err != nil {
				b.Fatal(err)
			}
			api := New(Config{Board: rep, Logger: quietLogger()})
			srv := httptest.NewServer(api)
			defer srv.Close()
			defer api.Close()
			tr := &http.Transport{MaxIdleConnsPerHost: clients}
			hc := &http.Client{Transport: tr}
			defer tr.CloseIdleConnections()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for c := 0; c < clients; c++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						body := fmt.Sprintf(`{"kind":"need","title":"Winter coats %d","category":"clothing","quantity":4%s}`, i, extra)
						resp, err := hc.Post(srv.URL+"/api/v1/posts", "application/json", strings.NewReader(body))
						if err != nil {
							b.Error(err)
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusCreated {
							b.Errorf("status %s", resp.Status)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
		})
	}
}

// BenchmarkCreatePostHandler measures the API's own work for one POST
// /api/v1/posts of a ~300-byte post, without the network and without
// the commit: the request's checks, the body's JSON, the answer's. The
// board is a real replica whose CreatePost answers with a post made
// once (handlerBoard). It is the part of node A's CPU per post in the
// 3-node burst that is neither the socket nor the replica.
func BenchmarkCreatePostHandler(b *testing.B) {
	st, err := store.Open(b.TempDir(), store.Config{})
	if err != nil {
		b.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	rep, err := replica.Open(st, replica.Config{Key: key, Name: "bench", Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	defer rep.Close()
	g, err := rep.CreateGroup(context.Background(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	body := `{"kind":"need","title":"burst 00042: winter coats, size L, for a family","details":"A family of four arrived last week and needs winter coats: two adults (L and M) and two children (8 and 11). Any colour is fine; gently used is welcome. Drop-off at the community hall on Tuesdays or Thursdays between 4 and 7 pm.","category":"clothing"}`
	p, _, err := rep.CreatePost(context.Background(), g, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: "burst 00042: winter coats, size L, for a family", Details: strings.Repeat("x", 230), Category: "clothing"}})
	if err != nil {
		b.Fatal(err)
	}
	api := New(Config{Board: handlerBoard{rep, p}, Logger: quietLogger()})
	defer api.Close()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	defer func() { b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op") }()
	for range b.N {
		req := httptest.NewRequest("POST", "http://127.0.0.1:7777/api/v1/posts", strings.NewReader(body))
		req.RemoteAddr = "127.0.0.1:50000"
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		api.ServeHTTP(w, req)
		if w.Code != http.StatusCreated {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

// handlerBoard is a replica whose CreatePost commits nothing and answers
// with one post.
type handlerBoard struct {
	*replica.Replica
	post *crdt.Post
}

func (h handlerBoard) CreatePost(context.Context, crdt.ID, replica.PostInput) (*crdt.Post, bool, error) {
	return h.post, true, nil
}

// cpuTime is the CPU time this process has used, user and system: a
// figure per op that stays meaningful when other processes share the
// cores (wall time per op does not).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHTTPFloor is the least a POST of a post can cost over
// loopback HTTP/1.1 with keep-alive: net/http alone, a handler that reads
// the ~360-byte body and answers 201 with ~900 bytes, 16 clients.
// cpu-ns/op is the client's and the server's CPU together (one
// process): the floor under node A's and the burst's clients' CPU per
// post in the 3-node burst, whatever the API does.
func BenchmarkHTTPFloor(b *testing.B) {
	answer := []byte(`{"id":"` + strings.Repeat("a", 64) + `",` + strings.Repeat(`"x":"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy",`, 16) + `"end":true}` + "\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusCreated)
		w.Write(answer)
	}))
	defer srv.Close()
	const clients = 16
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	hc := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	body := strings.Repeat("b", 360)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu0 := cpuTime()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				resp, err := hc.Post(srv.URL+"/api/v1/posts", "application/json", strings.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkEventsBurst: 16 writers make posts as fast as the replica
// commits them while one client reads GET /api/v1/events. It reports
// the process's CPU per post (replica, stream and reader together) and
// how many events arrive per read of the stream: a stream that writes
// one event per write and flush shows about 1.
func BenchmarkEventsBurst(b *testing.B) {
	rep, g := newReplica(b)
	api := New(Config{Board: rep, Logger: quietLogger()})
	srv := httptest.NewServer(api)
	defer srv.Close()
	defer api.Close()
	resp, err := http.Get(srv.URL + "/api/v1/events")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var events, reads atomic.Int64
	go func() {
		buf := make([]byte, 256<<10)
		for {
			n, err := resp.Body.Read(buf)
			if n > 0 {
				reads.Add(1)
				events.Add(int64(bytes.Count(buf[:n], []byte("event: post\n"))))
			}
			if err != nil {
				return
			}
		}
	}()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu0, r0, e0 := cpuTime(), reads.Load(), events.Load()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if _, _, err := rep.CreatePost(context.Background(), g, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: "winter coats, size L", Details: strings.Repeat("d", 230), Category: "clothing"}}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for events.Load()-e0 < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(events.Load()-e0)/float64(reads.Load()-r0), "events/read")
}
