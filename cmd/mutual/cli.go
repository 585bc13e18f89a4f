package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mutual-aid/mutual/node"
)

// command is one subcommand, as the command files declare it; run turns
// the list into a cobra tree (see docs/design.md, "Command line").
type command struct {
	name    string // "board", or "group create"
	args    string // synopsis of positional args and flags
	summary string
	example string
	flags   func(fs *pflag.FlagSet, o *opts)
	run     func(ctx context.Context, e *env, o *opts, args []string) error
	// complete, if set, offers completions for the positional args.
	complete func(ctx context.Context, o *opts, args []string, toComplete string) []string
}

// opts holds every flag value; each command registers the ones it takes
// on an opts of its own.
type opts struct {
	data, name, group, role, expires, listen, httpAddr, uses           string
	kind, status, category, title, details, location, contact, urgency string
	expiresAt, quantity, q, note, response                             string
	json, csv, noMDNS, lan, all, restoredOK, dryRun                    bool
	relay, publicDHT, noDHT                                            bool
	limit                                                              int
	peers, listens, bootstrap                                          []string
	allies, blocked                                                    []string // group federation
	policy                                                             string
	since, receipt, out                                                string // bundles
	groups                                                             []string
	// set reports whether a flag was given on the command line.
	set func(flag string) bool
}

type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// usageError is a mistake in the shape of the command line: exit code 2.
// Every other error (a value the CLI or the node refuses, something not
// found, a failure) exits 1. `mutual help` says so.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// Exit codes.
const (
	exitRefused = 1 // the command ran and was refused, or failed
	exitUsage   = 2 // the command line is wrong: nothing ran
)

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return exitUsage
	}
	return exitRefused
}

// commands is every subcommand, in the order `mutual help` lists them.
var commands []*command

// run is the whole CLI, testable in-process.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRoot(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return root.ExecuteContext(ctx)
}

// newRoot builds the cobra tree of commands.
func newRoot(e *env) *cobra.Command {
	global := &opts{}
	root := &cobra.Command{
		Use:           "mutual",
		Short:         "a shared board of needs and offers for a mutual-aid group",
		Version:       version,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(cmd, args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			printHelp(e.stdout, cmd)
			return nil
		},
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&global.data, "data", node.DefaultDataDir(), "data dir (default $MUTUAL_DATA, else the user's data dir)")
	pf.BoolVar(&global.json, "json", false, "print JSON")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usagef("%v (see `%s --help`)", err, c.CommandPath())
	})
	root.SetHelpFunc(func(c *cobra.Command, _ []string) {
		if c == root {
			printHelp(c.OutOrStdout(), c)
			return
		}
		printCommandHelp(c.OutOrStdout(), c)
	})
	root.SetHelpCommand(&cobra.Command{
		Use:   "help [COMMAND]",
		Short: "explain a command, with an example",
		Args:  cobra.ArbitraryArgs,
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return subcommandNames(root, args, toComplete), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				printHelp(e.stdout, root)
				return nil
			}
			target, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 || target == root {
				word := args[0]
				if target != nil && target != root && len(rest) > 0 {
					return unknownCommand(target, rest[0])
				}
				return unknownCommand(root, word)
			}
			printCommandHelp(e.stdout, target)
			return nil
		},
	})

	byPath := map[string]*cobra.Command{}
	// parentOf returns the command for a path's first words, made as a
	// command group (e.g. "member") when no command has that name.
	var parentOf func(words []string) *cobra.Command
	parentOf = func(words []string) *cobra.Command {
		if len(words) == 0 {
			return root
		}
		path := strings.Join(words, " ")
		if c := byPath[path]; c != nil {
			return c
		}
		c := &cobra.Command{Use: words[len(words)-1], Args: subcommandArgs}
		c.RunE = func(cc *cobra.Command, _ []string) error {
			return usagef("say which: %s", subcommandSynopsis(cc))
		}
		parentOf(words[:len(words)-1]).AddCommand(c)
		byPath[path] = c
		return c
	}
	for _, def := range commands {
		words := strings.Fields(def.name)
		path := strings.Join(words, " ")
		c := byPath[path]
		if c == nil {
			c = &cobra.Command{}
			parentOf(words[:len(words)-1]).AddCommand(c)
			byPath[path] = c
		}
		o := &opts{}
		def := def
		c.Use = strings.TrimSpace(words[len(words)-1] + " " + def.args)
		c.Short = def.summary
		c.Example = def.example
		c.Args = cobra.ArbitraryArgs
		if c.HasSubCommands() {
			c.Args = subcommandArgs
		}
		if def.flags != nil {
			def.flags(c.Flags(), o)
		}
		registerEnumCompletions(c)
		c.RunE = func(cc *cobra.Command, args []string) error {
			o.data, o.json = global.data, global.json
			o.set = cc.Flags().Changed
			return def.run(cc.Context(), e, o, args)
		}
		if def.complete != nil {
			c.ValidArgsFunction = func(cc *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
				o.data = global.data
				return def.complete(cc.Context(), o, args, toComplete), cobra.ShellCompDirectiveNoFileComp
			}
		}
	}
	// A command declared after one of its subcommands (e.g. "invite"
	// after "invite revoke") takes its positional args only if it has no
	// subcommand of that name.
	for _, c := range byPath {
		if c.HasSubCommands() {
			c.Args = subcommandArgs
		}
	}
	return root
}

// subcommandArgs refuses an unknown subcommand of a command that has
// subcommands. Such a command may take no positional args itself.
func subcommandArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return unknownCommand(cmd, args[0])
	}
	return nil
}

// unknownCommand is the error for a word that names no command under
// parent, with the commands it may have meant, on one line.
func unknownCommand(parent *cobra.Command, word string) error {
	where := ""
	if parent.HasParent() {
		where = " " + strings.TrimPrefix(parent.CommandPath(), "mutual ")
	}
	msg := fmt.Sprintf("unknown command %q", strings.TrimSpace(where+" "+word))
	if s := suggest(parent, word); len(s) > 0 {
		for i := range s {
			s[i] = strings.TrimSpace("mutual" + where + " " + s[i])
		}
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	} else if parent.HasParent() {
		msg += "; " + subcommandSynopsis(parent)
	}
	return usagef("%s (see `mutual help%s`)", msg, where)
}

// suggest returns the subcommands of parent that word may be a typo of:
// cobra's suggestions (edit distance 2, prefixes), then names that
// contain the word.
func suggest(parent *cobra.Command, word string) []string {
	if parent.SuggestionsMinimumDistance <= 0 {
		parent.SuggestionsMinimumDistance = 2
	}
	s := parent.SuggestionsFor(word)
	if len(s) == 0 && len(word) >= 3 {
		for _, c := range parent.Commands() {
			if c.IsAvailableCommand() && strings.Contains(c.Name(), strings.ToLower(word)) {
				s = append(s, c.Name())
			}
		}
	}
	if len(s) > 3 {
		s = s[:3]
	}
	return s
}

// subcommandSynopsis is "mutual member remove|promote|demote".
func subcommandSynopsis(c *cobra.Command) string {
	var names []string
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	return c.CommandPath() + " " + strings.Join(names, "|")
}

// subcommandNames completes `mutual help WORD...`.
func subcommandNames(root *cobra.Command, args []string, toComplete string) []cobra.Completion {
	c := root
	if len(args) > 0 {
		var err error
		if c, _, err = root.Find(args); err != nil {
			return nil
		}
	}
	var out []cobra.Completion
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() && strings.HasPrefix(sub.Name(), toComplete) {
			out = append(out, sub.Name())
		}
	}
	return out
}

// enumFlags are the flags that take one of a few words, for completion.
var enumFlags = map[string][]string{
	"kind":    {"need", "offer"},
	"status":  {"open", "claimed", "fulfilled", "withdrawn"},
	"urgency": {"low", "normal", "high"},
	"role":    {"member", "admin"},
}

func registerEnumCompletions(c *cobra.Command) {
	for name, words := range enumFlags {
		if c.Flags().Lookup(name) == nil {
			continue
		}
		words := words
		c.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(words, cobra.ShellCompDirectiveNoFileComp))
	}
}

func printHelp(w io.Writer, root *cobra.Command) {
	fmt.Fprintln(w, `mutual — a shared board of needs and offers for a mutual-aid group,
kept by every member's node and synced peer to peer, with no server.

Usage: mutual [--data DIR] COMMAND [ARGS] [--json]

Commands:`)
	var lines [][2]string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if !sub.IsAvailableCommand() || sub.Name() == "help" {
				continue
			}
			if sub.Short != "" {
				lines = append(lines, [2]string{strings.TrimPrefix(sub.CommandPath(), "mutual "), sub.Short})
			}
			walk(sub)
		}
	}
	walk(root)
	order := map[string]int{}
	for i, c := range commands {
		order[c.name] = i + 1
	}
	sort.SliceStable(lines, func(i, j int) bool {
		oi, oj := order[lines[i][0]], order[lines[j][0]]
		if oi == 0 || oj == 0 {
			return oi != 0 && oj == 0
		}
		return oi < oj
	})
	for _, l := range lines {
		fmt.Fprintf(w, "  %-14s %s\n", l[0], l[1])
	}
	fmt.Fprintf(w, `
Every command takes --data DIR (default $MUTUAL_DATA, else %s)
and --json where it prints records; flags may come before or after the
command. While `+"`mutual serve`"+` runs on a data dir, the other commands talk to
it; otherwise they open the data dir themselves.

A group is named by its name (any case), its ID or the ID's first 4 or more
digits; a post by its ID or the ID's first 4 or more digits.

Exit status: 0 done; 1 refused or failed (a value the node refuses, a post
or group that is not there, a damaged store); 2 the command line itself is
wrong (an unknown command or flag, missing or extra arguments): nothing ran.

Start here:
  mutual serve                       run the node (web page at http://127.0.0.1:7777)
  mutual group create "Eastgate Aid" create your group, or:
  mutual join CODE                   join one with an invite code from an admin

`+"`mutual help COMMAND`"+` explains a command, with an example;
`+"`mutual completion bash|zsh|fish`"+` prints shell completion.
`, node.DefaultDataDir())
}

func printCommandHelp(w io.Writer, c *cobra.Command) {
	use := strings.TrimSpace(strings.TrimPrefix(c.UseLine(), "mutual "))
	if c.HasAvailableSubCommands() && !c.Runnable() {
		use = strings.TrimPrefix(subcommandSynopsis(c), "mutual ") + " ..."
	}
	fmt.Fprintf(w, "mutual %s\n", strings.TrimSuffix(use, " [flags]"))
	if c.Short != "" {
		fmt.Fprintf(w, "\n%s\n", c.Short)
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintln(w, "\nCommands:")
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				fmt.Fprintf(w, "  %-14s %s\n", sub.Name(), sub.Short)
			}
		}
	}
	if fs := c.LocalNonPersistentFlags(); fs.HasAvailableFlags() {
		fmt.Fprintf(w, "\nFlags:\n%s", fs.FlagUsages())
	}
	if fs := c.InheritedFlags(); fs.HasAvailableFlags() {
		fmt.Fprintf(w, "\nEvery command's flags:\n%s", fs.FlagUsages())
	}
	if c.Example != "" {
		fmt.Fprintf(w, "\nExample:\n%s\n", c.Example)
	}
}

// isTerminal reports whether w is a terminal (progress is printed only
// there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
