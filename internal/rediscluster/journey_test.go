package rediscluster_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rushgate/rushgate/booking/bookingdb"
	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/internal/gatewaytest"
	"github.com/rushgate/rushgate/internal/rediscluster"
	"github.com/rushgate/rushgate/internal/rush"
	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/keyspace"
	"github.com/rushgate/rushgate/payment/paymentdb"
	"github.com/rushgate/rushgate/redisconn"
)

const (
	adminToken = "admin-token-for-cluster-tests"
	prefix     = "rg:"
	price      = 10000
)

// clusterGateway serves a whole replica on the cluster (REDIS_MODE=cluster,
// opened by redisconn as in production) and a Postgres database of its own,
// with admission running, concert 1 and a second concert whose line lives
// on another master; it returns the second concert's id.
func clusterGateway(t *testing.T, c *rediscluster.Cluster, dates, seats int, change func(*config.Config)) (*httptest.Server, *gatewaytest.Replica, int64) {
	t.Helper()
	rdb, err := redisconn.Open(context.Background(), testenv.RedisOptions(config.RedisCluster, c.URL()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	r := gatewaytest.NewOn(t, rdb, prefix, dates, seats, price, func(cfg *config.Config) {
		cfg.AdminToken = adminToken
		cfg.RedisMode, cfg.RedisURL = config.RedisCluster, c.URL()
		if change != nil {
			change(cfg)
		}
	})
	keys := keyspace.New(prefix)
	first := c.MasterOf(t, keys.Concert(1).Queue()).Addr()
	other := int64(2)
	for c.MasterOf(t, keys.Concert(other).Queue()).Addr() == first {
		other++
	}
	var days []string
	for i := range dates {
		days = append(days, time.Now().AddDate(0, 0, 1+i).Format("2006-01-02"))
	}
	ctx := context.Background()
	if _, err := bookingdb.New(r.DB).CreateConcert(ctx, bookingdb.NewConcert{
		ID: other, Name: "Concert on another shard", Days: days,
		Blocks: []bookingdb.Block{{From: 1, To: seats, Price: price}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r.Handler)
	t.Cleanup(func() {
		srv.Close()
		r.StopAdmitting()
	})
	return srv, r, other
}

// checkBooks fails the test unless Postgres balances: no money created or
// lost, no seat sold twice, every sale paid once at its price.
func checkBooks(t *testing.T, r *gatewaytest.Replica) {
	t.Helper()
	ctx := context.Background()
	ledger, err := paymentdb.Audit(ctx, r.DB)
	if err != nil {
		t.Fatal(err)
	}
	if !ledger.Balanced() {
		t.Errorf("money not conserved: %+v", ledger)
	}
	integrity, err := paymentdb.CheckIntegrity(ctx, r.DB)
	if err != nil {
		t.Fatal(err)
	}
	if !integrity.OK() {
		t.Errorf("integrity: %+v", integrity)
	}
}

// The whole user journey (enter, admission, dates, seats, hold, charge,
// pay) runs on a real cluster for two concerts on different masters at once.
func TestTheWholeJourneyOnAClusterForTwoConcertsOnDifferentMasters(t *testing.T) {
	c := rediscluster.Start(t, rediscluster.Options{})
	const users, dates, seats = 80, 1, 30
	srv, r, other := clusterGateway(t, c, dates, seats, func(cfg *config.Config) {
		cfg.AdmitPerSecond, cfg.MaxActive = 200, 10000
	})
	reports := make(map[int64]*rush.Report)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, concert := range []int64{1, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep, err := rush.Run(context.Background(), rush.Options{
				BaseURL: srv.URL, Users: users, Duration: 90 * time.Second, Concurrency: 16,
				ConcertID: concert, AdminToken: adminToken, PollScale: 0.1, SeatsOffered: dates * seats,
				ReplayFraction: 0.2,
			})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			reports[concert] = rep
			mu.Unlock()
		}()
	}
	wg.Wait()
	for concert, rep := range reports {
		var text strings.Builder
		rep.WriteText(&text)
		t.Logf("concert %d:\n%s", concert, text.String())
		if rep.Violations != 0 {
			t.Errorf("concert %d: %d violations", concert, rep.Violations)
		}
		if got, want := rep.SeatsSold, dates*seats; got != want {
			t.Errorf("concert %d: seats sold = %d, want %d", concert, got, want)
		}
		if got := rep.Outcomes[rush.OutcomeBought] + rep.Outcomes[rush.OutcomeSoldOut]; got != users {
			t.Errorf("concert %d: bought + sold out = %d, want %d; outcomes %v, failures %v", concert, got, users, rep.Outcomes, rep.Failures)
		}
	}
	if len(reports) != 2 {
		t.Fatalf("%d reports, want 2", len(reports))
	}
	checkBooks(t, r)

	// Each concert's keys are on its own master, and only there.
	keys := keyspace.New(prefix)
	for _, concert := range []int64{1, other} {
		master := rediscluster.Node(c.MasterOf(t, keys.Concert(concert).Queue()))
		n, err := master.Exists(context.Background(), keys.Concert(concert).Queue(), keys.Concert(concert).Seq()).Result()
		master.Close()
		if err != nil || n != 2 {
			t.Errorf("concert %d: %d of its keys on its master (%v), want 2", concert, n, err)
		}
	}
}
