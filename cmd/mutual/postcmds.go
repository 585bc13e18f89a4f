package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/pflag"
)

// The commands on one post besides `post` and `status`: respond,
// unrespond, edit, show. Each names the post by its ID or a unique
// prefix (resolved by the API: GET /api/v1/resolve).
func postCommands() []*command {
	return []*command{
		{name: "show", args: "POST [--json]", summary: "show a post with every field and its responses",
			example: "  mutual show 3f2a", run: cmdShow, complete: completePosts},
		{name: "respond", args: "POST [--quantity N] [--note T] [--contact X] [--as-group G]", summary: `respond to a post ("I can help"), for some or all of its quantity; also a post of a group you follow, from your own group`,
			example: "  mutual respond 3f2a --quantity 2 --note \"I can bring two on Friday\"\n  mutual respond 9c1e --quantity 4 --contact \"+44 7700 900123\"   # a followed group's need: only its members read the contact",
			flags: func(fs *pflag.FlagSet, o *opts) {
				fs.StringVar(&o.quantity, "quantity", "", "how many you can give or take (default: unsaid)")
				fs.StringVar(&o.note, "note", "", "a short note to the post's author (everyone who holds the board reads it)")
				fs.StringVar(&o.contact, "contact", "", "how to reach you, sealed so that only the post's group's members read it (a followed group's post)")
				fs.StringVar(&o.group, "as-group", "", "answering a followed group's post: which of your groups answers (may be omitted when you are in one)")
			},
			run: cmdRespond, complete: completePosts},
		{name: "unrespond", args: "POST [--response ID]", summary: "withdraw your response to a post",
			example: "  mutual unrespond 3f2a",
			flags: func(fs *pflag.FlagSet, o *opts) {
				fs.StringVar(&o.response, "response", "", "which of your responses (its ID or first digits), when you made several")
			},
			run: cmdUnrespond, complete: completePosts},
		{name: "edit", args: "POST [--title T] [--details D] [--category C] [--location L] [--quantity N] [--urgency U] [--expires E] [--contact X]",
			summary: `change a post's fields (only those given; "" clears one)`,
			example: "  mutual edit 3f2a --quantity 2 --urgency HIGH\n  mutual edit 3f2a --expires \"\"      # never expires",
			flags:   func(fs *pflag.FlagSet, o *opts) { postFieldFlags(fs, o) },
			run:     cmdEdit, complete: completePosts},
	}
}

// postFieldFlags are the flags of a post's fields, for post and edit.
func postFieldFlags(fs *pflag.FlagSet, o *opts) {
	fs.StringVar(&o.title, "title", "", "short title")
	fs.StringVar(&o.details, "details", "", "details")
	fs.StringVar(&o.category, "category", "", "category, e.g. food, clothing, transport")
	fs.StringVar(&o.location, "location", "", "neighbourhood or place (members only)")
	fs.StringVar(&o.quantity, "quantity", "", "how many")
	fs.StringVar(&o.urgency, "urgency", "", "low, normal or high")
	fs.StringVar(&o.expiresAt, "expires", "", "when it drops off the board (RFC3339 or YYYY-MM-DD)")
	fs.StringVar(&o.contact, "contact", "", "how to reach the person (members only)")
}

// postFieldValues returns the JSON body of the field flags: with all,
// those not empty; else those given on the command line (empty clears).
func postFieldValues(o *opts, all bool) (map[string]any, error) {
	body := map[string]any{}
	for _, f := range []struct {
		name string
		v    *string
	}{{"title", &o.title}, {"details", &o.details}, {"category", &o.category}, {"location", &o.location},
		{"urgency", &o.urgency}, {"expires", &o.expiresAt}, {"contact", &o.contact}, {"quantity", &o.quantity}} {
		given := *f.v != ""
		if !all {
			given = o.set != nil && o.set(f.name)
		}
		if !given {
			continue
		}
		v := *f.v
		switch f.name {
		case "urgency":
			v = strings.ToLower(strings.TrimSpace(v))
		case "quantity":
			if v == "" {
				body["quantity"] = nil
				continue
			}
			n, err := parseQuantity(v)
			if err != nil {
				return nil, err
			}
			body["quantity"] = n
			continue
		}
		body[f.name] = v
	}
	return body, nil
}

// parseQuantity reads --quantity: a whole number.
func parseQuantity(s string) (uint64, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("--quantity must be a whole number, not %q", s)
	}
	return n, nil
}

// postDetail is a post as `show` prints it.
type postDetail struct {
	post
	Group     string  `json:"group"`
	Details   string  `json:"details"`
	Contact   *string `json:"contact"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt string  `json:"updated_at"`
	By        string  `json:"by"`
	Responses []struct {
		ID         string  `json:"id"`
		AuthorName string  `json:"author_name"`
		Quantity   uint32  `json:"quantity"`
		Note       string  `json:"note"`
		CreatedAt  string  `json:"created_at"`
		By         string  `json:"by"`
		Yours      bool    `json:"yours"`
		Visitor    bool    `json:"visitor"`
		Contact    *string `json:"contact"`
		Group      struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"group"`
	} `json:"responses"`
}

func cmdShow(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) != 1 {
		return usagef("usage: mutual show POST")
	}
	return withClient(o, func(c *client) error {
		id, err := resolvePostID(ctx, c, args[0])
		if err != nil {
			return err
		}
		var p postDetail
		if printed, err := c.record(ctx, e, o, "GET", "/api/v1/posts/"+id, nil, &p); printed || err != nil {
			return err
		}
		printPost(e.stdout, &p)
		return nil
	})
}

func printPost(w io.Writer, p *postDetail) {
	fmt.Fprintf(w, "%s  %s\n", p.ID, oneLine(p.Title))
	st := p.Status
	if p.Expired {
		st += " (expired)"
	}
	line := []string{p.Kind, st, "urgency " + p.Urgency}
	if p.Quantity > 0 {
		q := fmt.Sprintf("quantity %d", p.Quantity)
		if p.ClaimedQuantity > 0 {
			q += fmt.Sprintf(", %d promised", p.ClaimedQuantity)
		}
		if p.OverClaimed {
			q += " (over-claimed)"
		}
		line = append(line, q)
	}
	fmt.Fprintln(w, strings.Join(line, " · "))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	field := func(name, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", name, v)
		}
	}
	field("category", oneLine(p.Category))
	field("location", oneLine(p.Location))
	if p.Contact != nil {
		field("contact", oneLine(*p.Contact))
	}
	field("expires", p.Expires)
	by := oneLine(p.AuthorName)
	if p.By != "" {
		by = oneLine(p.By) + ", via " + by
	}
	field("by", by)
	field("created", p.CreatedAt)
	if p.UpdatedAt != p.CreatedAt {
		field("updated", p.UpdatedAt)
	}
	field("group", p.Group)
	tw.Flush()
	if p.Details != "" {
		fmt.Fprintln(w)
		for _, l := range strings.Split(p.Details, "\n") {
			fmt.Fprintf(w, "  %s\n", oneLine(l))
		}
	}
	if len(p.Responses) == 0 {
		fmt.Fprintln(w, "\nno responses yet")
		return
	}
	fmt.Fprintf(w, "\nresponses (%d):\n", len(p.Responses))
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range p.Responses {
		who := oneLine(r.AuthorName)
		if r.By != "" {
			who = oneLine(r.By) + ", via " + who
		}
		if r.Yours {
			who += " (you)"
		}
		if r.Visitor {
			who += ", from " + oneLine(r.Group.Name)
		}
		qty := ""
		if r.Quantity > 0 {
			qty = fmt.Sprint(r.Quantity)
		}
		note := oneLine(r.Note)
		if r.Contact != nil {
			note += " · contact: " + oneLine(*r.Contact)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", short(r.ID), who, qty, r.CreatedAt, note)
	}
	tw.Flush()
}

func cmdRespond(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) != 1 {
		return usagef("usage: mutual respond POST [--quantity N] [--note T]")
	}
	body := map[string]any{}
	if o.quantity != "" {
		n, err := parseQuantity(o.quantity)
		if err != nil {
			return err
		}
		body["quantity"] = n
	}
	if o.note != "" {
		body["note"] = o.note
	}
	if o.contact != "" {
		body["contact"] = o.contact
	}
	if o.group != "" {
		body["as_group"] = o.group
	}
	return withClient(o, func(c *client) error {
		id, err := resolvePostID(ctx, c, args[0])
		if err != nil {
			return err
		}
		var p postDetail
		if printed, err := c.record(ctx, e, o, "POST", "/api/v1/posts/"+id+"/responses", body, &p); printed || err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "responded to %s %s\n", short(p.ID), oneLine(p.Title))
		for _, r := range p.Responses {
			if r.Yours && r.Visitor {
				fmt.Fprintf(e.stdout, "from %s: the post's group's members see it once their nodes know %s's members\n", oneLine(r.Group.Name), oneLine(r.Group.Name))
				break
			}
		}
		if p.OverClaimed {
			fmt.Fprintf(e.stderr, "note: %d promised for %d asked: over-claimed\n", p.ClaimedQuantity, p.Quantity)
		}
		return nil
	})
}

func cmdUnrespond(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) != 1 {
		return usagef("usage: mutual unrespond POST [--response ID]")
	}
	return withClient(o, func(c *client) error {
		id, err := resolvePostID(ctx, c, args[0])
		if err != nil {
			return err
		}
		var p postDetail
		if err := c.do(ctx, "GET", "/api/v1/posts/"+id, nil, &p); err != nil {
			return err
		}
		var mine []string
		for _, r := range p.Responses {
			if r.Yours && strings.HasPrefix(r.ID, strings.ToLower(o.response)) {
				mine = append(mine, r.ID)
			}
		}
		switch {
		case len(mine) == 0 && o.response != "":
			return fmt.Errorf("post %s has no response of yours with ID %s", short(p.ID), o.response)
		case len(mine) == 0:
			return fmt.Errorf("you have no response on post %s %s", short(p.ID), oneLine(p.Title))
		case len(mine) > 1:
			for i := range mine {
				mine[i] = short(mine[i])
			}
			return fmt.Errorf("you have %d responses on post %s: say which with --response (%s)", len(mine), short(p.ID), strings.Join(mine, ", "))
		}
		if printed, err := c.record(ctx, e, o, "DELETE", "/api/v1/posts/"+id+"/responses/"+mine[0], nil, &p); printed || err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "withdrew your response to %s %s\n", short(p.ID), oneLine(p.Title))
		return nil
	})
}

func cmdEdit(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) != 1 {
		return usagef("usage: mutual edit POST --FIELD VALUE...")
	}
	body, err := postFieldValues(o, false)
	if err != nil {
		return err
	}
	if len(body) == 0 {
		return usagef("say what to change: --title, --details, --category, --location, --quantity, --urgency, --expires or --contact")
	}
	return withClient(o, func(c *client) error {
		id, err := resolvePostID(ctx, c, args[0])
		if err != nil {
			return err
		}
		var p postDetail
		if printed, err := c.record(ctx, e, o, "PATCH", "/api/v1/posts/"+id, body, &p); printed || err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s %s\n", p.ID, oneLine(p.Title))
		return nil
	})
}

// resolvePostID returns the ID of the post that s names: its ID or a
// unique prefix of at least 4 hex digits. An ambiguous or unknown one is
// an error that lists the candidates.
func resolvePostID(ctx context.Context, c *client, s string) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	if err := c.do(ctx, "GET", "/api/v1/resolve?"+url.Values{"post": {s}}.Encode(), nil, &out); err != nil {
		return "", err
	}
	return out.ID, nil
}

// completePosts offers the open board's post IDs with their titles.
func completePosts(ctx context.Context, o *opts, args []string, toComplete string) []string {
	if len(args) > 0 {
		return nil
	}
	c, err := openClient(o.data)
	if err != nil {
		return nil
	}
	defer c.Close()
	var ps []post
	if c.do(ctx, "GET", "/api/v1/posts?status=open,claimed&limit=200", nil, &ps) != nil {
		return nil
	}
	var out []string
	for _, p := range ps {
		if strings.HasPrefix(p.ID, toComplete) {
			out = append(out, short(p.ID)+"\t"+oneLine(p.Title))
		}
	}
	return out
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// oneLine makes text from anyone (a peer's post title) safe to print on
// one line of a table: control characters (newlines, tabs, escape
// sequences), bidi overrides and isolates, and invalid UTF-8 are shown
// escaped, as Go would quote them, instead of acting on the terminal.
func oneLine(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unsafeRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// unsafeRune: a control character, or a character that reorders text
// (bidi embeddings, overrides, isolates and marks) or hides it.
func unsafeRune(r rune) bool {
	switch {
	case unicode.IsControl(r):
		return true
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F, r == 0x061C:
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	}
	return false
}
