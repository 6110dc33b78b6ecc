package redisconn_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/internal/faultproxy"
	"github.com/rushgate/rushgate/internal/svctest"
	"github.com/rushgate/rushgate/redisconn"
)

func TestEachModeBuildsItsKindOfClient(t *testing.T) {
	for _, tc := range []struct {
		mode, url, master string
		want              string
	}{
		{config.RedisSingle, "redis://127.0.0.1:6379/2", "", "*redis.Client"},
		{config.RedisCluster, "redis://127.0.0.1:7000?addr=127.0.0.1:7001", "", "*redis.ClusterClient"},
		{config.RedisSentinel, "redis://127.0.0.1:26379?addr=127.0.0.1:26380", "mymaster", "*redis.Client"},
	} {
		rdb, err := redisconn.New(redisconn.Options{Mode: tc.mode, URL: tc.url, Master: tc.master, Timeout: time.Second})
		if err != nil {
			t.Fatalf("%s: %v", tc.mode, err)
		}
		var got string
		switch rdb.(type) {
		case *redis.ClusterClient:
			got = "*redis.ClusterClient"
		case *redis.Client:
			got = "*redis.Client"
		}
		if got != tc.want {
			t.Errorf("%s: client %T, want %s", tc.mode, rdb, tc.want)
		}
		rdb.Close()
	}
}

func TestBadOptionsAreRefusedBeforeAnyDial(t *testing.T) {
	for _, o := range []redisconn.Options{
		{Mode: "ring", URL: "redis://127.0.0.1:6379"},
		{Mode: config.RedisSingle, URL: "http://127.0.0.1:6379"},
		{Mode: config.RedisCluster, URL: "redis://127.0.0.1:7000?nonsense=1"},
		{Mode: config.RedisSentinel, URL: "redis://127.0.0.1:26379"},
	} {
		if _, err := redisconn.New(o); !errors.Is(err, redisconn.ErrBadOptions) {
			t.Errorf("%+v: err = %v, want ErrBadOptions", o, err)
		}
	}
}

// A stalled Redis (a partition: nothing answers, nothing is closed) fails a
// call within the deadline, its retry included.
func TestACallToAStalledRedisFailsWithinTheTimeout(t *testing.T) {
	srv := svctest.StartRedis(t)
	proxy := faultproxy.Start(t, srv.Addr())
	timeout := time.Second
	rdb, err := redisconn.Open(context.Background(), redisconn.Options{
		Mode: config.RedisSingle, URL: "redis://" + proxy.Addr() + "/0", Timeout: timeout, PoolSize: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	proxy.Stall()
	start := time.Now()
	err = rdb.Get(context.Background(), "k").Err()
	took := time.Since(start)
	if err == nil || errors.Is(err, redis.Nil) {
		t.Fatalf("GET through a stalled network answered %v", err)
	}
	// The bound is generous (a loaded machine), yet below the two timeouts
	// that a retried call would take without the deadline.
	if took >= 2*timeout {
		t.Errorf("GET failed after %v, want under %v", took, 2*timeout)
	}
}

func TestOpenFailsFastWhenNothingListens(t *testing.T) {
	port := svctest.FreePort(t)
	_, err := redisconn.Open(context.Background(), redisconn.Options{
		Mode: config.RedisSingle, URL: "redis://127.0.0.1:" + strconv.Itoa(port) + "/0", Timeout: 200 * time.Millisecond,
	})
	if err == nil {
		t.Fatal("Open succeeded with nothing listening")
	}
}

func TestWarningsNameEvictionAndMissingPersistence(t *testing.T) {
	srv := svctest.StartRedis(t) // no persistence
	rdb, err := redisconn.Open(context.Background(), redisconn.Options{Mode: config.RedisSingle, URL: srv.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err(); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(redisconn.Warnings(ctx, rdb), "\n")
	for _, want := range []string{"maxmemory-policy", "persistence is off"} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings %q do not mention %s", got, want)
		}
	}
	rdb.ConfigSet(ctx, "maxmemory-policy", "noeviction")
	rdb.ConfigSet(ctx, "appendonly", "yes")
	if ws := redisconn.Warnings(ctx, rdb); len(ws) != 0 {
		t.Errorf("warnings with noeviction and AOF on: %q", ws)
	}
	// A server that refuses CONFIG (as managed ones may) is a warning, not an error.
	rdb.Do(ctx, "ACL", "SETUSER", "default", "-config")
	if ws := redisconn.Warnings(ctx, rdb); len(ws) != 1 || !strings.Contains(ws[0], "CONFIG GET refused") {
		t.Errorf("warnings with CONFIG refused: %q", ws)
	}
}

func TestCheckVersionRefusesAnOlderRedis(t *testing.T) {
	srv := svctest.StartRedis(t)
	rdb, err := redisconn.Open(context.Background(), redisconn.Options{Mode: config.RedisSingle, URL: srv.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx := context.Background()
	if ws, err := redisconn.CheckVersion(ctx, rdb); err != nil || len(ws) != 0 {
		t.Fatalf("this machine's Redis: %q, %v; want no warning and no error", ws, err)
	}
	// The same server, as if it were older than the scripts need.
	was := redisconn.MinVersion
	redisconn.MinVersion = [2]int{99, 0}
	defer func() { redisconn.MinVersion = was }()
	if _, err := redisconn.CheckVersion(ctx, rdb); err == nil || !strings.Contains(err.Error(), "99.0 or later") {
		t.Errorf("a Redis older than MinVersion: err = %v, want one naming 99.0", err)
	}
	// A version that cannot be read is a warning, not an error.
	rdb.Do(ctx, "ACL", "SETUSER", "default", "-info")
	if ws, err := redisconn.CheckVersion(ctx, rdb); err != nil || len(ws) != 1 || !strings.Contains(ws[0], "INFO server refused") {
		t.Errorf("INFO refused: %q, %v; want one warning", ws, err)
	}
}
