package redisconn

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Wait asks for synchronous replication of chosen scripts: after each call of
// one of them, WAIT Replicas Timeout runs on the same connection, so Redis
// counts the replicas that acknowledged that very write. Replicas 0 turns it
// off.
type Wait struct {
	Replicas int
	Timeout  time.Duration
	// CallTimeout (REDIS_TIMEOUT) bounds the pipeline of script and WAIT,
	// as it bounds every other call; Timeout must be shorter, so that the
	// script has time left.
	CallTimeout time.Duration
}

// WaitStats count what WAIT saw; read them with Load. They are shared by
// every client WithWait returns from one Waiter.
type WaitStats struct {
	// Waited counts writes followed by WAIT; Short those that fewer than
	// Replicas acknowledged in time (answered as unavailable).
	Waited, Short atomic.Int64
}

// ErrNotReplicated is the error of a script whose write fewer replicas than
// asked acknowledged within the WAIT timeout. It is a timeout (it says
// Timeout() and Temporary()), so the layers above answer it as a store that
// could not serve in time: 503 with Retry-After. The write is not undone:
// Redis cannot take it back, and it may still reach the replicas.
var ErrNotReplicated error = notReplicated{}

type notReplicated struct{}

func (notReplicated) Error() string {
	return "redisconn: fewer replicas than REDIS_WAIT_REPLICAS acknowledged the write in time"
}
func (notReplicated) Timeout() bool   { return true }
func (notReplicated) Temporary() bool { return true }

// errMoved is a script that reached a node that no longer serves its slot (a
// failover or a reshard moved it); the slot map is reloaded, and the caller
// answers it like an outage, retried later.
type errMoved struct{ reply error }

func (e errMoved) Error() string   { return "redisconn: slot moved, try again: " + e.reply.Error() }
func (e errMoved) Unwrap() error   { return e.reply }
func (e errMoved) Timeout() bool   { return false }
func (e errMoved) Temporary() bool { return true }

// WithWait returns next with the calls of scripts followed by WAIT, as Wait says; every other command passes through to next.
// routing is the client opened by New (a single-node, Sentinel or cluster
// client): the script and its WAIT run as one pipeline on one connection of
// the node that serves the script's first key, which is what WAIT needs (it
// counts acknowledgements of the writes of its own connection). next may be
// routing itself or a wrapper of it (an auto-pipeliner). With Replicas 0,
// next is returned as it is.
func WithWait(next, routing redis.UniversalClient, w Wait, stats *WaitStats, scripts ...*redis.Script) (redis.UniversalClient, error) {
	if w.Replicas <= 0 {
		return next, nil
	}
	if w.Timeout <= 0 {
		return nil, fmt.Errorf("%w: REDIS_WAIT_TIMEOUT must be positive (WAIT 0 would block forever)", ErrBadOptions)
	}
	if w.CallTimeout > 0 && w.Timeout >= w.CallTimeout {
		return nil, fmt.Errorf("%w: REDIS_WAIT_TIMEOUT (%v) must be shorter than REDIS_TIMEOUT (%v), which bounds the write and its WAIT", ErrBadOptions, w.Timeout, w.CallTimeout)
	}
	switch routing.(type) {
	case *redis.Client, *redis.ClusterClient:
	default:
		return nil, fmt.Errorf("%w: REDIS_WAIT_REPLICAS needs a single-node, Sentinel or cluster client, not %T", ErrBadOptions, routing)
	}
	if stats == nil {
		stats = new(WaitStats)
	}
	c := &waitClient{UniversalClient: next, routing: routing, w: w, stats: stats, shas: map[string]bool{}}
	for _, s := range scripts {
		c.shas[strings.ToLower(s.Hash())] = true
	}
	return c, nil
}

func shaOf(src string) string {
	h := sha1.Sum([]byte(src))
	return hex.EncodeToString(h[:])
}

type waitClient struct {
	redis.UniversalClient
	routing redis.UniversalClient
	w       Wait
	stats   *WaitStats
	shas    map[string]bool // lower-case SHA1 of the scripts to wait after
}

// EvalSha is what redis.Script.Run sends first.
func (c *waitClient) EvalSha(ctx context.Context, sha string, keys []string, args ...any) *redis.Cmd {
	if !c.shas[strings.ToLower(sha)] || len(keys) == 0 {
		return c.UniversalClient.EvalSha(ctx, sha, keys, args...)
	}
	return c.run(ctx, keys[0], func(p redis.Pipeliner) *redis.Cmd { return p.EvalSha(ctx, sha, keys, args...) })
}

// Eval is redis.Script.Run's fallback when the node does not know the
// script yet (NOSCRIPT): EVAL loads it, and WAIT follows as well.
func (c *waitClient) Eval(ctx context.Context, src string, keys []string, args ...any) *redis.Cmd {
	if len(keys) == 0 || !c.shas[shaOf(src)] {
		return c.UniversalClient.Eval(ctx, src, keys, args...)
	}
	return c.run(ctx, keys[0], func(p redis.Pipeliner) *redis.Cmd { return p.Eval(ctx, src, keys, args...) })
}

// run sends the script and WAIT in one pipeline to the node of key.
func (c *waitClient) run(ctx context.Context, key string, script func(redis.Pipeliner) *redis.Cmd) *redis.Cmd {
	ctx, cancel := context.WithTimeout(ctx, c.callTimeout())
	defer cancel()
	node, err := c.node(ctx, key)
	if err != nil {
		cmd := redis.NewCmd(ctx)
		cmd.SetErr(err)
		c.reloadIf(ctx, err)
		return cmd
	}
	var (
		cmd  *redis.Cmd
		wait *redis.Cmd
	)
	_, _ = node.Pipelined(ctx, func(p redis.Pipeliner) error {
		cmd = script(p)
		wait = p.Do(ctx, "wait", c.w.Replicas, c.w.Timeout.Milliseconds())
		return nil
	})
	if err := cmd.Err(); err != nil {
		if isMoved(err) {
			cmd.SetErr(errMoved{err})
		}
		c.reloadIf(ctx, err)
		return cmd
	}
	c.stats.Waited.Add(1)
	acked, err := wait.Int64()
	if err != nil {
		// The script ran, but whether it reached a replica is unknown.
		c.reloadIf(ctx, err)
		cmd.SetErr(fmt.Errorf("redisconn: WAIT after the write: %w", err))
		return cmd
	}
	if acked < int64(c.w.Replicas) {
		c.stats.Short.Add(1)
		cmd.SetErr(ErrNotReplicated)
	}
	return cmd
}

func (c *waitClient) callTimeout() time.Duration {
	if c.w.CallTimeout > 0 {
		return c.w.CallTimeout
	}
	return 500 * time.Millisecond
}

// node is the client of the node that serves key: the master of its slot in
// a cluster, else the one client (a Sentinel client follows the master).
func (c *waitClient) node(ctx context.Context, key string) (*redis.Client, error) {
	switch r := c.routing.(type) {
	case *redis.ClusterClient:
		return r.MasterForKey(ctx, key)
	case *redis.Client:
		return r, nil
	}
	return nil, fmt.Errorf("redisconn: no node for %T", c.routing)
}

// reloadIf asks a cluster client to reload its slot map after an error that
// says the map may be stale, as the cluster client's own calls do.
func (c *waitClient) reloadIf(ctx context.Context, err error) {
	cc, ok := c.routing.(*redis.ClusterClient)
	if ok && (stale(err) || isMoved(err)) {
		cc.ReloadState(ctx)
	}
}

func isMoved(err error) bool {
	var reply redis.Error
	if !errors.As(err, &reply) {
		return false
	}
	s := reply.Error()
	return strings.HasPrefix(s, "MOVED ") || strings.HasPrefix(s, "ASK ")
}
