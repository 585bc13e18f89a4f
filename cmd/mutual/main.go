// Command mutual runs and drives a mutual node: a shared board of needs
// and offers for a mutual-aid group, kept by every member's node and
// synced peer to peer. `mutual help` lists the commands.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutual:", err)
		os.Exit(exitCode(err))
	}
}
