package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	hp "github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/herokupartnertest"
	"github.com/addonkit/herokupartner/herokupartnertest/contract"
)

const fakeUsage = `Usage:
  herokupartner fake [--addr HOST:PORT] [--seed FILE]
  herokupartner fake --check BASE_URL [--addon-id ID] [flags]

Serves a fake of Heroku's Platform API for Partners and OAuth token endpoint,
and prints, as lines a shell can source, the settings a partner backend needs
to use it: HEROKU_API_URL, HEROKU_OAUTH_TOKEN_URL and HEROKU_OAUTH_SECRET.
The secret is the fake's own, made up at start, printed so that the backend
can exchange the fake's grants; it is worth nothing anywhere else.

--seed FILE adds apps, pipelines and add-ons, and prints their ids:
  {"apps": [{"name": "acme-shop-staging", "pipeline": "acme-shop",
             "stage": "staging", "addons": ["basic"]}]}

For scripts in other processes, the fake also serves, on its address:
  GET  /_fake/requests          the requests it answered (method, path,
                                route, status), oldest first
  POST /_fake/addons/ID/grant   a fresh oauth_grant for the add-on
  GET  /_fake/addons/ID         the add-on's state, plan and config
  POST /_fake/faults            {"route": "couplings", "times": 3,
                                "status": 503} spoils the next requests

With --check, once the backend at BASE_URL answers, the fake acts as Heroku
toward it: provisioning with a fresh grant, a redelivery, a plan change and
a deprovisioning, each with Basic credentials (--addon-id or ADDON_ID, and
the ADDON_PASSWORD variable or --password), and prints a report of the
contract's checks. Exit status: 0 all passed, 1 some failed, 2 bad usage.
Without --check it serves until interrupted.

Flags:
`

// fakeOptions are the parsed command line of fake.
type fakeOptions struct {
	addr, seed, check, addonID, password string
	limit, wait, startup                 time.Duration
}

func newFakeFlags(o *fakeOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("herokupartner fake", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported without the values
	fs.StringVar(&o.addr, "addr", "127.0.0.1:0", "`address` to serve on (port 0 picks a free port)")
	fs.StringVar(&o.seed, "seed", "", "JSON `file` of apps, pipelines and add-ons to create")
	fs.StringVar(&o.check, "check", "", "act as Heroku toward the backend at this `base_url` and report")
	fs.StringVar(&o.addonID, "addon-id", "", "the manifest `id` (Basic auth user); default $ADDON_ID")
	fs.StringVar(&o.password, "password", "", "the manifest api.password; prefer $ADDON_PASSWORD (command lines are visible to other users)")
	fs.DurationVar(&o.limit, "limit", contract.DefaultLimit, "how long each answer may take")
	fs.DurationVar(&o.wait, "wait", contract.DefaultAsyncWait, "how long to wait, after a 202, for the config PATCH and provision action")
	fs.DurationVar(&o.startup, "startup", time.Minute, "how long to wait for the backend to start answering")
	return fs
}

// runFake is the fake command; it returns the exit code.
func runFake(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) int {
	var o fakeOptions
	fs := newFakeFlags(&o)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, fakeUsage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return exitOK
		}
		fmt.Fprintf(stderr, "herokupartner fake: %s (see herokupartner fake --help)\n", describeFlagError(fs, err))
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "herokupartner fake: unexpected argument after the flags (see herokupartner fake --help)")
		return exitUsage
	}
	if err := o.complete(env); err != nil {
		fmt.Fprintf(stderr, "herokupartner fake: %v\n", err)
		return exitUsage
	}
	seed, err := readSeed(o.seed)
	if err != nil {
		fmt.Fprintf(stderr, "herokupartner fake: %v\n", err)
		return exitUsage
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		fmt.Fprintln(stderr, "herokupartner fake: cannot listen on --addr: it must be a free HOST:PORT")
		return exitUsage
	}
	fake := herokupartnertest.NewServer(herokupartnertest.WithAddonService(o.addonID))
	defer fake.Close()
	srv := &http.Server{Handler: fakeHandler(fake), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	apiURL := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "HEROKU_API_URL=%s\nHEROKU_OAUTH_TOKEN_URL=%s/oauth/token\nHEROKU_OAUTH_SECRET=%s\n",
		apiURL, apiURL, fake.ClientSecret())
	if err := seed.apply(fake, stdout); err != nil {
		fmt.Fprintf(stderr, "herokupartner fake: %v\n", err)
		return exitUsage
	}
	if o.check == "" {
		fmt.Fprintln(stderr, "herokupartner fake: serving; interrupt to stop")
		<-ctx.Done()
		return exitOK
	}
	return checkBackend(ctx, o, fake, apiURL, stdout, stderr)
}

// describeFlagError names the flag of a parse error without repeating
// the value given: the flag package quotes it, and a token pasted into the
// wrong flag must not reach a terminal log.
func describeFlagError(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "flag provided but not defined"):
		return "unknown flag"
	case strings.HasPrefix(msg, "flag needs an argument: "):
		return "--" + strings.TrimLeft(strings.TrimPrefix(msg, "flag needs an argument: "), "-") + " needs a value"
	}
	// "invalid value %q for flag -NAME: ...": the last defined name that
	// follows " for flag -" is the flag, whatever the quoted value holds.
	name, at := "", -1
	fs.VisitAll(func(f *flag.Flag) {
		if i := strings.LastIndex(msg, " for flag -"+f.Name+": "); i > at {
			name, at = f.Name, i
		}
	})
	if name == "" {
		return "bad command line"
	}
	return "--" + name + ": invalid value"
}

// complete fills in flags from the environment and checks them.
func (o *fakeOptions) complete(env func(string) string) error {
	if o.addonID == "" {
		o.addonID = env("ADDON_ID")
	}
	if o.password == "" {
		o.password = env("ADDON_PASSWORD")
	}
	if o.limit <= 0 || o.wait <= 0 || o.startup <= 0 {
		return errors.New("--limit, --wait and --startup must be positive")
	}
	if o.check == "" {
		return nil
	}
	u, err := url.Parse(o.check)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return errors.New("--check must be the backend's base_url, an http or https URL without credentials")
	}
	if strings.TrimSpace(o.addonID) == "" || strings.Contains(o.addonID, ":") {
		return errors.New("--check needs the manifest id: --addon-id or ADDON_ID (non-empty, no colon)")
	}
	if o.password == "" {
		return errors.New("--check needs the manifest password: ADDON_PASSWORD or --password")
	}
	return nil
}

// fakeHandler serves the fake's API through a proxy, so that it answers
// on the address the operator chose, plus the request log.
func fakeHandler(fake *herokupartnertest.Server) http.Handler {
	target, _ := url.Parse(fake.URL) // the fake's own loopback URL
	proxy := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		Transport: fake.HTTPClient().Transport,
	}
	mux := http.NewServeMux()
	mux.Handle("/", proxy)
	addControl(mux, fake)
	return mux
}

// checkBackend waits for the backend to answer, runs the contract check
// and prints its report.
func checkBackend(ctx context.Context, o fakeOptions, fake *herokupartnertest.Server, apiURL string, stdout, stderr io.Writer) int {
	if !waitForBackend(ctx, o.check, o.startup) {
		fmt.Fprintf(stderr, "herokupartner fake: the backend at --check did not answer within %s\n", o.startup)
		return exitFailed
	}
	rep, err := contract.Check(ctx, contract.Config{
		BaseURL:   o.check,
		AddonID:   o.addonID,
		Password:  hp.NewSecret(o.password),
		Fake:      fake,
		APIURL:    apiURL,
		Limit:     o.limit,
		AsyncWait: o.wait,
	})
	if err != nil {
		fmt.Fprintf(stderr, "herokupartner fake: %v\n", err)
		return exitUsage
	}
	if _, err := rep.WriteTo(stdout); err != nil {
		return exitFailed
	}
	if !rep.Passed() {
		return exitFailed
	}
	return exitOK
}

// waitForBackend reports whether anything answers HTTP at base within d:
// any status will do, the check itself judges the answers.
func waitForBackend(ctx context.Context, base string, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, base, nil)
		if err != nil {
			return false
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(200 * time.Millisecond):
		}
	}
}
