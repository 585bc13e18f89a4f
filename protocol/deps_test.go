package protocol_test

import (
	"os/exec"
	"strings"
	"testing"
)

// Dependencies point one way: crdt ← protocol ← node ← cmd. protocol may
// use crdt and msgpack, never node or cmd; and nothing under node may
// import cmd.
func TestDependenciesPointOneWay(t *testing.T) {
	const mod = "github.com/mutual-aid/mutual/"
	for pkg, banned := range map[string][]string{
		"./":          {mod + "node", mod + "cmd"},
		"../node/...": {mod + "cmd"},
	} {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, b := range banned {
				if dep == b || strings.HasPrefix(dep, b+"/") {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
