package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The damaged-file cases of `mutual check` and `mutual repair`, on
// copies of a real data dir: bytes cut off and flipped in the value log,
// a table and the MANIFEST.

func seededDataDir(t *testing.T, posts int) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	if r := mutual(t, data, "group", "create", "Eastgate"); r.code != 0 {
		t.Fatalf("group create: %s", r.stderr)
	}
	var csv strings.Builder
	csv.WriteString("kind,title,details,category,contact\n")
	for i := 0; i < posts; i++ {
		fmt.Fprintf(&csv, "need,Winter coats %04d,For a family of four %d,clothing,555-%04d\n", i, i, i)
	}
	sheet := filepath.Join(t.TempDir(), "sheet.csv")
	os.WriteFile(sheet, []byte(csv.String()), 0o600)
	if r := mutual(t, data, "import-csv", sheet); r.code != 0 {
		t.Fatalf("import-csv: %s", r.stderr)
	}
	return data
}

func boardTitles(t *testing.T, data string) map[string]bool {
	t.Helper()
	var posts []jpost
	mustJSON(t, mutual(t, data, "board", "--json"), &posts)
	out := map[string]bool{}
	for _, p := range posts {
		out[p.Title] = true
	}
	return out
}

func copyTree(t *testing.T, from string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "data")
	err := filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, fi.Mode())
	})
	if err != nil {
		t.Fatal(err)
	}
	return to
}

func treeSums(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			b, _ := os.ReadFile(p)
			out[p] = sha256.Sum256(b)
		}
		return nil
	})
	return out
}

func TestCheckAndRepairDamagedFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const posts = 800
	src := seededDataDir(t, posts)
	want := boardTitles(t, src)
	if len(want) != posts {
		t.Fatalf("seeded %d posts, want %d", len(want), posts)
	}
	if r := mutual(t, src, "check"); r.code != 0 {
		t.Fatalf("check of a sound store: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	cut := func(n int) func([]byte) []byte { return func(b []byte) []byte { return b[:len(b)-min(n, len(b)/2)] } }
	flip := func(b []byte) []byte {
		for i := len(b) / 2; i < len(b)/2+64 && i < len(b); i++ {
			b[i] ^= 0xff
		}
		return b
	}
	cases := []struct {
		name, file string
		damage     func([]byte) []byte
		lossless   bool // every post comes back (the value log is whole)
	}{
		{"vlog cut 1", "*.vlog", cut(1), true},
		{"vlog cut 100", "*.vlog", cut(100), false},
		{"vlog cut 4096", "*.vlog", cut(4096), false},
		{"vlog flip 64", "*.vlog", flip, false},
		{"sst cut", "*.sst", cut(100), true},
		{"sst flip", "*.sst", flip, true},
		{"MANIFEST cut", "MANIFEST", cut(20), true},
		{"MANIFEST flip", "MANIFEST", flip, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := copyTree(t, src)
			files, _ := filepath.Glob(filepath.Join(data, "store", c.file))
			if len(files) == 0 {
				t.Fatalf("no %s", c.file)
			}
			f := files[len(files)-1]
			b, _ := os.ReadFile(f)
			os.WriteFile(f, c.damage(b), 0o600)
			before := treeSums(t, data)

			r := mutual(t, data, "check")
			if r.code == 0 || !strings.Contains(r.stdout+r.stderr, filepath.Base(f)) || !strings.Contains(r.stderr, "mutual repair") {
				t.Fatalf("check: exit %d, want a failure naming %s and the way out\n%s%s", r.code, filepath.Base(f), r.stdout, r.stderr)
			}
			if strings.Contains(r.stderr, "panic") {
				t.Fatalf("check panicked:\n%s", r.stderr)
			}
			if after := treeSums(t, data); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatal("check changed the data dir")
			}

			r = mutual(t, data, "repair")
			if r.code != 0 {
				t.Fatalf("repair: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if kept, _ := filepath.Glob(filepath.Join(data, "store.damaged-*", filepath.Base(f))); len(kept) != 1 {
				t.Fatalf("the damaged file is not kept: %v\n%s", kept, r.stdout)
			}
			if r := mutual(t, data, "check"); r.code != 0 {
				t.Fatalf("check after repair: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			got := boardTitles(t, data)
			for title := range got {
				if !want[title] {
					t.Fatalf("repair made up a post %q", title)
				}
			}
			// A value log record holds one op (or a record derived from
			// one, about 1 KB per post in all): 64 bad bytes or a 4 KB cut
			// tail cost a handful at most.
			if min := posts - 8; len(got) < min || (c.lossless && len(got) != posts) {
				t.Fatalf("after repair the board has %d of %d posts\n%s", len(got), posts, r.stdout)
			}
			// The contacts are sealed in the vault, outside Badger: repair
			// carries the vault to the new store, and every post that came
			// back has its contact.
			var back []struct {
				Title   string `json:"title"`
				Contact string `json:"contact"`
			}
			mustJSON(t, mutual(t, data, "board", "--json"), &back)
			for _, p := range back {
				var i int
				if _, err := fmt.Sscanf(p.Title, "Winter coats %d", &i); err != nil || p.Contact != fmt.Sprintf("555-%04d", i) {
					t.Fatalf("after repair post %q has contact %q", p.Title, p.Contact)
				}
			}
		})
	}
}
