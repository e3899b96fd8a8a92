// Command webdashboard shows a customer's add-on resources as a live web
// page laid out like Heroku's pipeline page: a row per pipeline, a column
// per stage, a card per app with its add-ons, apps in no pipeline, and
// resources that could not be read with the request id to quote to
// Heroku support. The page updates itself through server-sent events.
//
// The page is fed by the SDK's Tracker: webhooks (renames, destroyed
// add-ons) reach it at once through a WebhookReceiver, and its refresher
// finds promotions within its request budget. It runs on the SDK's
// embedded fake Platform API, seeds a few customers and changes something
// every few seconds so the page moves. With DATABASE_URL the tracker's
// map lives in PostgreSQL, as replicas share it:
//
//	go run ./examples/webdashboard   (from the repository root)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/addonkit/herokupartner/herokupartnertest"
)

func main() {
	cfg := runConfig{DatabaseURL: os.Getenv("DATABASE_URL")}
	flag.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "address to listen on")
	flag.DurationVar(&cfg.Every, "every", 4*time.Second, "how often the demo changes the fleet")
	flag.Parse()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// runConfig is what main reads from flags and the environment.
type runConfig struct {
	Addr  string
	Every time.Duration
	// DatabaseURL, when set, keeps the tracker's map in PostgreSQL.
	DatabaseURL string
}

// The demo's tracker: a budget of 120 requests a minute re-reads the demo's
// dozen resources every 6-7 s, so a promotion shows within seconds; a real
// fleet keeps the default 20 (or what its share of Heroku's 75-a-minute
// refill allows). Above the refill, the fake's Heroku-like bucket of 4,500
// drains by 45 a minute, and after about 75 minutes the tracker's reserve
// makes it stand aside a minute at a time: it never runs dry. MinAge
// keeps an entry confirmed within 5 s from being read again.
const (
	demoBudget = 120
	demoMinAge = 5 * time.Second
	// demoTick wakes the pages so "as of" moves between changes.
	demoTick = 2 * time.Second
)

// run serves the dashboard on cfg.Addr until ctx ends, printing each
// customer's address to out.
func run(ctx context.Context, cfg runConfig, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the tracker, the webhook receiver and the demo
	// The fake keeps Heroku's rate limit (4,500, 75 a minute): the
	// tracker stays within its budget.
	srv := herokupartnertest.NewServer()
	defer srv.Close()
	f, err := newFleet(srv)
	if err != nil {
		return err
	}
	sc := sourceConfig{Budget: demoBudget, MinAge: demoMinAge, Every: demoTick}
	if cfg.DatabaseURL != "" {
		m, err := openSharedMap(ctx, cfg.DatabaseURL)
		if err != nil {
			return err
		}
		defer m.pool.Close()
		sc.Store, sc.Leader = m.store, m.leader
	}
	src, err := startSource(ctx, f, sc, world)
	if err != nil {
		return err
	}
	if cfg.DatabaseURL != "" {
		if err := pruneUnknown(ctx, src.tracker, f.reg); err != nil {
			return fmt.Errorf("removing an earlier run's entries: %w", err)
		}
	}
	src.start(ctx)
	err = serve(ctx, cfg, f, src, out)
	cancel()
	src.wait() // the refresher resigns its lease before the pool closes
	return err
}

// startSource builds the tracker, the webhook receiver that feeds it, and
// the demo world on the fake: each resource provisioned, subscribed and
// tracked.
func startSource(ctx context.Context, f *fleet, sc sourceConfig, w herokupartnertest.World) (*trackerSource, error) {
	src, err := newTrackerSource(f, sc)
	if err != nil {
		return nil, err
	}
	if f.hooks, err = serveWebhooks(ctx, src.tracker); err != nil {
		return nil, err
	}
	f.tracker = src.tracker
	if err := f.seed(ctx, w); err != nil {
		return nil, err
	}
	var ids []string
	for _, r := range f.reg.resources() {
		ids = append(ids, r.ID)
	}
	src.quietStart(ids)
	return src, nil
}

// serve runs the page's server and the demo script until ctx ends.
func serve(ctx context.Context, cfg runConfig, f *fleet, src *trackerSource, out io.Writer) error {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s (choose another with -addr): %w", cfg.Addr, err)
	}
	base, stopStreams := context.WithCancel(context.Background())
	hs := &http.Server{
		Handler:           newDashboard(src),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       time.Minute,
		// Each page write is bounded here; event streams extend their own
		// deadline before every write.
		WriteTimeout: sseWriteTimeout,
		BaseContext:  func(net.Listener) context.Context { return base },
	}
	where := "in memory"
	if cfg.DatabaseURL != "" {
		where = "in PostgreSQL (DATABASE_URL)"
	}
	fmt.Fprintf(out, "Pipeline dashboard on the embedded fake, the tracker's map %s; one page per customer:\n", where)
	for _, c := range f.reg.customerList() {
		fmt.Fprintf(out, "  %-8s http://%s/c/%s/\n", c, ln.Addr(), url.PathEscape(c))
	}
	fmt.Fprintf(out, "Every %s the demo changes acme's fleet. Ctrl-C stops.\n", cfg.Every)

	go runDemo(ctx, f, cfg.Every, func(s string) { fmt.Fprintf(out, "%s  %s\n", time.Now().UTC().Format("15:04:05"), s) })
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		stopStreams()
		return err
	case <-ctx.Done():
	}
	stopStreams() // end the event streams, or Shutdown would wait for them
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
