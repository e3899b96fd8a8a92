// Command herokupartner resolves Heroku add-on resources to the pipeline and
// stage of the app they are attached to, using the Platform API for Partners,
// and serves a fake Heroku that checks a partner backend against Heroku's
// contract.
//
//	herokupartner resolve [flags] UUID...
//	herokupartner resolve [flags] --from FILE
//	herokupartner resolve --demo
//	herokupartner fake [flags]
//
// The token comes from --token or HEROKU_PARTNER_TOKEN unless the --from
// file gives each resource its own. Output is a table, or JSON with --json
// or --jsonl, or the dashboard view with --group. The exit code is 0 when
// every resource resolved, 1 when some failed (each failure is printed on
// standard error with its request id) and 2 on bad usage, in which case
// nothing was sent.
//
// No message quotes what was typed or read: a token pasted in the wrong
// place must not end up in a terminal's scrollback or a CI log, so errors
// name the flag, the argument's position or the input's row instead.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	tokenEnvVar = "HEROKU_PARTNER_TOKEN"
)

const commandsText = `Usage:
  herokupartner resolve [flags] UUID...
  herokupartner resolve [flags] --from FILE
  herokupartner resolve --demo
  herokupartner fake [flags]
  herokupartner help

Run 'herokupartner resolve --help' or 'herokupartner fake --help' for a
command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run is the whole command, with its environment passed in so tests can
// drive it; it returns the exit code. Each command is one case below.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, commandsText)
		return exitUsage
	}
	switch args[0] {
	case "resolve":
		return runResolve(ctx, args[1:], stdin, stdout, stderr, env)
	case "fake":
		return runFake(ctx, args[1:], stdout, stderr, env)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, commandsText+"\n"+resolveUsage())
		return exitOK
	default:
		// The word is not echoed: it may be a token typed first by mistake.
		fmt.Fprintf(stderr, "herokupartner: argument 1 is not a known command\n\n%s", commandsText)
		return exitUsage
	}
}

// usageError is a mistake in the command line or the input: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usagef formats a usageError. Callers pass only names, positions and
// counts, never what the user typed or the input held.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}
