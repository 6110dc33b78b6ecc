package redisconn_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/internal/svctest"
	"github.com/rushgate/rushgate/redisconn"
	"github.com/rushgate/rushgate/unreachable"
)

// A script that writes: INCR of its key, returning the new value.
var (
	writeScript = redis.NewScript(`return redis.call('INCR', KEYS[1])`)
	otherScript = redis.NewScript(`return redis.call('INCRBY', KEYS[1], 10)`)
)

// replicated starts a master and one replica of it, in sync.
func replicated(t *testing.T) (master, replica *svctest.Redis) {
	t.Helper()
	master = svctest.StartRedis(t)
	replica = svctest.StartRedisWith(t, svctest.FreePort, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port()))
	rdb := redis.NewClient(&redis.Options{Addr: replica.Addr()})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, _ := rdb.Info(context.Background(), "replication").Result()
		if strings.Contains(info, "master_link_status:up") {
			return master, replica
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica not in sync after 10s:\n%s", info)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// With REDIS_WAIT_REPLICAS 1, a chosen script is answered once the replica
// has its write; other scripts and commands are not waited for; a write the
// replica did not acknowledge in time is an error that the gateway answers
// as unavailable (503), and it stays on the master.
func TestWaitFollowsTheChosenScriptsOnTheirConnection(t *testing.T) {
	master, replica := replicated(t)
	ctx := context.Background()
	rdb, err := redisconn.Open(ctx, redisconn.Options{Mode: config.RedisSingle, URL: master.URL(), Timeout: 2 * time.Second, PoolSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	stats := new(redisconn.WaitStats)
	w, err := redisconn.WithWait(rdb, rdb, redisconn.Wait{Replicas: 1, Timeout: 300 * time.Millisecond, CallTimeout: 2 * time.Second}, stats, writeScript)
	if err != nil {
		t.Fatal(err)
	}
	onReplica := redis.NewClient(&redis.Options{Addr: replica.Addr(), MaxRetries: -1})
	defer onReplica.Close()

	// Concurrent writers: every acknowledged write is on the replica at the
	// moment it is answered (WAIT counted that connection's own write).
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := "wait:k" + strconv.Itoa(i)
			for range 20 {
				n, err := writeScript.Run(ctx, w, []string{key}).Int64()
				if err != nil {
					t.Error(err)
					return
				}
				got, err := onReplica.Get(ctx, key).Int64()
				if err != nil || got < n {
					t.Errorf("%s: answered %d, replica has %d (%v)", key, n, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := stats.Waited.Load(); got != 16*20 {
		t.Errorf("waited %d times, want %d", got, 16*20)
	}

	// A script the node does not know yet is loaded by EVAL, and waited for.
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := writeScript.Run(ctx, w, []string{"wait:flushed"}).Err(); err != nil {
		t.Fatalf("after SCRIPT FLUSH: %v", err)
	}
	if got := stats.Waited.Load(); got != 16*20+1 {
		t.Errorf("after SCRIPT FLUSH: waited %d times, want %d", got, 16*20+1)
	}

	// Other scripts pass through.
	if err := otherScript.Run(ctx, w, []string{"wait:other"}).Err(); err != nil {
		t.Fatal(err)
	}
	if got := stats.Waited.Load(); got != 16*20+1 {
		t.Errorf("another script was waited for: %d", got)
	}

	// At start-up the gateway warns when WAIT has no replica to spare.
	if ws := redisconn.WaitWarnings(ctx, rdb, 0); len(ws) != 0 {
		t.Errorf("REDIS_WAIT_REPLICAS=0: warnings %q", ws)
	}
	if ws := redisconn.WaitWarnings(ctx, rdb, 1); len(ws) != 1 || !strings.Contains(ws[0], "losing one stops") {
		t.Errorf("1 replica for REDIS_WAIT_REPLICAS=1: warnings %q, want that losing it stops writes", ws)
	}
	if ws := redisconn.WaitWarnings(ctx, rdb, 2); len(ws) != 1 || !strings.Contains(ws[0], "fewer than") {
		t.Errorf("1 replica for REDIS_WAIT_REPLICAS=2: warnings %q, want fewer than asked", ws)
	}

	// The replica is gone: the write is made but not acknowledged.
	replica.Kill()
	start := time.Now()
	err = writeScript.Run(ctx, w, []string{"wait:alone"}).Err()
	took := time.Since(start)
	if !errors.Is(err, redisconn.ErrNotReplicated) {
		t.Fatalf("without a replica: err %v, want ErrNotReplicated", err)
	}
	if !unreachable.Is(err) {
		t.Errorf("ErrNotReplicated is not answered as unavailable")
	}
	if got := stats.Short.Load(); got != 1 {
		t.Errorf("short acknowledgements = %d, want 1", got)
	}
	t.Logf("an unacknowledged write was answered after %v (REDIS_WAIT_TIMEOUT 300ms)", took.Round(time.Millisecond))
	if n, err := rdb.Get(ctx, "wait:alone").Int64(); err != nil || n != 1 {
		t.Errorf("the unacknowledged write on the master: %d, %v; want it made (WAIT cannot undo it)", n, err)
	}
}

func TestWithWaitRefusesWhatCouldNeverWork(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	for _, tc := range []struct {
		name string
		w    redisconn.Wait
		on   redis.UniversalClient
	}{
		{"no timeout", redisconn.Wait{Replicas: 1}, rdb},
		{"timeout not below REDIS_TIMEOUT", redisconn.Wait{Replicas: 1, Timeout: time.Second, CallTimeout: time.Second}, rdb},
		{"a ring", redisconn.Wait{Replicas: 1, Timeout: 10 * time.Millisecond}, redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})},
	} {
		if _, err := redisconn.WithWait(tc.on, tc.on, tc.w, nil, writeScript); !errors.Is(err, redisconn.ErrBadOptions) {
			t.Errorf("%s: err %v, want ErrBadOptions", tc.name, err)
		}
	}
	same, err := redisconn.WithWait(rdb, rdb, redisconn.Wait{}, nil, writeScript)
	if err != nil || same != redis.UniversalClient(rdb) {
		t.Errorf("Replicas 0: %T, %v; want the client itself", same, err)
	}
}
