package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
)

// groupUsage is the help of every --group flag.
const groupUsage = "the group: its name, ID or first 4+ ID digits (may be omitted when the node has one group)"

// The commands about this node's groups and its own name.
func groupCommands() []*command {
	list := func(name string) *command {
		return &command{name: name, args: "[--json]", summary: "list this node's groups with your role and short ID",
			example: "  mutual " + name + "\n  mutual post need --title Rice --group eastgate   # name a group by its name or ID digits",
			run:     cmdGroups}
	}
	return []*command{
		list("groups"),
		list("group"),
		{name: "name", args: "[NAME]", summary: "print this node's name, or set it (in the groups it is in too: their members see the new name after sync)",
			example: `  mutual name "Hall laptop"`, run: cmdName},
	}
}

type groupRef struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Role    string `json:"role"`
	Refused string `json:"refused,omitempty"`
}

type nodeOut struct {
	PeerID string     `json:"peer_id"`
	Name   string     `json:"name"`
	Groups []groupRef `json:"groups"`
}

func cmdGroups(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) > 0 {
		return usagef("usage: mutual groups [--json]")
	}
	return withClient(o, func(c *client) error {
		var n nodeOut
		if err := c.do(ctx, "GET", "/api/v1/node", nil, &n); err != nil {
			return err
		}
		if o.json {
			return printJSON(e.stdout, n.Groups)
		}
		if len(n.Groups) == 0 {
			fmt.Fprintln(e.stderr, "no group yet: create one with `mutual group create NAME`, or join one with `mutual join CODE`")
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tROLE\tNAME")
		var refused []groupRef
		for _, g := range n.Groups {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", short(g.ID), g.Role, oneLine(g.Name))
			if g.Refused != "" {
				refused = append(refused, g)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, g := range refused {
			fmt.Fprintf(e.stdout, "%s: refused: %s\n", short(g.ID), oneLine(g.Refused))
		}
		return nil
	})
}

func cmdName(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) > 1 {
		return usagef(`usage: mutual name [NAME] (quote a name with spaces: mutual name "Hall laptop")`)
	}
	return withClient(o, func(c *client) error {
		var raw json.RawMessage
		var err error
		if len(args) == 0 {
			err = c.do(ctx, "GET", "/api/v1/node", nil, &raw)
		} else {
			err = c.do(ctx, "PATCH", "/api/v1/node", map[string]string{"name": args[0]}, &raw)
		}
		if err != nil {
			return err
		}
		var n nodeOut
		if err := json.Unmarshal(raw, &n); err != nil {
			return err
		}
		if o.json {
			return printJSON(e.stdout, map[string]string{"peer_id": n.PeerID, "name": n.Name})
		}
		fmt.Fprintln(e.stdout, oneLine(n.Name))
		return nil
	})
}
