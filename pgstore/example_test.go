package pgstore_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"log"
	"os"

	"github.com/addonkit/herokupartner"
	"github.com/addonkit/herokupartner/pgstore"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Every replica of the service builds the same TokenManager over the
// shared database; the store's row lock makes sure only one of them
// refreshes a resource's token at a time.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	key, err := base64.StdEncoding.DecodeString(os.Getenv("TOKEN_ENCRYPTION_KEY")) // 32 random bytes
	if err != nil {
		log.Fatal(err)
	}
	store, err := pgstore.New(pool, pgstore.WithEncryptionKey(key))
	if err != nil {
		log.Fatal(err)
	}
	if err := store.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	tokens, err := herokupartner.NewTokenManager(herokupartner.TokenManagerConfig{
		ClientSecret: herokupartner.NewSecret(os.Getenv("HEROKU_OAUTH_SECRET")),
		Store:        store,
	})
	if err != nil {
		log.Fatal(err)
	}
	api, err := herokupartner.NewClient()
	if err != nil {
		log.Fatal(err)
	}
	// In a request handler, for the add-on resource it concerns:
	resourceUUID := "01234567-89ab-cdef-0123-456789abcdef"
	client, err := api.ForResource(tokens, resourceUUID)
	if err != nil {
		log.Fatal(err)
	}
	addon, err := client.GetAddon(ctx, resourceUUID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(addon.Name)
}

// The SQL Migrate runs, for teams that manage their schema themselves.
func ExampleSchema() {
	sql, err := pgstore.Schema("")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(sql)
	// Output:
	// CREATE TABLE IF NOT EXISTS "herokupartner_tokens" (
	//     resource_uuid uuid        PRIMARY KEY,
	//     access_token  text        NOT NULL,
	//     refresh_token text        NOT NULL,
	//     expires_at    timestamptz,
	//     encrypted     boolean     NOT NULL DEFAULT false,
	//     version       bigint      NOT NULL DEFAULT 1,
	//     updated_at    timestamptz NOT NULL DEFAULT now()
	// );
	//
	// CREATE INDEX IF NOT EXISTS "herokupartner_tokens_expires_at_idx" ON "herokupartner_tokens" (expires_at);
}
