// Package gateway assembles a rushgate replica from its parts: the queue, the
// booking and payment domains, the HTTP layer and the background loops
// (admission and catalogue refresh). cmd/rushgate serves it; tests and load
// tools build the very same thing.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/admin"
	"github.com/rushgate/rushgate/audit"
	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/checkout"
	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/httpapi"
	"github.com/rushgate/rushgate/keyspace"
	"github.com/rushgate/rushgate/livestats"
	"github.com/rushgate/rushgate/lua"
	"github.com/rushgate/rushgate/payment"
	"github.com/rushgate/rushgate/queue"
	"github.com/rushgate/rushgate/redisconn"
	"github.com/rushgate/rushgate/web/console"
	"github.com/rushgate/rushgate/web/fan"
)

// Gateway is one replica: an http.Handler plus the loops it needs.
type Gateway struct {
	Handler  http.Handler
	Queue    *queue.Queue
	Booking  *booking.Service
	Payment  *payment.Service
	Checkout *checkout.Service
	Admin    *admin.Service
	Stats    *livestats.Recorder
	Keys     keyspace.Space

	cfg      config.Config
	log      *slog.Logger
	registry *prometheus.Registry
	probe    *storeProbe

	mu      sync.Mutex
	cancel  context.CancelFunc
	running sync.WaitGroup
	// draining is set when shutdown starts: /readyz then fails, so a load
	// balancer stops sending new work while in-flight requests finish.
	draining atomic.Bool
}

// errDraining is /readyz's reason once shutdown has started.
var errDraining = errors.New("gateway: shutting down")

// New builds a replica on rdb and db (already migrated).
func New(cfg config.Config, rdb redis.UniversalClient, db *sqlx.DB, log *slog.Logger) (*Gateway, error) {
	if log == nil {
		log = slog.Default()
	}
	if cfg.TokenSecret == "" {
		log.Warn("TOKEN_SECRET is unset: tokens are signed with a random key of this process; other replicas will reject them")
	}
	keys := keyspace.New(cfg.KeyPrefix)
	// REDIS_WAIT_REPLICAS: a new token and a new hold are answered only once
	// that many replicas have them. The queue and booking run their scripts
	// unchanged; the clients they are given add the WAIT.
	wait := redisconn.Wait{Replicas: cfg.RedisWaitReplicas, Timeout: cfg.RedisWaitTimeout, CallTimeout: cfg.RedisTimeout}
	waitStats := new(redisconn.WaitStats)
	// Token issues are batched by the queue (REDIS_BATCH), so one WAIT
	// follows a whole batch.
	qrdb, err := redisconn.WithWait(rdb, rdb, wait, waitStats, lua.Enter)
	if err != nil {
		return nil, err
	}
	brdb, err := redisconn.WithWait(rdb, rdb, wait, waitStats, lua.HoldBatch)
	if err != nil {
		return nil, err
	}
	stats := livestats.New(rdb, keys, nil)
	batches := newBatchMetrics()
	b := booking.NewService(db, brdb, keys, booking.Config{HoldTTL: cfg.HoldTTL, MaxHoldsPerUser: cfg.MaxHoldsPerUser,
		HoldBatch: cfg.HoldBatch, HoldBatchWait: cfg.HoldBatchWait, HoldRecords: cfg.HoldRecords,
		OnHoldBatch: batches.observer("hold")})
	q := queue.New(qrdb, keys, queue.NewSigner([]byte(cfg.TokenSecret)), queue.Config{
		TokenTTL:     cfg.TokenTTL,
		Defaults:     queue.Settings{AdmitPerSecond: cfg.AdmitPerSecond, MaxActive: cfg.MaxActive, ActiveTTL: cfg.ActiveTTL},
		AbandonAfter: cfg.AbandonAfter,
		RejoinGrace:  cfg.RejoinGrace,
		Stock:        stockOf(b),
		// Token issues of a concert arriving together share one script run.
		// An outage answers 503 within about one REDIS_TIMEOUT (the batch
		// that finds Redis unreachable fails those queued behind it); the
		// bound from arrival only sheds what an overloaded replica could
		// not answer before a client gives up anyway.
		EnterBatch:     cfg.RedisBatch,
		EnterBatchWait: cfg.RedisBatchWait,
		EnterTimeout:   4 * cfg.RedisTimeout,
		OnEnterBatch:   batches.observer("enter"),
		OnAdmit: func(concertID int64, a queue.Admission) {
			stats.Admitted(concertID, a.Admitted)
			stats.SkippedInactive(concertID, a.Skipped)
			stats.Levels(concertID, a.Waiting, a.Active, a.Settings.AdmitPerSecond)
		},
	})
	p := payment.NewService(db, checkout.Holds(b), payment.Config{})
	adm := admin.New(q, b, audit.New(db))
	// A new opening time draws (or keeps) the seed of its draw and arms the
	// pre-queue, in the same step as the catalogue change.
	adm.OnSchedule = func(ctx context.Context, _ *sqlx.Tx, concertID int64, opensAt *time.Time) error {
		_, err := q.Schedule(ctx, concertID, opensAt)
		if errors.Is(err, queue.ErrSaleOpen) {
			return booking.ErrSaleOpen
		}
		return err
	}

	g := &Gateway{Queue: q, Booking: b, Payment: p, Checkout: checkout.New(q, b, p, log), Admin: adm, Stats: stats,
		Keys: keys, cfg: cfg, log: log}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newQueueCollector(q, b.ConcertIDs))
	reg.MustRegister(waitCollectors(waitStats)...)
	reg.MustRegister(batches.collectors()...)
	g.probe = newStoreProbe(rdb, db, cfg.RedisTimeout, cfg.DBTimeout)
	reg.MustRegister(g.probe.collectors()...)
	site, err := console.Site()
	if err != nil {
		return nil, err
	}
	pages, err := fan.New()
	if err != nil {
		return nil, err
	}
	h, err := httpapi.New(httpapi.Deps{
		Queue: q, Booking: b, Payment: p, Checkout: g.Checkout, Pages: pages,
		Ready: func(ctx context.Context) error {
			if g.draining.Load() {
				return errDraining
			}
			return errors.Join(rdb.Ping(ctx).Err(), db.PingContext(ctx))
		},
		AdminToken:     cfg.AdminToken,
		AdminKeys:      cfg.AdminKeys,
		Admin:          adm,
		Stats:          stats,
		Console:        site,
		EnterRatePerIP: cfg.EnterRatePerIP,
		TrustedProxies: cfg.TrustedProxies,
		CORSOrigins:    cfg.CORSOrigins,
		RequestTimeout: cfg.DBTimeout + cfg.RedisTimeout,
		Logger:         log,
		Registry:       reg,
		Gatherer:       reg,
	})
	if err != nil {
		return nil, err
	}
	g.Handler, g.registry = h, reg
	return g, nil
}

// stockOf lets admission see the seats left: it pauses while none is free
// and closes the line once all are sold.
func stockOf(b *booking.Service) func(context.Context, int64) (queue.Stock, error) {
	return func(ctx context.Context, concertID int64) (queue.Stock, error) {
		st, err := b.Stock(ctx, concertID)
		if err != nil {
			return queue.Stock{}, err
		}
		return queue.Stock{Free: st.Free, SoldOut: st.SoldOut()}, nil
	}
}

// Start loads the catalogue and starts the background loops: catalogue
// refresh and admission. Stop ends them.
//
// A replica cannot answer without its catalogue, so the first load is
// retried while Postgres is unreachable or slow (a database still starting,
// a failover, a machine busy starting many replicas at once) until it
// succeeds or ctx ends: the caller's deadline on ctx is how long a replica
// may take to start. Any other error fails at once.
func (g *Gateway) Start(ctx context.Context) error {
	if err := g.loadCatalogue(ctx); err != nil {
		return err
	}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	g.mu.Lock()
	g.cancel = cancel
	g.mu.Unlock()
	// The catalogue refresh is not waited for by StopAdmitting: it only
	// reads Postgres, and lib/pq cannot interrupt a read on a silent
	// network, so a refresh stuck there would hold a shutdown forever.
	go g.Booking.Run(loopCtx, 5*time.Second)
	// Not waited for either: a Postgres ping may be stuck like a refresh.
	go g.probe.run(loopCtx, 5*time.Second)
	// The live view's flusher is waited for: its last flush (bounded by
	// its own deadline) keeps the counts of a replica shutting down.
	g.running.Add(1)
	go func() {
		defer g.running.Done()
		g.Stats.Run(loopCtx)
	}()
	g.running.Add(1)
	go func() {
		defer g.running.Done()
		var lastLog time.Time
		g.Queue.Run(loopCtx, g.cfg.AdmitInterval, g.Booking.ConcertIDs, func(concert int64, err error) {
			// An outage fails every tick; one line a second is enough to see it.
			if time.Since(lastLog) > time.Second {
				lastLog = time.Now()
				g.log.Warn("admission step failed", "concert_id", concert, "err", err)
			}
		})
	}()
	return nil
}

// loadCatalogue is Start's first catalogue load, retried with a growing
// pause (100 ms up to 2 s) while the store is unavailable.
func (g *Gateway) loadCatalogue(ctx context.Context) error {
	pause := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := g.Booking.Refresh(ctx)
		if err == nil || !errors.Is(err, booking.ErrUnavailable) {
			return err
		}
		g.log.Warn("catalogue not loaded yet: retrying", "attempt", attempt, "retry_in", pause.String(), "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("gateway: start: %w (gave up: %w)", err, context.Cause(ctx))
		case <-time.After(pause):
		}
		pause = min(2*pause, 2*time.Second)
	}
}

// StopAdmitting ends the background loops (first step of a graceful
// shutdown: no new admissions while requests drain) and waits for the
// admission loop, whose Redis calls all have deadlines; the catalogue refresh
// is told to stop but not waited for. From then on /readyz answers 503, so
// that no new work is sent here.
func (g *Gateway) StopAdmitting() {
	g.draining.Store(true)
	g.mu.Lock()
	cancel := g.cancel
	g.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	g.running.Wait()
}
