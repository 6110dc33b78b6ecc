// Command benchbase serves the bare baselines that the gateway's routes are
// measured against, in the same run, on the same machine, with the same
// HTTP stack (gin, no middleware) and Redis client settings:
//
//	GET  /fixed    a fixed JSON answer, no Redis: the ceiling of any route
//	GET  /zrank    one ZRANK on a sorted set of -members members
//	POST /evalsha  one EVALSHA of a one-line script (INCR), body discarded
//
// -pprof ADDR (opt-in) serves net/http/pprof on a second listener, to
// profile a baseline under load. -gateway serves a whole gateway replica
// instead of the baselines (configured from the environment like "rushgate
// serve"), so that the routes can be profiled the same way:
//
//	REDIS_URL=... DATABASE_URL=... benchbase -gateway -addr 127.0.0.1:8081 -pprof 127.0.0.1:6061
//	go tool pprof -top "http://127.0.0.1:6061/debug/pprof/profile?seconds=10"
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/internal/gcbudget"
	"github.com/rushgate/rushgate/redisconn"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The baselines pace their collector as the gateway does, so that the
	// ratios compare the routes' work, not two runtime settings.
	gcbudget.Start(ctx, os.Getenv)
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchbase:", err)
		os.Exit(1)
	}
}

// position has the shape of a poll's answer, so that encoding costs alike.
type position struct {
	TokenID              int64  `json:"token_id"`
	Status               string `json:"status"`
	QueuePosition        int64  `json:"queue_position"`
	Ahead                int64  `json:"ahead"`
	EstimatedWaitSeconds int64  `json:"estimated_wait_seconds"`
	PollAfterMS          int64  `json:"poll_after_ms"`
}

var incr = redis.NewScript(`return redis.call('INCR', KEYS[1])`)

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("benchbase", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address")
	redisURL := fs.String("redis-url", "redis://127.0.0.1:6379/0", "the Redis of the ZRANK and EVALSHA baselines")
	prefix := fs.String("key-prefix", "benchbase:", "prefix of the keys it makes (deleted at exit)")
	members := fs.Int("members", 100000, "members of the ZRANK sorted set")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof here (off when empty)")
	gatewayMode := fs.Bool("gateway", false, "serve a gateway replica (configured from the environment) instead of the baselines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pprofAddr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		go func() { log.Println(http.ListenAndServe(*pprofAddr, mux)) }()
	}
	if *gatewayMode {
		h, stop, err := gatewayHandler(ctx)
		if err != nil {
			return err
		}
		defer stop()
		return serve(ctx, *addr, h)
	}

	// The baselines talk to Redis with the gateway's own settings.
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		return err
	}
	cfg.RedisURL = *redisURL
	rdb, err := redisconn.Open(ctx, redisconn.FromConfig(cfg))
	if err != nil {
		return err
	}
	defer rdb.Close()

	zkey, ckey := *prefix+"{b}:line", *prefix+"{b}:counter"
	if err := fill(ctx, rdb, zkey, *members); err != nil {
		return err
	}
	defer rdb.Del(context.WithoutCancel(ctx), zkey, ckey)
	if err := incr.Load(ctx, rdb).Err(); err != nil {
		return err
	}

	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	fixed := position{TokenID: 67890, Status: "waiting", QueuePosition: 1234, Ahead: 1233, EstimatedWaitSeconds: 37, PollAfterMS: 2000}
	e.GET("/fixed", func(c *gin.Context) { c.JSON(http.StatusOK, fixed) })
	var n atomic.Int64
	e.GET("/zrank", func(c *gin.Context) {
		m := "m" + strconv.FormatInt(n.Add(1)%int64(*members), 10)
		rank, err := rdb.ZRank(c.Request.Context(), zkey, m).Result()
		if err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusOK, gin.H{"rank": rank})
	})
	e.POST("/evalsha", func(c *gin.Context) {
		io.Copy(io.Discard, c.Request.Body)
		v, err := incr.Run(c.Request.Context(), rdb, []string{ckey}).Int64()
		if err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusCreated, gin.H{"n": v})
	})
	return serve(ctx, *addr, e)
}

// serve serves h on addr until ctx ends.
func serve(ctx context.Context, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 90 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(os.Stderr, "benchbase: serving on %s\n", ln.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(shut)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// fill makes the sorted set of the ZRANK baseline, like a line of members.
func fill(ctx context.Context, rdb redis.UniversalClient, key string, members int) error {
	rdb.Del(ctx, key)
	for from := 0; from < members; from += 1000 {
		zs := make([]redis.Z, 0, 1000)
		for i := from; i < min(from+1000, members); i++ {
			zs = append(zs, redis.Z{Score: float64(i), Member: "m" + strconv.Itoa(i)})
		}
		if err := rdb.ZAdd(ctx, key, zs...).Err(); err != nil {
			return fmt.Errorf("fill %s: %w", key, err)
		}
	}
	return nil
}
