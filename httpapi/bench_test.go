package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/internal/gatewaytest"
	"github.com/rushgate/rushgate/queue"
)

// BenchmarkPollWaiting is GET /api/queue/position of a waiting token through
// the whole router (middleware, token check, JSON), in process: the cost of a
// poll without the network. It makes no Redis round trip.
func BenchmarkPollWaiting(b *testing.B) {
	h := newHarness(b, nil)
	paused := true
	if _, err := h.gw.Queue.UpdateSettings(h.ctx, 1, queue.SettingsPatch{Paused: &paused}); err != nil {
		b.Fatal(err)
	}
	tok := h.enter("poller")
	// The replica's admission loop keeps its view of the line fresh.
	if err := h.gw.Start(h.ctx); err != nil {
		b.Fatal(err)
	}
	defer h.gw.StopAdmitting()
	time.Sleep(100 * time.Millisecond)
	b.ResetTimer()
	benchPoll(b, h.gw.Handler, tok)
}

// BenchmarkPollActive polls an admitted token: one ZSCORE round trip.
func BenchmarkPollActive(b *testing.B) {
	h := newHarness(b, nil)
	tok := h.activeToken("poller")
	b.ResetTimer()
	benchPoll(b, h.gw.Handler, tok)
}

// BenchmarkHealthz is the router's floor: middleware and a fixed JSON answer.
func BenchmarkHealthz(b *testing.B) {
	h := newHarness(b, nil)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest("GET", "/healthz", nil)
		for pb.Next() {
			rec := httptest.NewRecorder()
			h.gw.Handler.ServeHTTP(rec, req)
		}
	})
}

func benchPoll(b *testing.B, h http.Handler, token string) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest("GET", "/api/queue/position", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		for pb.Next() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("poll: %d %s", rec.Code, rec.Body)
			}
		}
	})
}

// BenchmarkEnter is POST /api/tokens of a new user through the router: one
// EVALSHA of enter.lua, signing the token and the JSON in and out.
func BenchmarkEnter(b *testing.B) {
	h := newHarness(b, nil)
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := `{"user_id":"bench` + strconv.FormatInt(n.Add(1), 10) + `","concert_id":1}`
			req := httptest.NewRequest("POST", "/api/tokens", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.gw.Handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated {
				b.Fatalf("enter: %d %s", rec.Code, rec.Body)
			}
		}
	})
}

// BenchmarkHold is POST /api/reservation through the router, each request a
// different seat, four by each admitted user (MAX_HOLDS_PER_USER): the token
// check, the JSON in and out, the catalogue lookups and the batched run of
// hold_batch.lua, with 64 callers at once.
func BenchmarkHold(b *testing.B) {
	const seats, perUser = 5000, 4
	dates := b.N/seats + 1
	r := gatewaytest.New(b, dates, seats, 10000, func(c *config.Config) {
		c.MaxActive = int64(dates * seats)
		c.MaxHoldsPerUser = perUser
	})
	h := &harness{t: b, gw: r.Gateway, cfg: r.Config, ctx: context.Background(), rdb: r.Redis, db: r.DB}
	users := (b.N + perUser - 1) / perUser
	toks := make([]string, users)
	for i := range toks {
		toks[i] = h.enter("holder" + strconv.Itoa(i))
	}
	h.admitAll()
	days := make([]string, dates)
	for i := range days {
		days[i] = time.Now().AddDate(0, 0, 1+i).Format(time.DateOnly)
	}
	var n atomic.Int64
	// 64 callers, as many as the load generator's connections: a
	// batch gathers the holds that arrive while the one ahead runs.
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			g := int(n.Add(1) - 1)
			u := g / perUser
			body := `{"user_id":"holder` + strconv.Itoa(u) + `","reservation_date":"` + days[g/seats] +
				`","reservation_seat":` + strconv.Itoa(g%seats+1) + `}`
			req := httptest.NewRequest("POST", "/api/reservation", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+toks[u])
			rec := httptest.NewRecorder()
			h.gw.Handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated {
				b.Fatalf("hold %d: %d %s", g, rec.Code, rec.Body)
			}
		}
	})
}
