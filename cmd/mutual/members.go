package main

import (
	"context"
	"fmt"
	"github.com/spf13/pflag"
	"net/url"
	"text/tabwriter"
)

// The membership commands: members, member remove|promote|demote, leave,
// invites, invite revoke.
func membershipCommands() []*command {
	groupFlag := func(fs *pflag.FlagSet, o *opts) {
		fs.StringVar(&o.group, "group", "", groupUsage)
	}
	member := func(verb, summary string) *command {
		return &command{name: "member " + verb, args: "MEMBER [--group G]", summary: summary,
			example: "  mutual member " + verb + " Sam        # a unique name, or a key (or its first characters)",
			flags:   groupFlag,
			run: func(ctx context.Context, e *env, o *opts, args []string) error {
				return cmdMember(ctx, e, o, verb, args)
			}}
	}
	return []*command{
		{name: "members", args: "[--group G] [--json]", summary: "list the group's members, with role, joined, removed or left, and forks",
			example: "  mutual members --group eastgate", flags: groupFlag, run: cmdMembers},
		member("remove", "admin only: remove a member; its ops that this node has not seen yet will count nowhere"),
		member("promote", "admin only: make a member an admin"),
		member("demote", "admin only: make an admin a plain member"),
		{name: "leave", args: "[--group G]", summary: "stop being a member of the group (your later ops there count nowhere)",
			example: "  mutual leave --group \"Old Street Aid\"", flags: groupFlag, run: cmdLeave},
		{name: "invites", args: "[--group G] [--all] [--json]", summary: "list the group's invites that can still admit someone (--all: every invite)",
			example: "  mutual invites --all",
			flags: func(fs *pflag.FlagSet, o *opts) {
				groupFlag(fs, o)
				fs.BoolVar(&o.all, "all", false, "also list used up, expired and revoked invites")
			},
			run: cmdInvites},
		{name: "invite revoke", args: "INVITE-ID [--group G]", summary: "admin only: revoke an invite on every member's node",
			example: "  mutual invite revoke 3f2a9c", flags: groupFlag, run: cmdInviteRevoke},
	}
}

// groupID resolves --group (an ID, a unique ID prefix of 4 digits or
// more, or a name in any case; empty when the node has exactly one group)
// to a group ID. An ambiguous or unknown one is an error that lists the
// node's groups.
func groupID(ctx context.Context, c *client, name string) (string, error) {
	var g struct {
		ID string `json:"id"`
	}
	if err := c.do(ctx, "GET", "/api/v1/resolve?"+url.Values{"group": {name}}.Encode(), nil, &g); err != nil {
		return "", err
	}
	return g.ID, nil
}

type memberOut struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Role      string `json:"role"`
	JoinedAt  string `json:"joined_at"`
	RemovedAt string `json:"removed_at"`
	Removed   bool   `json:"removed"`
	Left      bool   `json:"left"`
	Forked    uint64 `json:"forked"`
}

func cmdMembers(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) > 0 {
		return usagef("members takes no arguments (use --group)")
	}
	return withClient(o, func(c *client) error {
		g, err := groupID(ctx, c, o.group)
		if err != nil {
			return err
		}
		var out struct {
			Members []memberOut `json:"members"`
		}
		if printed, err := c.record(ctx, e, o, "GET", "/api/v1/groups/"+g, nil, &out); printed || err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tJOINED\tSTATE\tKEY")
		for _, m := range out.Members {
			state := "active"
			switch {
			case m.Removed:
				state = "removed " + m.RemovedAt
			case m.Left:
				state = "left " + m.RemovedAt
			}
			if m.Forked != 0 {
				state += fmt.Sprintf(", FORKED at op %d (its ops from there count nowhere)", m.Forked)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Name, m.Role, m.JoinedAt, state, m.ID[:16])
		}
		return tw.Flush()
	})
}

func cmdMember(ctx context.Context, e *env, o *opts, verb string, args []string) error {
	if len(args) != 1 {
		return usagef("usage: mutual member %s MEMBER [--group G]", verb)
	}
	return withClient(o, func(c *client) error {
		g, err := groupID(ctx, c, o.group)
		if err != nil {
			return err
		}
		var out struct{}
		if printed, err := c.record(ctx, e, o, "POST", "/api/v1/groups/"+g+"/members/"+url.PathEscape(args[0])+"/"+verb, map[string]any{}, &out); printed || err != nil {
			return err
		}
		done := map[string]string{"remove": "removed", "promote": "promoted to admin", "demote": "demoted to member"}[verb]
		fmt.Fprintf(e.stdout, "%s %s\n", args[0], done)
		return nil
	})
}

func cmdLeave(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) > 0 {
		return usagef("leave takes no arguments (use --group)")
	}
	return withClient(o, func(c *client) error {
		g, err := groupID(ctx, c, o.group)
		if err != nil {
			return err
		}
		if err := c.do(ctx, "POST", "/api/v1/groups/"+g+"/leave", map[string]any{}, nil); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, "left the group; to come back you need a new invite")
		return nil
	})
}

func cmdInvites(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) > 0 {
		return usagef("invites takes no arguments (use --group, --all)")
	}
	return withClient(o, func(c *client) error {
		g, err := groupID(ctx, c, o.group)
		if err != nil {
			return err
		}
		path := "/api/v1/groups/" + g + "/invites"
		if o.all {
			path += "?all=1"
		}
		var ins []struct {
			ID      string `json:"id"`
			Role    string `json:"role"`
			Expires string `json:"expires"`
			Uses    uint32 `json:"uses"`
			Used    int    `json:"used"`
			MadeBy  string `json:"made_by"`
			Revoked bool   `json:"revoked"`
			Open    bool   `json:"open"`
		}
		if printed, err := c.record(ctx, e, o, "GET", path, nil, &ins); printed || err != nil {
			return err
		}
		if len(ins) == 0 {
			fmt.Fprintln(e.stdout, "no open invites")
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tROLE\tEXPIRES\tUSED\tBY\tSTATE")
		for _, in := range ins {
			uses := fmt.Sprintf("%d of any number", in.Used)
			if in.Uses > 0 {
				uses = fmt.Sprintf("%d of %d", in.Used, in.Uses)
			}
			state := "open"
			switch {
			case in.Revoked:
				state = "revoked"
			case !in.Open:
				state = "closed"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", in.ID[:12], in.Role, in.Expires, uses, in.MadeBy, state)
		}
		return tw.Flush()
	})
}

func cmdInviteRevoke(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) != 1 {
		return usagef("usage: mutual invite revoke INVITE-ID [--group G]")
	}
	return withClient(o, func(c *client) error {
		g, err := groupID(ctx, c, o.group)
		if err != nil {
			return err
		}
		var out struct {
			Revoked string `json:"revoked"`
		}
		if err := c.do(ctx, "POST", "/api/v1/groups/"+g+"/invites/"+url.PathEscape(args[0])+"/revoke", map[string]any{}, &out); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "revoked invite %s on this node; every member's node learns it at its next sync\n", out.Revoked)
		return nil
	})
}
