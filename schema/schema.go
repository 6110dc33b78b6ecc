// Package schema owns rushgate's Postgres schema: versioned SQL migrations
// embedded in the binary and applied with goose, and the creation of the
// database itself when it does not exist yet.
package schema

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Open connects to the database at dsn (a postgres:// URL), creating the
// database when it is missing, and applies pending migrations. Its
// connections fail any read or write silent for longer than ioTimeout (see
// Connect): DB_TIMEOUT in production, so that no Postgres call outlives the
// deadline of the request that made it by more than that.
func Open(ctx context.Context, dsn string, ioTimeout time.Duration) (*sqlx.DB, error) {
	if err := EnsureDatabase(ctx, dsn); err != nil {
		return nil, err
	}
	// Migrations may legitimately run long (an index on a big table): they
	// get their own connection without the I/O deadline.
	mig, err := sql.Open("postgres", dsn)
	if err != nil {
		return nil, fmt.Errorf("schema: open: %w", err)
	}
	err = Migrate(ctx, mig)
	mig.Close()
	if err != nil {
		return nil, err
	}
	return Connect(dsn, ioTimeout)
}

// Migrate applies every pending migration. Concurrent callers (replicas
// starting together) are serialised by an advisory lock.
func Migrate(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("schema: migrate: %w", err)
	}
	defer conn.Close()
	const lockID = 7265736867617465 // "rushgate" in spirit; any constant works
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, lockID); err != nil {
		return fmt.Errorf("schema: migrate lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockID)

	dir, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("schema: migrations: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, dir,
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("schema: migrations: %w", err)
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("schema: migrate: %w", err)
	}
	return nil
}

// EnsureDatabase creates the database named in dsn if it does not exist, by
// connecting to the server's "postgres" database.
func EnsureDatabase(ctx context.Context, dsn string) error {
	u, err := url.Parse(dsn)
	if err != nil {
		return fmt.Errorf("schema: bad DATABASE_URL: %w", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" || name == "postgres" {
		return nil
	}
	admin := *u
	admin.Path = "/postgres"
	db, err := sql.Open("postgres", admin.String())
	if err != nil {
		return fmt.Errorf("schema: open: %w", err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var exists bool
	if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("schema: look for database %q: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = db.ExecContext(ctx, `CREATE DATABASE `+pq.QuoteIdentifier(name))
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "42P04" { // duplicate_database: another replica won
		return nil
	}
	if err != nil {
		return fmt.Errorf("schema: create database %q: %w", name, err)
	}
	return nil
}

// DropDatabase removes the database named in dsn; tests use it to clean up.
func DropDatabase(ctx context.Context, dsn string) error {
	u, err := url.Parse(dsn)
	if err != nil {
		return err
	}
	name := strings.TrimPrefix(u.Path, "/")
	admin := *u
	admin.Path = "/postgres"
	db, err := sql.Open("postgres", admin.String())
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, `DROP DATABASE IF EXISTS `+pq.QuoteIdentifier(name)+` WITH (FORCE)`)
	return err
}
