package httpapi

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

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
