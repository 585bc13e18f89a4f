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
// Badger cannot open a store read-only after an unclean shutdown (it
// must replay its log), so then a copy is opened instead, made next to
// dir (hard links for the tables, which never change) and removed by
// Close.
func OpenReadOnly(dir string) (*Store, error) {
	opts := badgerOptions(Config{})
	opts.ReadOnly = true
	opts.GcInterval = 0
	if problems := checkTables(dir); len(problems) > 0 {
		return nil, &DamageError{Dir: dir, File: problems[0].File, Detail: problems[0].Detail}
	}
	ds, err := openBadger(dir, &opts)
	if err == nil {
		return newStore(ds, Config{}), nil
	}
	if !errors.Is(err, badger.ErrReplayNeeded) {
		if strings.Contains(err.Error(), "directory lock") {
			return nil, ErrLocked
		}
		if _, serr := os.Stat(dir); serr != nil {
			return nil, fmt.Errorf("open store: %w", serr)
		}
		var de *DamageError
		if errors.As(err, &de) {
			return nil, err
		}
		return nil, &DamageError{Dir: dir, Detail: err.Error()}
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(dir)), ".check-")
	if err != nil {
		return nil, fmt.Errorf("the store was not closed cleanly and needs a copy to be read without changing it: %w", err)
	}
	if err := copyStore(dir, tmp); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("the store was not closed cleanly and needs a copy to be read without changing it: %w", err)
	}
	st, err := Open(tmp, Config{NoSync: true})
	if err != nil {
		os.RemoveAll(tmp)
		var de *DamageError
		if errors.As(err, &de) {
			de.Dir, de.File = dir, strings.Replace(de.File, tmp, filepath.Clean(dir), 1)
		}
		return nil, err
	}
	st.tmp = tmp
	return st, nil
}

func copyStore(from, to string) error {
	ents, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || e.Name() == "LOCK" {
			continue
		}
		src, dst := filepath.Join(from, e.Name()), filepath.Join(to, e.Name())
		if strings.HasSuffix(e.Name(), ".sst") && os.Link(src, dst) == nil {
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
