package redisconn

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// MinVersion is the oldest Redis the scripts run on, as major and minor: a
// hold takes its seat by one SET with both NX and GET (lua/hold_batch.lua),
// which Redis refuses before 7.0. On an older one every hold would fail.
var MinVersion = [2]int{7, 0}

// CheckVersion returns an error naming each node (every master of a
// cluster) that runs a Redis older than MinVersion, so that a replica
// refuses to start rather than fail every hold. A version that cannot be
// read (INFO refused, as managed services may, or without redis_version)
// is a warning, never an error.
func CheckVersion(ctx context.Context, rdb redis.UniversalClient) (warnings []string, err error) {
	var (
		mu  sync.Mutex
		old []string
	)
	check := func(addr string, node redis.Cmdable) {
		info, ierr := node.Info(ctx, "server").Result()
		v, ok := versionIn(info)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case ierr != nil:
			warnings = append(warnings, fmt.Sprintf("%s: INFO server refused (%v): check by hand that Redis is %d.%d or later", addr, ierr, MinVersion[0], MinVersion[1]))
		case !ok:
			warnings = append(warnings, fmt.Sprintf("%s: INFO server gives no redis_version: check by hand that Redis is %d.%d or later", addr, MinVersion[0], MinVersion[1]))
		case v[0] < MinVersion[0] || v[0] == MinVersion[0] && v[1] < MinVersion[1]:
			old = append(old, fmt.Sprintf("%s runs %d.%d", addr, v[0], v[1]))
		}
	}
	if c, ok := rdb.(*redis.ClusterClient); ok {
		if err := c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			check(node.Options().Addr, node)
			return nil
		}); err != nil {
			warnings = append(warnings, fmt.Sprintf("cluster: masters could not be listed: %v", err))
		}
	} else {
		check("redis", rdb)
	}
	if len(old) > 0 {
		return warnings, fmt.Errorf("redisconn: Redis %d.%d or later is needed (holds use SET NX GET): %s", MinVersion[0], MinVersion[1], strings.Join(old, ", "))
	}
	return warnings, nil
}

// versionIn finds the major and minor version in an INFO server reply.
func versionIn(info string) ([2]int, bool) {
	for line := range strings.Lines(info) {
		v, found := strings.CutPrefix(strings.TrimSpace(line), "redis_version:")
		if !found {
			continue
		}
		parts := strings.SplitN(v, ".", 3)
		if len(parts) < 2 {
			return [2]int{}, false
		}
		major, err1 := strconv.Atoi(parts[0])
		minor, err2 := strconv.Atoi(parts[1])
		return [2]int{major, minor}, err1 == nil && err2 == nil
	}
	return [2]int{}, false
}
