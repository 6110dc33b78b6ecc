package svctest_test

import (
	"context"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/internal/svctest"
)

func TestRedisDiesAndComesBackEmpty(t *testing.T) {
	srv := svctest.StartRedis(t)
	opt, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxRetries = -1
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	srv.Kill()
	if srv.Running() {
		t.Fatal("Running after Kill")
	}
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("PING answered after Kill")
	}

	srv.Start()
	if err := rdb.Ping(ctx).Err(); err != nil {
		// The pool may hand out one connection of the killed server.
		if err := rdb.Ping(ctx).Err(); err != nil {
			t.Fatalf("PING after Start: %v", err)
		}
	}
	if n, err := rdb.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("after a restart: Exists = %d, %v; want an empty Redis", n, err)
	}
}

func TestPostgresDiesAndComesBackWithItsData(t *testing.T) {
	srv := svctest.StartPostgres(t)
	db, err := sqlx.Open("postgres", srv.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (n int); INSERT INTO t VALUES (42)`); err != nil {
		t.Fatal(err)
	}

	srv.Kill()
	start := time.Now()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := db.ExecContext(pctx, `SELECT 1`); err == nil {
		t.Fatal("query answered after Kill")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a killed Postgres took %v to fail a query; want a refused connection at once", d)
	}

	srv.Start()
	var n int
	if err := db.GetContext(ctx, &n, `SELECT n FROM t`); err != nil {
		t.Fatalf("after a restart: %v", err)
	}
	if n != 42 {
		t.Fatalf("after a restart: n = %d, want 42", n)
	}
	srv.Stop()
	if srv.Running() {
		t.Fatal("Running after Stop")
	}
}
