package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

// Opening reads a file that a damaged disk or a hostile hand may have
// written anything into. Whatever the bytes: no panic; a refusal is a
// named error and changes no byte; an accepted file yields blobs within
// the cap, takes new writes, and opens again with nothing left to repair
// and the same contents.
func FuzzOpenVault(f *testing.F) {
	rec := func(i uint64, state byte) []byte {
		b := testBlob(i)
		if state == vaultErased {
			return appendVaultRecord(nil, b.Op, state, nil)
		}
		return appendVaultRecord(nil, b.Op, state, b.Data)
	}
	good := append(append(append([]byte(vaultMagic), rec(1, vaultLive)...), rec(2, vaultLive)...), rec(1, vaultErased)...)
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(append(bytes.Clone(good), make([]byte, 50)...))
	f.Add([]byte(vaultMagic))
	f.Add([]byte(vaultMagic[:5]))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<20 {
			return
		}
		path := filepath.Join(t.TempDir(), "vault")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		v, err := OpenVault(path)
		if err != nil {
			if !errors.Is(err, ErrVaultDamaged) && !errors.Is(err, ErrNotVault) {
				t.Fatalf("open: unnamed error %v", err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, b) {
				t.Fatal("a refused open changed the file")
			}
			return
		}
		defer v.Close()
		var ids []crdt.ID
		for id := range v.idx {
			ids = append(ids, id)
		}
		contents := map[crdt.ID][]byte{}
		for _, id := range ids {
			data, ok, err := v.Get(id)
			if err != nil || ok != v.Has(id) || len(data) > MaxBlobBytes {
				t.Fatalf("Get(%s): %d bytes, %v, %v (Has %v)", id.Short(), len(data), ok, err, v.Has(id))
			}
			if ok {
				contents[id] = data
			}
		}
		st := v.Stats()
		if fi, err := os.Stat(path); err != nil || fi.Size() != st.FileBytes || st.ErasedBytes < 0 || st.Live != len(contents) {
			t.Fatalf("stats %+v, file %v (%v), %d readable", st, fi.Size(), err, len(contents))
		}
		v.Close()
		v2, err := OpenVault(path)
		if err != nil {
			t.Fatalf("second open: %v", err)
		}
		defer v2.Close()
		if r := v2.Recovered(); r != (VaultRecovery{}) || v2.Stats() != st {
			t.Fatalf("second open repaired %q; stats %+v, were %+v", r, v2.Stats(), st)
		}
		for id, data := range contents {
			if got, ok, err := v2.Get(id); !ok || err != nil || !bytes.Equal(got, data) {
				t.Fatalf("second open: Get(%s) = %v, %v", id.Short(), ok, err)
			}
		}
		nb := testBlob(99)
		if err := v2.Put([]Blob{nb}); err != nil {
			t.Fatal(err)
		}
		if got, ok, _ := v2.Get(nb.Op); !v2.Erased(nb.Op) && (!ok || !bytes.Equal(got, nb.Data)) {
			t.Fatal("a blob put after open is not there")
		}
	})
}
