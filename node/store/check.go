package store

import (
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
				if err = st.start(false); err != nil {
					ds.Close()
				} else if err = st.openVault(); err != nil {
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
		var fe *FormatError
		if errors.As(err, &fe) {
			fe.Dir = dir
			return nil, fe
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
// other: every post op can be found from its post, every post entry's
// record is where it says, and every board index entry has its post's
// entry. It returns what is wrong, one line each.
func (s *Store) Audit(g crdt.ID) ([]string, error) {
	var out []string
	bad := func(f string, a ...any) {
		if len(out) < 100 {
			out = append(out, fmt.Sprintf(f, a...))
		}
	}
	gn, ok := s.group(g)
	if !ok {
		return nil, nil
	}
	// Post entries first: where each post's create op and record are.
	entries := map[crdt.ID]postEntry{}
	err := s.groupScan(pPost, g, true, func(rest, v []byte) error {
		e, err := decodeEntry(v)
		if err != nil || len(rest) != 32 {
			bad("post entry %x: malformed", rest)
			return nil
		}
		entries[crdt.ID(rest)] = e
		return nil
	})
	if err != nil {
		return out, err
	}
	// Ops: the log, membership, parked ops and forks decode and verify;
	// each post op in the log can be found from its post.
	for _, prefix := range []byte{pLog, pMember, pPark, pFork} {
		err := s.groupScan(prefix, g, true, func(rest, v []byte) error {
			op, err := protocol.DecodeOp(v)
			if err != nil {
				bad("record %c %x…: %v", prefix, rest[:min(len(rest), 12)], err)
				return nil
			}
			if prefix != pLog {
				return nil
			}
			post, ok := crdt.PostOf(&op)
			if !ok {
				return nil
			}
			an, _ := s.author(op.Author)
			if _, create := op.Body.(crdt.PostCreate); create {
				if e := entries[post]; e.flags&flagCreate == 0 || e.author != an || e.seq != op.Seq {
					bad("op %s: its post's entry does not name it as the create", op.ID.Short())
				}
			} else if _, err := s.get(key(pPostOp, num(gn), post[:], num(an), seqBytes(op.Seq))); err != nil {
				bad("op %s: its post-op entry is missing", op.ID.Short())
			}
			return nil
		})
		if err != nil {
			return out, err
		}
	}
	// Records decode; the board index holds exactly the records its
	// entries point to.
	err = s.groupScan(pIndex, g, true, func(rest, v []byte) error {
		if len(rest) < 32 {
			bad("a board index key (%x) is malformed", rest)
			return nil
		}
		id := crdt.ID(rest[len(rest)-32:])
		if _, err := protocol.DecodePost(v, g, id); err != nil {
			bad("post record %s: %v", id.Short(), err)
		}
		e, ok := entries[id]
		if !ok || e.flags&flagBoard == 0 || string(e.spot) != string(rest[:len(rest)-32]) {
			bad("post %s: its board index entry is not where its post entry says", id.Short())
		}
		delete(entries, id)
		return nil
	})
	for id, e := range entries {
		switch {
		case e.flags&flagBoard != 0:
			bad("post %s: its board index entry is missing", id.Short())
		case e.flags&flagRecord != 0:
			if p, err := protocol.DecodePost(e.record, g, id); err != nil {
				bad("post record %s: %v", id.Short(), err)
			} else if p.Created {
				bad("post %s: created, but not on the board", id.Short())
			}
		}
	}
	return out, err
}

// PostsOnDisk calls fn for every post of a group, read and decoded from
// disk (the cache is neither read nor filled).
func (s *Store) PostsOnDisk(g crdt.ID, fn func(*crdt.Post) error) error {
	return s.allPosts(g, func(id crdt.ID, rec []byte) (*crdt.Post, error) {
		p, err := protocol.DecodePost(rec, g, id)
		if err != nil {
			return nil, fmt.Errorf("post record %s: %w", id.Short(), err)
		}
		return p, nil
	}, fn)
}
