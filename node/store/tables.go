package store

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/dgraph-io/badger"
)

// checkTables checks Badger's MANIFEST and that every table it lists is
// there with the checksum it records. Badger itself, finding a table
// whose checksum differs, logs an error and opens without the table:
// whatever the value log no longer holds of it is gone. It only reads.
func checkTables(dir string) (problems []FileProblem) {
	path := filepath.Join(dir, "MANIFEST")
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		if tables, _ := filepath.Glob(filepath.Join(dir, "*.sst")); len(tables) > 0 {
			return []FileProblem{{File: path, Detail: "missing, though the store has tables"}}
		}
		return nil
	}
	if err != nil {
		return []FileProblem{{File: path, Detail: err.Error()}}
	}
	defer f.Close()
	var m badger.Manifest
	var end int64
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("unreadable (%v)", r)
			}
		}()
		m, end, err = badger.ReplayManifestFile(f)
	}()
	if err != nil {
		return []FileProblem{{File: path, Detail: err.Error()}}
	}
	if fi, err := f.Stat(); err == nil && fi.Size() > end {
		// Badger would cut these bytes off, and then delete the tables
		// the change they held added: we cannot tell a torn write from
		// damage here, so say so, and let repair rebuild from the logs.
		return []FileProblem{{File: path, Detail: fmt.Sprintf("its last %d bytes are no complete change", fi.Size()-end)}}
	}
	for id, tm := range m.Tables {
		tp := filepath.Join(dir, fmt.Sprintf("%06d.sst", id))
		sum, err := fileSHA256(tp)
		switch {
		case err != nil:
			problems = append(problems, FileProblem{File: tp, Detail: err.Error()})
		case len(tm.Checksum) > 0 && !bytes.Equal(sum, tm.Checksum):
			problems = append(problems, FileProblem{File: tp, Detail: "its checksum differs from the one in MANIFEST"})
		}
	}
	return problems
}

func fileSHA256(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}
