package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"
)

// The commands about other groups' responses (help across boards):
// admins block a group whose members' responses should count nowhere
// in theirs, and let them count again.
func federationCommands() []*command {
	flags := func(fs *pflag.FlagSet, o *opts) { fs.StringVar(&o.group, "group", "", groupUsage) }
	return []*command{
		{name: "group block", args: "OTHER-GROUP [--group G]", summary: "(admin only) stop another group's members' responses from counting in your group",
			example: "  mutual group block riverside\n  mutual group block 5e2f0c7a... --group harbour", flags: flags, run: cmdBlock(true)},
		{name: "group unblock", args: "OTHER-GROUP [--group G]", summary: "(admin only) let a blocked group's members' responses count again",
			example: "  mutual group unblock riverside", flags: flags, run: cmdBlock(false)},
	}
}

func cmdBlock(blocked bool) func(ctx context.Context, e *env, o *opts, args []string) error {
	verb := map[bool]string{true: "block", false: "unblock"}[blocked]
	return func(ctx context.Context, e *env, o *opts, args []string) error {
		if len(args) != 1 {
			return usagef("usage: mutual group %s OTHER-GROUP [--group G]", verb)
		}
		return withClient(o, func(c *client) error {
			g, err := groupID(ctx, c, o.group)
			if err != nil {
				return err
			}
			var gr struct {
				Name    string `json:"name"`
				Blocked []struct {
					ID   string `json:"id"`
					Name string `json:"name"`
				} `json:"blocked"`
			}
			body := map[string]any{"group": args[0], "blocked": blocked}
			if printed, err := c.record(ctx, e, o, "POST", "/api/v1/groups/"+g+"/blocked", body, &gr); printed || err != nil {
				return err
			}
			if len(gr.Blocked) == 0 {
				fmt.Fprintf(e.stdout, "%s blocks no group's responses\n", oneLine(gr.Name))
				return nil
			}
			fmt.Fprintf(e.stdout, "%s blocks the responses of:\n", oneLine(gr.Name))
			for _, b := range gr.Blocked {
				name := oneLine(b.Name)
				if name == "" {
					name = "(a group this node does not hold)"
				}
				fmt.Fprintf(e.stdout, "  %s  %s\n", short(b.ID), name)
			}
			return nil
		})
	}
}
