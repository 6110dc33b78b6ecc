package schema_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/rushgate/rushgate/internal/faultproxy"
	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/schema"
)

func TestASilentNetworkFailsAQueryInsteadOfHangingIt(t *testing.T) {
	_, dsn := testenv.Postgres(t)
	u, _ := url.Parse(dsn)
	proxy := faultproxy.Start(t, u.Host)
	u.Host = proxy.Addr()
	db, err := schema.Connect(u.String(), 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `SELECT 1`); err != nil {
		t.Fatal(err)
	}
	proxy.Stall() // nothing moves and nothing is closed: a partition
	done := make(chan error, 1)
	go func() {
		// No context deadline at all: only the connection's own can end it.
		_, err := db.ExecContext(ctx, `SELECT pg_sleep(0)`)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a query through a stalled network succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a query through a stalled network still hangs after 10s (I/O deadline 300ms)")
	}
	proxy.Restore()
	if _, err := db.ExecContext(ctx, `SELECT 1`); err != nil {
		t.Errorf("after the network came back: %v", err)
	}
}
