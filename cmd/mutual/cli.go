package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/mutual-aid/mutual/node"
)

// command is one subcommand.
type command struct {
	name    string
	args    string // synopsis of positional args and flags
	summary string
	example string
	flags   func(fs *flag.FlagSet, o *opts)
	run     func(ctx context.Context, e *env, o *opts, args []string) error
}

// opts holds every flag value; each command registers the ones it takes.
type opts struct {
	data, name, group, role, expires, listen, httpAddr, uses           string
	kind, status, category, title, details, location, contact, urgency string
	expiresAt, quantity, q                                             string
	json, csv, noMDNS, lan, all, restoredOK                            bool
	limit                                                              int
	peers, listens                                                     stringList
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

var commands []*command

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// run is the whole CLI, testable in-process.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if len(args) > 1 {
			if c := lookup(args[1]); c != nil {
				printCommandHelp(stdout, c)
				return nil
			}
			// "mutual help group create"
			if c := lookup(strings.Join(args[1:], " ")); c != nil {
				printCommandHelp(stdout, c)
				return nil
			}
			return usagef("unknown command %q; see `mutual help`", args[1])
		}
		printHelp(stdout)
		return nil
	}
	name := args[0]
	rest := args[1:]
	// Two-word commands: "group create", "member remove", "invite revoke".
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") && (name == "group" || lookup(name+" "+rest[0]) != nil) {
		name, rest = name+" "+rest[0], rest[1:]
	}
	c := lookup(name)
	if c == nil {
		return usagef("unknown command %q; see `mutual help`", args[0])
	}
	o := &opts{}
	fs := flag.NewFlagSet("mutual "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.data, "data", node.DefaultDataDir(), "data dir")
	fs.BoolVar(&o.json, "json", false, "print JSON")
	if c.flags != nil {
		c.flags(fs, o)
	}
	// Flags may stand before or after positional arguments.
	var pos []string
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printCommandHelp(stdout, c)
				return nil
			}
			return usagef("%v (see `mutual %s --help`)", err, c.name)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	return c.run(ctx, e, o, pos)
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, `mutual — a shared board of needs and offers for a mutual-aid group,
kept by every member's node and synced peer to peer, with no server.

Usage: mutual COMMAND [ARGS] [--data DIR] [--json]

Commands:`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, `
Every command takes --data DIR (default $MUTUAL_DATA, else %s)
and --json where it prints records. While `+"`mutual serve`"+` runs on a data dir, the
other commands talk to it; otherwise they open the data dir themselves.

Start here:
  mutual serve                       run the node (web page at http://127.0.0.1:7777)
  mutual group create "Eastgate Aid" create your group, or:
  mutual join CODE                   join one with an invite code from an admin

`+"`mutual help COMMAND`"+` explains a command, with an example.
`, node.DefaultDataDir())
}

func printCommandHelp(w io.Writer, c *command) {
	fmt.Fprintf(w, "mutual %s %s\n\n%s\n", c.name, c.args, c.summary)
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	o := &opts{}
	fs.StringVar(&o.data, "data", node.DefaultDataDir(), "data dir (default $MUTUAL_DATA, else the user's data dir)")
	fs.BoolVar(&o.json, "json", false, "print JSON")
	if c.flags != nil {
		c.flags(fs, o)
	}
	fmt.Fprintln(w, "\nFlags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	if c.example != "" {
		fmt.Fprintf(w, "\nExample:\n%s\n", c.example)
	}
}
