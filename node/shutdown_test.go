package node_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/node"
)

// TestShutdownWaitsForImport: a bundle is being imported, slowly (a
// client on a poor link), when the node stops. Serve waits for the
// import to end (cleanly: it finishes, or fails with 503) before the
// store closes; the data dir then opens and checks clean, and holds a
// prefix of the bundle's ops, each one valid.
func TestShutdownWaitsForImport(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for Shutdown's 5 s")
	}
	a := serveNode(t, "A", t.TempDir())
	var g struct{ ID string }
	a.must(t, "POST", "/api/v1/groups", map[string]string{"name": "Eastgate Aid"}, &g)
	for i := range 200 {
		a.mustPost(t, "coats "+string(rune('a'+i%26)))
	}
	req, _ := http.NewRequest("GET", a.base+"/api/v1/bundle", nil)
	res, err := httpc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("export: %d %v", res.StatusCode, err)
	}

	dir := t.TempDir()
	b := serveNode(t, "B", dir)
	pr, pw := io.Pipe()
	sent := make(chan struct{})
	go func() { // the bundle in 100 pieces over 10 s
		defer close(sent)
		step := len(bundle)/100 + 1
		for i := 0; i < len(bundle); i += step {
			if _, err := pw.Write(bundle[i:min(i+step, len(bundle))]); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		pw.Close()
	}()
	type answer struct {
		code int
		body []byte
		err  error
		at   time.Time
	}
	done := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("POST", b.base+"/api/v1/bundle", pr)
		req.Header.Set("Content-Type", "application/octet-stream")
		res, err := httpc.Do(req)
		if err != nil {
			done <- answer{err: err, at: time.Now()}
			return
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		done <- answer{code: res.StatusCode, body: body, at: time.Now()}
	}()
	time.Sleep(time.Second) // the import is under way
	t0 := time.Now()
	b.stop() // fails the test if Serve returns an error
	stopped := time.Now()
	pw.CloseWithError(io.ErrClosedPipe)
	<-sent
	ans := <-done
	t.Logf("Serve returned after %v; the import's answer: %d %s %v (%v after Serve returned)",
		stopped.Sub(t0).Round(time.Millisecond), ans.code, bytes.TrimSpace(ans.body), ans.err, ans.at.Sub(stopped).Round(time.Millisecond))
	// An answer, not a dropped connection: the handler returned before
	// the server and the store went away.
	if ans.err != nil {
		t.Fatalf("the import got no answer: %v", ans.err)
	}
	if ans.code != http.StatusOK && ans.code != http.StatusServiceUnavailable {
		t.Fatalf("the import ended with %d %s; want 200 or 503", ans.code, ans.body)
	}

	l, err := node.OpenLocal(dir, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if probs, err := l.Replica.CheckFiles(); err != nil || len(probs) > 0 {
		t.Fatalf("the store after the shutdown: %v %v", probs, err)
	}
	for _, gi := range l.Replica.Groups() {
		stored, recomputed, err := l.Replica.Check(gi.ID)
		if err != nil || stored != recomputed {
			t.Fatalf("group %s after the shutdown: stored %s, recomputed %s, %v", gi.ID.Short(), stored.Short(), recomputed.Short(), err)
		}
	}
}
