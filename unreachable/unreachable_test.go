package unreachable_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"
	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/unreachable"
)

// closedPort returns an address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// replying serves a fake Redis that answers every command with reply.
func replying(t *testing.T, reply string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
					if _, err := c.Write([]byte(reply)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

func TestStoreFailuresAreUnreachable(t *testing.T) {
	ctx := context.Background()
	redisAt := func(addr string) *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, Protocol: 2, DisableIdentity: true})
		t.Cleanup(func() { c.Close() })
		return c
	}
	closed := redisAt(closedPort(t))
	closed.Close()
	db, _ := testenv.Postgres(t)
	deadline, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	<-deadline.Done()

	for _, tc := range []struct {
		name string
		err  func() error
	}{
		{"RedisConnectionRefused", func() error { return redisAt(closedPort(t)).Ping(ctx).Err() }},
		{"RedisClientClosed", func() error { return closed.Ping(ctx).Err() }},
		{"RedisLoading", func() error {
			return redisAt(replying(t, "-LOADING Redis is loading the dataset in memory\r\n")).Get(ctx, "k").Err()
		}},
		{"RedisMasterDown", func() error {
			return redisAt(replying(t, "-MASTERDOWN Link with MASTER is down\r\n")).Get(ctx, "k").Err()
		}},
		{"RedisDeadline", func() error { return redisAt(replying(t, "")).Get(deadline, "k").Err() }},
		{"PostgresConnectionRefused", func() error {
			other, err := sqlx.Open("postgres", "postgres://postgres@"+closedPort(t)+"/postgres?sslmode=disable")
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			return other.PingContext(ctx)
		}},
		{"PostgresStatementTimeout", func() error {
			tx, err := db.BeginTxx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			tx.MustExec(`SET LOCAL statement_timeout = 10`)
			_, err = tx.Exec(`SELECT pg_sleep(5)`)
			return err
		}},
		{"PostgresDeadline", func() error { return db.PingContext(deadline) }},
		{"Wrapped", func() error { return fmt.Errorf("booking: hold: %w", redisAt(closedPort(t)).Ping(ctx).Err()) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			if !unreachable.Is(err) {
				t.Fatalf("Is(%v) = false, want true", err)
			}
		})
	}
}

func TestRefusalsAndBugsAreNotUnreachable(t *testing.T) {
	ctx := context.Background()
	rdb, keys := testenv.Redis(t)
	db, _ := testenv.Postgres(t)
	db.MustExec(`CREATE TABLE t (id INT PRIMARY KEY)`)
	db.MustExec(`INSERT INTO t VALUES (1)`)
	for _, tc := range []struct {
		name string
		err  func() error
	}{
		{"Nil", func() error { return nil }},
		{"RedisNil", func() error { return rdb.Get(ctx, keys.Prefix()+"missing").Err() }},
		{"RedisWrongType", func() error {
			rdb.Set(ctx, keys.Prefix()+"s", "x", time.Minute)
			return rdb.ZAdd(ctx, keys.Prefix()+"s", redis.Z{Member: "m"}).Err()
		}},
		{"RedisScriptError", func() error { return rdb.Eval(ctx, "return redis.error_reply('boom')", nil).Err() }},
		{"PostgresUniqueViolation", func() error { _, err := db.Exec(`INSERT INTO t VALUES (1)`); return err }},
		{"PostgresSyntax", func() error { _, err := db.Exec(`SELEC 1`); return err }},
		{"Plain", func() error { return errors.New("connection refused, said the comment") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.err(); unreachable.Is(err) {
				t.Fatalf("Is(%v) = true, want false", err)
			}
		})
	}
}

func TestMarkWrapsOnlyUnreachableErrorsAndOnce(t *testing.T) {
	errDown := errors.New("store unavailable")
	refused := fmt.Errorf("dial: %w", context.DeadlineExceeded)
	marked := unreachable.Mark(errDown, refused)
	if !errors.Is(marked, errDown) || !errors.Is(marked, context.DeadlineExceeded) {
		t.Fatalf("Mark = %v: want both the sentinel and the cause in the chain", marked)
	}
	if again := unreachable.Mark(errDown, marked); again != marked {
		t.Fatalf("marking twice = %v, want %v unchanged", again, marked)
	}
	bug := errors.New("unexpected reply")
	if got := unreachable.Mark(errDown, bug); got != bug {
		t.Fatalf("Mark of a bug = %v, want it unchanged", got)
	}
	if got := unreachable.Mark(errDown, nil); got != nil {
		t.Fatalf("Mark(nil) = %v", got)
	}
}
