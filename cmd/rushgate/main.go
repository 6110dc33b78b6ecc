// Command rushgate is the waiting-room gateway of a ticket rush.
//
//	rushgate [serve]   apply pending migrations, then serve
//	rushgate migrate   apply pending migrations and exit
//	rushgate seed --dates N --seats M --price P [--first-date YYYY-MM-DD]
//	rushgate audit     check that no money was created or lost and no seat sold twice
//	rushgate verify-draw --url URL --concert ID [--user USER_ID] [--keys]
//	                   check a scheduled sale's published draw from the outside
//
// Configuration comes from the environment (see the README).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/gateway"
	"github.com/rushgate/rushgate/internal/gcbudget"
	"github.com/rushgate/rushgate/payment/paymentdb"
	"github.com/rushgate/rushgate/redisconn"
	"github.com/rushgate/rushgate/schema"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	gcbudget.Start(ctx, os.Getenv)
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "rushgate:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  rushgate [serve]   apply pending migrations, then serve on ADDR
  rushgate migrate   apply pending migrations and exit
  rushgate seed --dates N --seats M --price P [--first-date YYYY-MM-DD]
  rushgate audit     check the books: exits 1 when money was created or lost, or a seat sold twice
  rushgate verify-draw --url URL --concert ID [--user USER_ID] [--keys]
                     check a scheduled sale's draw: sha256(seed) = commitment, the digest and
                     the order of the keys; with --user, that user's key and place
`

// run is the whole program, testable end to end: ctx ends it (SIGTERM in
// production), args are the command line without the program name.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	if cmd == "verify-draw" {
		// A client of the public API: no configuration of its own.
		return verifyDraw(ctx, args, stdout)
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	switch cmd {
	case "serve":
		return serve(ctx, cfg, log, nil)
	case "migrate":
		db, err := openDB(ctx, cfg)
		if err != nil {
			return err
		}
		db.Close()
		fmt.Fprintln(stdout, "migrations applied")
		return nil
	case "seed":
		return seed(ctx, cfg, args, stdout)
	case "audit":
		return audit(ctx, cfg, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
}

// openDB creates and migrates the database, with a connect timeout so an
// unreachable Postgres fails fast.
func openDB(ctx context.Context, cfg config.Config) (*sqlx.DB, error) {
	dsn, err := withConnectTimeout(cfg.DatabaseURL, cfg.DBTimeout)
	if err != nil {
		return nil, err
	}
	db, err := schema.Open(ctx, dsn, cfg.DBTimeout)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	db.SetConnMaxIdleTime(time.Minute)
	return db, nil
}

func withConnectTimeout(dsn string, d time.Duration) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("DATABASE_URL: %w", err)
	}
	q := u.Query()
	if q.Get("connect_timeout") == "" {
		q.Set("connect_timeout", fmt.Sprint(max(1, int(d.Seconds()))))
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// openStores opens Postgres (migrated) then Redis; closeAll closes them in
// reverse order.
func openStores(ctx context.Context, cfg config.Config) (*sqlx.DB, redis.UniversalClient, func(), error) {
	db, err := openDB(ctx, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	rdb, err := redisconn.Open(ctx, redisconn.FromConfig(cfg))
	if err != nil {
		db.Close()
		return nil, nil, nil, err
	}
	return db, rdb, func() { rdb.Close(); db.Close() }, nil
}

// startupWait is how long a replica keeps trying to load its catalogue
// before it gives up and exits: long enough to ride out a Postgres that
// starts after the gateway or is slow under the load of many replicas
// starting at once, short enough that an orchestrator sees a replica that
// cannot start.
const startupWait = 30 * time.Second

// serve runs a replica until ctx ends, then shuts down gracefully: admission
// stops first, in-flight requests drain within SHUTDOWN_GRACE while new
// connections are refused, then Redis and Postgres are closed, in reverse
// order of opening. ready, when not nil, receives the listening address.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, ready chan<- string) error {
	log.Info("starting rushgate", "config", cfg)
	db, rdb, closeAll, err := openStores(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeAll()
	for _, w := range redisconn.Warnings(ctx, rdb) {
		log.Warn("redis settings can lose places in line", "warning", w)
	}
	versionWarnings, err := redisconn.CheckVersion(ctx, rdb)
	for _, w := range versionWarnings {
		log.Warn("redis version", "warning", w)
	}
	if err != nil {
		return err
	}
	for _, w := range redisconn.WaitWarnings(ctx, rdb, cfg.RedisWaitReplicas) {
		log.Warn("REDIS_WAIT_REPLICAS", "warning", w)
	}

	gw, err := gateway.New(cfg, rdb, db, log)
	if err != nil {
		return err
	}
	startCtx, cancelStart := context.WithTimeout(ctx, startupWait)
	err = gw.Start(startCtx)
	cancelStart()
	if err != nil {
		return err
	}
	defer gw.StopAdmitting()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           gw.Handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String())
	if ready != nil {
		ready <- ln.Addr().String()
	}

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: admission stopped, draining requests", "grace", cfg.ShutdownGrace.String())
	gw.StopAdmitting()
	shutCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		log.Warn("grace period over; closing remaining connections", "err", err)
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// seed creates the demo concert (id 1) unless it exists.
func seed(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	dates := fs.Int("dates", 3, "number of concert dates")
	seats := fs.Int("seats", 500, "seats per date")
	price := fs.Int64("price", 10000, "price of each seat, in won")
	first := fs.String("first-date", "", "first date, YYYY-MM-DD (default: tomorrow)")
	fs.SetOutput(stdout)
	if err := fs.Parse(args); err != nil {
		return err
	}
	// The catalogue's own limits, named by flag: Seed validates the concert
	// again, but its message would speak of seat blocks, not of these flags.
	if *dates < 1 || *seats < 1 || *seats > booking.MaxSeatNumber || *dates*(*seats) > booking.MaxSeatsPerConcert ||
		*price < 1 || *price > booking.MaxPrice {
		return fmt.Errorf("seed: --seats 1…%d, --dates at least 1 with --dates × --seats at most %d, --price 1…%d",
			booking.MaxSeatNumber, booking.MaxSeatsPerConcert, booking.MaxPrice)
	}
	firstDate := time.Now().AddDate(0, 0, 1)
	if *first != "" {
		d, err := time.ParseInLocation(booking.DateLayout, *first, time.Local)
		if err != nil {
			return fmt.Errorf("seed: --first-date must be YYYY-MM-DD: %w", err)
		}
		firstDate = d
	}
	// Seeding loads the new catalogue, which warms the sold-seat cache in Redis.
	db, rdb, closeAll, err := openStores(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeAll()
	created, err := booking.NewService(db, rdb, keyspaceFor(cfg), booking.Config{}).Seed(ctx, *dates, *seats, *price, firstDate)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(stdout, "seeded concert 1: %d dates from %s, %d seats each at %d won\n",
			*dates, firstDate.Format(booking.DateLayout), *seats, *price)
	} else {
		fmt.Fprintln(stdout, "concert 1 already exists; nothing to do")
	}
	return nil
}

// audit checks the books in Postgres, the source of truth, after any test or
// load run: every won charged is on a balance or paid for a seat, and every
// sale is one seat sold once with one payment of its price.
func audit(ctx context.Context, cfg config.Config, stdout io.Writer) error {
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	ledger, err := paymentdb.Audit(ctx, db)
	if err != nil {
		return err
	}
	integrity, err := paymentdb.CheckIntegrity(ctx, db)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "money:  charged %d = balances %d + paid %d  %s\n",
		ledger.Charged, ledger.Balances, ledger.Paid, verdict(ledger.Balanced()))
	fmt.Fprintf(stdout, "sales:  seats sold twice %d, reservations paid twice %d, sales without payment %d, payments without sale %d, mismatched payments %d  %s\n",
		integrity.SeatsSoldTwice, integrity.ReservationsPaidTwice, integrity.SalesWithoutPayment,
		integrity.PaymentsWithoutSale, integrity.MismatchedPayments, verdict(integrity.OK()))
	if !ledger.Balanced() || !integrity.OK() {
		return errors.New("audit failed")
	}
	return nil
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "BROKEN"
}
