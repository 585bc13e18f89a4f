package store_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/protocol"
)

// fill writes a genesis and n posts, in commits of 50, and returns the
// group and the op IDs in order.
func fill(t *testing.T, st *store.Store, n int) (crdt.ID, []crdt.ID) {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(nil)
	gen, graw := signed(t, key, crdt.Op{Seq: 1, Time: crdt.HLC{Wall: 1}, Body: crdt.Genesis{Name: "g"}})
	g := gen.ID
	var b store.Batch
	b.PutGroup(store.GroupRecord{ID: g, Name: "g", Relation: store.Member})
	b.AddOp(&gen, graw)
	ids := []crdt.ID{g}
	prev := g
	for i := 0; i < n; i++ {
		op, raw := signed(t, key, crdt.Op{Group: g, Seq: uint64(i + 2), Prev: prev, Time: crdt.HLC{Wall: int64(i + 2)},
			Body: crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: strings.Repeat("coats ", 20), Category: "clothing"}}})
		p := crdt.NewPost(g, op.ID)
		p.Apply(&op, true)
		b.AddOp(&op, raw)
		b.PutPost(nil, p)
		ids = append(ids, op.ID)
		prev = op.ID
		if b.Len() > 100 {
			if err := st.Commit(&b); err != nil {
				t.Fatal(err)
			}
			b = store.Batch{}
		}
	}
	if err := st.Commit(&b); err != nil {
		t.Fatal(err)
	}
	return g, ids
}

func lastVlog(t *testing.T, dir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.vlog"))
	if len(m) == 0 {
		t.Fatal("no value log")
	}
	return m[len(m)-1]
}

func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "store")
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() == "LOCK" || !e.Type().IsRegular() {
			continue
		}
		in, err := os.Open(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(to, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
	return to
}

// holdsAll fails unless the store at dir opens and holds every op.
func holdsAll(t *testing.T, dir string, ids []crdt.ID) {
	t.Helper()
	st, err := store.Open(dir, store.Config{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer st.Close()
	checkHolds(t, st, ids)
}

// checkHolds fails unless st holds every op of ids (as fill made them).
func checkHolds(t *testing.T, st *store.Store, ids []crdt.ID) {
	t.Helper()
	// One author wrote them all, at seqs 1, 2, ...: the genesis says who.
	ms, err := st.MembershipOps(ids[0])
	if err != nil || len(ms) != 1 {
		t.Fatalf("membership ops: %d, %v", len(ms), err)
	}
	gen, err := protocol.DecodeOp(ms[0])
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		raw, err := st.LogOp(ids[0], gen.Author, uint64(i+1))
		if err != nil {
			t.Fatalf("op %d of %d: %v", i, len(ids), err)
		}
		if op, err := protocol.DecodeOp(raw); err != nil || op.ID != id {
			t.Fatalf("op %d of %d: %v (ID %s, want %s)", i, len(ids), err, op.ID.Short(), id.Short())
		}
	}
}

// Cutting bytes off the value log of a cleanly closed store used to make
// Badger (Truncate on) cut the whole file to nothing on the next open,
// dropping every acknowledged op. Now the store refuses to open, names
// the file, and changes nothing; with the bytes back it opens whole.
func TestCutValueLogRefusesToOpenAndChangesNothing(t *testing.T) {
	src := t.TempDir()
	st, err := store.Open(src, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	_, ids := fill(t, st, 600)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int64{1, 100, 4096} {
		dir := copyDir(t, src)
		vlog := lastVlog(t, dir)
		orig, _ := os.ReadFile(vlog)
		if err := os.Truncate(vlog, int64(len(orig))-cut); err != nil {
			t.Fatal(err)
		}
		_, err := store.Open(dir, store.Config{})
		if !errors.Is(err, store.ErrDamaged) {
			t.Fatalf("cut %d: open = %v, want ErrDamaged", cut, err)
		}
		if !strings.Contains(err.Error(), filepath.Base(vlog)) || !strings.Contains(err.Error(), "mutual repair") {
			t.Errorf("cut %d: the message should name the file and the way out: %v", cut, err)
		}
		now, _ := os.ReadFile(vlog)
		if !bytes.Equal(now, orig[:len(orig)-int(cut)]) {
			t.Fatalf("cut %d: opening changed the value log (%d bytes, was %d)", cut, len(now), len(orig)-int(cut))
		}
		if err := os.WriteFile(vlog, orig, 0o600); err != nil {
			t.Fatal(err)
		}
		holdsAll(t, dir, ids)
	}
}

// A power cut in the middle of a commit leaves the start of its records
// at the end of the value log. That commit was never acknowledged: the
// store opens without it, keeps its bytes in DIR.torn/, and holds every
// op committed before.
func TestUnfinishedWriteIsDroppedAndKept(t *testing.T) {
	src := t.TempDir()
	st, err := store.Open(src, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, ids := fill(t, st, 300)
	image := copyDir(t, src) // what the disk holds if the power goes now
	before, _ := os.ReadFile(lastVlog(t, src))
	fill(t, st, 20) // one more commit, whose records we tear
	after, _ := os.ReadFile(lastVlog(t, src))
	if len(after) <= len(before) || !bytes.Equal(after[:len(before)], before) {
		t.Fatalf("the value log did not grow by appending (%d → %d bytes)", len(before), len(after))
	}
	next := after[len(before):]
	for name, tail := range map[string][]byte{
		"half a commit":       next[:len(next)/2],
		"a commit cut by one": next[:len(next)-1],
		"zeroed blocks":       append(append([]byte{}, next[:len(next)/3]...), make([]byte, 4096)...),
	} {
		t.Run(name, func(t *testing.T) {
			dir := copyDir(t, image)
			vlog := lastVlog(t, dir)
			f, err := os.OpenFile(vlog, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(tail)
			f.Close()
			problems, err := store.CheckFiles(dir)
			if err != nil || len(problems) != 1 || !problems[0].Unfinished {
				t.Fatalf("check before start: %+v, %v; want one unfinished write", problems, err)
			}
			holdsAll(t, dir, ids)
			kept, _ := filepath.Glob(filepath.Join(dir+".torn", "*.tail"))
			if len(kept) != 1 {
				t.Fatalf("kept tails: %v", kept)
			}
			if b, _ := os.ReadFile(kept[0]); !bytes.Equal(b, tail) {
				t.Fatalf("the kept tail is not the bytes that were dropped (%d vs %d)", len(b), len(tail))
			}
		})
	}
}

// Damage anywhere but an unfinished tail refuses to open, and checking a
// store never changes it.
func TestDamageIsFoundByCheckAndRefused(t *testing.T) {
	src := t.TempDir()
	st, err := store.Open(src, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	g, _ := fill(t, st, 600)
	image := copyDir(t, src) // not closed cleanly
	st.Close()

	for name, srcDir := range map[string]string{"closed": src, "crashed": image} {
		t.Run(name, func(t *testing.T) {
			dir := copyDir(t, srcDir)
			vlog := lastVlog(t, dir)
			b, _ := os.ReadFile(vlog)
			mid := len(b) / 2
			for i := mid; i < mid+64; i++ {
				b[i] ^= 0xff
			}
			os.WriteFile(vlog, b, 0o600)
			sums := dirSums(t, dir)

			problems, err := store.CheckFiles(dir)
			if err != nil || len(problems) != 1 || problems[0].Unfinished || !strings.Contains(problems[0].File, filepath.Base(vlog)) {
				t.Fatalf("CheckFiles = %+v, %v; want one damaged value log", problems, err)
			}
			if ro, err := store.OpenReadOnly(dir); err == nil {
				ro.Audit(g) // may or may not notice, depending on what the flip hit
				ro.Close()
			} else if !errors.Is(err, store.ErrDamaged) {
				t.Fatalf("read-only open: %v", err)
			}
			if now := dirSums(t, dir); !equalSums(now, sums) {
				t.Fatalf("checking changed the store:\n%v\n%v", sums, now)
			}
		})
	}
}

func dirSums(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

func equalSums(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// After an unclean shutdown Badger cannot open read-only (it would have
// to replay its log); OpenReadOnly still reads everything, and changes
// nothing.
func TestOpenReadOnlyAfterCrash(t *testing.T) {
	src := t.TempDir()
	st, err := store.Open(src, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	g, ids := fill(t, st, 300)
	image := copyDir(t, src)
	st.Close()
	sums := dirSums(t, image)
	ro, err := store.OpenReadOnly(image)
	if err != nil {
		t.Fatalf("read-only open of a crashed store: %v", err)
	}
	checkHolds(t, ro, ids)
	if lines, err := ro.Audit(g); err != nil || len(lines) > 0 {
		t.Fatalf("audit: %v %v", lines, err)
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if !equalSums(dirSums(t, image), sums) {
		t.Fatal("read-only open changed the store")
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(image), ".check-*")); len(left) > 0 {
		t.Fatalf("the twin was left behind: %v", left)
	}
}

// A crash during the replay that follows a crash: badger v1.6.2 moved its
// value-log head past each transaction before applying it, so a memtable
// that filled up during replay was flushed with a head past a
// transaction that went (wholly or partly) into the next memtable, and a
// second crash lost it. Here the first crash image is opened with small
// memtables (so replay flushes several), and the second is taken while
// that store is open; everything must still be there. It fails without
// the patch in third_party/badger.
func TestReplayKeepsEveryTransaction(t *testing.T) {
	src := t.TempDir()
	st, err := store.Open(src, store.Config{MaxTableSize: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	g, ids := fill(t, st, 2000)
	image1 := copyDir(t, src) // a crash with all of it in the memtable
	st.Close()

	replayed, err := store.Open(image1, store.Config{MaxTableSize: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	// A crash right after that replay. The copy is taken file by file
	// while the store runs, so a compaction may delete a table between
	// reading MANIFEST and copying the table: no crash leaves that. Copy
	// again until the image is one a crash could leave.
	image2 := copyDir(t, image1)
	for try := 0; ; try++ {
		problems, err := store.CheckFiles(image2)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(problems, func(p store.FileProblem) bool { return strings.Contains(p.Detail, "no such file") }) {
			break
		}
		if try == 20 {
			t.Fatalf("no consistent copy of the running store in 20 tries: %v", problems)
		}
		image2 = copyDir(t, image1)
	}
	replayed.Close()

	holdsAll(t, image2, ids)
	st2, err := store.Open(image2, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if lines, err := st2.Audit(g); err != nil || len(lines) > 0 {
		t.Fatalf("after two crashes: %v %v", lines, err)
	}
}
