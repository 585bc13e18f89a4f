package httpapi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// 64 bytes flipped in the middle of a running node's value log: every
// GET still answers from the cache and the index, and the check used to
// say ok because it read posts through the same cache. It reads the
// files and the records from disk now.
func TestCheckSeesDamageTheCacheHides(t *testing.T) {
	n := newTestNode(t, nil)
	for i := 0; i < 300; i++ {
		n.must(201, "POST", "/api/v1/posts", map[string]any{"kind": "need", "title": "Winter coats", "details": strings.Repeat("size L ", 20)}, nil)
	}
	var ok struct {
		OK bool `json:"ok"`
	}
	n.must(200, "GET", "/api/v1/check", nil, &ok)
	if !ok.OK {
		t.Fatal("a sound store fails the check")
	}
	vlogs, _ := filepath.Glob(filepath.Join(n.rep.Store().Dir(), "*.vlog"))
	if len(vlogs) == 0 {
		t.Fatal("no value log")
	}
	f, err := os.OpenFile(vlogs[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	b := make([]byte, 64)
	f.ReadAt(b, fi.Size()/2)
	for i := range b {
		b[i] ^= 0xff
	}
	f.WriteAt(b, fi.Size()/2)
	f.Close()

	n.must(200, "GET", "/api/v1/posts", nil, nil) // still served
	var res struct {
		OK    bool `json:"ok"`
		Files []struct {
			File string `json:"file"`
		} `json:"files"`
	}
	n.must(200, "GET", "/api/v1/check", nil, &res)
	if res.OK || len(res.Files) != 1 || !strings.HasSuffix(res.Files[0].File, filepath.Base(vlogs[0])) {
		t.Fatalf("check after 64 flipped bytes: %+v", res)
	}
}
