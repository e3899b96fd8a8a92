package pgstore

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// statements are built once in New, since the table name is fixed then.
type statements struct {
	schema   []string
	load     string
	lock     string
	upsert   string
	update   string
	delete   string
	expiring string
}

// Schema returns the SQL that creates table (DefaultTable when empty) and
// its index, for teams that run their own migrations. Every statement is
// idempotent.
func Schema(table string) (string, error) {
	return schemaSQL(table, DefaultTable, func(t string) []string { return buildStatements(t).schema })
}

// schemaSQL is the script that creates a table (fallback when table is
// empty) from the statements build makes for it; the name follows
// WithTable's rules, as every store's does.
func schemaSQL(table, fallback string, build func(table string) []string) (string, error) {
	if table == "" {
		table = fallback
	}
	var c config
	if err := WithTable(table)(&c); err != nil {
		return "", err
	}
	return strings.Join(build(table), ";\n\n") + ";\n", nil
}

// quoteTable returns table, which may be schema-qualified, quoted for SQL,
// and a function quoting the name of one of its indexes: the table's own
// name followed by suffix, in the table's schema.
func quoteTable(table string) (q string, index func(suffix string) string) {
	parts := strings.Split(table, ".")
	last := parts[len(parts)-1]
	return pgx.Identifier(parts).Sanitize(), func(suffix string) string { return pgx.Identifier{last + suffix}.Sanitize() }
}

func buildStatements(table string) statements {
	q, indexOf := quoteTable(table)
	index := indexOf("_expires_at_idx")
	const cols = "access_token, refresh_token, expires_at, encrypted"
	return statements{
		schema: []string{
			`CREATE TABLE IF NOT EXISTS ` + q + ` (
    resource_uuid uuid        PRIMARY KEY,
    access_token  text        NOT NULL,
    refresh_token text        NOT NULL,
    expires_at    timestamptz,
    encrypted     boolean     NOT NULL DEFAULT false,
    version       bigint      NOT NULL DEFAULT 1,
    updated_at    timestamptz NOT NULL DEFAULT now()
)`,
			`CREATE INDEX IF NOT EXISTS ` + index + ` ON ` + q + ` (expires_at)`,
		},
		load: `SELECT ` + cols + ` FROM ` + q + ` WHERE resource_uuid = $1`,
		lock: `SELECT ` + cols + ` FROM ` + q + ` WHERE resource_uuid = $1 FOR UPDATE`,
		upsert: `INSERT INTO ` + q + ` AS t (resource_uuid, ` + cols + `) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (resource_uuid) DO UPDATE SET access_token = EXCLUDED.access_token,
    refresh_token = EXCLUDED.refresh_token, expires_at = EXCLUDED.expires_at,
    encrypted = EXCLUDED.encrypted, version = t.version + 1, updated_at = now()`,
		update: `UPDATE ` + q + ` SET access_token = $2, refresh_token = $3, expires_at = $4,
    encrypted = $5, version = version + 1, updated_at = now() WHERE resource_uuid = $1`,
		delete:   `DELETE FROM ` + q + ` WHERE resource_uuid = $1`,
		expiring: `SELECT resource_uuid FROM ` + q + ` WHERE expires_at < $1 AND resource_uuid > $2 ORDER BY resource_uuid LIMIT $3`,
	}
}

// migrateLockKey serialises Migrate across replicas that start together:
// two concurrent CREATE TABLE IF NOT EXISTS can still collide in
// PostgreSQL's catalog.
const migrateLockKey = "herokupartner/pgstore migrate"

// migrate runs schema in one transaction under the migration lock, which
// every Migrate takes.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema []string) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, migrateLockKey); err != nil {
			return err
		}
		for _, stmt := range schema {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	})
}
