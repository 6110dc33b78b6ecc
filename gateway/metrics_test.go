package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/internal/gatewaytest"
	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/redisconn"
)

func scrape(t *testing.T, r *gatewaytest.Replica) string {
	t.Helper()
	rec := httptest.NewRecorder()
	r.Handler.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d %s", rec.Code, body)
	}
	return string(body)
}

func TestMetricsCountTokensSkippedAsSilent(t *testing.T) {
	// A millisecond of silence is enough to be skipped; a poll keeps a
	// token alive for three poll intervals (seconds).
	r := gatewaytest.New(t, 1, 10, 10000, func(c *config.Config) { c.AbandonAfter = time.Millisecond })
	ctx := context.Background()
	q := r.Queue
	var live string
	for i := 0; i < 5; i++ {
		tk, err := q.Enter(ctx, 1, fmt.Sprintf("m%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			live = tk.Claims.UserID
			time.Sleep(5 * time.Millisecond)
			if _, err := q.Position(ctx, tk.Claims); err != nil {
				t.Fatal(err)
			}
		}
	}
	time.Sleep(5 * time.Millisecond)
	if err := q.FlushHeartbeats(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Admit(ctx, 1); err != nil { // starts the bucket
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // 20 tokens of credit at 100/s
	a, err := q.Admit(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if a.SkippedTotal != 4 || a.AdmittedTotal != 1 {
		t.Fatalf("admission skipped %d, admitted %d; want 4 silent skipped and %s admitted", a.SkippedTotal, a.AdmittedTotal, live)
	}
	body := scrape(t, r)
	for _, want := range []string{
		"# TYPE rushgate_queue_skipped_inactive_total counter",
		`rushgate_queue_skipped_inactive_total{concert_id="1"} 4`,
		`rushgate_queue_admitted_total{concert_id="1"} 1`,
		`rushgate_queue_free_seats{concert_id="1"} 10`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// A scrape reads the replica's memory: it answers, with the figures of the
// last admission step, while Redis is unreachable.
func TestMetricsScrapeNeedsNoRedis(t *testing.T) {
	ctx := context.Background()
	// The replica gets a client of its own to lose; the test's client
	// still cleans the keys up.
	_, keys := testenv.Redis(t)
	own, err := redisconn.Open(ctx, testenv.RedisOptions(config.RedisSingle, testenv.RedisURL()))
	if err != nil {
		t.Fatal(err)
	}
	r := gatewaytest.NewOn(t, own, keys.Prefix(), 1, 10, 10000, nil)
	if _, err := r.Queue.Enter(ctx, 1, "solo"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Queue.Admit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := own.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Queue.Admit(ctx, 1); err == nil {
		t.Fatal("admission still reaches Redis through a closed client")
	}
	body := scrape(t, r)
	if !strings.Contains(body, `rushgate_queue_skipped_inactive_total{concert_id="1"} 0`) {
		t.Errorf("/metrics with Redis closed lacks the skipped counter:\n%s", body)
	}
}
