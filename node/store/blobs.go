package store

import (
	"fmt"
	"path/filepath"

	"github.com/mutual-aid/mutual/crdt"
)

// VaultFile is the name of the vault in the store's directory: the
// sealed blobs of private fields, outside Badger (vault.go).
const VaultFile = "vault"

func (s *Store) openVault() error {
	v, err := OpenVault(filepath.Join(s.dir, VaultFile))
	if err != nil {
		return fmt.Errorf("open the vault of private fields: %w", err)
	}
	if rec := v.Recovered(); rec != (VaultRecovery{}) {
		s.log.Warn("vault: recovered after an unclean stop", "what", rec.String())
	}
	s.vault = v
	return nil
}

// AddBlob adds the sealed blob of an op the batch stores: Commit makes it
// durable in the vault before the op reaches Badger.
func (b *Batch) AddBlob(op crdt.ID, blob []byte) {
	b.blobs = append(b.blobs, Blob{Op: op, Data: blob})
	b.size += len(blob)
}

// Blob returns the sealed blob of an op; false when the vault has none
// (never had one, or erased it).
func (s *Store) Blob(op crdt.ID) ([]byte, bool, error) {
	if s.vault == nil {
		return nil, false, nil
	}
	return s.vault.Get(op)
}

// HasBlob reports whether the vault holds an op's blob.
func (s *Store) HasBlob(op crdt.ID) bool { return s.vault != nil && s.vault.Has(op) }

// EraseBlobs erases blobs: when it returns nil no byte of them is left in
// the vault's file.
func (s *Store) EraseBlobs(ops []crdt.ID) error {
	if s.vault == nil {
		return nil
	}
	if err := s.Writable(); err != nil {
		return err
	}
	return s.vault.Erase(ops)
}

// VaultStats describes the vault.
func (s *Store) VaultStats() VaultStats {
	if s.vault == nil {
		return VaultStats{}
	}
	return s.vault.Stats()
}
