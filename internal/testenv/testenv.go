// Package testenv gives integration tests their own corner of the machine's
// real Redis and Postgres: a key prefix nobody else uses, or a fresh database,
// each removed when the test ends.
//
// TEST_REDIS_URL and TEST_DATABASE_URL point elsewhere than the local
// defaults. When a service does not answer the test fails (it is never
// skipped): `make test` starts both before running the tests.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/keyspace"
	"github.com/rushgate/rushgate/redisconn"
	"github.com/rushgate/rushgate/schema"
)

// RedisURL is the Redis the integration tests use.
func RedisURL() string {
	if u := os.Getenv("TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// DatabaseURL is the Postgres server (any database name) the tests use.
func DatabaseURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// Name returns a short random name for a test's own keys or database.
func Name() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Redis returns a client of the real Redis and a key space that only this
// test uses; every key under it is deleted when the test ends.
func Redis(t testing.TB) (redis.UniversalClient, keyspace.Space) {
	t.Helper()
	rdb, err := redisconn.Open(context.Background(), RedisOptions(config.RedisSingle, RedisURL()))
	if err != nil {
		t.Fatalf("testenv: Redis at %s does not answer (make test starts one): %v", RedisURL(), err)
	}
	space := keyspace.New("rgtest:" + Name() + ":")
	t.Cleanup(func() {
		DeleteKeys(context.Background(), rdb, space.Prefix())
		rdb.Close()
	})
	return rdb, space
}

// RedisOptions are the production settings of a client (redisconn) with the
// room a test needs: a pool for hundreds of goroutines, and a call deadline
// that a machine loaded by parallel test runs does not reach.
func RedisOptions(mode, url string) redisconn.Options {
	return redisconn.Options{Mode: mode, URL: url, Timeout: 10 * time.Second, PoolSize: 256}
}

// DeleteKeys deletes every key that starts with prefix.
func DeleteKeys(ctx context.Context, rdb redis.UniversalClient, prefix string) {
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			rdb.Unlink(ctx, batch...)
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		rdb.Unlink(ctx, batch...)
	}
}

// Postgres creates a fresh, migrated database for this test and returns a
// handle and its URL; the database is dropped when the test ends.
func Postgres(t testing.TB) (*sqlx.DB, string) {
	t.Helper()
	u, err := url.Parse(DatabaseURL())
	if err != nil {
		t.Fatalf("testenv: TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/rgtest_" + Name()
	dsn := u.String()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := schema.Open(ctx, dsn, 3*time.Second)
	if err != nil {
		t.Fatalf("testenv: Postgres at %s: %v (make test starts one)", DatabaseURL(), err)
	}
	db.SetMaxOpenConns(50)
	t.Cleanup(func() {
		db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := schema.DropDatabase(ctx, dsn); err != nil {
			t.Logf("testenv: drop %s: %v", dsn, err)
		}
	})
	return db, dsn
}
