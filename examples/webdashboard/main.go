// Command webdashboard shows a customer's add-on resources as a live web
// page laid out like Heroku's pipeline page: a row per pipeline, a column
// per stage, a card per app with its add-ons, apps in no pipeline, and
// resources that could not be read with the request id to quote to
// Heroku support. The page updates itself through server-sent events.
//
// It runs on the SDK's embedded fake Platform API, seeds a few customers
// and changes something every few seconds so the page moves:
//
//	cd examples/webdashboard && go run .
//
// (or, from the repository root, go -C examples/webdashboard run .)
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
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	every := flag.Duration("every", 3*time.Second, "how often the demo changes the fleet")
	flag.Parse()
	if os.Getenv("DATABASE_URL") != "" {
		// Reading the tracker's map from PostgreSQL, as a replica would,
		// needs the tracker's PostgreSQL store, which is not in the SDK
		// yet. Refuse rather than quietly show the fake's data instead.
		log.Fatal("webdashboard: DATABASE_URL is set, but reading the tracker's map from PostgreSQL is not available yet; unset it to run on the embedded fake")
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := run(ctx, *addr, *every, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run serves the dashboard on addr until ctx ends, printing each
// customer's address to out.
func run(ctx context.Context, addr string, every time.Duration, out io.Writer) error {
	// The poller re-reads every resource each pass, two requests each; the
	// fake's Heroku-like rate limit would run dry within minutes, so it is
	// off here. The tracker replaces the poller and keeps to a budget.
	srv := herokupartnertest.NewServer(herokupartnertest.WithRateLimit(0, 0))
	defer srv.Close()
	f, err := newFleet(ctx, srv, world)
	if err != nil {
		return err
	}
	src := newPoller(f, every/2)
	src.refresh(ctx)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s (choose another with -addr): %w", addr, err)
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
	fmt.Fprintf(out, "Pipeline dashboard on the embedded fake; one page per customer:\n")
	for _, c := range f.reg.customerList() {
		fmt.Fprintf(out, "  %-8s http://%s/c/%s/\n", c, ln.Addr(), url.PathEscape(c))
	}
	fmt.Fprintf(out, "Every %s the demo changes acme's fleet. Ctrl-C stops.\n", every)

	go src.run(ctx)
	go runDemo(ctx, f, every, func(s string) { fmt.Fprintf(out, "%s  %s\n", time.Now().UTC().Format("15:04:05"), s) })
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
