package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/mutual-aid/mutual/crdt"
)

// A data dir may be an old copy of itself: restored from a backup, or
// copied to another machine. Its node then lacks the ops it signed since
// the copy, and must not sign again until a peer has given them back
// (replica.Config.Restored). The incarnation marker tells a copy from
// the data dir it was copied from: an empty file, never written after it
// is made, whose inode number and change time (ctime) are recorded next
// to it when it is made. Any copy of the file — cp -a, rsync, tar, a
// restore from backup, to this disk or another — is a new file with the
// time of the copy as its change time, which no copying tool can set
// (only the kernel does). An ordinary restart, or moving the data dir
// within one filesystem, keeps both. See docs/design.md, "Restored data
// dirs", for what it cannot see.
const (
	anchorFile      = "incarnation"      // the empty file
	incarnationFile = "incarnation.json" // its identity when made, and the unconfirmed groups
)

// fileID is what identifies a file on its filesystem.
type fileID struct {
	Inode uint64 `json:"inode"`
	Ctime int64  `json:"ctime_ns"`
}

// errNoFileID means the platform gives no file identity (fileid_other.go).
var errNoFileID = errors.New("no file identity on this platform")

type incarnationRecord struct {
	Anchor      *fileID  `json:"anchor"`
	Unconfirmed []string `json:"unconfirmed,omitempty"` // group IDs
}

// incarnation is a data dir's marker, as found at open.
type incarnation struct {
	dir         string
	restored    bool      // the anchor is not the one the record names: a copy
	remake      bool      // make a new anchor at the next write
	unconfirmed []crdt.ID // from the record
	saved       []string  // the record's groups, as last read or written
	mu          sync.Mutex
}

// readIncarnation reads the marker of dir. A data dir without a record
// is new, or was made by a version without the marker (which could not
// tell a copy either), or its first start stopped between making the
// anchor and the record: it is not taken for a copy. A record that
// cannot be read is, which errs on the safe side.
func readIncarnation(dir string) *incarnation {
	inc := &incarnation{dir: dir}
	var rec incarnationRecord
	b, recErr := os.ReadFile(filepath.Join(dir, incarnationFile))
	if recErr == nil {
		recErr = json.Unmarshal(b, &rec)
	}
	for _, s := range rec.Unconfirmed {
		if g, err := crdt.ParseID(s); err == nil {
			inc.unconfirmed = append(inc.unconfirmed, g)
			inc.saved = append(inc.saved, s)
		}
	}
	id, idErr := fileIDOf(filepath.Join(dir, anchorFile))
	switch {
	case errors.Is(idErr, errNoFileID):
	case errors.Is(recErr, fs.ErrNotExist):
		inc.remake = true
	case recErr == nil && idErr == nil && rec.Anchor != nil && *rec.Anchor == id:
	default:
		inc.restored, inc.remake = true, true
	}
	return inc
}

// markRestored makes the next open of dir take it for a copy: its record
// names no anchor.
func markRestored(dir string) error {
	var rec incarnationRecord
	if b, err := os.ReadFile(filepath.Join(dir, incarnationFile)); err == nil {
		json.Unmarshal(b, &rec) // what cannot be read counts as a copy anyway
	}
	rec.Anchor = nil
	b, _ := json.MarshalIndent(rec, "", "  ")
	return writeFileSynced(filepath.Join(dir, incarnationFile), append(b, '\n'))
}

// write records the unconfirmed groups, and first makes a new anchor if
// this open found a copy or none. It writes only what changed.
func (inc *incarnation) write(unconfirmed []crdt.ID) error {
	groups := make([]string, len(unconfirmed))
	for i, g := range unconfirmed {
		groups[i] = g.String()
	}
	if !inc.remake && slices.Equal(groups, inc.saved) {
		return nil
	}
	rec := incarnationRecord{Unconfirmed: groups}
	anchor := filepath.Join(inc.dir, anchorFile)
	if inc.remake {
		// Until the record names the new anchor, a crash leaves a data
		// dir that looks like a copy again: safe.
		if err := os.Remove(anchor); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		f, err := os.OpenFile(anchor, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	id, err := fileIDOf(anchor)
	switch {
	case err == nil:
		rec.Anchor = &id
	case !errors.Is(err, errNoFileID):
		return err
	}
	b, _ := json.MarshalIndent(rec, "", "  ")
	if err := writeFileSynced(filepath.Join(inc.dir, incarnationFile), append(b, '\n')); err != nil {
		return err
	}
	inc.remake, inc.saved = false, groups
	return nil
}

// writeFileSynced replaces a file with b by a synced write to a
// temporary file and a rename, so that a crash leaves the old file or
// the new one.
func writeFileSynced(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Confirm marks groups as heard from (replica.Replica.Confirm), and
// records it in the data dir.
func (l *Local) Confirm(groups ...crdt.ID) error {
	if l.inc == nil { // opened read-only
		l.Replica.Confirm(groups...)
		return nil
	}
	l.inc.mu.Lock()
	defer l.inc.mu.Unlock()
	before := l.Replica.Unconfirmed()
	if !l.Replica.Confirm(groups...) {
		return nil
	}
	after := l.Replica.Unconfirmed()
	for _, g := range before {
		if !slices.Contains(after, g) {
			l.log.Info("restored data dir: this node has its own latest ops of the group back, and signs there again", "group", g.Short())
		}
	}
	return l.inc.write(after)
}

// synced is called after a catch-up session that completed, with the
// groups the peer offered.
func (l *Local) synced(groups []crdt.ID) {
	if err := l.Confirm(groups...); err != nil {
		l.log.Warn("cannot record in the data dir that groups were synced", "err", err)
	}
}
