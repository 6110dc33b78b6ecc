package outage_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/rushgate/rushgate/internal/faultproxy"
	"github.com/rushgate/rushgate/internal/svctest"
)

func TestPostgresOutage(t *testing.T) {
	t.Run("Killed", func(t *testing.T) { testPostgresOutage(t, (*svctest.Postgres).Kill) })
	// A clean shutdown ends every session with 57P01 first.
	t.Run("ShutDown", func(t *testing.T) { testPostgresOutage(t, (*svctest.Postgres).Stop) })
}

func testPostgresOutage(t *testing.T, down func(*svctest.Postgres)) {
	s := newStack(t, nil)
	gw := s.serve(nil)
	c := newClient(gw)
	f := newFixture(t, c, "pg-probe")
	// A buyer still in line: pause admission so that they stay there.
	admin := auth(adminKey)
	if r := c.do("PATCH", "/admin/queue?concert_id=1", map[string]any{"paused": true}, admin...); r.status != 200 {
		t.Fatalf("pause: %s", r)
	}
	f.waiting = &buyer{c: c, user: "pg-waiting"}
	if r, ok := f.waiting.enter(); !ok || r.str("status") != "waiting" {
		t.Fatalf("enter while paused: %s", r)
	}
	if r := c.do("PATCH", "/admin/queue?concert_id=1", map[string]any{"paused": false}, admin...); r.status != 200 {
		t.Fatalf("resume: %s", r)
	}
	f.waiting.user = "pg-waiting" // admitted by now or soon; the probe only polls

	stop := make(chan struct{})
	load, wg := runLoad(c, 6, "pl", stop)
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()
	time.Sleep(500 * time.Millisecond)

	down(s.pg)
	downAt := time.Now()
	for round := range 3 {
		for name, send := range f.probes(c, round) {
			p := probe{name: name, send: send}
			switch name {
			case "GET /api/pay", "POST /api/chargePay", "POST /api/payment", "GET /readyz":
				p.allow, p.reason = []int{http.StatusServiceUnavailable}, "needs Postgres"
			case "PATCH /admin/queue":
				// Every admin change is recorded in the audit log in
				// Postgres; one that cannot be recorded is not made.
				p.allow, p.reason = []int{http.StatusServiceUnavailable}, "its audit entry needs Postgres"
			case "POST /api/tokens":
				// The queue touches only Redis; the concert check is
				// booking's in-memory catalogue.
				p.allow, p.reason = []int{http.StatusCreated}, "touches only Redis"
			case "GET /api/queue/position (active)", "GET /api/queue/position (waiting)",
				"GET /admin/queue", "GET /healthz", "GET /metrics":
				p.allow, p.reason = []int{http.StatusOK}, "touches only Redis"
			case "GET /api/reservationData/available", "GET /api/reservationSeat/available":
				// Catalogue in memory, seats loaded before the outage,
				// holds and the sold cache in Redis.
				p.allow, p.reason = []int{http.StatusOK}, "served from the catalogue cache and Redis"
			case "POST /api/reservation":
				// A hold is a Redis script on the cached catalogue: seat 1
				// is free or taken, nothing needs Postgres.
				p.allow, p.reason = []int{http.StatusCreated, http.StatusConflict}, "served from the catalogue cache and Redis"
			}
			p.check(t, round)
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Logf("Postgres down for %v", time.Since(downAt).Round(time.Millisecond))

	// Entering and admission go on without Postgres.
	b := &buyer{c: c, user: "pg-down-entrant"}
	if r, ok := b.enter(); !ok {
		t.Fatalf("enter with Postgres down: %s", r)
	}
	if r, ok := b.waitActive(10 * time.Second); !ok {
		t.Fatalf("admission with Postgres down: %s", r)
	}

	s.pg.Start()
	upAt := time.Now()
	eventually(t, 15*time.Second, func() string {
		if r := c.do("GET", "/readyz", nil); r.status != 200 {
			return "readyz: " + r.String()
		}
		if r := f.active.pay(f.rid, f.price, fmt.Sprintf("after-pg-%d", f.rid)); r.status != 201 {
			return "pay: " + r.String()
		}
		return ""
	})
	t.Logf("recovered: the probe's hold was paid %v after Postgres came back", time.Since(upAt).Round(time.Millisecond))

	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	for _, b := range load.bad {
		t.Error(b)
	}
	t.Logf("load: %d paid; statuses %v", load.paid, load.statuses)
	if load.paid == 0 {
		t.Error("the load paid for nothing")
	}
	s.checkBooks()
}

// TestPostgresPartition: Postgres stops answering without closing anything;
// the request deadline built from DB_TIMEOUT must end the wait, even where a
// call ignores it (lib/pq reading a silent connection). It runs with
// DB_TIMEOUT=200ms so that the one-second bound applies with room; with the
// default of 3s, such answers take about 3.5s.
func TestPostgresPartition(t *testing.T) {
	s := newStack(t, nil)
	proxy := faultproxy.Start(t, s.pg.Addr())
	gw := s.serve(map[string]string{
		"DATABASE_URL": "postgres://postgres@" + proxy.Addr() + "/rushgate?sslmode=disable",
		"DB_TIMEOUT":   "200ms",
	})
	c := newClient(gw)
	f := newFixture(t, c, "pg-partition")

	proxy.Stall()
	// Requests that make booking reload its catalogue from Postgres, first,
	// while the pool still holds idle connections: the reload's query goes
	// out on one and is never answered.
	for round := range 2 {
		for _, p := range []probe{
			{name: "POST /api/tokens (unknown concert)", allow: []int{http.StatusNotFound, http.StatusServiceUnavailable}, send: func() reply {
				return c.do("POST", "/api/tokens", map[string]any{"user_id": "nobody-knows", "concert_id": 4242})
			}},
			{name: "GET /admin/queue (unknown concert)", allow: []int{http.StatusNotFound, http.StatusServiceUnavailable}, send: func() reply {
				return c.do("GET", "/admin/queue?concert_id=4243", nil, auth(adminKey)...)
			}},
			{name: "GET seats (unknown date)", allow: []int{http.StatusNotFound, http.StatusServiceUnavailable}, send: func() reply {
				return c.do("GET", "/api/reservationSeat/available?reservation_date=2099-01-01", nil, auth(f.active.token)...)
			}},
		} {
			p.check(t, round)
		}
	}
	for round := range 2 {
		for _, name := range []string{"GET /api/pay", "POST /api/chargePay", "POST /api/payment", "GET /readyz", "POST /api/tokens", "GET /api/queue/position (active)"} {
			p := probe{name: name, send: f.probes(c, round)[name], allow: []int{http.StatusServiceUnavailable}, reason: "needs Postgres"}
			switch name {
			case "POST /api/tokens":
				p.allow, p.reason = []int{http.StatusCreated}, "touches only Redis"
			case "GET /api/queue/position (active)":
				p.allow, p.reason = []int{http.StatusOK}, "touches only Redis"
			}
			p.check(t, round)
		}
	}
	proxy.Restore()
	eventually(t, 15*time.Second, func() string {
		if r := c.do("GET", "/readyz", nil); r.status != 200 {
			return "readyz: " + r.String()
		}
		if r := f.active.pay(f.rid, f.price, "after-pg-partition"); r.status != 201 {
			return "pay: " + r.String()
		}
		return ""
	})
	s.checkBooks()
}
