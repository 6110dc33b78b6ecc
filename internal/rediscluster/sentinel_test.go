package rediscluster_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/internal/gatewaytest"
	"github.com/rushgate/rushgate/internal/rediscluster"
	"github.com/rushgate/rushgate/internal/rush"
	"github.com/rushgate/rushgate/keyspace"
	"github.com/rushgate/rushgate/redisconn"
)

// SIGKILL of the master that Sentinel watches while a rush runs through the
// real HTTP gateway (REDIS_MODE=sentinel): the sentinels promote the
// replica, the gateway answers 503 with Retry-After meanwhile and recovers
// by itself within 5 s of the promotion; no seat is sold twice, money is
// conserved, the users who got through were admitted in order.
func TestASentinelFailoverMidRushLosesNoSeatAndNoMoney(t *testing.T) {
	s := rediscluster.StartSentinel(t, "rushgate")
	rdb, err := redisconn.Open(context.Background(), redisconn.Options{
		Mode: config.RedisSentinel, URL: s.URL(), Master: s.Name, Timeout: 2 * time.Second, PoolSize: 256,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	const users, dates, seats = 300, 1, 100
	r := gatewaytest.NewOn(t, rdb, prefix, dates, seats, price, func(cfg *config.Config) {
		cfg.AdminToken = adminToken
		cfg.RedisMode, cfg.RedisURL, cfg.RedisMaster = config.RedisSentinel, s.URL(), s.Name
		cfg.AdmitPerSecond, cfg.MaxActive = 100, 10000
	})
	ctx := context.Background()
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r.Handler)
	t.Cleanup(func() {
		srv.Close()
		r.StopAdmitting()
	})

	stopProbes := make(chan struct{})
	probes := prober(srv.URL, 1, stopProbes)
	type result struct {
		rep *rush.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := rush.Run(context.Background(), rush.Options{
			BaseURL: srv.URL, Users: users, ArrivalRate: 60, Duration: 120 * time.Second, Concurrency: 32,
			AdminToken: adminToken, PollScale: 0.1, SeatsOffered: dates * seats,
		})
		done <- result{rep, err}
	}()

	time.Sleep(2 * time.Second) // the rush is under way
	killedAt := time.Now()
	s.Master.Kill()
	promotedAt := s.WaitFailover(t, 30*time.Second)
	t.Logf("master %s killed; sentinels promoted %s %v later", s.Master.Addr(), s.Replica.Addr(), promotedAt.Sub(killedAt).Round(time.Millisecond))

	time.Sleep(time.Until(promotedAt.Add(7 * time.Second)))
	close(stopProbes)
	all := probes()
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}

	unavailable, lastFailure := outageAnswers(t, all, killedAt)
	if unavailable == 0 {
		t.Errorf("no probe saw the outage (503): was the master killed?")
	}
	if recovery := lastFailure.Sub(promotedAt); recovery > 5*time.Second {
		t.Errorf("last 503 %v after the promotion, want recovery within 5s", recovery.Round(time.Millisecond))
	} else {
		t.Logf("%d probes answered 503 + Retry-After; the last one %v after the promotion", unavailable, recovery.Round(time.Millisecond))
	}
	var acked, lost int
	for _, p := range all {
		if p.status != http.StatusCreated || p.sent.Before(killedAt.Add(-time.Second)) || !p.sent.Before(promotedAt) {
			continue
		}
		acked++
		if !inLine(t, rdb, keyspace.New(prefix).Concert(1), p.user) {
			lost++
		}
	}
	t.Logf("tokens answered in the second before the kill or during the outage: %d, lost by the failover: %d", acked, lost)

	rep := res.rep
	var text strings.Builder
	rep.WriteText(&text)
	t.Logf("rush:\n%s", text.String())
	for _, inv := range rep.Invariants {
		if !inv.OK() {
			t.Errorf("invariant %s: %d violations", inv.Name, inv.Violations)
		}
	}
	if rep.SeatsSold == 0 {
		t.Errorf("the rush sold nothing: outcomes %v", rep.Outcomes)
	}
	checkBooks(t, r)
}
