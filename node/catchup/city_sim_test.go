package catchup

import (
	"container/heap"
	"context"
	"crypto/ecdh"
	"crypto/sha256"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/cryptotest"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

var (
	citySeeds = flag.Int("city.seeds", 0, "seeds of the full-size city simulation (TestCitySimulationFull: 50 groups x 3 nodes), whose figures it logs")
	citySeed  = flag.Int64("city.seed", -1, "run TestCitySimulation, or TestCitySimulationFull, for this seed only, logging its events")
)

// A city of groups that follow each other (issue 10), on the in-memory
// network, in virtual time. Each group has three member nodes, in one of
// a few cities (clusters). Groups follow a few others, mostly in their
// own city; a group whose policy is allies only lists the groups that
// follow it but one, which it refuses, and follows its allies back (its
// nodes judge an ally's members on their copy of the ally's board).
//
// Links: a group's three nodes are linked to each other; for each group
// followed, one node of the follower (sometimes two) is linked to one
// node of the followed group; a few nodes are linked to a node of a group
// nothing ties them to (they met). A follower offers a followed group to
// the nodes it is linked to that hold it: those members, and its own
// group's nodes, which follow it too (store and forward).
//
// The nodes act as package p2p's Host does, with its delays:
//   - gossip reaches a group's members only (followers cannot derive the
//     topic), each send lost with some probability; a receiver forwards
//     what it accepts once (GossipSub's mesh of three);
//   - an op that came past a gap in its author's log leads to a session
//     with its sender if the gap is still open gapWait later;
//   - after storing new ops of a group by gossip or locally, a node runs
//     a session within followDelay with each linked peer that was served
//     the group as a follower in their last session;
//   - a session that brought new ops spreads them: sessions with every
//     linked peer within spreadDelay;
//   - every syncEvery (±25%) a node runs a session with each linked
//     peer it initiates with (the smaller key), and a link that comes
//     up has a session at once and another afterMesh later.
//
// A session is a real catchup.Run over net.Pipe between the two nodes'
// MemoryReplicas; its ops land 3 link latencies after it starts (Have,
// Want, Ops), which is when it runs. Partitions split the cities (or
// take a few nodes offline) and heal. Posts carry private fields sealed
// under the group's key; followers receive the sealed blobs (they
// forward members' whole ops) and no key.
//
// Time is virtual milliseconds, and everything (crypto's randomness too,
// cryptotest.SetGlobalRandom) follows from the seed: a failure replays.

// Delays of package p2p (config.go), in virtual milliseconds.
const (
	citySyncEvery   = 30_000
	cityAfterMesh   = 3_000
	cityFollowDelay = 500
	citySpreadDelay = 200
	cityGapWait     = 500
)

// cityConfig sizes a run.
type cityConfig struct {
	Groups, Cities int
	// Warmup passes before the first post (followers get the groups'
	// founding ops); posts are made over Window; Tail runs on after the
	// last partition healed. Virtual milliseconds.
	Warmup, Window, Tail int64
	Posts                int // posts made (plus about a third as many status changes)
	Loss                 int // percent of gossip sends lost
}

var (
	cityShort = cityConfig{Groups: 10, Cities: 2, Warmup: 30_000, Window: 120_000, Tail: 60_000, Posts: 24, Loss: 15}
	cityFull  = cityConfig{Groups: 50, Cities: 5, Warmup: 60_000, Window: 600_000, Tail: 120_000, Posts: 300, Loss: 15}
)

// TestCitySimulation runs a small city (10 groups x 3 nodes, 2 cities)
// for a few seeds (one under the race detector) and checks what following must guarantee: after the
// partitions heal and a final round of sessions, every node holds every
// op of its own group and of each group it follows and may follow, and
// the same board (state hash) as every other node holding the group;
// nothing of any other group ever reaches it (no frame on its streams
// names one, its replica holds none, and a refused follower holds
// nothing of the group that refused it, with the reason); members open
// every post's private fields and followers, which hold the sealed
// blobs, never receive a key to open them, and no private field
// crosses the wire in clear. It also checks that a seed replays.
func TestCitySimulation(t *testing.T) {
	seeds := []int64{1, 2, 3}
	if testing.Short() || raceEnabled {
		seeds = seeds[:1]
	}
	if *citySeed >= 0 {
		seeds = []int64{*citySeed}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			c := runCity(t, cityShort, seed, *citySeed >= 0, "TestCitySimulation")
			t.Log(c.report())
		})
	}
	if *citySeed >= 0 || raceEnabled {
		return // the race detector slows it tenfold
	}
	// The same seed gives the same run, to the byte.
	var runs [2]string
	for i := range runs {
		t.Run(fmt.Sprint("replay", i), func(t *testing.T) {
			runs[i] = runCity(t, cityShort, seeds[0], false, "TestCitySimulation").report()
		})
	}
	if runs[0] != runs[1] {
		t.Fatalf("seed %d did not replay:\n%s\n%s", seeds[0], runs[0], runs[1])
	}
}

// TestCitySimulationFull runs the full-size city (50 groups x 3 nodes,
// 5 cities, 400 ops over 10 virtual minutes, three in four of them
// posts) for seeds 1 to -city.seeds and logs its figures
// (docs/benchmarks.md, "City-scale simulation"); a seed takes about a
// minute:
//
//	go test ./node/catchup -run 'TestCitySimulationFull$' -v -timeout 40m -city.seeds=5
func TestCitySimulationFull(t *testing.T) {
	first, n := int64(1), int64(*citySeeds)
	if *citySeed >= 0 {
		first, n = *citySeed, 1
	}
	if n <= 0 {
		t.Skip("the full-size city runs with -city.seeds=N (docs/benchmarks.md)")
	}
	var all cityFigures
	for seed := first; seed < first+n; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			start := time.Now()
			c := runCity(t, cityFull, seed, *citySeed >= 0, "TestCitySimulationFull")
			t.Logf("%s (%v)", c.report(), time.Since(start).Round(time.Millisecond))
			all.add(c.figures())
		})
	}
	t.Logf("all %d seeds:\n%s", n, all.String())
}

// runCity builds a city, runs it and checks it, failing t with the
// command that replays the seed (test names the test).
func runCity(t *testing.T, cfg cityConfig, seed int64, verbose bool, test string) *city {
	t.Helper()
	cryptotest.SetGlobalRandom(t, uint64(seed))
	c := newCity(t, cfg, seed, verbose)
	err := c.run()
	if err == nil {
		err = c.check()
	}
	if err != nil {
		t.Fatalf("seed=%d: %v\nreplay: go test ./node/catchup -run '%s$' -v -city.seed=%d", seed, err, test, seed)
	}
	return c
}

type cityNode struct {
	*author
	i, group, city int
	r              *MemoryReplica
	box            *ecdh.PrivateKey
	boxPub         crdt.BoxKey
	peers          []int // linked nodes, ascending
	// follows holds, by peer, the groups served to it as a follower in
	// their last session (Host.noteFollowers).
	follows   map[int]map[crdt.ID]bool
	pushing   map[crdt.ID]bool // groups of the push scheduled, nil if none
	spreading map[crdt.ID]bool // groups of the spread scheduled (Stats.Fresh), nil if none
	spreadBy  map[int]bool     // the peers whose sessions brought them
	comp      int              // partition component: linked nodes talk when equal
	sent      cityBytes
}

// cityBytes counts the bytes a node sent.
type cityBytes struct {
	Member   int64 // catch-up frames about its own group
	Follower int64 // catch-up frames about the groups it follows
	Overhead int64 // frames about no group (hello, end, next)
	Gossip   int64 // gossip frames (its own group's)
}

func (b *cityBytes) sub(o cityBytes) cityBytes {
	return cityBytes{b.Member - o.Member, b.Follower - o.Follower, b.Overhead - o.Overhead, b.Gossip - o.Gossip}
}

type cityGroup struct {
	id      crdt.ID
	key     [protocol.GroupKeySize]byte
	city    int
	nodes   []int
	follows []int // groups it follows, ascending
	allies  bool  // accepts followers from its allies only
	refuses int   // the following group it does not list as an ally, or -1
	all     [][]byte
	posts   []crdt.ID // posts made, for status changes
	window  int       // ops made in the measured window
}

// cityPost is a post on its way to every node that must hold it.
type cityPost struct {
	id      crdt.ID
	group   int
	contact string
	made    int64
	need    int         // nodes that must hold it
	hops    map[int]int // holders: transfers on the path it reached them by
	done    int64       // when the last one got it; -1 until then
	rounds  int         // the most hops
	split   bool        // made while a partition was on
}

type cityEventKind uint8

const (
	evGossip cityEventKind = iota
	evSession
	evPush
	evSpread
	evPeriodic
	evGap
	evPost
	evPartition
	evHeal
)

type cityEvent struct {
	at, order int64
	kind      cityEventKind
	a, b      int // nodes (gossip: from a to b; session: a initiates)
	raw       []byte
	seq       uint64 // evGap: the seq past the gap
	author    crdt.PublicKey
	group     crdt.ID
	why       cityWhy // evSession: what started it
}

// cityWhy is what started a session.
type cityWhy uint8

const (
	whyConnect cityWhy = iota // a link came up (at once, and afterMesh later)
	whyPeriodic
	whyPush   // new ops of a group its peer follows
	whySpread // a session brought new ops
	whyGap    // gossip came past a gap
	whyFinal  // the final round (not measured)
	whyGossip // not a session: gossip's bytes
	cityWhys
)

func (w cityWhy) String() string {
	return [...]string{"connect", "periodic", "push", "spread", "gap", "final", "gossip"}[w]
}

// cityWire counts bytes sent in the window by what started the session
// and by frame: Ops, Have and Want (vectors), others.
type cityWire [cityWhys]struct{ Sessions, Ops, Vectors, Other int64 }

// cityTypes counts the catch-up bytes sent in the window by message type
// (protocol.MsgType; 0: a frame too short to say).
type cityTypes [16]struct{ Frames, Bytes int64 }

type cityQueue []*cityEvent

func (q cityQueue) Len() int { return len(q) }
func (q cityQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].order < q[j].order
}
func (q cityQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *cityQueue) Push(x any)   { *q = append(*q, x.(*cityEvent)) }
func (q *cityQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

type cityLink struct{ a, b int }

type city struct {
	t       *testing.T
	cfg     cityConfig
	seed    int64
	verbose bool
	rng     *rand.Rand
	now     int64 // virtual ms since baseTime
	order   int64
	queue   cityQueue
	cache   *OpCache

	nodes  []*cityNode
	groups []*cityGroup
	byID   map[crdt.ID]int
	links  []cityLink         // ascending
	lat    map[cityLink]int64 // one-way latency of each link
	reads  []map[crdt.ID]bool // by node: the groups it must hold (its own, those it follows and may)
	holds  []map[crdt.ID]bool // by node: the groups it replicates (refused ones too)
	posts  []*cityPost
	open   map[int][]*cityPost // by group: posts some node still lacks

	partitioned bool
	measuring   bool
	base        []cityBytes       // bytes sent by each node when the window opened
	final       []cityBytes       // and when the tail ended
	refusals    map[[2]int]string // (node, group) -> the reason it was given
	wire        cityWire
	types       cityTypes
	stats       cityStats
}

type cityStats struct {
	Sessions, Gossip, Lost, Pushes, Spreads, Gaps, Partitions int
	FinalSessions                                             int // in the final round
	BlobsAtFollowers                                          int // sealed blobs followers hold (and cannot open)
	Late                                                      int // posts that reached their last node only in the final round
}

func newCity(t *testing.T, cfg cityConfig, seed int64, verbose bool) *city {
	c := &city{
		t: t, cfg: cfg, seed: seed, verbose: verbose,
		rng:      rand.New(rand.NewPCG(uint64(seed), 0x63697479)),
		cache:    NewOpCache(),
		byID:     map[crdt.ID]int{},
		lat:      map[cityLink]int64{},
		open:     map[int][]*cityPost{},
		refusals: map[[2]int]string{},
	}
	c.build()
	return c
}

func (c *city) logf(format string, args ...any) {
	if c.verbose {
		c.t.Logf("t=%d "+format, append([]any{c.now}, args...)...)
	}
}

func (c *city) clock() int64 { return baseTime + c.now }

// build makes the groups, their follow graph, the nodes and the links,
// and founds each group on its three nodes (they met).
func (c *city) build() {
	n := c.cfg.Groups
	for g := range n {
		c.groups = append(c.groups, &cityGroup{city: g * c.cfg.Cities / n, refuses: -1})
	}
	// Each group follows 2 to 4 others, four in five in its own city.
	follows := make([]map[int]bool, n)
	for g, gr := range c.groups {
		follows[g] = map[int]bool{}
		for want := 2 + c.rng.IntN(3); len(follows[g]) < want; {
			h := c.rng.IntN(n)
			if c.rng.IntN(5) > 0 {
				var same []int
				for h2, o := range c.groups {
					if o.city == gr.city && h2 != g {
						same = append(same, h2)
					}
				}
				h = same[c.rng.IntN(len(same))]
			}
			if h != g {
				follows[g][h] = true
			}
		}
	}
	followers := func(h int) []int {
		var out []int
		for g := range n {
			if follows[g][h] {
				out = append(out, g)
			}
		}
		return out
	}
	// One group in five accepts followers from its allies only: all the
	// groups that follow it, but one open group it refuses when it has
	// two followers or more; it follows its allies back.
	//
	// Two such groups may follow each other: each one's nodes serve the
	// other's once they hold the other group, to know its members, and
	// a member's node introduces its group to the node that refused it
	// the other (catchup.Introducer) so that one gets it first.
	for _, gr := range c.groups {
		gr.allies = c.rng.IntN(5) == 0
	}
	for h, gr := range c.groups {
		if !gr.allies {
			continue
		}
		fs := followers(h)
		var open []int
		for _, g := range fs {
			if !c.groups[g].allies {
				open = append(open, g)
			}
		}
		if len(fs) >= 2 && len(open) > 0 {
			gr.refuses = open[c.rng.IntN(len(open))]
		}
		for _, g := range fs {
			if g != gr.refuses {
				follows[h][g] = true
			}
		}
	}
	for g, gr := range c.groups {
		for h := range n {
			if follows[g][h] {
				gr.follows = append(gr.follows, h)
			}
		}
	}

	// Nodes, three per group; each group's key and founding ops.
	for g, gr := range c.groups {
		for k := range 3 {
			a := newAuthor(uint64(c.seed)<<16 | uint64(g)<<2 | uint64(k))
			priv, pub := protocol.BoxKeyOf(a.key)
			nd := &cityNode{author: a, i: len(c.nodes), group: g, city: gr.city, box: priv, boxPub: pub,
				follows: map[int]map[crdt.ID]bool{}}
			nd.r = NewMemoryReplica(a.pub, c.clock)
			nd.r.SetOpCache(c.cache)
			gr.nodes = append(gr.nodes, nd.i)
			c.nodes = append(c.nodes, nd)
		}
		gr.key = sha256.Sum256(fmt.Appendf(nil, "city %d group %d key", c.seed, g))
		c.found(g)
	}
	for g, gr := range c.groups {
		if gr.allies {
			var allies []crdt.ID
			for _, f := range followers(g) {
				if f != gr.refuses {
					allies = append(allies, c.groups[f].id)
				}
			}
			slices.SortFunc(allies, crdt.ID.Compare)
			c.setup(g, c.nodes[gr.nodes[0]], crdt.Federation{Policy: crdt.FollowAllies, Allies: allies})
		}
	}

	// Links, each with a latency: 2-20 ms within a city, 30-120 ms
	// between cities.
	link := func(a, b int) {
		l := cityLink{min(a, b), max(a, b)}
		if _, ok := c.lat[l]; ok || a == b {
			return
		}
		if c.nodes[a].city == c.nodes[b].city {
			c.lat[l] = 2 + c.rng.Int64N(19)
		} else {
			c.lat[l] = 30 + c.rng.Int64N(91)
		}
		c.links = append(c.links, l)
	}
	for _, gr := range c.groups {
		for i, a := range gr.nodes {
			for _, b := range gr.nodes[i+1:] {
				link(a, b)
			}
		}
	}
	for _, gr := range c.groups {
		for _, h := range gr.follows {
			ours, theirs := slices.Clone(gr.nodes), slices.Clone(c.groups[h].nodes)
			c.rng.Shuffle(3, func(i, j int) { ours[i], ours[j] = ours[j], ours[i] })
			c.rng.Shuffle(3, func(i, j int) { theirs[i], theirs[j] = theirs[j], theirs[i] })
			link(ours[0], theirs[0])
			if c.rng.IntN(10) < 3 {
				link(ours[1], theirs[1])
			}
		}
	}
	for g, gr := range c.groups { // strangers that met: nothing to share
		if c.rng.IntN(10) < 3 {
			h := c.rng.IntN(n)
			if h != g && !follows[g][h] && !follows[h][g] {
				link(gr.nodes[c.rng.IntN(3)], c.groups[h].nodes[c.rng.IntN(3)])
			}
		}
	}
	slices.SortFunc(c.links, func(x, y cityLink) int {
		if x.a != y.a {
			return x.a - y.a
		}
		return x.b - y.b
	})
	for _, l := range c.links {
		c.nodes[l.a].peers = append(c.nodes[l.a].peers, l.b)
		c.nodes[l.b].peers = append(c.nodes[l.b].peers, l.a)
	}
	for _, nd := range c.nodes {
		slices.Sort(nd.peers)
	}

	// Following: each node follows its group's groups, offering each to
	// the linked nodes that hold it (its members, and its own group's
	// nodes, which follow it too).
	c.reads = make([]map[crdt.ID]bool, len(c.nodes))
	c.holds = make([]map[crdt.ID]bool, len(c.nodes))
	for _, nd := range c.nodes {
		gr := c.groups[nd.group]
		c.reads[nd.i] = map[crdt.ID]bool{gr.id: true}
		c.holds[nd.i] = map[crdt.ID]bool{gr.id: true}
		for _, h := range gr.follows {
			hg := c.groups[h]
			var via []crdt.PublicKey
			for _, p := range nd.peers {
				if q := c.nodes[p]; q.group == h || q.group == nd.group {
					via = append(via, q.pub)
				}
			}
			nd.r.Follow(hg.id, via...)
			c.holds[nd.i][hg.id] = true
			if hg.refuses != nd.group {
				c.reads[nd.i][hg.id] = true
			}
		}
	}
}

// found makes group g: its founder's genesis (naming the group's key) and
// the key shared with itself; two newcomers' joins with the founder's
// invites, each admitted and given the key. Every op goes to the three
// nodes.
func (c *city) found(g int) {
	gr := c.groups[g]
	f := c.nodes[gr.nodes[0]]
	keyID := protocol.KeyIDOf(gr.key)
	var nonce [16]byte
	copy(nonce[:], fmt.Sprint(g))
	op, raw := f.sign(crdt.ID{}, crdt.Genesis{Name: fmt.Sprintf("group %d", g), Nonce: nonce, AuthorName: "founder", Box: f.boxPub, Key: keyID})
	gr.id = op.ID
	gr.all = append(gr.all, raw)
	c.byID[gr.id] = g
	for _, i := range gr.nodes {
		c.nodes[i].r.AddGroup(gr.id)
	}
	c.store(g, raw)
	c.setup(g, f, c.keyShare(g, f))
	for _, i := range gr.nodes[1:] {
		nd := c.nodes[i]
		code := f.invite(gr.id, crdt.RoleMember)
		join := crdt.Join{Invite: code.Invite, Name: fmt.Sprintf("node %d", i), Box: nd.boxPub,
			Proof: protocol.ProveJoin(&code.Invite, code.Secret, nd.pub)}
		_, jraw := c.setup(g, nd, join)
		c.setup(g, f, crdt.Admit{Join: protocol.OpID(jraw)})
		c.setup(g, f, c.keyShare(g, nd))
	}
}

// keyShare is a GroupKey op body sharing g's key with node nd.
func (c *city) keyShare(g int, nd *cityNode) crdt.GroupKey {
	gr := c.groups[g]
	sealed, err := protocol.SealShare(gr.id, gr.key, nd.pub, nd.boxPub)
	if err != nil {
		panic(err)
	}
	return crdt.GroupKey{Key: protocol.KeyIDOf(gr.key), Shares: []crdt.Share{{Member: nd.pub, Sealed: sealed}}}
}

// setup signs a founding op of group g by nd and gives it to the group's
// three nodes.
func (c *city) setup(g int, nd *cityNode, body crdt.Body) (crdt.Op, []byte) {
	op, raw := c.sign(g, nd, body)
	c.store(g, raw)
	return op, raw
}

func (c *city) store(g int, raw []byte) {
	for _, i := range c.groups[g].nodes {
		if err := c.nodes[i].r.Add(raw); err != nil {
			panic(fmt.Sprintf("founding group %d: %v", g, err))
		}
	}
}

// sign signs nd's next op in group g at the virtual time.
func (c *city) sign(g int, nd *cityNode, body crdt.Body) (crdt.Op, []byte) {
	nd.wall = max(nd.wall, c.clock()-1)
	op, raw := nd.sign(c.groups[g].id, body)
	c.groups[g].all = append(c.groups[g].all, raw)
	if c.measuring {
		c.groups[g].window++
	}
	return op, raw
}

func (c *city) at(d int64, e *cityEvent) {
	c.order++
	e.at, e.order = c.now+d, c.order
	heap.Push(&c.queue, e)
}

func (c *city) up(a, b int) bool { return c.nodes[a].comp == c.nodes[b].comp }

func (c *city) latency(a, b int) int64 { return c.lat[cityLink{min(a, b), max(a, b)}] }

// startSession starts a session that a initiates with b: it runs when
// its ops land, three latencies on.
func (c *city) startSession(a, b int, why cityWhy) {
	c.at(3*c.latency(a, b), &cityEvent{kind: evSession, a: a, b: b, why: why})
}

// connect is what a node does when a link comes up: a session at once,
// and another once the mesh formed.
func (c *city) connect(l cityLink) {
	c.startSession(l.a, l.b, whyConnect)
	c.at(cityAfterMesh+3*c.latency(l.a, l.b), &cityEvent{kind: evSession, a: l.a, b: l.b, why: whyConnect})
}

// jitter is d ± 25%.
func (c *city) jitter(d int64) int64 { return d*3/4 + c.rng.Int64N(d/2) }

// run runs the city: the links come up, the warmup passes, posts and
// partitions over the window, healing, the tail, then a final round of
// sessions over every link until none brings anything new.
func (c *city) run() error {
	for _, l := range c.links {
		c.connect(l)
	}
	for _, nd := range c.nodes {
		c.at(c.rng.Int64N(citySyncEvery), &cityEvent{kind: evPeriodic, a: nd.i})
	}
	start, end := c.cfg.Warmup, c.cfg.Warmup+c.cfg.Window
	c.at(start, &cityEvent{kind: evPost, a: -1}) // opens the window
	for range c.cfg.Posts + c.cfg.Posts/3 {
		c.at(start+1+c.rng.Int64N(c.cfg.Window), &cityEvent{kind: evPost})
	}
	for t := start + c.rng.Int64N(60_000); t < end; t += 60_000 + c.rng.Int64N(60_000) {
		c.at(t, &cityEvent{kind: evPartition})
		c.at(t+20_000+c.rng.Int64N(40_000), &cityEvent{kind: evHeal})
	}
	c.at(end, &cityEvent{kind: evHeal})
	for c.queue.Len() > 0 {
		e := heap.Pop(&c.queue).(*cityEvent)
		if e.at > end+c.cfg.Tail {
			break
		}
		c.now = e.at
		if err := c.handle(e); err != nil {
			return fmt.Errorf("t=%d: %w", c.now, err)
		}
	}
	c.measuring = false
	c.final = make([]cityBytes, len(c.nodes))
	for i, nd := range c.nodes {
		c.final[i] = nd.sent.sub(c.base[i])
	}
	for _, p := range c.posts {
		if p.done < 0 {
			c.stats.Late++
		}
	}

	// The final round: every link up, the gossip in flight delivered,
	// then sessions over every link until a pass brings nothing new.
	c.now = end + c.cfg.Tail
	for _, nd := range c.nodes {
		nd.comp = 0
	}
	for c.queue.Len() > 0 {
		if e := heap.Pop(&c.queue).(*cityEvent); e.kind == evGossip {
			if err := c.handle(e); err != nil {
				return err
			}
		}
	}
	for pass := 0; ; pass++ {
		fresh := 0
		for _, l := range c.links {
			n, err := c.session(l.a, l.b, whyFinal)
			if err != nil {
				return fmt.Errorf("final round: %w", err)
			}
			fresh += n
			c.stats.FinalSessions++
		}
		if fresh == 0 {
			return nil
		}
		if pass == 20 {
			return fmt.Errorf("final round: still new ops after %d passes over every link", pass)
		}
	}
}

func (c *city) handle(e *cityEvent) error {
	switch e.kind {
	case evGossip:
		return c.deliver(e)
	case evSession:
		if !c.up(e.a, e.b) {
			return nil // the link went down meanwhile
		}
		_, err := c.session(e.a, e.b, e.why)
		return err
	case evPush:
		nd := c.nodes[e.a]
		groups := nd.pushing
		nd.pushing = nil
		for _, p := range nd.peers {
			if !c.up(nd.i, p) {
				continue
			}
			for g := range groups {
				if nd.follows[p][g] {
					c.stats.Pushes++
					c.startSession(nd.i, p, whyPush)
					break
				}
			}
		}
	case evSpread:
		nd := c.nodes[e.a]
		fresh := slices.SortedFunc(maps.Keys(nd.spreading), crdt.ID.Compare)
		by := nd.spreadBy
		nd.spreading, nd.spreadBy = nil, nil
		for _, p := range nd.peers {
			if len(by) == 1 && by[p] {
				continue // it holds them all: they came from it
			}
			if c.up(nd.i, p) && Shares(nd.r, c.nodes[p].pub, fresh, nd.followed(p)) {
				c.stats.Spreads++
				c.startSession(nd.i, p, whySpread)
			}
		}
	case evPeriodic:
		nd := c.nodes[e.a]
		for _, p := range nd.peers {
			if c.up(nd.i, p) && nd.pub.Compare(c.nodes[p].pub) < 0 {
				c.startSession(nd.i, p, whyPeriodic)
			}
		}
		c.at(c.jitter(citySyncEvery), &cityEvent{kind: evPeriodic, a: nd.i})
	case evGap:
		v, err := c.nodes[e.a].r.VersionVector(e.group)
		if err != nil {
			return err
		}
		if v[e.author] < e.seq && c.up(e.a, e.b) {
			c.stats.Gaps++
			c.startSession(e.a, e.b, whyGap)
		}
	case evPost:
		if e.a == -1 {
			c.measuring = true
			c.base = make([]cityBytes, len(c.nodes))
			for i, nd := range c.nodes {
				c.base[i] = nd.sent
			}
			return nil
		}
		return c.post()
	case evPartition:
		c.partition()
	case evHeal:
		c.heal()
	}
	return nil
}

// post makes a post (three times in four) or a status change at a random
// node.
func (c *city) post() error {
	nd := c.nodes[c.rng.IntN(len(c.nodes))]
	gr := c.groups[nd.group]
	if len(gr.posts) > 0 && c.rng.IntN(4) == 0 {
		_, raw := c.sign(nd.group, nd, crdt.PostStatus{Post: gr.posts[c.rng.IntN(len(gr.posts))], Status: crdt.Status(1 + c.rng.IntN(3))})
		return c.local(nd, raw, nil)
	}
	p := &cityPost{group: nd.group, made: c.now, hops: map[int]int{}, done: -1, split: c.partitioned,
		contact: fmt.Sprintf("sim-contact %d of node %d", len(c.posts), nd.i)}
	blob, sum, err := protocol.SealPrivate(gr.id, gr.key, protocol.Private{Location: "sim-location 12 Quay St", Contact: p.contact})
	if err != nil {
		return err
	}
	op, raw := c.sign(nd.group, nd, crdt.PostCreate{PostKind: crdt.PostKind(1 + c.rng.IntN(2)), Private: sum, Fields: crdt.Fields{
		Title: fmt.Sprintf("post %d: winter coats", len(c.posts)), Details: "for a family of four", Category: "clothing", Quantity: uint32(1 + c.rng.IntN(9))}})
	raw = protocol.JoinBlob(raw, blob)
	gr.all[len(gr.all)-1] = raw
	p.id = op.ID
	gr.posts = append(gr.posts, op.ID)
	for i := range c.nodes {
		if c.reads[i][gr.id] {
			p.need++
		}
	}
	c.posts = append(c.posts, p)
	c.open[nd.group] = append(c.open[nd.group], p)
	c.logf("node %d posts %s in group %d", nd.i, op.ID.Short(), nd.group)
	return c.local(nd, raw, p)
}

// local stores nd's new op, gossips it and pushes it to followers.
func (c *city) local(nd *cityNode, raw []byte, p *cityPost) error {
	if err := nd.r.Add(raw); err != nil {
		return fmt.Errorf("node %d: local op: %w", nd.i, err)
	}
	if p != nil {
		c.got(p, nd.i, 0)
	}
	c.gossip(nd.i, -1, raw)
	c.pushFollowers(nd.i, c.groups[nd.group].id)
	return nil
}

// gossip sends raw from node a to its group's other nodes but from.
func (c *city) gossip(a, from int, raw []byte) {
	nd := c.nodes[a]
	size := gossipSize(raw)
	for _, m := range c.groups[nd.group].nodes {
		if m == a || m == from || !c.up(a, m) {
			continue
		}
		nd.sent.Gossip += size
		if c.measuring {
			c.wire[whyGossip].Ops += size
		}
		if c.rng.IntN(100) < c.cfg.Loss {
			c.stats.Lost++
			continue
		}
		c.at(c.latency(a, m), &cityEvent{kind: evGossip, a: a, b: m, raw: raw})
	}
}

// gossipSize is the size of raw as gossip sends it: a protocol frame of
// one op (GossipSub's envelope is not counted).
func gossipSize(raw []byte) int64 {
	op, err := protocol.DecodeStoredOp(raw)
	if err != nil {
		panic(err)
	}
	f, err := protocol.EncodeFrame(op.GroupID(), []crdt.Op{op})
	if err != nil {
		panic(err)
	}
	return int64(len(f))
}

// deliver hands gossip to its receiver, which forwards it once and
// pushes it to its followers if it is new, and mends a gap it came past.
func (c *city) deliver(e *cityEvent) error {
	if !c.up(e.a, e.b) {
		c.stats.Lost++
		return nil
	}
	nd := c.nodes[e.b]
	v, err := nd.r.IngestOne(context.Background(), e.raw)
	if v == crdt.Reject {
		return fmt.Errorf("gossip from node %d to node %d rejected: %w", e.a, e.b, err)
	}
	c.stats.Gossip++
	if v != crdt.Accept {
		return nil
	}
	c.observe(e.b, e.a)
	c.gossip(e.b, e.a, e.raw)
	ref, err := protocol.PeekOp(e.raw)
	if err != nil {
		return err
	}
	c.pushFollowers(e.b, ref.Group)
	if ref.Seq > 1 {
		vv, err := nd.r.VersionVector(ref.Group)
		if err != nil {
			return err
		}
		if vv[ref.Author] < ref.Seq {
			c.at(cityGapWait, &cityEvent{kind: evGap, a: e.b, b: e.a, group: ref.Group, author: ref.Author, seq: ref.Seq})
		}
	}
	return nil
}

// pushFollowers schedules, within followDelay, a session with every
// linked peer that follows group (Host.pushFollowers).
func (c *city) pushFollowers(i int, group crdt.ID) {
	nd := c.nodes[i]
	if nd.pushing != nil {
		nd.pushing[group] = true
		return
	}
	if !slices.ContainsFunc(nd.peers, func(p int) bool { return c.up(i, p) && nd.follows[p][group] }) {
		return
	}
	nd.pushing = map[crdt.ID]bool{group: true}
	c.at(cityFollowDelay, &cityEvent{kind: evPush, a: i})
}

// spread schedules, within spreadDelay, a session with every linked peer
// that Shares one of groups (Host.spread).
func (c *city) spread(i, from int, groups []crdt.ID) {
	nd := c.nodes[i]
	if nd.spreading == nil {
		nd.spreading, nd.spreadBy = map[crdt.ID]bool{}, map[int]bool{}
		c.at(citySpreadDelay, &cityEvent{kind: evSpread, a: i})
	}
	nd.spreadBy[from] = true
	for _, g := range groups {
		nd.spreading[g] = true
	}
}

// partition splits the cities into two or three components, or (one
// time in three) takes a few nodes offline.
func (c *city) partition() {
	c.stats.Partitions++
	c.partitioned = true
	if c.rng.IntN(3) == 0 {
		for _, nd := range c.nodes {
			if c.rng.IntN(20) == 0 {
				nd.comp = -1 - nd.i
			}
		}
		c.logf("some nodes go offline")
		return
	}
	k := 2 + c.rng.IntN(2)
	comps := make([]int, c.cfg.Cities)
	for i := range comps {
		comps[i] = c.rng.IntN(k)
	}
	for _, nd := range c.nodes {
		nd.comp = comps[nd.city]
	}
	c.logf("cities split: %v", comps)
}

// heal brings every link up; those that were down connect again.
func (c *city) heal() {
	var back []cityLink
	for _, l := range c.links {
		if !c.up(l.a, l.b) {
			back = append(back, l)
		}
	}
	for _, nd := range c.nodes {
		nd.comp = 0
	}
	c.partitioned = false
	for _, l := range back {
		c.connect(l)
	}
	c.logf("healed: %d links back", len(back))
}

// session runs a catch-up session that a initiates with b, recording
// what each side wrote, and acts on its outcome as the Host does. It
// returns how many ops were new on either side.
func (c *city) session(a, b int, why cityWhy) (int, error) {
	na, nb := c.nodes[a], c.nodes[b]
	c1, c2 := net.Pipe()
	wa, wb := &recConn{Conn: c1}, &recConn{Conn: c2}
	var ra, rb result
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		ra.stats, ra.err = RunOptions(context.Background(), wa, na.r, nb.pub, true, Options{Followers: na.followed(b)})
		c1.Close()
	}()
	go func() {
		defer wg.Done()
		rb.stats, rb.err = RunOptions(context.Background(), wb, nb.r, na.pub, false, Options{Followers: nb.followed(a)})
		c2.Close()
	}()
	wg.Wait()
	c.stats.Sessions++
	c.logf("session %d->%d: %+v %v / %+v %v", a, b, ra.stats, ra.err, rb.stats, rb.err)
	for _, err := range []error{ra.err, rb.err} {
		if err != nil {
			return 0, fmt.Errorf("session %d->%d: %w", a, b, err)
		}
	}
	if c.measuring {
		c.wire[why].Sessions++
	}
	if err := c.account(na, nb, wa.buf, why); err != nil {
		return 0, err
	}
	if err := c.account(nb, na, wb.buf, why); err != nil {
		return 0, err
	}
	for _, x := range []struct {
		nd, peer *cityNode
		st       Stats
	}{{na, nb, ra.stats}, {nb, na, rb.stats}} {
		x.nd.follows[x.peer.i] = map[crdt.ID]bool{}
		for _, g := range x.st.Followers {
			x.nd.follows[x.peer.i][g] = true
		}
		for g, reason := range x.st.Refused {
			c.refusals[[2]int{x.nd.i, c.byID[g]}] = reason
		}
		if x.st.NewOps > 0 {
			c.spread(x.nd.i, x.peer.i, x.st.Fresh)
			c.observe(x.nd.i, x.peer.i)
		}
	}
	return ra.stats.NewOps + rb.stats.NewOps, nil
}

// followed returns the groups nd served node p as a follower in their
// last session (Options.Followers, as Host passes them).
func (nd *cityNode) followed(p int) []crdt.ID {
	return slices.SortedFunc(maps.Keys(nd.follows[p]), crdt.ID.Compare)
}

// recConn records what is written to it.
type recConn struct {
	net.Conn
	buf []byte
}

func (r *recConn) Write(p []byte) (int, error) {
	n, err := r.Conn.Write(p)
	r.buf = append(r.buf, p[:n]...)
	return n, err
}

// account splits what from wrote to to in a session into frames and
// counts their bytes by the group each names (Have, Want, Ops, Frame,
// Refused: [type, group bin32, ...]); frames that name none are
// overhead. It
// fails if a frame names a group that to does not replicate, or if a
// private field crosses in clear.
func (c *city) account(from, to *cityNode, b []byte, why cityWhy) error {
	if err := c.clear(b); err != nil {
		return fmt.Errorf("node %d to node %d: %w", from.i, to.i, err)
	}
	for len(b) > 0 {
		n, k := uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return fmt.Errorf("node %d to node %d: a cut frame", from.i, to.i)
		}
		body, size := b[k:k+int(n)], int64(k)+int64(n)
		b = b[k+int(n):]
		if c.measuring {
			if t := int(body[min(1, len(body)-1)]); len(body) >= 2 && t < len(c.types) {
				c.types[t].Frames++
				c.types[t].Bytes += size
			} else {
				c.types[0].Frames++
				c.types[0].Bytes += size
			}
			w := &c.wire[why]
			switch {
			case len(body) < 2:
				w.Other += size
			case body[1] == byte(protocol.MsgOps), body[1] == 7: // 7: Frame, ops as a protocol frame (issue 12)
				w.Ops += size
			case body[1] == byte(protocol.MsgHave) || body[1] == byte(protocol.MsgWant):
				w.Vectors += size
			default:
				w.Other += size
			}
		}
		if len(body) < 36 || body[0]&0xf0 != 0x90 || body[2] != 0xc4 || body[3] != 32 {
			from.sent.Overhead += size
			continue
		}
		g := crdt.ID(body[4:36])
		if !c.holds[to.i][g] {
			gi, known := c.byID[g]
			return fmt.Errorf("node %d (group %d) sent node %d (group %d) a frame of type %d naming group %d (known %v), which node %d neither belongs to nor follows",
				from.i, from.group, to.i, to.group, body[1], gi, known, to.i)
		}
		switch {
		case g == c.groups[from.group].id:
			from.sent.Member += size
		case c.holds[from.i][g]:
			from.sent.Follower += size
		default:
			from.sent.Overhead += size
		}
	}
	return nil
}

func uvarint(b []byte) (uint64, int) {
	var x uint64
	for i := 0; i < len(b) && i < 10; i++ {
		x |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return x, i + 1
		}
	}
	return 0, -1
}

// clear fails if b holds a private field in clear.
func (c *city) clear(b []byte) error {
	if strings.Contains(string(b), "sim-contact") || strings.Contains(string(b), "sim-location") {
		return fmt.Errorf("a private field in clear on the wire")
	}
	return nil
}

// observe marks the open posts that node i now holds, reached from node
// from (a transfer more than from's).
func (c *city) observe(i, from int) {
	for g := range c.reads[i] {
		for _, p := range slices.Clone(c.open[c.byID[g]]) {
			if _, ok := p.hops[i]; !ok && c.nodes[i].r.holds(p.id) {
				c.got(p, i, p.hops[from]+1)
			}
		}
	}
}

// got records that node i holds post p, hops transfers from its author.
func (c *city) got(p *cityPost, i, hops int) {
	p.hops[i] = hops
	p.rounds = max(p.rounds, hops)
	if len(p.hops) < p.need {
		return
	}
	p.done = c.now
	c.open[p.group] = slices.DeleteFunc(c.open[p.group], func(q *cityPost) bool { return q == p })
}
