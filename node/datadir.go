package node

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Files in the data dir.
const (
	keyFile     = "identity.key" // the node's ed25519 private key (libp2p encoding), mode 0600
	configFile  = "node.json"    // {"name": ...}
	apiFile     = "api.addr"     // the HTTP address of the running node; removed when it stops
	storeDir    = "store"        // Badger
	peersFile   = "peers.json"   // peers met before
	dirMode     = 0o700
	secretMode  = 0o600
	defaultName = "mutual"
)

// DefaultDataDir returns $MUTUAL_DATA, else the user's data dir
// ($XDG_DATA_HOME/mutual or ~/.local/share/mutual on Linux, the
// platform's equivalent elsewhere).
func DefaultDataDir() string {
	if d := os.Getenv("MUTUAL_DATA"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "mutual")
	}
	if home, err := os.UserHomeDir(); err == nil {
		switch {
		case fileExists(filepath.Join(home, "Library")): // macOS
			return filepath.Join(home, "Library", "Application Support", "mutual")
		case os.Getenv("APPDATA") != "": // Windows
			return filepath.Join(os.Getenv("APPDATA"), "mutual")
		}
		return filepath.Join(home, ".local", "share", "mutual")
	}
	return "mutual-data"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// Identity is a node's key and name.
type Identity struct {
	Key    ed25519.PrivateKey
	Name   string
	PeerID peer.ID
}

// ErrNoIdentity means the data dir has no identity yet.
var ErrNoIdentity = errors.New("no identity in the data dir: run `mutual init` (or `mutual serve`, which creates one)")

// Init creates the data dir and the node's identity if they do not exist
// yet, and returns the identity and whether it was created. A name given
// for an existing identity renames the node.
func Init(dir, name string) (*Identity, bool, error) {
	id, err := LoadIdentity(dir)
	if err == nil {
		if name != "" && name != id.Name {
			id.Name = name
			if err := writeConfig(dir, id.Name); err != nil {
				return nil, false, err
			}
		}
		return id, false, nil
	}
	if !errors.Is(err, ErrNoIdentity) {
		return nil, false, err
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, false, fmt.Errorf("create data dir: %w", err)
	}
	priv, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		return nil, false, err
	}
	b, err := crypto.MarshalPrivateKey(priv)
	if err != nil {
		return nil, false, err
	}
	if name == "" {
		name, _ = os.Hostname()
		if name == "" {
			name = defaultName
		}
	}
	// Write the key to a temporary file and rename it, so that a crash
	// never leaves half a key behind.
	tmp := filepath.Join(dir, keyFile+".tmp")
	if err := os.WriteFile(tmp, b, secretMode); err != nil {
		return nil, false, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, keyFile)); err != nil {
		return nil, false, err
	}
	if err := writeConfig(dir, name); err != nil {
		return nil, false, err
	}
	id, err = LoadIdentity(dir)
	return id, err == nil, err
}

type config struct {
	Name string `json:"name"`
}

func writeConfig(dir, name string) error {
	b, _ := json.MarshalIndent(config{Name: name}, "", "  ")
	return os.WriteFile(filepath.Join(dir, configFile), append(b, '\n'), 0o644)
}

// LoadIdentity reads the node's identity from the data dir.
func LoadIdentity(dir string) (*Identity, error) {
	b, err := os.ReadFile(filepath.Join(dir, keyFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoIdentity
	}
	if err != nil {
		return nil, err
	}
	priv, err := crypto.UnmarshalPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", keyFile, err)
	}
	raw, err := priv.Raw()
	if err != nil || priv.Type() != crypto.Ed25519 || len(raw) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("read %s: not an ed25519 key", keyFile)
	}
	pid, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return nil, err
	}
	id := &Identity{Key: ed25519.PrivateKey(raw), PeerID: pid, Name: defaultName}
	var c config
	if b, err := os.ReadFile(filepath.Join(dir, configFile)); err == nil {
		if json.Unmarshal(b, &c) == nil && c.Name != "" {
			id.Name = c.Name
		}
	}
	return id, nil
}

// LibP2PKey returns the identity as a libp2p key.
func (id *Identity) LibP2PKey() crypto.PrivKey {
	k, _ := crypto.UnmarshalEd25519PrivateKey(id.Key)
	return k
}

// APIAddr returns the HTTP address of the node running on dir, or "".
func APIAddr(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, apiFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
