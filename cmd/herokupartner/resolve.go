package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	hp "github.com/addonkit/herokupartner"
)

// options are the parsed command line of resolve.
type options struct {
	token       string
	from        string
	json        bool
	jsonl       bool
	group       bool
	lenient     bool
	concurrency int
	apiURL      string
	progress    string
	demo        bool
	args        []positional
}

func resolveFlags(o *options) []flagDef {
	return []flagDef{
		{name: "token", arg: "TOKEN", s: &o.token, help: "OAuth access token for resources the input gives none (default $" + tokenEnvVar + ")"},
		{name: "from", arg: "FILE", s: &o.from, help: `read resources from FILE ("-": standard input)`},
		{name: "json", b: &o.json, help: "print one JSON document, streamed: resources, then the summary"},
		{name: "jsonl", b: &o.jsonl, help: "print one JSON object per resource and line"},
		{name: "group", b: &o.group, help: "print the dashboard view: pipelines, stages, apps (a table, or JSON with --json)"},
		{name: "lenient", b: &o.lenient, help: "a malformed --from row fails only that resource (default: the run is refused, exit 2)"},
		{name: "concurrency", arg: "N", n: &o.concurrency, help: fmt.Sprintf("resources resolved at once (default %d)", hp.DefaultBatchConcurrency)},
		{name: "api-url", arg: "URL", s: &o.apiURL, help: "Platform API URL: https, or http on loopback (default " + hp.DefaultBaseURL + ")"},
		{name: "progress", arg: "WHEN", s: &o.progress, help: "progress bar on standard error: auto (when it is a terminal), always or never (default auto)"},
		{name: "demo", b: &o.demo, help: "resolve the add-ons of an embedded fake Platform API: no account or token needed"},
	}
}

const resolveText = `Usage:
  herokupartner resolve [flags] UUID...
  herokupartner resolve [flags] --from FILE
  herokupartner resolve --demo

Resolves each add-on resource to its app, pipeline and stage. Results are
printed in input order as they come, holding only a window of resources in
memory (--group must hold them all).

The token is taken from --token or the HEROKU_PARTNER_TOKEN environment
variable (prefer the variable: command lines are visible to other users),
unless the --from file gives each resource its own.

--from FILE ("-" for standard input) holds one of:
  - one resource uuid per line (blank lines, lines starting with # and a
    first line naming the column, such as uuid, are skipped);
  - CSV with a header row naming a uuid column (uuid, resource_uuid,
    resource_id, addon_id or id) and optionally a token column (token,
    access_token or oauth_token); without a header, rows are uuid[,token];
  - JSON: an array of {"uuid": ..., "token": ...} objects (or of uuid
    strings), or one such object per line.
By default the whole input is checked before anything is sent, and one
malformed row refuses the run (exit 2); with --lenient it fails only that
resource. Messages name the row, never its content.

Exit status: 0 all resolved, 1 some failed (listed on standard error with
their request ids), 2 bad usage (nothing was sent).

Flags (after "--", every argument is a resource):
`

func resolveUsage() string {
	return resolveText + flagUsage(resolveFlags(&options{}))
}

func runResolve(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	o := options{concurrency: hp.DefaultBatchConcurrency, apiURL: hp.DefaultBaseURL, progress: "auto"}
	pos, err := parseFlags(resolveFlags(&o), args)
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, resolveUsage())
		return exitOK
	}
	if err == nil {
		o.args = pos
		err = resolve(ctx, o, stdin, stdout, stderr, env)
	}
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "herokupartner: %s\nRun 'herokupartner resolve --help' for usage.\n", ue.msg)
		return exitUsage
	case errors.Is(err, errSomeFailed):
		return exitFailed
	}
	fmt.Fprintf(stderr, "herokupartner: %s\n", clean(err.Error()))
	return exitFailed
}

var errSomeFailed = errors.New("some resources failed")

func (o options) check() error {
	switch {
	case o.json && o.jsonl:
		return usagef("--json and --jsonl cannot be used together")
	case o.group && o.jsonl:
		return usagef("--group and --jsonl cannot be used together: --group prints one view of all resources")
	case o.concurrency < 1:
		return usagef("--concurrency must be at least 1")
	case o.lenient && o.from == "":
		return usagef("--lenient applies to --from input only")
	}
	switch o.progress {
	case "auto", "always", "never":
	default:
		return usagef("--progress must be auto, always or never")
	}
	return nil
}

func resolve(ctx context.Context, o options, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) error {
	if err := o.check(); err != nil {
		return err
	}
	j, err := prepare(o, stdin, stderr, env)
	if err != nil {
		return err
	}
	defer j.close()
	var w resultWriter
	switch {
	case o.group:
		w = &groupWriter{w: stdout, json: o.json}
	case o.json:
		w = &jsonWriter{w: stdout}
	case o.jsonl:
		w = jsonlWriter{w: stdout}
	default:
		w = &tableWriter{w: stdout}
	}
	var bar *progressBar
	if o.progress == "always" || o.progress == "auto" && isTerminal(stderr) {
		bar = &progressBar{w: stderr}
	}
	return stream(ctx, j, o.concurrency, w, stderr, bar)
}

// job is what resolve works through: a client and the resources.
type job struct {
	base  *hp.Client
	src   source
	total int // 0 when not counted beforehand
	close func()
}

// prepare checks everything that can be checked before a request is sent
// and sets up the client and the resources.
func prepare(o options, stdin io.Reader, stderr io.Writer, env func(string) string) (*job, error) {
	if o.demo {
		if len(o.args) > 0 || o.from != "" || o.token != "" || o.apiURL != hp.DefaultBaseURL {
			return nil, usagef("--demo takes no resources, --from, --token or --api-url: it brings its own")
		}
		d := startDemo()
		fmt.Fprintf(stderr, "demo: resolving %d add-ons of %d customers on an in-process fake Platform API\n", len(d.entries), d.customers)
		return &job{base: d.client, src: &sliceSource{entries: d.entries}, total: len(d.entries), close: d.close}, nil
	}
	args, err := argEntries(o.args)
	if err != nil {
		return nil, err
	}
	token := o.token
	if token == "" {
		token = env(tokenEnvVar)
	}
	in, err := openFrom(o, stdin)
	if err != nil {
		return nil, err
	}
	total := len(args)
	if !o.lenient {
		n, err := precheck(&sliceSource{entries: args}, in, token != "")
		if err != nil {
			in.close()
			return nil, err
		}
		total = n
	}
	if total == 0 && !o.lenient {
		return nil, usagef("no resources: give resource UUIDs as arguments or --from FILE")
	}
	base, err := hp.NewClient(hp.WithBaseURL(o.apiURL), hp.WithUserAgent("herokupartner-cli"))
	if err != nil {
		in.close()
		// The library's message names the setting, not the URL; ours names
		// the flag.
		msg := err.Error()
		if _, after, ok := strings.Cut(msg, "WithBaseURL: "); ok {
			msg = after
		}
		return nil, usagef("--api-url: %s", msg)
	}
	if token != "" {
		base = base.WithToken(token)
	}
	src, err := in.open()
	if err != nil {
		in.close()
		return nil, err
	}
	if o.lenient {
		total = 0
	}
	return &job{base: base, src: &concatSource{&sliceSource{entries: args}, src}, total: total, close: in.close}, nil
}

// argEntries checks the resource arguments; a bad one is always a usage
// error, named by its position.
func argEntries(args []positional) ([]entry, error) {
	entries := make([]entry, 0, len(args))
	for _, a := range args {
		id, problem := checkUUID(a.value)
		if problem != "" {
			return nil, usagef("argument %d is %s", a.pos, problem)
		}
		entries = append(entries, entry{uuid: id, where: fmt.Sprintf("argument %d", a.pos)})
	}
	return entries, nil
}

// precheck reads every resource once without keeping any, so that a
// malformed row or a missing token refuses the run before a request is
// sent. It returns how many resources there are.
func precheck(args source, in *fromInput, haveToken bool) (int, error) {
	src := source(&concatSource{args})
	if in.name != "" {
		s, err := in.open()
		if err != nil {
			return 0, err
		}
		src = &concatSource{args, s}
	}
	var (
		n       int
		missing []string
		nMiss   int
	)
	for {
		e, err := src.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
		if e.problem != "" {
			return 0, usagef("%s: %s (use --lenient to skip such rows)", e.where, e.problem)
		}
		n++
		if !haveToken && e.token == "" {
			if nMiss < 3 {
				missing = append(missing, e.where)
			}
			nMiss++
		}
	}
	if nMiss > 0 {
		where := strings.Join(missing, ", ")
		if nMiss > len(missing) {
			where += fmt.Sprintf(" and %d more", nMiss-len(missing))
		}
		return 0, usagef("no token for %s: give --token, set %s, or add a token column to the --from file", where, tokenEnvVar)
	}
	return n, nil
}

// fromInput is the --from input, readable once more after precheck: a
// file is reopened, seekable standard input rewound, and standard input
// from a pipe held in memory (up to maxBuffered) if it must be read twice.
type fromInput struct {
	name  string // "" without --from
	open  func() (source, error)
	close func()
}

func openFrom(o options, stdin io.Reader) (*fromInput, error) {
	in := &fromInput{open: func() (source, error) { return &sliceSource{}, nil }, close: func() {}}
	switch {
	case o.from == "":
		return in, nil
	case o.from != "-":
		// Only the file's contents are read; its name is not echoed back.
		in.name = "file"
		var f *os.File
		in.open = func() (source, error) {
			if f != nil {
				f.Close()
			}
			var err error
			if f, err = os.Open(o.from); err != nil {
				return nil, usagef("--from: cannot open the file: %s", ioProblem(err))
			}
			return newSource(f, in.name)
		}
		in.close = func() {
			if f != nil {
				f.Close()
			}
		}
		return in, nil
	}
	in.name = "standard input"
	if f, ok := stdin.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			if start, err := f.Seek(0, io.SeekCurrent); err == nil {
				in.open = func() (source, error) {
					if _, err := f.Seek(start, io.SeekStart); err != nil {
						return nil, usagef("--from standard input: cannot rewind: %s", ioProblem(err))
					}
					return newSource(f, in.name)
				}
				return in, nil
			}
		}
	}
	if o.lenient {
		// Read once, streamed.
		in.open = func() (source, error) { return newSource(stdin, in.name) }
		return in, nil
	}
	data, err := io.ReadAll(io.LimitReader(stdin, maxBuffered+1))
	if err != nil {
		return nil, usagef("--from standard input: cannot read: %s", ioProblem(err))
	}
	if len(data) > maxBuffered {
		return nil, usagef("--from standard input: larger than %d MiB from a pipe; give a file, or use --lenient to stream it", maxBuffered>>20)
	}
	in.open = func() (source, error) { return newSource(bytes.NewReader(data), in.name) }
	return in, nil
}
