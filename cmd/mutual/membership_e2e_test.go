package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// The membership end-to-end tests: removal, joins witnessed by any
// member, and invites with a number of uses or revoked, with separate
// `mutual serve` processes driven by the CLI.

// jmember is a member as `mutual members --json` prints it.
type jmember struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Role    string `json:"role"`
	Removed bool   `json:"removed"`
	Left    bool   `json:"left"`
	Cut     uint64 `json:"cut"`
}

// members returns the members `mutual members --json` lists on data, by
// key.
func members(t *testing.T, data string) (map[string]jmember, error) {
	t.Helper()
	r := mutual(t, data, "members", "--json")
	if r.code != 0 {
		return nil, fmt.Errorf("members: exit %d: %s", r.code, r.stderr)
	}
	var g struct {
		Members []jmember `json:"members"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &g); err != nil {
		return nil, err
	}
	out := map[string]jmember{}
	for _, m := range g.Members {
		out[m.ID] = m
	}
	return out, nil
}

// wantRoles checks that members lists exactly the keys of want (role
// "none" for a removed one) with those roles.
func wantRoles(ms map[string]jmember, want map[string]string, names map[string]string) error {
	for k, role := range want {
		m, ok := ms[k]
		switch {
		case !ok:
			return fmt.Errorf("%s not listed", names[k])
		case m.Role != role:
			return fmt.Errorf("%s is %q, want %q (%+v)", names[k], m.Role, role, m)
		case role == "none" && !m.Removed:
			return fmt.Errorf("%s has no role but is not marked removed: %+v", names[k], m)
		case role != "none" && (m.Removed || m.Left):
			return fmt.Errorf("%s is %q but marked removed or left: %+v", names[k], role, m)
		}
	}
	for k, m := range ms {
		if _, ok := want[k]; !ok {
			return fmt.Errorf("%s (%s) listed as %q, want it not listed", m.Name, k[:12], m.Role)
		}
	}
	return nil
}

// nodeKey returns a serving node's member key and a dialable TCP address.
func nodeKey(t *testing.T, n *proc) (key, addr string) {
	t.Helper()
	var ni struct {
		Key   string   `json:"key"`
		Addrs []string `json:"addrs"`
	}
	if err := n.get("/api/v1/node", &ni); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ni.Addrs, func(a string) bool { return strings.Contains(a, "/tcp/") })
	if ni.Key == "" || i < 0 {
		t.Fatalf("%s: node info without a key or a TCP address: %+v", n.name, ni)
	}
	return ni.Key, ni.Addrs[i]
}

// heldOps returns the ops of a group that a serving node holds, counted
// or not, by ID (from its bundle export).
func heldOps(n *proc, group string) (map[string]crdt.Op, error) {
	resp, err := http.Get(n.base + "/api/v1/bundle?group=" + group)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("bundle: %s %s", resp.Status, b)
	}
	br := bufio.NewReader(resp.Body)
	magic := make([]byte, len("mutual-bundle/1\n"))
	if _, err := io.ReadFull(br, magic); err != nil {
		return nil, err
	}
	out := map[string]crdt.Op{}
	for {
		f, err := protocol.ReadFrame(br)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		for _, raw := range f.Ops {
			op, err := protocol.DecodeStoredOp(raw)
			if err != nil {
				return nil, err
			}
			out[op.ID.String()] = op
		}
	}
}

// waitHolds waits until n holds every op in ids.
func waitHolds(t *testing.T, n *proc, group string, ids []string, within time.Duration) {
	t.Helper()
	eventually(t, within, 100*time.Millisecond, n.name+" holds the ops", func() error {
		held, err := heldOps(n, group)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, ok := held[id]; !ok {
				return fmt.Errorf("%s not held", id[:12])
			}
		}
		return nil
	})
}

// waitJoinHeld waits until n holds a join by author, and returns the
// ops n holds then.
func waitJoinHeld(t *testing.T, n *proc, group, author string, within time.Duration) (join crdt.Op, held map[string]crdt.Op) {
	t.Helper()
	eventually(t, within, 100*time.Millisecond, n.name+" holds the join of "+author[:12], func() error {
		var err error
		if held, err = heldOps(n, group); err != nil {
			return err
		}
		for _, op := range held {
			if _, ok := op.Body.(crdt.Join); ok && op.Author.String() == author {
				join = op
				return nil
			}
		}
		return fmt.Errorf("not among %d ops", len(held))
	})
	return join, held
}

// admitted reports whether held has an Admit of join by author.
func admitted(held map[string]crdt.Op, join crdt.Op, author string) bool {
	for _, op := range held {
		if a, ok := op.Body.(crdt.Admit); ok && a.Join == join.ID && op.Author.String() == author {
			return true
		}
	}
	return false
}

// stateHash returns a node's stored and recomputed state hashes of a
// group (GET /api/v1/groups/{id}/check).
func stateHash(n *proc, group string) (stored, recomputed string, err error) {
	var c struct {
		Stored     string   `json:"stored"`
		Recomputed string   `json:"recomputed"`
		OK         bool     `json:"ok"`
		Problems   []string `json:"problems"`
	}
	if err := n.get("/api/v1/groups/"+group+"/check", &c); err != nil {
		return "", "", err
	}
	if !c.OK {
		return c.Stored, c.Recomputed, fmt.Errorf("%s: check not ok: stored %s recomputed %s %q", n.name, c.Stored, c.Recomputed, c.Problems)
	}
	return c.Stored, c.Recomputed, nil
}

// sameHashes checks that every node's check passes with one state hash.
func sameHashes(group string, ns ...*proc) error {
	var first string
	for i, n := range ns {
		s, _, err := stateHash(n, group)
		if err != nil {
			return err
		}
		if i == 0 {
			first = s
		} else if s != first {
			return fmt.Errorf("state hash on %s %s, on %s %s", ns[0].name, first[:12], n.name, s[:12])
		}
	}
	return nil
}

func initNode(t *testing.T, data, name string) {
	t.Helper()
	if r := mutual(t, data, "init", "--name", name); r.code != 0 {
		t.Fatalf("init %s: %+v", name, r)
	}
}

func inviteCode(t *testing.T, data string, args ...string) string {
	t.Helper()
	var inv struct{ Code string }
	mustJSON(t, mutual(t, data, append([]string{"invite", "--json"}, args...)...), &inv)
	if inv.Code == "" {
		t.Fatal("invite: no code")
	}
	return inv.Code
}

func join(t *testing.T, data, code, group string) {
	t.Helper()
	var j struct{ ID string }
	mustJSON(t, mutual(t, data, "join", code, "--json"), &j)
	if j.ID != group {
		t.Fatalf("join: group %s, want %s", j.ID, group)
	}
}

// TestRemovedWhileOfflineEverywhere: the admin A removes B while B is
// offline and still posting. When B comes back, the posts B made after
// the cut count on no board, B's own included, while its earlier post
// stays everywhere, every node agrees on the state, and B's old invite
// does not bring it back.
func TestRemovedWhileOfflineEverywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("starts several nodes; skipped with -short")
	}
	binary(t)
	t0 := time.Now()
	dA, dB, dC := t.TempDir(), t.TempDir(), t.TempDir()
	initNode(t, dA, "alice")
	initNode(t, dB, "bob")
	initNode(t, dC, "carol")
	var g struct{ ID string }
	mustJSON(t, mutual(t, dA, "group", "create", "Eastgate Aid", "--json"), &g)
	codeB := inviteCode(t, dA, "--uses", "1")
	codeC := inviteCode(t, dA)
	join(t, dB, codeB, g.ID)
	join(t, dC, codeC, g.ID)

	a := startNode(t, "A", dA, ephemeralListen)
	keyA, addrA := nodeKey(t, a)
	c := startNode(t, "C", dC, ephemeralListen, "--peer", addrA)
	keyC, addrC := nodeKey(t, c)
	b := startNode(t, "B", dB, ephemeralListen, "--peer", addrA, "--peer", addrC)
	keyB, _ := nodeKey(t, b)
	names := map[string]string{keyA: "alice", keyB: "bob", keyC: "carol"}
	everyone := []*proc{a, b, c}

	// Everyone is a member on every node; B posts once, and that post
	// reaches every board.
	all3 := map[string]string{keyA: "admin", keyB: "member", keyC: "member"}
	for _, n := range everyone {
		eventually(t, 30*time.Second, 200*time.Millisecond, n.name+" lists alice, bob and carol as members", func() error {
			ms, err := members(t, n.data)
			if err != nil {
				return err
			}
			return wantRoles(ms, all3, names)
		})
	}
	before := createPost(t, dB, "winter coats (B, before the cut)")
	for _, n := range everyone {
		waitBoard(t, n.name, n.data, []string{before.ID}, 30*time.Second)
	}
	eventually(t, 30*time.Second, 200*time.Millisecond, "one state on A, B and C", func() error { return sameHashes(g.ID, a, b, c) })
	t.Logf("three members with one board after %v", time.Since(t0).Round(time.Millisecond))

	// B goes offline and keeps posting: the CLI opens B's store itself.
	b.stop()
	var offline []string
	for i := range 2 {
		offline = append(offline, createPost(t, dB, fmt.Sprintf("B offline %d (after the cut)", i)).ID)
	}
	if m := missing(boardIDs(t, dB), offline); len(m) > 0 {
		t.Fatalf("B's own board lacks %d of its offline posts before it learns anything", len(m))
	}

	// Meanwhile A removes B; C learns it.
	if r := mutual(t, dA, "member", "remove", "bob"); r.code != 0 {
		t.Fatalf("member remove bob on A: %+v", r)
	}
	removed := map[string]string{keyA: "admin", keyB: "none", keyC: "member"}
	var cut uint64
	for _, n := range []*proc{a, c} {
		eventually(t, 30*time.Second, 200*time.Millisecond, n.name+" lists bob as removed", func() error {
			ms, err := members(t, n.data)
			if err != nil {
				return err
			}
			cut = ms[keyB].Cut
			return wantRoles(ms, removed, names)
		})
	}
	t.Logf("bob removed with cut %d (his join and his first post are seqs 1 and 2)", cut)
	if cut < 2 {
		t.Errorf("cut %d leaves out B's post made while connected", cut)
	}

	// B comes back. It offers its posts to A and C, which hold them but
	// count them nowhere.
	tBack := time.Now()
	b.start()
	for _, n := range []*proc{a, c} {
		waitHolds(t, n, g.ID, offline, 30*time.Second)
	}
	eventually(t, 30*time.Second, 200*time.Millisecond, "one state on A and C after B's return", func() error { return sameHashes(g.ID, a, c) })
	t.Logf("A and C hold B's offline posts and agree %v after B's restart", time.Since(tBack).Round(time.Millisecond))
	cutOff := func(ns ...*proc) {
		t.Helper()
		for _, n := range ns {
			have := boardIDs(t, n.data)
			if !have[before.ID] {
				t.Errorf("%s: B's post made before the cut is gone", n.name)
			}
			if m := missing(have, offline); len(m) != len(offline) {
				t.Errorf("%s: %d of B's posts made after the cut are on the board", n.name, len(offline)-len(m))
			}
			ms, err := members(t, n.data)
			if err != nil {
				t.Fatal(err)
			}
			if err := wantRoles(ms, removed, names); err != nil {
				t.Errorf("%s: %v", n.name, err)
			}
		}
	}
	cutOff(a, c)

	// B tries to come back with its old invite (used up, and used by B),
	// and posts again: its node refuses, or A and C hold what it wrote
	// and count it nowhere.
	r := mutual(t, dB, "join", codeB)
	t.Logf("B joins again with its old code: exit %d, %s", r.code, strings.TrimSpace(r.stderr))
	var again []string
	if rp := mutual(t, dB, "post", "offer", "--title", "B after trying to rejoin", "--json"); rp.code != 0 {
		t.Logf("B posts again: refused: %s", strings.TrimSpace(rp.stderr))
	} else {
		var p jpost
		mustJSON(t, rp, &p)
		again = append(again, p.ID)
		t.Logf("B posts again: B's node took post %s", p.ID[:12])
	}
	held, err := heldOps(b, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	var byB []string
	for id, op := range held {
		if op.Author.String() == keyB {
			byB = append(byB, id)
		}
	}
	for _, n := range []*proc{a, c} {
		waitHolds(t, n, g.ID, byB, 30*time.Second) // B's every op, its second join if any
		for _, id := range again {
			if boardIDs(t, n.data)[id] {
				t.Errorf("%s: B's post after trying to rejoin is on the board", n.name)
			}
		}
	}
	cutOff(a, c)
	if err := sameHashes(g.ID, a, c); err != nil {
		t.Error(err)
	}
	t.Logf("A and C hold all %d ops of B's", len(byB))

	// B's own node must learn that B was removed, and drop its posts
	// after the cut from its own board.
	t.Run("B's own view", func(t *testing.T) {
		bBoard := boardIDs(t, dB)
		bMembers, _ := members(t, dB)
		t.Logf("B's board: before-cut post %v, %d of %d offline posts, %d of %d later posts; B's members: bob %+v",
			bBoard[before.ID], len(offline)-len(missing(bBoard, offline)), len(offline), len(again)-len(missing(bBoard, again)), len(again), bMembers[keyB])
		eventually(t, 30*time.Second, 200*time.Millisecond, "B lists itself as removed", func() error {
			ms, err := members(t, dB)
			if err != nil {
				return err
			}
			return wantRoles(ms, removed, names)
		})
		cutOff(b)
		for _, id := range again {
			if boardIDs(t, dB)[id] {
				t.Errorf("B: B's post after trying to rejoin is on its own board")
			}
		}
		if err := sameHashes(g.ID, a, b, c); err != nil {
			t.Error(err)
		}
	})
	t.Logf("total %v", time.Since(t0).Round(time.Millisecond))
}

// TestNewcomerGetsInThroughAnyMember: A invites D and goes home; D meets
// only C, a plain member, whose node witnesses D's join. D is a member,
// its post reaches C, it receives the board, and A, back, agrees.
func TestNewcomerGetsInThroughAnyMember(t *testing.T) {
	if testing.Short() {
		t.Skip("starts several nodes; skipped with -short")
	}
	binary(t)
	t0 := time.Now()
	dA, dC, dD := t.TempDir(), t.TempDir(), t.TempDir()
	initNode(t, dA, "alice")
	initNode(t, dC, "carol")
	initNode(t, dD, "dave")
	var g struct{ ID string }
	mustJSON(t, mutual(t, dA, "group", "create", "Eastgate Aid", "--json"), &g)
	join(t, dC, inviteCode(t, dA), g.ID)

	a := startNode(t, "A", dA, ephemeralListen)
	keyA, addrA := nodeKey(t, a)
	c := startNode(t, "C", dC, ephemeralListen, "--peer", addrA)
	keyC, addrC := nodeKey(t, c)
	names := map[string]string{keyA: "alice", keyC: "carol"}
	two := map[string]string{keyA: "admin", keyC: "member"}
	for _, n := range []*proc{a, c} {
		eventually(t, 30*time.Second, 200*time.Millisecond, n.name+" lists alice and carol", func() error {
			ms, err := members(t, n.data)
			if err != nil {
				return err
			}
			return wantRoles(ms, two, names)
		})
	}
	pa, pc := createPost(t, dA, "van on Saturdays (A)"), createPost(t, dC, "rice, 10 kg (C)")
	waitBoard(t, "C", dC, []string{pa.ID, pc.ID}, 30*time.Second)

	// A invites D, and goes home.
	codeD := inviteCode(t, dA, "--uses", "1")
	a.stop()
	t.Logf("A and C members, A stopped, %v", time.Since(t0).Round(time.Millisecond))

	// D joins and meets only C.
	tD := time.Now()
	join(t, dD, codeD, g.ID)
	d := startNode(t, "D", dD, ephemeralListen, "--peer", addrC)
	keyD, _ := nodeKey(t, d)
	names[keyD] = "dave"
	three := map[string]string{keyA: "admin", keyC: "member", keyD: "member"}
	for _, n := range []*proc{c, d} {
		eventually(t, 30*time.Second, 200*time.Millisecond, n.name+" lists dave as a member", func() error {
			ms, err := members(t, n.data)
			if err != nil {
				return err
			}
			return wantRoles(ms, three, names)
		})
	}
	t.Logf("D a member on C and D %v after its join", time.Since(tD).Round(time.Millisecond))
	pd := createPost(t, dD, "winter coats (D)")
	waitBoard(t, "C", dC, []string{pd.ID}, 30*time.Second)
	waitBoard(t, "D", dD, []string{pa.ID, pc.ID, pd.ID}, 30*time.Second)
	eventually(t, 30*time.Second, 200*time.Millisecond, "one state on C and D", func() error { return sameHashes(g.ID, c, d) })
	t.Logf("D's post on C, the board on D, %v after D's join", time.Since(tD).Round(time.Millisecond))

	// A comes back and meets C.
	tA := time.Now()
	a.extra = []string{"--peer", addrC}
	a.start()
	eventually(t, 30*time.Second, 200*time.Millisecond, "A lists dave as a member", func() error {
		ms, err := members(t, dA)
		if err != nil {
			return err
		}
		return wantRoles(ms, three, names)
	})
	waitBoard(t, "A", dA, []string{pa.ID, pc.ID, pd.ID}, 30*time.Second)
	eventually(t, 30*time.Second, 200*time.Millisecond, "one state on A, C and D", func() error { return sameHashes(g.ID, a, c, d) })
	t.Logf("A back: D a member with its post on A %v after A's restart; total %v", time.Since(tA).Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
}

// jinvite is an invite as `mutual invites --json` prints it.
type jinvite struct {
	ID      string `json:"id"`
	Uses    uint32 `json:"uses"`
	Used    int    `json:"used"`
	Revoked bool   `json:"revoked"`
	Open    bool   `json:"open"`
}

func invites(t *testing.T, data string, args ...string) []jinvite {
	t.Helper()
	var ins []jinvite
	mustJSON(t, mutual(t, data, append([]string{"invites", "--json"}, args...)...), &ins)
	return ins
}

// TestInviteUsesAndRevokeE2E: an invite for one admits the first
// newcomer only, and a revoked invite admits nobody, though the admin's
// node holds (and witnesses) their joins; a member who left comes back
// with a new invite only.
func TestInviteUsesAndRevokeE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("starts several nodes; skipped with -short")
	}
	binary(t)
	t0 := time.Now()
	dA, dE, dF, dG := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	for d, name := range map[string]string{dA: "alice", dE: "erin", dF: "frank", dG: "grace"} {
		initNode(t, d, name)
	}
	var g struct{ ID string }
	mustJSON(t, mutual(t, dA, "group", "create", "Eastgate Aid", "--json"), &g)
	a := startNode(t, "A", dA, ephemeralListen)
	keyA, addrA := nodeKey(t, a)
	names := map[string]string{keyA: "alice"}

	// One invite for one newcomer; E and F both join with it. E syncs
	// first and is in; F's join reaches A, and never counts.
	code := inviteCode(t, dA, "--uses", "1")
	join(t, dE, code, g.ID)
	join(t, dF, code, g.ID)
	e := startNode(t, "E", dE, ephemeralListen, "--peer", addrA)
	keyE, _ := nodeKey(t, e)
	names[keyE] = "erin"
	two := map[string]string{keyA: "admin", keyE: "member"}
	eventually(t, 30*time.Second, 200*time.Millisecond, "A lists erin as a member", func() error {
		ms, err := members(t, dA)
		if err != nil {
			return err
		}
		return wantRoles(ms, two, names)
	})
	f := startNode(t, "F", dF, ephemeralListen, "--peer", addrA)
	keyF, _ := nodeKey(t, f)
	names[keyF] = "frank"
	joinF, held := waitJoinHeld(t, a, g.ID, keyF, 30*time.Second)
	if !admitted(held, joinF, keyA) {
		t.Errorf("A holds frank's join but did not witness it: the invite's uses are not what keeps it out")
	}
	ms, err := members(t, dA)
	if err != nil {
		t.Fatal(err)
	}
	if err := wantRoles(ms, two, names); err != nil {
		t.Errorf("A, holding frank's join with the used-up invite: %v", err)
	}
	if ins := invites(t, dA, "--all"); len(ins) != 1 || ins[0].Uses != 1 || ins[0].Used != 1 || ins[0].Open {
		t.Errorf("invites --all on A: %+v, want the one invite, used once of once, closed", ins)
	}
	f.stop()
	t.Logf("--uses 1: erin admitted, frank's join held and witnessed, %v", time.Since(t0).Round(time.Millisecond))

	// An invite revoked before anyone used it admits nobody.
	code2 := inviteCode(t, dA)
	open := invites(t, dA)
	if len(open) != 1 || open[0].Uses != 0 || open[0].Used != 0 {
		t.Fatalf("invites on A: %+v, want only the new one", open)
	}
	if r := mutual(t, dA, "invite", "revoke", open[0].ID[:10]); r.code != 0 {
		t.Fatalf("invite revoke: %+v", r)
	}
	if ins := invites(t, dA); len(ins) != 0 {
		t.Errorf("invites on A after the revoke: %+v, want none open", ins)
	}
	if ins := invites(t, dA, "--all"); len(ins) != 2 || !slices.ContainsFunc(ins, func(in jinvite) bool { return in.ID == open[0].ID && in.Revoked }) {
		t.Errorf("invites --all on A after the revoke: %+v, want %s revoked", ins, open[0].ID[:12])
	}
	join(t, dG, code2, g.ID)
	gn := startNode(t, "G", dG, ephemeralListen, "--peer", addrA)
	keyG, _ := nodeKey(t, gn)
	names[keyG] = "grace"
	joinG, held := waitJoinHeld(t, a, g.ID, keyG, 30*time.Second)
	if !admitted(held, joinG, keyA) {
		t.Errorf("A holds grace's join but did not witness it: the revoke is not what keeps it out")
	}
	if ms, err = members(t, dA); err != nil {
		t.Fatal(err)
	}
	if err := wantRoles(ms, two, names); err != nil {
		t.Errorf("A, holding grace's join with the revoked invite: %v", err)
	}
	// E, a member, agrees.
	eventually(t, 30*time.Second, 200*time.Millisecond, "one state on A and E", func() error { return sameHashes(g.ID, a, e) })
	if ms, err = members(t, dE); err != nil {
		t.Fatal(err)
	}
	if err := wantRoles(ms, two, names); err != nil {
		t.Errorf("E: %v", err)
	}
	t.Logf("revoked: grace's join held and witnessed, %v", time.Since(t0).Round(time.Millisecond))

	// E leaves, and comes back as `mutual leave` says: with a new invite,
	// not with the one it joined with.
	if r := mutual(t, dE, "leave"); r.code != 0 {
		t.Fatalf("leave on E: %+v", r)
	}
	left := map[string]string{keyA: "admin"}
	eventually(t, 30*time.Second, 200*time.Millisecond, "A lists erin as gone", func() error {
		ms, err := members(t, dA)
		if err != nil {
			return err
		}
		if !ms[keyE].Left || ms[keyE].Role != "none" {
			return fmt.Errorf("erin: %+v", ms[keyE])
		}
		delete(ms, keyE)
		return wantRoles(ms, left, names)
	})
	if r := mutual(t, dE, "join", code); r.code == 0 {
		t.Errorf("E joined again with the invite it joined with before: %+v", r)
	} else {
		t.Logf("E joins again with its old code: %s", strings.TrimSpace(r.stderr))
	}
	join(t, dE, inviteCode(t, dA, "--uses", "1"), g.ID)
	for _, n := range []*proc{a, e} {
		eventually(t, 30*time.Second, 200*time.Millisecond, n.name+" lists erin as a member again", func() error {
			ms, err := members(t, n.data)
			if err != nil {
				return err
			}
			return wantRoles(ms, two, names)
		})
	}
	t.Logf("erin left and came back with a new invite; total %v", time.Since(t0).Round(time.Millisecond))
}
