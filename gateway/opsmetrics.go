package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/redisconn"
)

// storeProbe measures, from this replica, whether Redis and Postgres answer
// and how fast: one PING and one Postgres ping every few seconds. That is
// what an operator's alert on "store down" and the dashboard's latency panels
// need, at a cost independent of the traffic (the requests themselves are
// not timed per store call).
type storeProbe struct {
	rdb                     redis.UniversalClient
	db                      *sqlx.DB
	redisTimeout, dbTimeout time.Duration
	up                      *prometheus.GaugeVec
	latency                 *prometheus.HistogramVec
}

func newStoreProbe(rdb redis.UniversalClient, db *sqlx.DB, redisTimeout, dbTimeout time.Duration) *storeProbe {
	return &storeProbe{
		rdb: rdb, db: db, redisTimeout: redisTimeout, dbTimeout: dbTimeout,
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rushgate_store_up",
			Help: "1 when the store (redis, postgres) answered this replica's last ping in time, else 0.",
		}, []string{"store"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rushgate_store_ping_duration_seconds",
			Help:    "Round trip of this replica's periodic ping of each store (redis, postgres), answered or not.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"store"}),
	}
}

func (p *storeProbe) collectors() []prometheus.Collector {
	return []prometheus.Collector{p.up, p.latency}
}

// run pings both stores every interval until ctx ends.
func (p *storeProbe) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		p.ping(ctx, "redis", p.redisTimeout, func(ctx context.Context) error { return p.rdb.Ping(ctx).Err() })
		p.ping(ctx, "postgres", p.dbTimeout, p.db.PingContext)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *storeProbe) ping(ctx context.Context, store string, timeout time.Duration, fn func(context.Context) error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	err := fn(ctx)
	if errors.Is(ctx.Err(), context.Canceled) {
		return // shutting down: not an outage
	}
	p.latency.WithLabelValues(store).Observe(time.Since(start).Seconds())
	up := 1.0
	if err != nil {
		up = 0
	}
	p.up.WithLabelValues(store).Set(up)
}

// waitCollectors count the WAITs of REDIS_WAIT_REPLICAS: how many writes
// waited, and how many fewer replicas than asked acknowledged (answered 503).
func waitCollectors(s *redisconn.WaitStats) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "rushgate_redis_wait_total",
			Help: "New tokens and holds followed by WAIT (REDIS_WAIT_REPLICAS above 0).",
		}, func() float64 { return float64(s.Waited.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "rushgate_redis_wait_short_total",
			Help: "New tokens and holds that fewer replicas than REDIS_WAIT_REPLICAS acknowledged in time; each was answered 503.",
		}, func() float64 { return float64(s.Short.Load()) }),
	}
}
