// Package redisconn opens rushgate's Redis with the production settings: one
// node, a Redis Cluster, or a master watched by Sentinel (REDIS_MODE), each as
// a redis.UniversalClient, with a deadline on every call so that an
// unreachable Redis is a fast error and never a hang. The gateway, the bench
// tools and the tests all open Redis here, so they run with the same settings.
// WithWait (wait.go) adds synchronous replication of chosen scripts
// (REDIS_WAIT_REPLICAS); Warnings and WaitWarnings (durability.go) report
// server settings that can lose places in line.
package redisconn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/config"
)

// Options says which Redis to open and how.
type Options struct {
	// Mode is config.RedisSingle, config.RedisCluster or config.RedisSentinel.
	Mode string
	// URL is a redis:// URL. In cluster mode it is a seed list
	// (redis://h1:7000?addr=h2:7001&addr=h3:7002); in sentinel mode it names
	// the sentinels the same way. Its address, credentials, database, TLS,
	// protocol and client name are used; timeouts and pool sizes come from
	// the fields below.
	URL string
	// Master is the master set that Sentinel watches (sentinel mode only).
	Master string
	// Timeout bounds each call, its retry and its dials included.
	Timeout time.Duration
	// PoolSize is the connection pool per node; MinIdleConns are kept open.
	PoolSize, MinIdleConns int
}

// FromConfig are the options of a gateway replica.
func FromConfig(cfg config.Config) Options {
	return Options{
		Mode: cfg.RedisMode, URL: cfg.RedisURL, Master: cfg.RedisMaster,
		Timeout: cfg.RedisTimeout, PoolSize: 128, MinIdleConns: 8,
	}
}

// ErrBadOptions is returned when the mode, URL or master set is unusable.
var ErrBadOptions = errors.New("redisconn: bad options")

// New builds the client without talking to Redis.
func New(o Options) (redis.UniversalClient, error) {
	u, err := universal(o)
	if err != nil {
		return nil, err
	}
	var rdb redis.UniversalClient
	switch o.Mode {
	case config.RedisCluster:
		c := redis.NewClusterClient(u.Cluster())
		c.AddHook(reloadOnNetworkError{c})
		rdb = c
	case config.RedisSentinel:
		rdb = redis.NewFailoverClient(u.Failover())
	default:
		rdb = redis.NewClient(u.Simple())
	}
	rdb.AddHook(callDeadline(o.Timeout))
	return rdb, nil
}

// Open builds the client and checks within 5 s that Redis answers.
func Open(ctx context.Context, o Options) (redis.UniversalClient, error) {
	rdb, err := New(o)
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pingCtx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redis (%s) at %s: %w", o.Mode, config.MaskURL(o.URL), err)
	}
	return rdb, nil
}

// universal reads the URL of the mode into go-redis's options and applies
// the settings every mode shares.
func universal(o Options) (*redis.UniversalOptions, error) {
	var u redis.UniversalOptions
	switch o.Mode {
	case config.RedisSingle, "":
		opt, err := redis.ParseURL(o.URL)
		if err != nil {
			return nil, fmt.Errorf("%w: REDIS_URL: %v", ErrBadOptions, err)
		}
		u = redis.UniversalOptions{
			Addrs: []string{opt.Addr}, DB: opt.DB, Username: opt.Username, Password: opt.Password,
			TLSConfig: opt.TLSConfig, Protocol: opt.Protocol, ClientName: opt.ClientName,
		}
	case config.RedisCluster:
		opt, err := redis.ParseClusterURL(o.URL)
		if err != nil {
			return nil, fmt.Errorf("%w: REDIS_URL: %v", ErrBadOptions, err)
		}
		u = redis.UniversalOptions{
			Addrs: opt.Addrs, Username: opt.Username, Password: opt.Password,
			TLSConfig: opt.TLSConfig, Protocol: opt.Protocol, ClientName: opt.ClientName,
			// Every read goes to the master: a replica may lag behind a hold.
			ReadOnly: false,
			// A slot moves at most once during a failover; a MOVED answer
			// is followed once more in case a reshard raced it.
			MaxRedirects: 2,
		}
	case config.RedisSentinel:
		if o.Master == "" {
			return nil, fmt.Errorf("%w: REDIS_MODE=sentinel needs REDIS_MASTER, the master set's name", ErrBadOptions)
		}
		opt, err := redis.ParseFailoverURL(o.URL)
		if err != nil {
			return nil, fmt.Errorf("%w: REDIS_URL: %v", ErrBadOptions, err)
		}
		u = redis.UniversalOptions{
			Addrs: opt.SentinelAddrs, MasterName: o.Master, DB: opt.DB,
			// One set of credentials for the sentinels and the master.
			SentinelUsername: opt.SentinelUsername, SentinelPassword: opt.SentinelPassword,
			Username: opt.SentinelUsername, Password: opt.SentinelPassword,
			TLSConfig: opt.TLSConfig, Protocol: opt.Protocol, ClientName: opt.ClientName,
		}
	default:
		return nil, fmt.Errorf("%w: REDIS_MODE %q is not single, cluster or sentinel", ErrBadOptions, o.Mode)
	}
	t := o.Timeout
	if t <= 0 {
		t = 500 * time.Millisecond
	}
	u.DialTimeout, u.ReadTimeout, u.WriteTimeout, u.PoolTimeout = t, t, t, t
	u.ContextTimeoutEnabled = true
	u.MaxRetries = 1
	// A refused dial fails at once; the command's one retry is the second
	// chance. (go-redis would otherwise dial five times, 100ms apart.)
	u.DialerRetries = 1
	u.PoolSize, u.MinIdleConns = o.PoolSize, o.MinIdleConns
	return &u, nil
}

// callDeadline bounds each Redis command, its retry and dials included, by
// REDIS_TIMEOUT. go-redis applies its read and write timeouts to each attempt
// and retries a timed-out read, so without it a stalled Redis would cost two
// timeouts per call and answers would pass the contract's "fast 503". On a
// cluster client it also bounds the redirects a command follows.
type callDeadline time.Duration

func (d callDeadline) DialHook(next redis.DialHook) redis.DialHook { return next }

func (d callDeadline) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		ctx, cancel := context.WithTimeout(ctx, time.Duration(d))
		defer cancel()
		return next(ctx, cmd)
	}
}

func (d callDeadline) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		ctx, cancel := context.WithTimeout(ctx, time.Duration(d))
		defer cancel()
		return next(ctx, cmds)
	}
}

// reloadOnNetworkError asks a cluster client to reload its slot map whenever
// a command fails on the network or on a cluster that is reconfiguring.
// go-redis follows MOVED answers, but a dead master answers nothing: the
// client would keep sending its slots there until the periodic reload (a
// minute by default), long after a replica took over. Reloads are coalesced
// by go-redis (one at a time, 200 ms apart), so an outage costs one CLUSTER
// SLOTS every 200 ms per process, and the first call after the promotion
// finds the new master.
type reloadOnNetworkError struct{ c *redis.ClusterClient }

func (h reloadOnNetworkError) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h reloadOnNetworkError) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.check(ctx, err)
		return err
	}
}

func (h reloadOnNetworkError) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.check(ctx, err)
		return err
	}
}

func (h reloadOnNetworkError) check(ctx context.Context, err error) {
	if stale(err) {
		h.c.ReloadState(ctx)
	}
}

// stale reports whether err suggests the slot map no longer matches the
// cluster: the node did not answer (any error that is not a Redis reply:
// refused, reset, timed out, pool closed), or the cluster says it is
// reconfiguring.
func stale(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return false
	}
	var reply redis.Error
	if !errors.As(err, &reply) {
		return true
	}
	for _, p := range []string{"CLUSTERDOWN", "TRYAGAIN", "LOADING", "READONLY", "MASTERDOWN"} {
		if strings.HasPrefix(err.Error(), p) {
			return true
		}
	}
	return false
}
