package main

import (
	"context"
	"fmt"
	"github.com/spf13/pflag"
	"strconv"
)

// The commands about private fields (contact, exact location): erasing a
// post's now, and the group's retention period after which every
// member's node erases those of fulfilled and withdrawn posts.
func privateCommands() []*command {
	return []*command{
		{name: "erase", args: "POST", summary: "erase a post's private fields (contact, location) on every member's node now; the post stays",
			example: "  mutual erase 3f2a", run: cmdErase, complete: completePosts},
		{name: "retention", args: "[DAYS] [--group G]", summary: "show, or (admin only) set, how many days a fulfilled or withdrawn post keeps its private fields",
			example: "  mutual retention 7      # member nodes erase them a week after a post is done",
			flags: func(fs *pflag.FlagSet, o *opts) {
				fs.StringVar(&o.group, "group", "", groupUsage)
			},
			run: cmdRetention},
	}
}

func cmdErase(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) != 1 {
		return usagef("usage: mutual erase POST")
	}
	return withClient(o, func(c *client) error {
		id, err := resolvePostID(ctx, c, args[0])
		if err != nil {
			return err
		}
		var p post
		if printed, err := c.record(ctx, e, o, "POST", "/api/v1/posts/"+id+"/erase", map[string]any{}, &p); printed || err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: contact and location erased here; every member's node erases them when it gets this\n", p.ID)
		return nil
	})
}

func cmdRetention(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) > 1 {
		return usagef("usage: mutual retention [DAYS] [--group G]")
	}
	return withClient(o, func(c *client) error {
		g, err := groupID(ctx, c, o.group)
		if err != nil {
			return err
		}
		var gr struct {
			RetentionDays float64 `json:"retention_days"`
		}
		if len(args) == 0 {
			if printed, err := c.record(ctx, e, o, "GET", "/api/v1/groups/"+g, nil, &gr); printed || err != nil {
				return err
			}
		} else {
			days, err := strconv.ParseFloat(args[0], 64)
			if err != nil || days <= 0 || days > 3650 {
				return fmt.Errorf("DAYS: a number of days, more than 0 and at most 3650, not %q", args[0])
			}
			if printed, err := c.record(ctx, e, o, "POST", "/api/v1/groups/"+g+"/retention", map[string]any{"days": days}, &gr); printed || err != nil {
				return err
			}
		}
		fmt.Fprintf(e.stdout, "fulfilled and withdrawn posts keep their contact and location for %s days\n", strconv.FormatFloat(gr.RetentionDays, 'f', -1, 64))
		return nil
	})
}
