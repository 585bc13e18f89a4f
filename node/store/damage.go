package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/dgraph-io/badger"
	dsbadger "github.com/ipfs/go-ds-badger"
)

// openAfterUnfinishedWrite opens a store whose last value log does not
// end in a complete transaction. That is what a power cut in the middle
// of a commit leaves, and such a commit was never acknowledged: its
// bytes are moved to DIR.torn/ and the store opens without them. Any
// other damage — bad bytes before the end, in an older log, or a replay
// point Badger cannot reach — is a DamageError, and nothing is changed.
func openAfterUnfinishedWrite(dir string, opts *dsbadger.Options) (*dsbadger.Datastore, error) {
	files, err := vlogFiles(dir)
	if err != nil || len(files) == 0 {
		return nil, &DamageError{Dir: dir, Detail: "Badger needs to truncate a value log, and there is none"}
	}
	var last *vlogScan
	for i, f := range files {
		s, err := scanVlog(f, nil)
		if err != nil {
			return nil, &DamageError{Dir: dir, File: f, Detail: err.Error()}
		}
		if i < len(files)-1 {
			if s.Damaged() {
				return nil, &DamageError{Dir: dir, File: f, Detail: describe(s)}
			}
			continue
		}
		last = s
	}
	if !last.TornTail() {
		return nil, &DamageError{Dir: dir, File: last.Path, Detail: describe(last)}
	}
	saved, err := cutTail(last)
	if err != nil {
		return nil, err
	}
	ds, err := openBadger(dir, opts)
	if err == nil {
		return ds, nil
	}
	if errors.Is(err, badger.ErrTruncateNeeded) {
		// The replay point lies beyond the cut: the bytes were part of
		// data Badger had already indexed. Put them back.
		if rerr := restoreTail(last, saved); rerr != nil {
			return nil, fmt.Errorf("%w (and putting back the bytes moved to %s failed: %v)", &DamageError{Dir: dir, File: last.Path, Detail: describe(last)}, saved, rerr)
		}
		return nil, &DamageError{Dir: dir, File: last.Path, Detail: describe(last) + "; the store's index points past it"}
	}
	return nil, err
}

// describe says what a scan found, for a person.
func describe(s *vlogScan) string {
	if len(s.Bad) == 0 {
		return fmt.Sprintf("the records end at byte %d of %d inside an unfinished transaction", s.ValidEnd, s.Size)
	}
	msg := fmt.Sprintf("%d damaged stretch(es), the first at %s", len(s.Bad), s.Bad[0])
	if s.Bad[0].End == s.Size && len(s.Bad) == 1 {
		msg = fmt.Sprintf("the last %d bytes are not valid records", s.Size-s.Bad[0].Start)
	}
	return msg
}

// tornDir is where cut tails are kept.
func tornDir(s *vlogScan) string { return filepath.Clean(filepath.Dir(s.Path)) + ".torn" }

// cutTail copies the bytes after the last complete transaction to
// DIR.torn/ (synced), then truncates the log there.
func cutTail(s *vlogScan) (string, error) {
	f, err := os.OpenFile(s.Path, os.O_RDWR, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	tail := make([]byte, s.Size-s.ValidEnd)
	if _, err := f.ReadAt(tail, s.ValidEnd); err != nil {
		return "", err
	}
	if err := os.MkdirAll(tornDir(s), 0o700); err != nil {
		return "", err
	}
	saved := filepath.Join(tornDir(s), fmt.Sprintf("%s-at-%d-%s.tail", filepath.Base(s.Path), s.ValidEnd, strconv.FormatInt(time.Now().Unix(), 10)))
	if err := writeSynced(saved, tail); err != nil {
		return "", fmt.Errorf("keeping the unfinished write: %w", err)
	}
	if err := f.Truncate(s.ValidEnd); err != nil {
		return "", err
	}
	return saved, f.Sync()
}

// restoreTail undoes cutTail.
func restoreTail(s *vlogScan, saved string) error {
	tail, err := os.ReadFile(saved)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(s.Path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.WriteAt(tail, s.ValidEnd); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return os.Remove(saved)
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
