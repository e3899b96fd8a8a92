package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"syscall"
	"time"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/pgstore"
	"github.com/jackc/pgx/v5/pgxpool"
)

// serve runs the backend until SIGINT or SIGTERM.
func serve(cfg *config) error {
	logger := newLogger(os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	jobs, tokenStore, closeDB, err := openStores(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer closeDB()
	pc, err := provisionerConfig(cfg, jobs, tokenStore, logger)
	if err != nil {
		return err
	}
	p, err := herokupartner.NewProvisioner(pc)
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: ":" + cfg.port, Handler: p,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: time.Minute}
	runCtx, stopRun := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- p.Run(runCtx) }()
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe() }()
	logger.Info("listening", "port", cfg.port)

	select {
	case err = <-served:
	case <-ctx.Done():
		// Stop taking requests first, then hand the running jobs back so
		// another replica, or the next start, resumes them at once.
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = srv.Shutdown(sctx)
		cancel()
	}
	stopRun()
	<-ran
	return err
}

// provisionerConfig wires the add-on's own code into a Provisioner's
// configuration.
func provisionerConfig(cfg *config, jobs herokupartner.JobStore, tokenStore herokupartner.TokenStore, logger *slog.Logger) (herokupartner.ProvisionerConfig, error) {
	tokens, err := herokupartner.NewTokenManager(herokupartner.TokenManagerConfig{
		ClientSecret: cfg.secret, Store: tokenStore, TokenURL: cfg.tokenURL, Logger: logger,
	})
	if err != nil {
		return herokupartner.ProvisionerConfig{}, err
	}
	opts := []herokupartner.Option{herokupartner.WithUserAgent("acme-addon-example/1.0"), herokupartner.WithLogger(logger)}
	if cfg.apiURL != "" {
		opts = append(opts, herokupartner.WithBaseURL(cfg.apiURL))
	}
	api, err := herokupartner.NewClient(opts...)
	if err != nil {
		return herokupartner.ProvisionerConfig{}, err
	}
	a := &acme{serviceURL: cfg.serviceURL, logger: logger}
	return herokupartner.ProvisionerConfig{
		Tokens: tokens, API: api, Jobs: jobs,
		Provision: a.provision, Failed: a.failed, ChangePlan: a.changePlan,
		Username: cfg.addonID, Password: cfg.password, Logger: logger,
	}, nil
}

// openStores returns PostgreSQL-backed stores when DATABASE_URL is set,
// and in-memory ones, with a warning, when it is not.
func openStores(ctx context.Context, cfg *config, logger *slog.Logger) (herokupartner.JobStore, herokupartner.TokenStore, func(), error) {
	if cfg.databaseURL.IsZero() {
		logger.Warn("DATABASE_URL is not set: jobs and tokens live in memory, and a restart loses every provisioning in progress")
		return new(herokupartner.MemoryJobStore), new(herokupartner.MemoryTokenStore), func() {}, nil
	}
	pcfg, err := pgxpool.ParseConfig(cfg.databaseURL.Reveal())
	if err != nil {
		// pgx's message may quote the URL, password and all.
		return nil, nil, nil, errors.New("DATABASE_URL: not a valid PostgreSQL URL")
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	var opts []pgstore.Option
	if cfg.encryptionKey != nil {
		opts = append(opts, pgstore.WithEncryptionKey(cfg.encryptionKey))
	} else {
		logger.Warn("DATABASE_ENCRYPTION_KEY is not set: tokens and grant codes are stored unencrypted")
	}
	store, err := pgstore.New(pool, opts...)
	if err == nil {
		mctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = store.Migrate(mctx)
		cancel()
	}
	if err != nil {
		pool.Close()
		return nil, nil, nil, err
	}
	return store, store, pool.Close, nil
}

// credentialKey matches attribute keys that name a credential.
var credentialKey = regexp.MustCompile(`(?i)password|secret|token|authorization|code|database_url|key`)

// newLogger logs JSON lines. herokupartner's Secrets redact themselves
// and its errors carry none; as a second guard, any string attribute whose
// key names a credential is redacted.
func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Value.Kind() == slog.KindString && credentialKey.MatchString(a.Key) {
				return slog.String(a.Key, "[redacted]")
			}
			return a
		},
	}))
}
