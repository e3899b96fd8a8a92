// Command herokupartner resolves Heroku add-on resources to the pipeline and
// stage of the app they are attached to, using the Platform API for Partners.
//
//	herokupartner resolve [flags] UUID...
//	herokupartner resolve [flags] --from FILE
//	herokupartner resolve --demo
//
// The token comes from --token or HEROKU_PARTNER_TOKEN unless the --from
// file gives each resource its own. Output is a table, or JSON with --json
// or --jsonl. The exit code is 0 when every resource resolved, 1 when some
// failed (each failure is printed on standard error with its request id)
// and 2 on bad usage, in which case nothing was sent.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/google/uuid"

	hp "github.com/addonkit/herokupartner"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	tokenEnvVar = "HEROKU_PARTNER_TOKEN"
)

const usageText = `Usage:
  herokupartner resolve [flags] UUID...
  herokupartner resolve [flags] --from FILE
  herokupartner resolve --demo
  herokupartner fake [flags]        (see herokupartner fake --help)

Resolves each add-on resource to its app, pipeline and stage.

The token is taken from --token or the HEROKU_PARTNER_TOKEN environment
variable (prefer the variable: command lines are visible to other users),
unless the --from file gives each resource its own.

--from FILE ("-" for standard input) holds one of:
  - one resource uuid per line (blank lines and lines starting with # are skipped);
  - CSV with a header row naming a uuid column (uuid, resource_uuid,
    resource_id, addon_id or id) and optionally a token column (token,
    access_token or oauth_token); without a header, rows are uuid[,token];
  - JSON: an array of {"uuid": ..., "token": ...} objects (or of uuid
    strings), or one such object per line.

Exit status: 0 all resolved, 1 some failed (listed on standard error with
their request ids), 2 bad usage (nothing was sent).

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// options are the parsed command line of resolve.
type options struct {
	token       string
	from        string
	json        bool
	jsonl       bool
	concurrency int
	apiURL      string
	progress    string
	demo        bool
	uuids       []string
}

// usageError is a mistake in the command line or the input: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// run is the whole command, with its environment passed in so tests can
// drive it; it returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	switch args[0] {
	case "resolve":
	case "fake":
		return runFake(ctx, args[1:], stdout, stderr, env)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usageText)
		newFlagSet(&options{}, stdout).PrintDefaults()
		return exitOK
	default:
		fmt.Fprintf(stderr, "herokupartner: unknown command %q\n\n%s", args[0], usageText)
		return exitUsage
	}
	var opts options
	fs := newFlagSet(&opts, stderr)
	if err := parseInterspersed(fs, args[1:], &opts.uuids); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return exitOK
		}
		// The flag package has already said what was wrong.
		return exitUsage
	}
	if err := resolve(ctx, opts, stdin, stdout, stderr, env); err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "herokupartner: %s\nRun 'herokupartner help' for usage.\n", ue.msg)
			return exitUsage
		}
		if errors.Is(err, errSomeFailed) {
			return exitFailed
		}
		fmt.Fprintf(stderr, "herokupartner: %v\n", err)
		return exitFailed
	}
	return exitOK
}

func newFlagSet(o *options, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("herokupartner resolve", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.token, "token", "", "OAuth access token for resources the input gives none (default $"+tokenEnvVar+")")
	fs.StringVar(&o.from, "from", "", "read resources from `FILE` (\"-\": standard input)")
	fs.BoolVar(&o.json, "json", false, "print one JSON document")
	fs.BoolVar(&o.jsonl, "jsonl", false, "print one JSON object per resource, one per line")
	fs.IntVar(&o.concurrency, "concurrency", hp.DefaultBatchConcurrency, "resources resolved at once")
	fs.StringVar(&o.apiURL, "api-url", hp.DefaultBaseURL, "Platform API `URL` (https, or http on loopback)")
	fs.StringVar(&o.progress, "progress", "auto", "progress bar on standard error: auto (when it is a terminal), always or never")
	fs.BoolVar(&o.demo, "demo", false, "resolve the add-ons of an embedded fake Platform API: no account or token needed")
	return fs
}

// parseInterspersed lets flags follow positional arguments, as in
// "resolve UUID --json".
func parseInterspersed(fs *flag.FlagSet, args []string, positional *[]string) error {
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		args = fs.Args()
		if len(args) == 0 {
			return nil
		}
		*positional = append(*positional, args[0])
		args = args[1:]
	}
}

var errSomeFailed = errors.New("some resources failed")

func resolve(ctx context.Context, o options, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) error {
	if o.json && o.jsonl {
		return usagef("--json and --jsonl cannot be used together")
	}
	if o.concurrency < 1 {
		return usagef("--concurrency must be at least 1")
	}
	switch o.progress {
	case "auto", "always", "never":
	default:
		return usagef("--progress must be auto, always or never")
	}

	var (
		entries []entry
		base    *hp.Client
		cleanup = func() {}
	)
	if o.demo {
		if len(o.uuids) > 0 || o.from != "" || o.token != "" || o.apiURL != hp.DefaultBaseURL {
			return usagef("--demo takes no resources, --from, --token or --api-url: it brings its own")
		}
		d := startDemo()
		cleanup = d.close
		entries, base = d.entries, d.client
		fmt.Fprintf(stderr, "demo: resolving %d add-ons of %d customers on an in-process fake Platform API\n", len(entries), d.customers)
	} else {
		var err error
		if entries, err = gatherEntries(o, stdin); err != nil {
			return err
		}
		if len(entries) == 0 {
			return usagef("no resources: give resource UUIDs as arguments or --from FILE")
		}
		token := o.token
		if token == "" {
			token = env(tokenEnvVar)
		}
		if token == "" {
			if where := missingTokens(entries); where != "" {
				return usagef("no token for %s: give --token, set %s, or add a token column to the --from file", where, tokenEnvVar)
			}
		}
		base, err = hp.NewClient(hp.WithBaseURL(o.apiURL), hp.WithUserAgent("herokupartner-cli"))
		if err != nil {
			return usagef("%v", err)
		}
		if token != "" {
			base = base.WithToken(token)
		}
	}
	defer cleanup()

	items := make([]hp.BatchItem, len(entries))
	for i, e := range entries {
		items[i] = hp.BatchItem{ResourceUUID: e.uuid}
		if e.token != "" {
			items[i].Client = base.WithToken(e.token)
		}
	}
	batchOpts := []hp.BatchOption{hp.WithConcurrency(o.concurrency)}
	var bar *progressBar
	if len(items) > 1 && (o.progress == "always" || o.progress == "auto" && isTerminal(stderr)) {
		bar = &progressBar{w: stderr}
		batchOpts = append(batchOpts, hp.WithProgress(bar.update))
	}
	results := base.ResolvePipelines(ctx, items, batchOpts...)
	if bar != nil {
		bar.clear()
	}

	var err error
	switch {
	case o.json:
		err = writeJSON(stdout, results)
	case o.jsonl:
		err = writeJSONL(stdout, results)
	default:
		err = writeTable(stdout, results)
	}
	if err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	failed := 0
	for _, r := range results {
		if r.Err != nil {
			failed++
			fmt.Fprintf(stderr, "failed %s: %s\n", r.ResourceUUID, describeError(r.Err))
		}
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "herokupartner: %d of %d resources failed\n", failed, len(results))
		return errSomeFailed
	}
	return nil
}

// gatherEntries collects the positional UUIDs, then the --from file's.
func gatherEntries(o options, stdin io.Reader) ([]entry, error) {
	var entries []entry
	for i, a := range o.uuids {
		id, err := uuid.Parse(strings.TrimSpace(a))
		if err != nil {
			// The value is not echoed: a token pasted by mistake would
			// end up in the terminal's scrollback.
			return nil, usagef("argument %d is not a resource UUID (%d characters)", i+1, len(a))
		}
		entries = append(entries, entry{uuid: id.String(), where: fmt.Sprintf("argument %d", i+1)})
	}
	if o.from == "" {
		return entries, nil
	}
	var r io.Reader
	name := o.from
	if o.from == "-" {
		r, name = stdin, "standard input"
	} else {
		f, err := os.Open(o.from)
		if err != nil {
			return nil, usagef("--from: %v", err)
		}
		defer f.Close()
		r = f
	}
	fromFile, err := parseEntries(r, name)
	if err != nil {
		return nil, err
	}
	return append(entries, fromFile...), nil
}

// missingTokens names the first entries that carry no token, or "" if
// every entry has one.
func missingTokens(entries []entry) string {
	var where []string
	n := 0
	for _, e := range entries {
		if e.token == "" {
			if n < 3 {
				where = append(where, e.where)
			}
			n++
		}
	}
	switch {
	case n == 0:
		return ""
	case n > len(where):
		return fmt.Sprintf("%s and %d more", strings.Join(where, ", "), n-len(where))
	}
	return strings.Join(where, ", ")
}
