package store

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

// testBlob is the blob of op ID i: its bytes follow from the ID, so a
// test (or another process) can check one without keeping it.
func testBlob(i uint64) Blob {
	id := crdt.ID(sha256.Sum256(binary8(i)))
	return Blob{Op: id, Data: blobData(id)}
}

func binary8(i uint64) []byte {
	return []byte{byte(i >> 56), byte(i >> 48), byte(i >> 40), byte(i >> 32), byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
}

// blobData is 16 to ~400 bytes that start with a marker and go on with
// hashes of the ID: unique to the ID, easy to grep for.
func blobData(id crdt.ID) []byte {
	n := 16 + int(id[0])<<1 + int(id[1]&0x7f)
	out := []byte("CANARY:" + id.Short() + ":")
	h := sha256.Sum256(id[:])
	for len(out) < n {
		out = append(out, h[:]...)
		h = sha256.Sum256(h[:])
	}
	return out[:max(n, 21)]
}

func openTestVault(t testing.TB, path string) *Vault {
	t.Helper()
	v, err := OpenVault(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func mustGet(t testing.TB, v *Vault, b Blob) {
	t.Helper()
	got, ok, err := v.Get(b.Op)
	if err != nil || !ok || !bytes.Equal(got, b.Data) {
		t.Fatalf("Get(%s) = %q, %v, %v; want %q", b.Op.Short(), got, ok, err, b.Data)
	}
}

func mustBeGone(t testing.TB, v *Vault, id crdt.ID) {
	t.Helper()
	if got, ok, err := v.Get(id); ok || err != nil || got != nil {
		t.Fatalf("Get(%s) of an erased blob = %q, %v, %v", id.Short(), got, ok, err)
	}
	if v.Has(id) || !v.Erased(id) {
		t.Fatalf("Has(%s) = %v, Erased = %v after erasure", id.Short(), v.Has(id), v.Erased(id))
	}
}

// grepDir returns the files of dir (recursively) that contain needle.
func grepDir(t testing.TB, dir string, needle []byte) []string {
	t.Helper()
	var found []string
	for name, b := range readDir(t, dir) {
		if bytes.Contains(b, needle) {
			found = append(found, name)
		}
	}
	return found
}

// readDir returns the contents of every file under dir.
func readDir(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestVaultRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vault")
	v := openTestVault(t, path)
	var blobs []Blob
	for i := range uint64(50) {
		blobs = append(blobs, testBlob(i))
	}
	empty := Blob{Op: crdt.ID{1}, Data: nil}
	full := Blob{Op: crdt.ID{2}, Data: bytes.Repeat([]byte{7}, MaxBlobBytes)}
	// Duplicates in a batch and across batches are written once.
	if err := v.Put(append(blobs[:30:30], blobs[0], empty, full)); err != nil {
		t.Fatal(err)
	}
	if err := v.Put(blobs[20:]); err != nil {
		t.Fatal(err)
	}
	for _, b := range append(blobs, empty, full) {
		mustGet(t, v, b)
	}
	st := v.Stats()
	if st.Live != 52 || st.Erased != 0 || st.ErasedBytes != 0 {
		t.Fatalf("stats %+v: want 52 live, nothing erased or repeated", st)
	}
	if _, ok, err := v.Get(crdt.ID{9}); ok || err != nil || v.Has(crdt.ID{9}) {
		t.Fatal("Get of an unknown ID found something")
	}

	// Too large: the whole call fails, nothing is written.
	size := v.Stats().FileBytes
	err := v.Put([]Blob{testBlob(100), {Op: crdt.ID{3}, Data: make([]byte, MaxBlobBytes+1)}})
	if !errors.Is(err, ErrBlobTooLarge) || v.Has(testBlob(100).Op) || v.Stats().FileBytes != size {
		t.Fatalf("Put of an oversized blob: %v; wrote %d bytes", err, v.Stats().FileBytes-size)
	}

	// Erase: twice (idempotent), with unknown IDs among them.
	gone := []crdt.ID{blobs[3].Op, blobs[40].Op, full.Op, {0xee}}
	for range 2 {
		if err := v.Erase(gone); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range gone[:3] {
		mustBeGone(t, v, id)
	}
	if v.Erased(crdt.ID{0xee}) {
		t.Fatal("an unknown ID counts as erased")
	}
	// Erased stays erased: Put does not bring it back.
	if err := v.Put([]Blob{blobs[3]}); err != nil {
		t.Fatal(err)
	}
	mustBeGone(t, v, blobs[3].Op)
	st = v.Stats()
	if st.Live != 49 || st.Erased != 3 || st.ErasedBytes != int64(len(blobs[3].Data)+len(blobs[40].Data)+MaxBlobBytes)+3*vaultRecFixed {
		t.Fatalf("stats after erasing 3: %+v", st)
	}

	// All of it survives a reopen; a second open while this one is held
	// is refused.
	if _, err := OpenVault(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("a second open of a vault in use: %v; want ErrLocked", err)
	}
	v.Close()
	if err := v.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := v.Put(blobs[:1]); !errors.Is(err, ErrVaultClosed) {
		t.Fatalf("Put after Close: %v", err)
	}
	v = openTestVault(t, path)
	if r := v.Recovered(); r != (VaultRecovery{}) {
		t.Fatalf("a cleanly closed vault needed repairs: %s", r)
	}
	for i, b := range append(blobs, empty) {
		if i == 3 || i == 40 {
			mustBeGone(t, v, b.Op)
			continue
		}
		mustGet(t, v, b)
	}
	mustBeGone(t, v, full.Op)
	if got := v.Stats(); got != st {
		t.Fatalf("stats after reopen %+v, before %+v", got, st)
	}
}

// Erased blobs leave no byte in any file of the data dir: after Erase,
// after Compact, after reopening; and Erase compacts by itself once
// erased bytes pass the threshold.
func TestVaultEraseLeavesNothingOnDisk(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vault")
	v := openTestVault(t, path)
	var blobs []Blob
	for i := range uint64(400) {
		blobs = append(blobs, testBlob(i))
	}
	for i := 0; i < len(blobs); i += 100 {
		if err := v.Put(blobs[i : i+100]); err != nil {
			t.Fatal(err)
		}
	}
	var erased []crdt.ID
	for i := 0; i < len(blobs); i += 3 {
		erased = append(erased, blobs[i].Op)
	}
	check := func(when string) {
		t.Helper()
		for i, b := range blobs {
			found := grepDir(t, dir, b.Data)
			if i%3 == 0 {
				if len(found) > 0 {
					t.Fatalf("%s: erased blob %d is still in %v", when, i, found)
				}
				mustBeGone(t, v, b.Op)
			} else {
				// The grep can find things: the live blobs are there.
				if len(found) != 1 {
					t.Fatalf("%s: live blob %d found in %v", when, i, found)
				}
				mustGet(t, v, b)
			}
		}
	}
	if err := v.Erase(erased); err != nil {
		t.Fatal(err)
	}
	check("after Erase")
	before := v.Stats()
	if err := v.Compact(); err != nil {
		t.Fatal(err)
	}
	check("after Compact")
	after := v.Stats()
	if after.ErasedBytes != 0 || after.Live != before.Live || after.Erased != before.Erased || after.FileBytes >= before.FileBytes {
		t.Fatalf("Compact: before %+v after %+v", before, after)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != after.FileBytes {
		t.Fatalf("file size %v (%v), stats say %d", fi.Size(), err, after.FileBytes)
	}
	v.Close()
	v = openTestVault(t, path)
	check("after reopening")
	// Erased stays erased across a compaction (its tombstone is kept).
	if err := v.Put(blobs[:1]); err != nil {
		t.Fatal(err)
	}
	mustBeGone(t, v, blobs[0].Op)

	// Erase compacts by itself past the threshold.
	v.compactMin = 1
	var more []crdt.ID
	for i := 1; i < len(blobs); i += 3 {
		more = append(more, blobs[i].Op)
	}
	if err := v.Erase(more); err != nil {
		t.Fatal(err)
	}
	if st := v.Stats(); st.ErasedBytes != 0 {
		t.Fatalf("erasing more than the live data did not compact: %+v", st)
	}
	for i := 1; i < len(blobs); i += 3 {
		if found := grepDir(t, dir, blobs[i].Data); len(found) > 0 {
			t.Fatalf("erased blob %d is still in %v", i, found)
		}
	}
}

// vaultFile writes a vault of n test blobs (one Put each) and returns
// its bytes and the offset of each record.
func vaultFile(t *testing.T, n int) ([]byte, []int64) {
	path := filepath.Join(t.TempDir(), "vault")
	v, err := OpenVault(path)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for i := range uint64(n) {
		offs = append(offs, v.Stats().FileBytes)
		if err := v.Put([]Blob{testBlob(i)}); err != nil {
			t.Fatal(err)
		}
	}
	v.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b, offs
}

// A Put cut short (the last record incomplete, or garbage after the last
// record) is cut off at open: it was never acknowledged.
func TestVaultTornTail(t *testing.T) {
	good, offs := vaultFile(t, 5)
	last := offs[4]
	cases := map[string][]byte{}
	for cut := last + 1; cut < int64(len(good)); cut += 7 {
		cases[fmt.Sprintf("cut at %d", cut)] = good[:cut]
	}
	cases["zeros after"] = append(bytes.Clone(good[:last]), make([]byte, 300)...)
	garbage := bytes.Clone(good)
	for i := last + 41; i < int64(len(garbage)); i++ {
		garbage[i] = byte(i * 31)
	}
	cases["data of the last record garbled"] = garbage
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "vault")
			os.WriteFile(path, b, 0o600)
			v := openTestVault(t, path)
			r := v.Recovered()
			if r.TornOffset != last || r.TornBytes != int64(len(b))-last {
				t.Fatalf("recovered %+v; want the tail from %d cut off", r, last)
			}
			if !strings.Contains(r.String(), fmt.Sprintf("at offset %d", last)) {
				t.Fatalf("recovery text %q", r)
			}
			for i := range uint64(4) {
				mustGet(t, v, testBlob(i))
			}
			if v.Has(testBlob(4).Op) {
				t.Fatal("the torn record is in the index")
			}
			if fi, _ := os.Stat(path); fi.Size() != last {
				t.Fatalf("file is %d bytes; want it cut to %d", fi.Size(), last)
			}
			// Writes go on after the cut, and survive a reopen.
			if err := v.Put([]Blob{testBlob(4)}); err != nil {
				t.Fatal(err)
			}
			v.Close()
			v = openTestVault(t, path)
			if r := v.Recovered(); r != (VaultRecovery{}) {
				t.Fatalf("second open repaired again: %s", r)
			}
			for i := range uint64(5) {
				mustGet(t, v, testBlob(i))
			}
		})
	}
}

// A flipped byte in a record followed by valid records is damage to
// acknowledged data: opening fails naming the record's offset, and
// changes no byte. Damage found by Get later is reported the same way.
func TestVaultDamageNamesOffset(t *testing.T) {
	good, offs := vaultFile(t, 5)
	rec := offs[2]
	for _, at := range []int64{rec, rec + 33, rec + 38, rec + 40, rec + 45, offs[3] - 1} {
		t.Run(strconv.FormatInt(at-rec, 10), func(t *testing.T) {
			b := bytes.Clone(good)
			b[at] ^= 0x10
			path := filepath.Join(t.TempDir(), "vault")
			os.WriteFile(path, b, 0o600)
			_, err := OpenVault(path)
			var de *VaultDamageError
			if !errors.As(err, &de) || de.Offset != rec || !errors.Is(err, ErrVaultDamaged) {
				t.Fatalf("open: %v; want damage at offset %d", err, rec)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("offset %d", rec)) {
				t.Fatalf("error %q does not name the offset", err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, b) {
				t.Fatal("a refused open changed the file")
			}
		})
	}
	t.Run("found by Get", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "vault")
		os.WriteFile(path, good, 0o600)
		v := openTestVault(t, path)
		f, _ := os.OpenFile(path, os.O_RDWR, 0)
		f.WriteAt([]byte{^good[rec+50]}, rec+50)
		f.Close()
		_, ok, err := v.Get(testBlob(2).Op)
		var de *VaultDamageError
		if ok || !errors.As(err, &de) || de.Offset != rec {
			t.Fatalf("Get of a damaged record: %v, %v; want damage at %d", ok, err, rec)
		}
		mustGet(t, v, testBlob(3))
	})
	t.Run("not a vault", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "vault")
		os.WriteFile(path, []byte("mutual vault v2\nxxxx"), 0o600)
		if _, err := OpenVault(path); !errors.Is(err, ErrNotVault) {
			t.Fatalf("open of a v2 file: %v", err)
		}
	})
}

// An erasure stopped between its steps — the tombstone durable, the
// record not yet zeroed, or its zeroing torn by a power cut — is finished
// by the next open.
func TestVaultUnfinishedErase(t *testing.T) {
	good, offs := vaultFile(t, 3)
	b1 := testBlob(1)
	tomb := appendVaultRecord(nil, b1.Op, vaultErased, nil)
	zeroed := appendVaultRecord(nil, b1.Op, vaultErased, make([]byte, len(b1.Data)))
	torn := bytes.Clone(good)
	// A torn rewrite: the state and the first half of the zeros landed,
	// the rest of the data and the old CRC did not.
	copy(torn[offs[1]+vaultRecHead:], zeroed[vaultRecHead:vaultRecHead+1+len(b1.Data)/2])
	for name, b := range map[string][]byte{
		"tombstone only":      append(bytes.Clone(good), tomb...),
		"torn rewrite":        append(torn, tomb...),
		"torn, then appended": append(append(torn, tomb...), appendVaultRecord(nil, testBlob(7).Op, vaultLive, testBlob(7).Data)...),
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "vault")
			os.WriteFile(path, b, 0o600)
			v := openTestVault(t, path)
			if r := v.Recovered(); r.FinishedErases != 1 || r.TornBytes != 0 {
				t.Fatalf("recovered %+v; want one erasure finished", r)
			}
			mustBeGone(t, v, b1.Op)
			mustGet(t, v, testBlob(0))
			mustGet(t, v, testBlob(2))
			if found := grepDir(t, dir, b1.Data[len(b1.Data)/2:]); len(found) > 0 {
				t.Fatalf("erased data left in %v", found)
			}
		})
	}
	// A stale compaction file is removed at open.
	dir := t.TempDir()
	path := filepath.Join(dir, "vault")
	os.WriteFile(path, good, 0o600)
	os.WriteFile(path+".tmp", good[:100], 0o600)
	v := openTestVault(t, path)
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) || !v.Recovered().RemovedTemp {
		t.Fatalf("the temporary file of a compaction is left (%v)", err)
	}
}

// Opening a hostile file allocates the index and a window, not what its
// lengths claim.
func TestVaultOpenBoundedMemory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vault")
	var b []byte
	b = append(b, vaultMagic...)
	for i := range 2000 {
		// Headers with valid CRCs and huge lengths, among zeros.
		h := append(bytes.Repeat([]byte{byte(i)}, 32), 0xff, 0xff, 0xff, byte(i))
		h = append(h, make([]byte, 4)...)
		putCRC(h[36:], h[:36])
		b = append(b, h...)
		b = append(b, make([]byte, 500)...)
	}
	os.WriteFile(path, b, 0o600)
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	v, err := OpenVault(path)
	runtime.ReadMemStats(&m1)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if v.Recovered().TornOffset != vaultHeaderLen || v.Stats().Live != 0 {
		t.Fatalf("recovered %+v", v.Recovered())
	}
	if alloc := m1.TotalAlloc - m0.TotalAlloc; alloc > 1<<20 {
		t.Fatalf("opening a %d-byte file allocated %d bytes", len(b), alloc)
	}
}

func putCRC(dst, b []byte) {
	sum := crc32.Checksum(b, castagnoli)
	dst[0], dst[1], dst[2], dst[3] = byte(sum>>24), byte(sum>>16), byte(sum>>8), byte(sum)
}

// Put, Get, Erase and Compact from many goroutines: a Get sees a blob
// whole or not at all, a returned Put is readable, a returned Erase is
// final.
func TestVaultConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vault")
	v := openTestVault(t, path)
	v.compactMin = 4 << 10 // Erase compacts now and then too
	const writers, batches, per = 4, 30, 10
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		put    []Blob
		erased = map[crdt.ID]bool{}
		errc   = make(chan error, 100)
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for b := range batches {
				var batch []Blob
				for i := range per {
					batch = append(batch, testBlob(uint64(w*1_000_000+b*per+i)))
				}
				if err := v.Put(batch); err != nil {
					errc <- err
					return
				}
				for _, x := range batch {
					if got, ok, err := v.Get(x.Op); !ok || err != nil || !bytes.Equal(got, x.Data) {
						errc <- fmt.Errorf("a blob just put: %v %v", ok, err)
						return
					}
				}
				mu.Lock()
				put = append(put, batch...)
				var ids []crdt.ID
				for range 4 {
					x := put[rng.IntN(len(put))]
					ids = append(ids, x.Op)
				}
				mu.Unlock()
				if err := v.Erase(ids); err != nil {
					errc <- err
					return
				}
				mu.Lock()
				for _, id := range ids {
					erased[id] = true
				}
				mu.Unlock()
				for _, id := range ids {
					if _, ok, err := v.Get(id); ok || err != nil {
						errc <- fmt.Errorf("a blob just erased: %v %v", ok, err)
						return
					}
				}
			}
		}()
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for r := range 3 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 2))
			for {
				select {
				case <-stop:
					return
				default:
				}
				if r == 0 && rng.IntN(20) == 0 {
					if err := v.Compact(); err != nil {
						errc <- err
						return
					}
					continue
				}
				x := testBlob(uint64(rng.IntN(writers)*1_000_000 + rng.IntN(batches*per)))
				got, ok, err := v.Get(x.Op)
				if err != nil || (ok && !bytes.Equal(got, x.Data)) {
					errc <- fmt.Errorf("Get: %v, %q", err, got)
					return
				}
				v.Has(x.Op)
				v.Stats()
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	check := func() {
		for _, x := range put {
			if erased[x.Op] {
				mustBeGone(t, v, x.Op)
			} else {
				mustGet(t, v, x)
			}
		}
	}
	check()
	v.Close()
	v = openTestVault(t, path)
	check()
}

// TestVaultKill9 puts and erases blobs in a child process (this test
// binary again) that prints each blob acknowledged, kills it with SIGKILL
// at a random moment, over and over on one file; after each kill every
// acknowledged blob must be there, intact, and every acknowledged erasure
// must have left no byte of its blob in the directory.
func TestVaultKill9(t *testing.T) {
	if path := os.Getenv("MUTUAL_VAULT_CHILD"); path != "" {
		vaultChild(path)
		return
	}
	cycles := vaultKillCycles
	if testing.Short() {
		cycles = min(cycles, 5)
	}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	path := filepath.Join(dir, "vault")
	acked := map[crdt.ID]Blob{}
	gone := map[crdt.ID]bool{}
	maybe := map[crdt.ID]bool{}
	var torn, finished int
	for cycle := range cycles {
		cmd := exec.Command(os.Args[0], "-test.run=^TestVaultKill9$")
		cmd.Env = append(os.Environ(), "MUTUAL_VAULT_CHILD="+path, fmt.Sprintf("MUTUAL_VAULT_FIRST=%d", cycle*1_000_000))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		killAfter := 1 + rng.IntN(600)
		lines := 0
		for sc.Scan() {
			line := sc.Text()
			if lines++; lines == killAfter {
				cmd.Process.Signal(syscall.SIGKILL)
			}
			kind, arg, _ := strings.Cut(line, " ")
			switch kind {
			case "put", "erase", "erasing":
				var id crdt.ID
				if _, err := hex.Decode(id[:], []byte(arg)); err != nil {
					t.Fatalf("child said %q", line)
				}
				switch kind {
				case "put":
					acked[id] = Blob{Op: id, Data: blobData(id)}
				case "erasing":
					maybe[id] = true // erased or not: both are fine until acknowledged
				case "erase":
					gone[id] = true
				}
			case "recovered":
				if strings.Contains(arg, "cut off") {
					torn++
				}
				if strings.Contains(arg, "erasures") {
					finished++
				}
			}
		}
		cmd.Wait()
		v, err := OpenVault(path)
		if err != nil {
			t.Fatalf("cycle %d: open after kill: %v", cycle, err)
		}
		if r := v.Recovered(); r.TornBytes > 0 {
			torn++
		} else if r.FinishedErases > 0 {
			finished++
		}
		files := readDir(t, dir)
		for id, b := range acked {
			if gone[id] {
				mustBeGone(t, v, id)
				for name, content := range files {
					if bytes.Contains(content, b.Data) {
						t.Fatalf("cycle %d: erased blob %s left in %s", cycle, id.Short(), name)
					}
				}
			} else if got, ok, err := v.Get(id); err != nil || !(ok && bytes.Equal(got, b.Data) || !ok && maybe[id]) {
				t.Fatalf("cycle %d: Get(%s) = %q, %v, %v; want it intact", cycle, id.Short(), got, ok, err)
			} else if !ok {
				gone[id] = true // the erasure in flight at the kill happened
			}
		}
		v.Close()
	}
	t.Logf("%d kills: %d blobs acknowledged, %d erased; %d opens cut a torn tail, %d finished an erasure",
		cycles, len(acked), len(gone), torn, finished)
}

// vaultChild is TestVaultKill9's child: it puts batches of blobs and
// erases some of those it put, printing what was acknowledged, until it
// is killed.
func vaultChild(path string) {
	v, err := OpenVault(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if r := v.Recovered(); r != (VaultRecovery{}) {
		fmt.Printf("recovered %s\n", r)
	}
	first, _ := strconv.ParseUint(os.Getenv("MUTUAL_VAULT_FIRST"), 10, 64)
	rng := rand.New(rand.NewPCG(first, 3))
	var mine []crdt.ID
	w := bufio.NewWriter(os.Stdout)
	for i := first; ; {
		n := 1 + rng.IntN(40)
		batch := make([]Blob, n)
		for j := range batch {
			batch[j] = testBlob(i)
			i++
		}
		if err := v.Put(batch); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		for _, b := range batch {
			fmt.Fprintf(w, "put %s\n", b.Op)
			mine = append(mine, b.Op)
		}
		w.Flush()
		if rng.IntN(3) == 0 {
			ids := []crdt.ID{mine[rng.IntN(len(mine))], mine[rng.IntN(len(mine))]}
			for _, id := range ids {
				fmt.Fprintf(w, "erasing %s\n", id)
			}
			w.Flush()
			if err := v.Erase(ids); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			for _, id := range ids {
				fmt.Fprintf(w, "erase %s\n", id)
			}
			w.Flush()
		}
	}
}

// Put of batches of 100 blobs of 200 bytes, one fdatasync per batch.
func BenchmarkVaultPut(b *testing.B) {
	v := openTestVault(b, filepath.Join(b.TempDir(), "vault"))
	data := bytes.Repeat([]byte{0xab}, 200)
	batch := make([]Blob, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		for j := range batch {
			batch[j] = Blob{Op: crdt.ID(sha256.Sum256(binary8(uint64(i*100 + j)))), Data: data}
		}
		if err := v.Put(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "blobs/s")
}
