package main

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// The commands of following (docs/design.md, "Following"): follow codes,
// follow and unfollow, and a group's federation settings.
func followCommands() []*command {
	return []*command{
		{name: "group share", args: "[--group G] [--json]", summary: "print a follow code: other groups' nodes follow your board read-only with it (no contacts, no writing)",
			example: "  mutual group share --group eastgate",
			flags:   func(fs *pflag.FlagSet, o *opts) { fs.StringVar(&o.group, "group", "", groupUsage) },
			run:     cmdGroupShare},
		{name: "follow", args: "CODE-OR-GROUP-ID", summary: "follow another group's board read-only, by its follow code (mutual group share) or its full ID",
			example: "  mutual follow mutualf1-k8QX...", run: cmdFollow},
		{name: "unfollow", args: "GROUP", summary: "stop following a group and forget its board (a member leaves instead: mutual leave)",
			example: "  mutual unfollow harbour", run: cmdUnfollow},
		{name: "group federation", args: "[--group G] [--policy open|allies] [--ally G2]... [--block G3]... [--json]",
			summary: "admin only: who may follow the group (open: anyone with its code; allies: members of the groups listed) and whose responses it refuses",
			example: "  mutual group federation --policy allies --ally 5e1f...   # only Harbour's members may follow\n  mutual group federation                                  # show the settings",
			flags: func(fs *pflag.FlagSet, o *opts) {
				fs.StringVar(&o.group, "group", "", groupUsage)
				fs.StringVar(&o.policy, "policy", "", "open (anyone with the group's code or ID) or allies (members of the groups listed with --ally)")
				fs.StringArrayVar(&o.allies, "ally", nil, "full ID of a group whose members may follow (repeatable; replaces the list)")
				fs.StringArrayVar(&o.blocked, "block", nil, "full ID of a group whose responses are refused (repeatable; replaces the list)")
			},
			run: cmdGroupFederation},
	}
}

func init() { commands = append(commands, followCommands()...) }

func cmdGroupShare(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) > 0 {
		return usagef("group share takes no arguments (use --group)")
	}
	return withClient(o, func(c *client) error {
		g, err := groupID(ctx, c, o.group)
		if err != nil {
			return err
		}
		var out struct {
			Code string `json:"code"`
		}
		if err := c.do(ctx, "GET", "/api/v1/groups/"+g+"/share", nil, &out); err != nil {
			return err
		}
		if o.json {
			return printJSON(e.stdout, out)
		}
		fmt.Fprintln(e.stdout, out.Code)
		fmt.Fprintln(e.stderr, "other groups' nodes follow this board read-only with `mutual follow CODE` (no contacts, no writing)")
		return nil
	})
}

func cmdFollow(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) != 1 {
		return usagef("usage: mutual follow CODE-OR-GROUP-ID")
	}
	return withClient(o, func(c *client) error {
		var g struct {
			ID        string `json:"id"`
			Name      string `json:"name"`
			Role      string `json:"role"`
			Holders   int    `json:"holders"`
			Bootstrap int    `json:"bootstrap"`
			Dialing   bool   `json:"dialing"`
		}
		if err := c.do(ctx, "POST", "/api/v1/follow", map[string]string{"code": args[0]}, &g); err != nil {
			return err
		}
		if o.json {
			return printJSON(e.stdout, g)
		}
		fmt.Fprintln(e.stdout, g.ID)
		if g.Role != "follower" {
			fmt.Fprintf(e.stderr, "this node is already a member of %q\n", oneLine(g.Name))
			return nil
		}
		fmt.Fprintln(e.stderr, followSaid(oneLine(g.Name), g.Holders, g.Bootstrap, g.Dialing))
		return nil
	})
}

// followSaid tells what `mutual follow` did: the group followed, and
// whom the node dials for its board, now (a running node) or at the next
// `mutual serve`.
func followSaid(name string, holders, bootstrap int, dialing bool) string {
	if name == "" {
		name = "the group"
	} else {
		name = strconv.Quote(name)
	}
	var whom []string
	if holders > 0 {
		whom = append(whom, plural(holders, "node that holds it", "nodes that hold it"))
	}
	if bootstrap > 0 {
		whom = append(whom, plural(bootstrap, "bootstrap peer", "bootstrap peers"))
	}
	switch {
	case len(whom) == 0 && dialing:
		return "following " + name + " read-only; no address came with it: the board arrives once the DHT finds a node that holds it (the node joins the DHT through --bootstrap, --peer or mDNS)"
	case len(whom) == 0:
		return "following " + name + " read-only; no address came with it: the board arrives once `mutual serve` finds a node that holds it through the DHT (joined through --bootstrap, --peer or mDNS)"
	case dialing:
		return "following " + name + " read-only; dialling the " + strings.Join(whom, " and ") + " the code names (kept: every start dials them)"
	}
	return "following " + name + " read-only; no node is running here: the next `mutual serve` dials the " + strings.Join(whom, " and ") + " the code names, and the board arrives from them"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func cmdUnfollow(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) != 1 {
		return usagef("usage: mutual unfollow GROUP")
	}
	return withClient(o, func(c *client) error {
		g, err := groupID(ctx, c, args[0])
		if err != nil {
			return err
		}
		var out struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		}
		if err := c.do(ctx, "DELETE", "/api/v1/follow/"+url.PathEscape(g), nil, &out); err != nil {
			return err
		}
		if o.json {
			return printJSON(e.stdout, out)
		}
		fmt.Fprintf(e.stderr, "no longer following %q; its board is forgotten here\n", out.Name)
		return nil
	})
}

type federationOut struct {
	Policy  string   `json:"policy"`
	Allies  []string `json:"allies"`
	Blocked []string `json:"blocked"`
}

func cmdGroupFederation(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) > 0 {
		return usagef("group federation takes no arguments (use --group, --policy, --ally, --block)")
	}
	return withClient(o, func(c *client) error {
		g, err := groupID(ctx, c, o.group)
		if err != nil {
			return err
		}
		var out federationOut
		body := map[string]any{}
		if o.set("policy") {
			body["policy"] = o.policy
		}
		if o.set("ally") {
			body["allies"] = o.allies
		}
		if o.set("block") {
			body["blocked"] = o.blocked
		}
		if len(body) == 0 {
			var gr struct {
				Federation federationOut `json:"federation"`
			}
			if err := c.do(ctx, "GET", "/api/v1/groups/"+g, nil, &gr); err != nil {
				return err
			}
			out = gr.Federation
		} else if err := c.do(ctx, "POST", "/api/v1/groups/"+g+"/federation", body, &out); err != nil {
			return err
		}
		if o.json {
			return printJSON(e.stdout, out)
		}
		fmt.Fprintf(e.stdout, "policy:  %s\n", out.Policy)
		fmt.Fprintf(e.stdout, "allies:  %s\n", list(out.Allies))
		fmt.Fprintf(e.stdout, "blocked: %s\n", list(out.Blocked))
		return nil
	})
}

func list(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, " ")
}
