package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/skip2/go-qrcode"
	"github.com/spf13/pflag"

	"github.com/mutual-aid/mutual/node"
	"github.com/mutual-aid/mutual/node/store"
)

func init() {
	commands = []*command{
		{name: "init", args: "[--name NAME]", summary: "create this node's identity; prints its peer ID",
			example: "  mutual init --name laptop-at-the-hall",
			flags: func(fs *pflag.FlagSet, o *opts) {
				fs.StringVar(&o.name, "name", "", "this node's display name (default: the host name)")
			},
			run: cmdInit},
		{name: "group create", args: "NAME", summary: "create a group with you as its first admin; prints its ID",
			example: `  mutual group create "Eastgate Mutual Aid"`, run: cmdGroupCreate},
		{name: "invite", args: "[--group G] [--role member|admin] [--expires 72h] [--uses N]", summary: "print an invite code (and its QR code) for a newcomer",
			example: "  mutual invite --role member --expires 24h --uses 1   # a personal invite\n  mutual invite --expires 3h                           # the QR on the wall of a meeting",
			flags: func(fs *pflag.FlagSet, o *opts) {
				fs.StringVar(&o.group, "group", "", groupUsage)
				fs.StringVar(&o.role, "role", "member", "member or admin")
				fs.StringVar(&o.expires, "expires", "72h", "how long the code stays valid")
				fs.StringVar(&o.uses, "uses", "0", "how many newcomers may join with it (0: any number until it expires)")
			},
			run: cmdInvite},
		{name: "join", args: "CODE", summary: "join a group with an invite code (works offline; the board arrives at the first sync)",
			example: "  mutual join mutual1-kwXE...", run: cmdJoin},
		{name: "serve", args: "[--listen MULTIADDR]... [--http HOST:PORT | --lan] [--peer MULTIADDR]... [--bootstrap MULTIADDR]... [--relay] [--public-dht] [--no-dht] [--no-mdns] [--restored-ok]", summary: "run the node: sync with peers, serve the API and the web page",
			example: "  mutual serve                          # web page on http://127.0.0.1:7777\n  mutual serve --lan                    # meeting mode: phones in the room join with a link\n  mutual serve --lan --http :27911      # the same on port 27911",
			flags: func(fs *pflag.FlagSet, o *opts) {
				fs.StringArrayVar(&o.listens, "listen", nil, "libp2p multiaddr to listen on (repeatable; default TCP and QUIC on port 4001)")
				fs.StringVar(&o.httpAddr, "http", "127.0.0.1:7777", "HTTP address of the API and web page")
				fs.StringArrayVar(&o.peers, "peer", nil, "multiaddr of a peer to stay connected to (repeatable)")
				fs.BoolVar(&o.noMDNS, "no-mdns", false, "do not look for peers on the local network")
				fs.StringArrayVar(&o.bootstrap, "bootstrap", nil, "multiaddr of a node to join the DHT through, to find the groups' other nodes (repeatable)")
				fs.BoolVar(&o.relay, "relay", false, "offer relay service to nodes behind NAT (for a node with a public address or forwarded port)")
				fs.BoolVar(&o.publicDHT, "public-dht", false, "also meet the groups' other nodes through the public IPFS DHT")
				fs.BoolVar(&o.noDHT, "no-dht", false, "do not use the DHT to find the groups' other nodes")
				fs.BoolVar(&o.lan, "lan", false, "meeting mode: serve the page to the room on every network interface, on --http's port (7777 unless given)")
				fs.BoolVar(&o.restoredOK, "restored-ok", false, "sign at once although the data dir looks restored from a copy; only if no other node can have this node's changes made since the copy (else they fork)")
			},
			run: cmdServe},
		{name: "post", args: "need|offer --title T [--details D] [--category C] [--location L] [--quantity N] [--urgency low|normal|high] [--expires RFC3339] [--contact X] [--group G]",
			summary: "add a need or an offer to the board",
			example: `  mutual post need --title "Winter coats, size L" --quantity 4 --category clothing --urgency high`,
			flags: func(fs *pflag.FlagSet, o *opts) {
				postFieldFlags(fs, o)
				fs.StringVar(&o.group, "group", "", groupUsage)
			},
			run: cmdPost},
		{name: "board", args: "[--kind need|offer] [--status S] [--category C] [--group G] [--csv]", summary: "list the board's posts",
			example: "  mutual board --kind need --status open --category food",
			flags: func(fs *pflag.FlagSet, o *opts) {
				fs.StringVar(&o.kind, "kind", "", "need or offer")
				fs.StringVar(&o.status, "status", "", "open (the open board: not expired), claimed, fulfilled or withdrawn")
				fs.StringVar(&o.category, "category", "", "category")
				fs.StringVar(&o.q, "q", "", "text to search for")
				fs.StringVar(&o.group, "group", "", groupUsage)
				fs.BoolVar(&o.csv, "csv", false, "print the board as a spreadsheet (CSV), with the same filters")
			},
			run: cmdBoard},
		{name: "status", args: "POST open|claimed|fulfilled|withdrawn", summary: "change a post's status",
			example: "  mutual status 3f2a fulfilled", run: cmdStatus, complete: completePosts},
		{name: "peers", args: "[--json]", summary: "list the peers this node knows, when it last synced with each, and a catch-up under way",
			example: "  mutual peers            # with `mutual serve` running", run: cmdPeers},
		{name: "summary", args: "[--group G]... [--out FILE]", summary: "print what this node holds, as a short code (and its QR code), for the node that brings it a bundle",
			example: "  mutual summary                         # show the code to the other node's laptop\n  mutual summary --out /media/usb/hall.summary",
			flags: func(fs *pflag.FlagSet, o *opts) {
				fs.StringArrayVar(&o.groups, "group", nil, "group name or ID (repeatable; default: every group)")
				fs.StringVar(&o.out, "out", "", "write the code to this file instead of printing it")
			},
			run: cmdSummary},
		{name: "export", args: "FILE [--group G] [--since SUMMARY|FILE|NODE]", summary: "write a bundle of this node's signed ops (all groups, or one) for a USB stick; with --since, only what the other node lacks",
			example: "  mutual export /media/usb/eastgate.mutual --group eastgate\n  mutual export /media/usb/hall.mutual --since /media/usb/hall.summary   # only what the hall's node lacks",
			flags: func(fs *pflag.FlagSet, o *opts) {
				fs.StringVar(&o.group, "group", "", "group name or ID (default: every group, or with --since the groups the summary names)")
				fs.StringVar(&o.since, "since", "", "the other node's summary code, a file with it or with its receipt, or the key (4+ hex digits) of a node whose receipt this node read")
			},
			run: cmdExport},
		{name: "import", args: "FILE [--receipt OUT]", summary: "read a bundle: every op is checked as if it came from the network; reports new / already had / refused, per group",
			example: "  mutual import /media/usb/eastgate.mutual --receipt /media/usb/eastgate.receipt",
			flags: func(fs *pflag.FlagSet, o *opts) {
				fs.StringVar(&o.receipt, "receipt", "", "write a signed receipt of what arrived here, for the node that made the bundle")
			},
			run: cmdImport},
		{name: "receipt", args: "FILE", summary: "read the receipt of a bundle this node made: what arrived; the next export --since that node starts from it",
			example: "  mutual receipt /media/usb/eastgate.receipt", run: cmdReceipt},
		{name: "check", args: "[--group G]", summary: "verify the store read-only: every file byte for byte, every op, and the board recomputed from the ops",
			example: "  mutual check            # exit status 0: nothing is damaged",
			flags: func(fs *pflag.FlagSet, o *opts) {
				fs.StringVar(&o.group, "group", "", "group name or ID (default: every group)")
			},
			run: cmdCheck},
		{name: "repair", args: "", summary: "rebuild a damaged store from every intact op (the damaged files are kept); peers resend the rest",
			example: "  mutual repair           # with `mutual serve` stopped", run: cmdRepair},
		{name: "import-csv", args: "FILE [--group G] [--kind need|offer] [--dry-run]", summary: "import needs and offers from a spreadsheet saved as CSV (re-imports add nothing and finish rows an interrupted import left half done)",
			example: "  mutual import-csv requests.csv --dry-run   # show how the columns are read, change nothing\n  mutual import-csv requests.csv",
			flags: func(fs *pflag.FlagSet, o *opts) {
				fs.StringVar(&o.group, "group", "", groupUsage)
				fs.StringVar(&o.kind, "kind", "", "need or offer: every row's kind, for a sheet with no column that says")
				fs.BoolVar(&o.dryRun, "dry-run", false, "print the column mapping and the first rows as they would be imported; change nothing")
			},
			run: cmdImportCSV},
		{name: "digest", args: "[--group G] [--json]", summary: "print the open needs and offers as short text to paste into a chat (no contact details)",
			example: "  mutual digest | xclip -selection clipboard   # then paste it into the group chat",
			flags:   func(fs *pflag.FlagSet, o *opts) { fs.StringVar(&o.group, "group", "", groupUsage) },
			run:     cmdDigest},
	}
	commands = append(commands, postCommands()...)
	commands = append(commands, groupCommands()...)
	commands = append(commands, membershipCommands()...)
	commands = append(commands, privateCommands()...)
	commands = append(commands, federationCommands()...)
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func cmdInit(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) > 0 {
		return usagef("init takes no arguments")
	}
	name := o.name
	if _, err := node.LoadIdentity(o.data); err == nil && name != "" {
		// Renaming an existing node: through the API, which renames it
		// in the groups it is in too (a Rename op in each).
		if err := withClient(o, func(c *client) error {
			return c.do(ctx, "PATCH", "/api/v1/node", map[string]string{"name": o.name}, nil)
		}); err != nil {
			return err
		}
		name = ""
	}
	id, created, err := node.Init(o.data, name)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, map[string]any{"peer_id": id.PeerID.String(), "name": id.Name, "data": o.data, "created": created})
	}
	fmt.Fprintln(e.stdout, id.PeerID)
	if created {
		fmt.Fprintf(e.stderr, "created node %q in %s\nnext: `mutual group create NAME` or `mutual join CODE`\n", id.Name, o.data)
	}
	return nil
}

func withClient(o *opts, fn func(c *client) error) error {
	c, err := openClient(o.data)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(c)
}

func cmdGroupCreate(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
		return usagef(`usage: mutual group create NAME`)
	}
	return withClient(o, func(c *client) error {
		var g struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		}
		if err := c.do(ctx, "POST", "/api/v1/groups", map[string]string{"name": args[0]}, &g); err != nil {
			return err
		}
		if o.json {
			return printJSON(e.stdout, g)
		}
		fmt.Fprintln(e.stdout, g.ID)
		fmt.Fprintf(e.stderr, "created group %q; invite others with `mutual invite`\n", g.Name)
		return nil
	})
}

func cmdInvite(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) > 0 {
		return usagef("invite takes no arguments (use --group, --role, --expires)")
	}
	return withClient(o, func(c *client) error {
		var out struct {
			Code string `json:"code"`
		}
		uses, err := strconv.ParseUint(o.uses, 10, 32)
		if err != nil {
			return fmt.Errorf("--uses must be a whole number, not %q", o.uses)
		}
		body := map[string]any{"role": strings.ToLower(strings.TrimSpace(o.role)), "expires": o.expires, "uses": uses}
		if o.group != "" {
			body["group"] = o.group
		}
		if err := c.do(ctx, "POST", "/api/v1/invites", body, &out); err != nil {
			return err
		}
		if o.json {
			return printJSON(e.stdout, out)
		}
		fmt.Fprintln(e.stdout, out.Code)
		if q, err := qrcode.New(out.Code, qrcode.Low); err == nil {
			fmt.Fprint(e.stdout, q.ToSmallString(false))
		}
		n := "any number of newcomers"
		if uses == 1 {
			n = "one newcomer"
		} else if uses > 1 {
			n = fmt.Sprintf("%d newcomers", uses)
		}
		fmt.Fprintf(e.stderr, "valid for %s, for %s; the newcomer runs `mutual join CODE`; keep it as private as a house key\n", o.expires, n)
		return nil
	})
}

func cmdJoin(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) != 1 {
		return usagef("usage: mutual join CODE")
	}
	return withClient(o, func(c *client) error {
		var g struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		}
		if err := c.do(ctx, "POST", "/api/v1/join", map[string]string{"code": args[0]}, &g); err != nil {
			return err
		}
		if o.json {
			return printJSON(e.stdout, g)
		}
		fmt.Fprintln(e.stdout, g.ID)
		fmt.Fprintf(e.stderr, "joined %q; the board arrives when this node first syncs with a member (run `mutual serve`)\n", g.Name)
		return nil
	})
}

func cmdServe(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) > 0 {
		return usagef("serve takes no arguments")
	}
	if o.lan {
		// Meeting mode: every interface, on --http's port.
		host, port, err := net.SplitHostPort(o.httpAddr)
		if err != nil {
			return fmt.Errorf("--http %q is not HOST:PORT", o.httpAddr)
		}
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			host = "0.0.0.0"
		}
		o.httpAddr = net.JoinHostPort(host, port)
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	_, created, err := node.Init(o.data, "")
	if err != nil {
		return err
	}
	return node.Serve(ctx, node.ServeConfig{
		Dir: o.data, Listen: o.listens, HTTP: o.httpAddr, Peers: o.peers, NoMDNS: o.noMDNS, RestoredOK: o.restoredOK, Logger: log,
		Bootstrap: o.bootstrap, Relay: o.relay, PublicDHT: o.publicDHT, NoDHT: o.noDHT,
		Ready: func(addr, joinURL string, n *node.Node) {
			id := n.Local.ID
			fmt.Fprintf(e.stdout, "mutual node %q (%s)\n", n.Local.Name(), id.PeerID)
			if created {
				fmt.Fprintf(e.stdout, "created a new identity and store in %s\n", o.data)
			}
			printWebAddrs(e.stdout, addr)
			for _, a := range n.Host.Addrs() {
				fmt.Fprintf(e.stdout, "peer address: %s\n", a)
			}
			if joinURL != "" {
				fmt.Fprintf(e.stdout, "\nmeeting mode: phones in the room join with this link (or scan it):\n%s\n", joinURL)
				if q, err := qrcode.New(joinURL, qrcode.Low); err == nil {
					fmt.Fprint(e.stdout, q.ToSmallString(false))
				}
			}
			if len(n.Local.Replica.Groups()) == 0 {
				fmt.Fprintf(e.stdout, "\nno group yet: open the web page to start or join one, or use `mutual group create NAME` or `mutual join CODE`\n")
			}
		},
	})
}

// post is the API's post, as the CLI prints it.
type post struct {
	ID              string `json:"id"`
	Kind            string `json:"kind"`
	Title           string `json:"title"`
	Category        string `json:"category"`
	Location        string `json:"location"`
	Quantity        uint32 `json:"quantity"`
	Urgency         string `json:"urgency"`
	Expires         string `json:"expires"`
	Status          string `json:"status"`
	Expired         bool   `json:"expired"`
	OverClaimed     bool   `json:"over_claimed"`
	ClaimedQuantity uint64 `json:"claimed_quantity"`
	AuthorName      string `json:"author_name"`
}

func cmdPost(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) != 1 {
		return usagef("usage: mutual post need|offer --title T [...]")
	}
	kind := strings.ToLower(strings.TrimSpace(args[0]))
	if kind != "need" && kind != "offer" {
		return fmt.Errorf("%q is not need or offer (usage: mutual post need|offer --title T [...])", args[0])
	}
	body, err := postFieldValues(o, true)
	if err != nil {
		return err
	}
	body["kind"] = kind
	body["title"] = o.title
	if o.group != "" {
		body["group"] = o.group
	}
	return withClient(o, func(c *client) error {
		var p post
		if printed, err := c.record(ctx, e, o, "POST", "/api/v1/posts", body, &p); printed || err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, p.ID)
		return nil
	})
}

func cmdBoard(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) > 0 {
		return usagef("board takes no arguments (use --kind, --status, --category)")
	}
	v := url.Values{}
	o.kind, o.status = strings.ToLower(o.kind), strings.ToLower(o.status)
	for k, x := range map[string]string{"kind": o.kind, "status": o.status, "category": o.category, "group": o.group, "q": o.q} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return withClient(o, func(c *client) error {
		if o.csv {
			var b []byte
			if err := c.doRaw(ctx, "GET", "/api/v1/posts.csv?"+v.Encode(), "", nil, &b); err != nil {
				return err
			}
			_, err := e.stdout.Write(b)
			return err
		}
		var ps []post
		if printed, err := c.record(ctx, e, o, "GET", "/api/v1/posts?"+v.Encode(), nil, &ps); printed || err != nil {
			return err
		}
		if len(ps) == 0 {
			fmt.Fprintln(e.stderr, "no posts match")
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKIND\tSTATUS\tURGENCY\tQTY\tCATEGORY\tTITLE")
		for _, p := range ps {
			st := p.Status
			if p.Expired {
				st += " (expired)"
			}
			if p.OverClaimed {
				st += " (over-claimed)"
			}
			qty := ""
			if p.Quantity > 0 {
				qty = fmt.Sprint(p.Quantity)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", short(p.ID), p.Kind, st, p.Urgency, qty, oneLine(p.Category), oneLine(p.Title))
		}
		return tw.Flush()
	})
}

func cmdStatus(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) != 2 {
		return usagef("usage: mutual status POST open|claimed|fulfilled|withdrawn")
	}
	return withClient(o, func(c *client) error {
		id, err := resolvePostID(ctx, c, args[0])
		if err != nil {
			return err
		}
		var p post
		if printed, err := c.record(ctx, e, o, "POST", "/api/v1/posts/"+id+"/status", map[string]string{"status": strings.ToLower(strings.TrimSpace(args[1]))}, &p); printed || err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s %s\n", p.ID, p.Status)
		return nil
	})
}

// peerOut is a peer as GET /api/v1/peers gives it.
type peerOut struct {
	PeerID     string   `json:"peer_id"`
	Name       string   `json:"name"`
	Connected  bool     `json:"connected"`
	Via        string   `json:"via"`
	LastSynced string   `json:"last_synced"`
	Groups     []string `json:"groups"`
	// Syncing is a catch-up under way with the peer: ops done of total.
	Syncing *struct {
		Done  int64 `json:"done"`
		Total int64 `json:"total"`
	} `json:"syncing"`
}

func cmdPeers(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) > 0 {
		return usagef("peers takes no arguments")
	}
	return withClient(o, func(c *client) error {
		var ps []peerOut
		if printed, err := c.record(ctx, e, o, "GET", "/api/v1/peers", nil, &ps); printed || err != nil {
			return err
		}
		if len(ps) == 0 {
			fmt.Fprintln(e.stderr, "no peers yet (is `mutual serve` running?)")
			return nil
		}
		printPeers(e.stdout, ps)
		return nil
	})
}

func printPeers(w io.Writer, ps []peerOut) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tNAME\tCONNECTED\tREACHED\tLAST SYNCED")
	for _, p := range ps {
		synced := ago(p.LastSynced)
		if s := p.Syncing; s != nil {
			synced = fmt.Sprintf("syncing %d of %d", s.Done, s.Total)
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\n", p.PeerID, oneLine(p.Name), p.Connected, reached(p.Via), synced)
	}
	tw.Flush()
}

// reached says how a peer is reached, as `mutual peers` prints it.
func reached(via string) string {
	switch via {
	case "":
		return "-"
	case "lan":
		return "LAN"
	}
	return via
}

func ago(ts string) string {
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil || t.IsZero() {
		return "never"
	}
	d := time.Since(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	}
	return t.Local().Format("2 Jan 15:04")
}

func cmdCheck(ctx context.Context, e *env, o *opts, args []string) error {
	if !store.Locked(node.StoreDir(o.data)) {
		// No node runs: read the files before Badger does (it panics on
		// some damaged records).
		files, err := store.CheckFiles(node.StoreDir(o.data))
		if err != nil {
			return err
		}
		if damaged(files) {
			if o.json {
				printJSON(e.stdout, map[string]any{"ok": false, "files": files, "groups": []any{}})
			} else {
				printFileProblems(e.stdout, files)
			}
			return errDamaged
		}
	}
	c, err := openCheckClient(o.data)
	if err != nil {
		return err
	}
	defer c.Close()
	var res struct {
		OK     bool                `json:"ok"`
		Files  []store.FileProblem `json:"files"`
		Groups []struct {
			Group    string   `json:"group"`
			Name     string   `json:"name"`
			OK       bool     `json:"ok"`
			Problems []string `json:"problems"`
			Forks    []struct {
				Author     string `json:"author"`
				AuthorName string `json:"author_name"`
				Seq        uint64 `json:"seq"`
			} `json:"forks"`
		} `json:"groups"`
	}
	var raw []byte
	if err := c.do(ctx, "GET", "/api/v1/check", nil, &raw); err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return err
	}
	if o.json {
		printJSON(e.stdout, json.RawMessage(raw))
	} else {
		printFileProblems(e.stdout, res.Files)
		for _, g := range res.Groups {
			if o.group != "" && !strings.HasPrefix(g.Group, o.group) && g.Name != o.group {
				continue
			}
			verdict := "ok"
			if !g.OK {
				verdict = "DAMAGED"
			}
			fmt.Fprintf(e.stdout, "%s %s %s\n", g.Group[:12], g.Name, verdict)
			for _, p := range g.Problems {
				fmt.Fprintf(e.stdout, "  %s\n", p)
			}
			for _, f := range g.Forks {
				fmt.Fprintf(e.stdout, "  fork: %s (%s) signed two different ops at seq %d — is its identity copied to another machine?\n", f.AuthorName, f.Author, f.Seq)
			}
		}
	}
	if !res.OK {
		return errDamaged
	}
	return nil
}

var errDamaged = errors.New("the store is damaged: stop the node and run `mutual repair` (it keeps the damaged files and rebuilds from every intact op)")

func damaged(files []store.FileProblem) bool {
	for _, f := range files {
		if !f.Unfinished {
			return true
		}
	}
	return false
}

func printFileProblems(w io.Writer, files []store.FileProblem) {
	for _, f := range files {
		if f.Unfinished {
			fmt.Fprintf(w, "note: %s %s; it is dropped at the next start (its bytes kept)\n", f.File, f.Detail)
			continue
		}
		fmt.Fprintf(w, "DAMAGED %s: %s\n", f.File, f.Detail)
	}
}

func cmdRepair(ctx context.Context, e *env, o *opts, args []string) error {
	rep, err := node.Repair(ctx, o.data, quietLogger())
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, rep)
	}
	fmt.Fprintf(e.stdout, "the damaged store is kept in %s\n", rep.Kept)
	printFileProblems(e.stdout, rep.Damage)
	fmt.Fprintf(e.stdout, "found %d intact ops: %d restored to the board, %d waiting (authors not yet known, or clocks ahead), %d refused\n",
		rep.Found, rep.Restored, rep.Waiting, rep.Refused)
	if rep.Invalid > 0 {
		fmt.Fprintf(e.stdout, "%d damaged op records could not be read: peers send them again at the next sync\n", rep.Invalid)
	}
	for _, g := range rep.Groups {
		fmt.Fprintf(e.stdout, "  %s %s: %d ops\n", g.ID[:12], g.Name, g.Ops)
	}
	if len(rep.Damage) > 0 || rep.Invalid > 0 {
		fmt.Fprintln(e.stdout, "what was lost comes back from the group's other nodes: start `mutual serve` where it can reach them")
	}
	return nil
}
