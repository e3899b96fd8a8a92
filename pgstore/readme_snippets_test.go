package pgstore_test

// The pgstore snippet of the root README.md, kept verbatim between
// "readme:begin" and "readme:end" lines; the root module's
// TestREADMESnippets fails when the README and this copy differ.

import (
	"context"
	"os"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/pgstore"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Compiled, not run.
var _ = readmeStores

func readmeStores(ctx context.Context, key []byte, base *herokupartner.Client, provision herokupartner.ProvisionFunc) error {
	// readme:begin stores
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		return err
	}
	store, err := pgstore.New(pool, pgstore.WithEncryptionKey(key)) // key optional: 32 bytes kept outside the database
	if err != nil {
		return err
	}
	if err := store.Migrate(ctx); err != nil { // idempotent, safe from every replica at once
		return err
	}
	tokens, err := herokupartner.NewTokenManager(herokupartner.TokenManagerConfig{
		ClientSecret: herokupartner.NewSecret(os.Getenv("HEROKU_OAUTH_SECRET")),
		Store:        store,
	})
	if err != nil {
		return err
	}
	p, err := herokupartner.NewProvisioner(herokupartner.ProvisionerConfig{
		Tokens: tokens, API: base, Jobs: store, Provision: provision,
		Username: os.Getenv("ADDON_ID"), Password: herokupartner.NewSecret(os.Getenv("ADDON_PASSWORD")),
	})
	// readme:end
	_, _ = p, err
	return nil
}
