// Package gatewaytest builds a whole gateway replica for tests, on the
// machine's real Redis (a key prefix of its own) and Postgres (a database of
// its own), both cleaned up when the test ends.
package gatewaytest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/gateway"
	"github.com/rushgate/rushgate/internal/testenv"
)

// Replica is a gateway with the stores under it.
type Replica struct {
	*gateway.Gateway
	Config config.Config
	Redis  redis.UniversalClient
	DB     *sqlx.DB
}

// Secrets of the test replicas.
const (
	AdminToken  = "admin-secret-for-tests"
	TokenSecret = "token-secret-for-tests"
)

// New returns a replica with the contract's defaults, the test secrets, no
// enter rate limit (change may alter any setting), and concert 1 seeded with
// dates days from tomorrow of seats seats at price won. Its loops are not
// started: Start them for admission, or drive Queue.Admit.
func New(t testing.TB, dates, seats int, price int64, change func(*config.Config)) *Replica {
	t.Helper()
	rdb, keys := testenv.Redis(t)
	return NewOn(t, rdb, keys.Prefix(), dates, seats, price, change)
}

// NewOn is New on a Redis of the test's choosing, such as a private server
// that an outage test breaks, with its keys under prefix.
func NewOn(t testing.TB, rdb redis.UniversalClient, prefix string, dates, seats int, price int64, change func(*config.Config)) *Replica {
	t.Helper()
	db, _ := testenv.Postgres(t)
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.KeyPrefix = prefix
	cfg.AdminToken = AdminToken
	cfg.TokenSecret = TokenSecret
	cfg.EnterRatePerIP = 0
	if change != nil {
		change(&cfg)
	}
	gw, err := gateway.New(cfg, rdb, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := gw.Booking.Seed(ctx, dates, seats, price, time.Now().AddDate(0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	if err := gw.Booking.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	return &Replica{Gateway: gw, Config: cfg, Redis: rdb, DB: db}
}
