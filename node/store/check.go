package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/dgraph-io/badger"
	dsbadger "github.com/ipfs/go-ds-badger"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// FileProblem is damage found in one of a store's files.
type FileProblem struct {
	File   string `json:"file"`
	Detail string `json:"detail"`
	// Unfinished marks the tail of the last value log that a write cut
	// short left: never acknowledged, and dropped (its bytes kept) at
	// the next start. Not damage.
	Unfinished bool `json:"unfinished,omitempty"`
}

// CheckFiles reads every record of every value log in dir and checks it
// byte for byte (Badger itself checks no CRC when it reads a value). It
// only reads. A running store's last log may end in a write in progress:
// that is reported as unfinished, not as damage.
func CheckFiles(dir string) ([]FileProblem, error) {
	files, err := vlogFiles(dir)
	if err != nil {
		return nil, err
	}
	out := checkTables(dir)
	for i, f := range files {
		s, err := scanVlog(f, nil)
		if err != nil {
			out = append(out, FileProblem{File: f, Detail: err.Error()})
			continue
		}
		switch {
		case i == len(files)-1 && s.TornTail():
			out = append(out, FileProblem{File: f, Unfinished: true,
				Detail: fmt.Sprintf("ends in an unfinished write (%d bytes, never acknowledged)", s.Size-s.ValidEnd)})
		case s.Damaged():
			out = append(out, FileProblem{File: f, Detail: describe(s)})
		}
	}
	return out, nil
}

// OpenReadOnly opens a store for reading only: no byte of dir changes.
// Badger is not opened on dir itself: even read-only, it deletes tables
// that its MANIFEST does not list. It opens a twin of dir made of hard
// links next to it (removed by Close), read-only; and when it would have
// to replay its log (after an unclean shutdown), a twin whose value logs
// and MANIFEST are copies, read-write.
func OpenReadOnly(dir string) (*Store, error) {
	dir = filepath.Clean(dir)
	if problems := checkTables(dir); len(problems) > 0 {
		return nil, &DamageError{Dir: dir, File: problems[0].File, Detail: problems[0].Detail}
	}
	for _, copyLogs := range []bool{false, true} {
		tmp, err := os.MkdirTemp(filepath.Dir(dir), ".check-")
		if err != nil {
			return nil, fmt.Errorf("a twin of the store to read it without changing it: %w", err)
		}
		if err := twin(dir, tmp, copyLogs); err != nil {
			os.RemoveAll(tmp)
			return nil, fmt.Errorf("a twin of the store to read it without changing it: %w", err)
		}
		var st *Store
		if copyLogs {
			st, err = Open(tmp, Config{NoSync: true})
		} else {
			opts := badgerOptions(Config{})
			opts.ReadOnly = true
			opts.GcInterval = 0
			var ds *dsbadger.Datastore
			if ds, err = openBadger(tmp, &opts); err == nil {
				st = newStore(tmp, ds, Config{})
				if err = st.openVault(); err != nil {
					ds.Close()
				}
			}
		}
		if err == nil {
			st.tmp, st.dir = tmp, dir
			return st, nil
		}
		os.RemoveAll(tmp)
		if !copyLogs && strings.Contains(err.Error(), badger.ErrReplayNeeded.Error()) {
			// (Badger wraps it with %v.)
			continue
		}
		var de *DamageError
		if errors.As(err, &de) {
			de.Dir, de.File = dir, strings.Replace(de.File, tmp, dir, 1)
			return nil, de
		}
		return nil, &DamageError{Dir: dir, Detail: strings.ReplaceAll(err.Error(), tmp, dir)}
	}
	panic("unreachable")
}

// twin fills to with hard links to the files of from (copies where a
// link cannot be made), and copies of its value logs and MANIFEST if
// copyLogs.
func twin(from, to string, copyLogs bool) error {
	ents, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || e.Name() == "LOCK" {
			continue
		}
		src, dst := filepath.Join(from, e.Name()), filepath.Join(to, e.Name())
		mutable := strings.HasSuffix(e.Name(), ".vlog") || e.Name() == "MANIFEST"
		// The vault is always copied: opening it may finish an erasure or
		// cut a torn tail, which must not reach the original.
		if e.Name() != VaultFile && !(copyLogs && mutable) && os.Link(src, dst) == nil {
			continue
		}
		if err := copyFile(src, dst); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Audit reads every record of a group from disk, not from any cache, and
// checks that each decodes and that the derived records agree with each
// other: every op's lookup entry, every post record's index entry. It
// returns what is wrong, one line each.
func (s *Store) Audit(g crdt.ID) ([]string, error) {
	var out []string
	bad := func(f string, a ...any) {
		if len(out) < 100 {
			out = append(out, fmt.Sprintf(f, a...))
		}
	}
	// Ops: the log, membership, parked ops and forks decode and verify.
	for _, prefix := range []byte{pLog, pMember, pPark, pFork} {
		err := s.scan(key(prefix, g[:]), nil, true, func(k, v []byte) error {
			op, err := protocol.DecodeOp(v)
			if err != nil {
				bad("record %q…: %v", k[:min(len(k), 12)], err)
				return nil
			}
			if prefix == pLog {
				if ptr, err := s.get(key(pOp, op.ID[:])); err != nil || !bytes.Equal(ptr, k) {
					bad("op %s: its lookup entry is missing or wrong", op.ID.Short())
				}
			}
			return nil
		})
		if err != nil {
			return out, err
		}
	}
	// Post records decode, and the board index holds exactly the created
	// ones, each under its current key with the same record.
	index := map[string][]byte{}
	err := s.scan(key(pIndex, g[:]), nil, true, func(k, v []byte) error {
		index[string(k)] = v
		return nil
	})
	if err != nil {
		return out, err
	}
	err = s.scan(key(pPost, g[:]), nil, true, func(k, v []byte) error {
		p, err := protocol.DecodePost(v)
		if err != nil {
			bad("post record %x: %v", k[len(k)-32:len(k)-26], err)
			return nil
		}
		if !p.Created {
			return nil
		}
		ik := string(indexKey(p))
		if iv, ok := index[ik]; !ok || !bytes.Equal(iv, v) {
			bad("post %s: its board index entry is missing or differs", p.ID.Short())
		}
		delete(index, ik)
		return nil
	})
	for range index {
		bad("a board index entry has no post record")
	}
	return out, err
}

// PostsOnDisk calls fn for every post of a group, read and decoded from
// disk (the cache is neither read nor filled).
func (s *Store) PostsOnDisk(g crdt.ID, fn func(*crdt.Post) error) error {
	return s.scan(key(pPost, g[:]), nil, true, func(k, v []byte) error {
		p, err := protocol.DecodePost(v)
		if err != nil {
			return fmt.Errorf("post record %x: %w", k[len(k)-32:len(k)-26], err)
		}
		return fn(p)
	})
}
