package gateway_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"testing"
	"time"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/gateway"
	"github.com/rushgate/rushgate/internal/faultproxy"
	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/schema"
)

// unstarted is a replica whose Postgres is reached through a fault proxy with
// a 200 ms I/O deadline, its concert seeded, its loops not started.
func unstarted(t *testing.T) (*gateway.Gateway, *faultproxy.Proxy) {
	t.Helper()
	_, dsn := testenv.Postgres(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := faultproxy.Start(t, u.Host)
	u.Host = proxy.Addr()
	db, err := schema.Connect(u.String(), 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rdb, keys := testenv.Redis(t)
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.KeyPrefix = keys.Prefix()
	cfg.TokenSecret = "start-test"
	gw, err := gateway.New(cfg, rdb, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gw.Booking.Seed(context.Background(), 2, 10, 1000, time.Now().AddDate(0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	return gw, proxy
}

// A replica started while Postgres is silent keeps trying to load its
// catalogue, and starts, with the catalogue, once Postgres answers again.
func TestStartRidesOutAPostgresThatAnswersLate(t *testing.T) {
	gw, proxy := unstarted(t)
	proxy.Stall()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	started := make(chan error, 1)
	go func() { started <- gw.Start(ctx) }()
	// Several 200 ms deadlines pass while Postgres is silent.
	select {
	case err := <-started:
		t.Fatalf("Start returned while Postgres was silent: %v", err)
	case <-time.After(time.Second):
	}
	proxy.Restore()
	if err := <-started; err != nil {
		t.Fatalf("Start after Postgres came back: %v", err)
	}
	defer gw.StopAdmitting()
	if ids := gw.Booking.ConcertIDs(); len(ids) != 1 {
		t.Fatalf("catalogue after start holds concerts %v, want the seeded one", ids)
	}
}

// The caller's deadline bounds the wait: a Postgres that never answers fails
// the start with the store's error.
func TestStartGivesUpAtItsDeadline(t *testing.T) {
	gw, proxy := unstarted(t)
	proxy.Stall()
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	err := gw.Start(ctx)
	if !errors.Is(err, booking.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start against a silent Postgres = %v, want the store unavailable and the deadline passed", err)
	}
}
