package redisconn

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Warnings returns what in the Redis server settings can lose places in line
// silently: an eviction policy other than noeviction (a full Redis would
// drop keys of the line instead of refusing writes), or no persistence at
// all (a restart comes back empty; tokens then fail with "enter again",
// which is safe but loses everyone's place). On a cluster every master is
// asked. A server that refuses CONFIG GET (managed services often do) gives
// a warning saying the settings could not be checked, never an error.
func Warnings(ctx context.Context, rdb redis.UniversalClient) []string {
	var (
		out []string
		add = func(addr string, ws []string) {
			for _, w := range ws {
				out = append(out, addr+": "+w)
			}
		}
	)
	if c, ok := rdb.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		err := c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			ws := nodeWarnings(ctx, node)
			mu.Lock()
			add(node.Options().Addr, ws)
			mu.Unlock()
			return nil
		})
		if err != nil {
			out = append(out, fmt.Sprintf("cluster: masters could not be listed: %v", err))
		}
		return out
	}
	add("redis", nodeWarnings(ctx, rdb))
	return out
}

func nodeWarnings(ctx context.Context, rdb redis.Cmdable) []string {
	cfg, err := rdb.ConfigGet(ctx, "*").Result()
	if err != nil {
		return []string{fmt.Sprintf("CONFIG GET refused (%v): check by hand that maxmemory-policy is noeviction and persistence (appendonly yes, appendfsync everysec) is on", err)}
	}
	var ws []string
	if p, ok := cfg["maxmemory-policy"]; ok && p != "noeviction" {
		ws = append(ws, fmt.Sprintf("maxmemory-policy is %q: a full Redis evicts keys, silently dropping places in line and holds; set noeviction", p))
	}
	if cfg["appendonly"] != "yes" && strings.TrimSpace(cfg["save"]) == "" {
		ws = append(ws, "persistence is off (appendonly no, no save points): a restart comes back empty and every waiting user must enter again; set appendonly yes with appendfsync everysec")
	}
	return ws
}

// WaitWarnings returns what makes REDIS_WAIT_REPLICAS=replicas fail or
// fragile, per master (every master of a cluster): fewer connected replicas
// than asked (every new token and hold on it would answer 503), or exactly
// as many (losing one stops them until it is back). None when replicas is 0.
func WaitWarnings(ctx context.Context, rdb redis.UniversalClient, replicas int) []string {
	if replicas <= 0 {
		return nil
	}
	var (
		mu  sync.Mutex
		out []string
	)
	check := func(ctx context.Context, addr string, node redis.Cmdable) {
		w := waitWarning(ctx, node, replicas)
		if w == "" {
			return
		}
		mu.Lock()
		out = append(out, addr+": "+w)
		mu.Unlock()
	}
	if c, ok := rdb.(*redis.ClusterClient); ok {
		err := c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			check(ctx, node.Options().Addr, node)
			return nil
		})
		if err != nil {
			out = append(out, fmt.Sprintf("cluster: masters could not be listed: %v", err))
		}
		return out
	}
	check(ctx, "redis", rdb)
	return out
}

func waitWarning(ctx context.Context, node redis.Cmdable, replicas int) string {
	info, err := node.Info(ctx, "replication").Result()
	if err != nil {
		return fmt.Sprintf("INFO replication failed (%v): check by hand that it has more than %d replicas", err, replicas)
	}
	connected := -1
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_slaves:"); ok {
			fmt.Sscan(v, &connected)
		}
	}
	switch {
	case connected < 0:
		return "INFO replication does not say how many replicas are connected"
	case connected < replicas:
		return fmt.Sprintf("%d connected replicas, fewer than REDIS_WAIT_REPLICAS=%d: every new token and hold on it answers 503", connected, replicas)
	case connected == replicas:
		return fmt.Sprintf("%d connected replicas, as many as REDIS_WAIT_REPLICAS=%d: losing one stops new tokens and holds on it until it is back", connected, replicas)
	}
	return ""
}
