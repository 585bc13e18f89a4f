package catchup

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

var (
	simSeeds = flag.Int("sim.seeds", 0, "seeds TestSimulation runs (default $MUTUAL_SIM_SEEDS, else 1000; 200 under -race)")
	simSeed  = flag.Int64("sim.seed", -1, "run TestSimulation for this seed only, logging its events")
)

// TestSimulation runs many nodes of one group in one process, driven by a
// seed: newcomers joining with an admin's invite, which the admin's node
// witnesses at once; local posts, edits and status changes; removals by
// an admin, with a cut at what its node holds of the member, who may
// keep posting; forks (a node's restored backup signs a second op at a
// seq); a gossip layer that loses, duplicates, delays and so reorders
// ops; partitions; restarts that keep only the durable log; and catch-up
// sessions (some cut short) between connected pairs over net.Pipe. Time
// is a counter. After healing and a final round of sessions, every node
// that is a member at the end must hold every op ever made and have the
// board they make.
//
// The seeds run on every core, each its own simulation (nothing is
// shared between two of them); a failure reports the smallest failing
// seed, as a run of one seed after another would.
func TestSimulation(t *testing.T) {
	n := defaultSimSeeds
	if s := os.Getenv("MUTUAL_SIM_SEEDS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("MUTUAL_SIM_SEEDS=%q: %v", s, err)
		}
		n = v
	}
	if *simSeeds > 0 {
		n = *simSeeds
	}
	first := int64(0)
	if *simSeed >= 0 {
		first, n = *simSeed, 1
	}
	start := time.Now()
	var (
		next     atomic.Int64 // offset of the next seed to run
		mu       sync.Mutex
		st       simStats
		failed   = int64(-1) // the smallest failing seed so far
		failure  error
		wg       sync.WaitGroup
		verbose  = *simSeed >= 0
		failedAt = func() int64 { mu.Lock(); defer mu.Unlock(); return failed }
	)
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			for {
				seed := first + next.Add(1) - 1
				// Seeds are taken in order: once one failed, those above it
				// need not run, and every one below it has been taken.
				if seed >= first+int64(n) || (failedAt() >= 0 && failedAt() < seed) {
					return
				}
				s := newSim(seed, verbose, t)
				err := runSim(s)
				mu.Lock()
				if err == nil {
					st.add(s.stats)
				} else if failed < 0 || seed < failed {
					failed, failure = seed, err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if failed >= 0 {
		t.Fatalf("seed=%d: %v\nreplay: go test ./node/catchup -run 'TestSimulation$' -v -sim.seed=%d", failed, failure, failed)
	}
	d := time.Since(start)
	t.Logf("%d seeds in %v (%.0f seeds/s): %+v", n, d.Round(time.Millisecond), float64(n)/d.Seconds(), st)
}

// runSim runs one seed's simulation; a panic in it is its error, so that
// the seed is reported.
func runSim(s *sim) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return s.run()
}

type simStats struct {
	Nodes, Ops, Sessions, Cut, Restarts, Partitions, Gossip, Lost int
	Removals, Forks, Outside                                      int // Outside: nodes not members at the end
}

func (s *simStats) add(o simStats) {
	s.Removals += o.Removals
	s.Forks += o.Forks
	s.Outside += o.Outside
	s.Nodes += o.Nodes
	s.Ops += o.Ops
	s.Sessions += o.Sessions
	s.Cut += o.Cut
	s.Restarts += o.Restarts
	s.Partitions += o.Partitions
	s.Gossip += o.Gossip
	s.Lost += o.Lost
}

type simNode struct {
	*author
	r       *MemoryReplica
	joined  bool
	admin   bool
	removed bool
	forked  bool
	issuer  int
	comp    int // partition component
}

type delivery struct {
	at       int64
	order    int
	from, to int
	raw      []byte
}

type sim struct {
	seed    int64
	verbose bool
	t       *testing.T
	rng     *rand.Rand
	now     atomic.Int64
	group   crdt.ID
	nodes   []*simNode
	joins   []int     // nodes in join order
	posts   []crdt.ID // every post ever created
	all     [][]byte  // every op ever made
	queue   []delivery
	order   int
	stats   simStats
	cache   *OpCache // shared by the nodes: each op is verified once per seed
}

func newSim(seed int64, verbose bool, t *testing.T) *sim {
	s := &sim{seed: seed, verbose: verbose, t: t, rng: rand.New(rand.NewPCG(uint64(seed), 0x6d7574))}
	s.now.Store(baseTime)
	s.cache = NewOpCache()
	n := 5 + s.rng.IntN(16)
	for i := range n {
		a := newAuthor(uint64(seed)<<8 | uint64(i))
		r := NewMemoryReplica(a.pub, func() int64 { return s.now.Load() })
		r.SetOpCache(s.cache)
		s.nodes = append(s.nodes, &simNode{author: a, r: r})
	}
	s.stats.Nodes = n
	return s
}

func (s *sim) logf(format string, args ...any) {
	if s.verbose {
		s.t.Logf("t=%d "+format, append([]any{s.now.Load() - baseTime}, args...)...)
	}
}

// sign makes node i's next op at the simulated time.
func (s *sim) sign(i int, body crdt.Body) (crdt.Op, []byte) {
	nd := s.nodes[i]
	nd.wall = max(nd.wall, s.now.Load()-1)
	op, raw := nd.sign(s.group, body)
	s.all = append(s.all, raw)
	s.stats.Ops++
	return op, raw
}

// local adds node i's new op to its replica and gossips it.
func (s *sim) local(i int, raw []byte) error {
	if err := s.nodes[i].r.Add(raw); err != nil {
		return fmt.Errorf("node %d: local op: %w", i, err)
	}
	for j, nd := range s.nodes {
		if j == i || !nd.joined || nd.comp != s.nodes[i].comp {
			continue
		}
		copies := 1
		if s.rng.IntN(100) < 10 {
			copies = 2
		}
		for range copies {
			if s.rng.IntN(100) < 25 {
				s.stats.Lost++
				continue
			}
			s.order++
			s.queue = append(s.queue, delivery{at: s.now.Load() + int64(s.rng.IntN(8000)), order: s.order, from: i, to: j, raw: raw})
		}
	}
	return nil
}

// deliver hands due gossip to its receivers, in time order; ops between
// nodes that a partition now separates are lost.
func (s *sim) deliver(all bool) error {
	slices.SortFunc(s.queue, func(a, b delivery) int {
		if a.at != b.at {
			return int(a.at - b.at)
		}
		return a.order - b.order
	})
	now := s.now.Load()
	i := 0
	for ; i < len(s.queue) && (all || s.queue[i].at <= now); i++ {
		d := s.queue[i]
		if s.nodes[d.from].comp != s.nodes[d.to].comp {
			s.stats.Lost++
			continue
		}
		v, err := s.nodes[d.to].r.IngestOne(context.Background(), d.raw)
		if v == crdt.Reject {
			return fmt.Errorf("gossip to node %d rejected: %w", d.to, err)
		}
		s.stats.Gossip++
	}
	s.queue = s.queue[i:]
	return nil
}

// session runs a catch-up session between nodes i and j; cut > 0 cuts
// i's connection after that many bytes read.
func (s *sim) session(i, j, cut int) error {
	var wrap func(net.Conn) net.Conn
	if cut > 0 {
		wrap = func(c net.Conn) net.Conn { return &cutConn{Conn: c, limit: cut} }
		s.stats.Cut++
	}
	a, b := syncPair(s.nodes[i].r, s.nodes[i].pub, s.nodes[j].r, s.nodes[j].pub, wrap)
	s.stats.Sessions++
	s.logf("session %d<->%d cut=%d: %+v %v / %+v %v", i, j, cut, a.stats, a.err, b.stats, b.err)
	for _, err := range []error{a.err, b.err} {
		if errors.Is(err, ErrRejected) || (cut == 0 && err != nil) {
			return fmt.Errorf("session %d<->%d: %w", i, j, err)
		}
	}
	return nil
}

func (s *sim) joined() []int {
	var out []int
	for i, nd := range s.nodes {
		if nd.joined {
			out = append(out, i)
		}
	}
	return out
}

func (s *sim) pick(from []int) int { return from[s.rng.IntN(len(from))] }

// admins returns the joined admins that no one removed and that did not
// fork (whose ops no longer count: the simulation would lose coverage on
// their invitees).
func (s *sim) admins() []int {
	var out []int
	for _, i := range s.joined() {
		if nd := s.nodes[i]; nd.admin && !nd.removed && !nd.forked {
			out = append(out, i)
		}
	}
	return out
}

func (s *sim) run() error {
	// Node 0 founds the group.
	f := s.nodes[0]
	op, raw := f.sign(crdt.ID{}, crdt.Genesis{Name: "sim", AuthorName: "founder"})
	s.group = op.ID
	s.all = append(s.all, raw)
	s.stats.Ops++
	f.r.AddGroup(s.group)
	f.joined, f.admin = true, true
	s.joins = append(s.joins, 0)
	if err := f.r.Add(raw); err != nil {
		return err
	}

	steps := 60 + s.rng.IntN(80)
	for range steps {
		s.now.Add(1 + int64(s.rng.IntN(2000)))
		if err := s.deliver(false); err != nil {
			return err
		}
		joined := s.joined()
		switch x := s.rng.IntN(100); {
		case x < 12: // a newcomer joins with an invite from an admin it meets, whose node witnesses the join
			var out []int
			for i, nd := range s.nodes {
				if !nd.joined {
					out = append(out, i)
				}
			}
			if len(out) == 0 {
				continue
			}
			n, iss := s.pick(out), s.pick(s.admins())
			role := crdt.RoleMember
			if s.rng.IntN(100) < 30 {
				role = crdt.RoleAdmin
			}
			nd := s.nodes[n]
			nd.joined, nd.admin, nd.issuer = true, role == crdt.RoleAdmin, iss
			nd.comp = s.nodes[iss].comp // at the meeting, with the admin
			nd.r.AddGroup(s.group)
			// The invite code names the issuer and the members it knows of
			// (up to 16, as the node does); the newcomer offers its join to
			// those only.
			vouched := []crdt.PublicKey{s.nodes[iss].pub}
			for _, j := range s.joined() {
				if len(vouched) < protocol.MaxInviteMembers && j != iss {
					vouched = append(vouched, s.nodes[j].pub)
				}
			}
			nd.r.Vouch(s.group, vouched...)
			s.joins = append(s.joins, n)
			_, raw := s.sign(n, nd.joinBody(s.nodes[iss].invite(s.group, role)))
			s.logf("node %d joins via %d as %v", n, iss, role)
			if err := s.local(n, raw); err != nil {
				return err
			}
			if _, err := s.nodes[iss].r.Ingest(context.Background(), [][]byte{raw}); err != nil {
				return fmt.Errorf("node %d: the join of node %d: %w", iss, n, err)
			}
			_, admit := s.sign(iss, crdt.Admit{Join: protocol.OpID(raw)})
			if err := s.local(iss, admit); err != nil {
				return err
			}
		case x < 45: // a post
			i := s.pick(joined)
			op, raw := s.sign(i, crdt.PostCreate{PostKind: crdt.PostKind(1 + s.rng.IntN(2)), Fields: crdt.Fields{
				Title: fmt.Sprintf("post %d", len(s.posts)), Quantity: uint32(s.rng.IntN(5))}})
			s.posts = append(s.posts, op.ID)
			if err := s.local(i, raw); err != nil {
				return err
			}
		case x < 58: // an edit, of any post ever made (maybe not yet seen here)
			if len(s.posts) == 0 {
				continue
			}
			i := s.pick(joined)
			_, raw := s.sign(i, crdt.PostEdit{Post: s.posts[s.rng.IntN(len(s.posts))], Set: crdt.FieldTitle | crdt.FieldQuantity,
				Fields: crdt.Fields{Title: fmt.Sprintf("edit %d", s.rng.IntN(1000)), Quantity: uint32(s.rng.IntN(9))}})
			if err := s.local(i, raw); err != nil {
				return err
			}
		case x < 68: // a status change
			if len(s.posts) == 0 {
				continue
			}
			i := s.pick(joined)
			_, raw := s.sign(i, crdt.PostStatus{Post: s.posts[s.rng.IntN(len(s.posts))], Status: crdt.Status(s.rng.IntN(4))})
			if err := s.local(i, raw); err != nil {
				return err
			}
		case x < 84: // catch-up between two connected nodes, sometimes cut
			i := s.pick(joined)
			var peers []int
			for _, j := range joined {
				if j != i && s.nodes[j].comp == s.nodes[i].comp {
					peers = append(peers, j)
				}
			}
			if len(peers) == 0 {
				continue
			}
			cut := 0
			if s.rng.IntN(100) < 15 {
				cut = 1 + s.rng.IntN(3000)
			}
			if err := s.session(i, s.pick(peers), cut); err != nil {
				return err
			}
		case x < 89: // a partition
			k := 2 + s.rng.IntN(2)
			for _, nd := range s.nodes {
				nd.comp = s.rng.IntN(k)
			}
			s.stats.Partitions++
			s.logf("partition into %d", k)
		case x < 93: // healed
			for _, nd := range s.nodes {
				nd.comp = 0
			}
		case x < 97: // a restart: only the durable log survives
			i := s.pick(joined)
			if err := s.nodes[i].r.Restart(); err != nil {
				return err
			}
			s.stats.Restarts++
			s.logf("node %d restarts", i)
		case x < 99: // an admin removes another member (not the founder), with a cut at what its node holds
			a := s.pick(s.admins())
			var cands []int
			for _, i := range joined {
				if i != 0 && i != a && !s.nodes[i].removed {
					cands = append(cands, i)
				}
			}
			if len(cands) == 0 {
				continue
			}
			k := s.pick(cands)
			v, err := s.nodes[a].r.VersionVector(s.group)
			if err != nil {
				return err
			}
			cut := v[s.nodes[k].pub]
			if cut == 0 {
				continue // the admin's node does not know the member yet
			}
			_, raw := s.sign(a, crdt.SetRole{Member: s.nodes[k].pub, Role: crdt.RoleNone, Cut: cut})
			s.nodes[k].removed, s.nodes[k].admin = true, false
			s.stats.Removals++
			s.logf("node %d removes node %d at %d", a, k, cut)
			if err := s.local(a, raw); err != nil {
				return err
			}
		default: // a fork: a node's restored backup signs another op at the seq of its next one
			if len(joined) < 2 {
				continue
			}
			i := s.pick(joined[1:]) // not the founder: that would void most of the group
			s.nodes[i].forked = true
			twin := *s.nodes[i].author
			_, mine := s.sign(i, crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: "mine"}})
			_, theirs := twin.sign(s.group, crdt.PostCreate{PostKind: crdt.Offer, Fields: crdt.Fields{Title: "the backup's"}})
			s.all = append(s.all, theirs)
			s.stats.Ops++
			s.stats.Forks++
			s.logf("node %d forks at seq %d", i, s.nodes[i].seq)
			for _, raw := range [][]byte{mine, theirs} {
				if err := s.local(i, raw); err != nil {
					return err
				}
			}
		}
	}

	// Heal, let the last gossip land, and run a final round: each
	// newcomer meets its inviter, in join order; then the founder meets
	// everyone twice (collect, then spread).
	for _, nd := range s.nodes {
		nd.comp = 0
	}
	if err := s.deliver(true); err != nil {
		return err
	}
	for _, n := range s.joins[1:] {
		if err := s.session(n, s.nodes[n].issuer, 0); err != nil {
			return err
		}
	}
	for range 2 {
		for _, n := range s.joins[1:] {
			if err := s.session(0, n, 0); err != nil {
				return err
			}
		}
	}

	ref := NewMemoryReplica(crdt.PublicKey{}, func() int64 { return s.now.Load() })
	ref.AddGroup(s.group)
	ref.SetOpCache(s.cache)
	if _, err := ref.Ingest(context.Background(), s.all); err != nil {
		return fmt.Errorf("reference: %w", err)
	}
	if ref.Len(s.group) != len(s.all) {
		return fmt.Errorf("reference holds %d of %d ops", ref.Len(s.group), len(s.all))
	}
	want := ref.Hash(s.group)
	for _, n := range s.joins {
		if !ref.MayRead(s.group, s.nodes[n].pub) {
			s.stats.Outside++ // removed, or its join never counted: it gets the board no more
			continue
		}
		r := s.nodes[n].r
		if h := r.Hash(s.group); h != want || r.Len(s.group) != len(s.all) {
			var missing []string
			for _, raw := range s.all {
				if !r.holds(protocol.OpID(raw)) {
					ref, _ := protocol.PeekOp(raw)
					author := slices.IndexFunc(s.nodes, func(nd *simNode) bool { return nd.pub == ref.Author })
					missing = append(missing, fmt.Sprintf("node %d's op %d", author, ref.Seq))
				}
			}
			return fmt.Errorf("node %d: %d of %d ops (lacks %s), hash %s, want %s", n, r.Len(s.group), len(s.all), strings.Join(missing, ", "), h.Short(), want.Short())
		}
	}
	return nil
}
