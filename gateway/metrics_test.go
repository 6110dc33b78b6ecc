package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
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

// Every token issue and hold is counted in a run of its script, batched or
// not: the runs carry as many requests as were made, and each run has its
// wait and its duration.
func TestMetricsShowTheRunsOfTokenIssuesAndHolds(t *testing.T) {
	for _, batch := range []int{1, 64} {
		t.Run(fmt.Sprintf("batch %d", batch), func(t *testing.T) {
			r := gatewaytest.New(t, 1, 10, 10000, func(c *config.Config) { c.RedisBatch, c.HoldBatch = batch, batch })
			ctx := context.Background()
			day := time.Now().AddDate(0, 0, 1).Format(time.DateOnly)
			var wg sync.WaitGroup
			for i := 0; i < 6; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					if _, err := r.Queue.Enter(ctx, 1, fmt.Sprintf("b%d", i)); err != nil {
						t.Error(err)
					}
					if i < 4 {
						if _, err := r.Booking.Hold(ctx, 1, fmt.Sprintf("b%d", i), day, 1+i); err != nil {
							t.Error(err)
						}
					}
				}(i)
			}
			wg.Wait()
			body := scrape(t, r)
			for kind, made := range map[string]int{"enter": 6, "hold": 4} {
				sum := metricValue(t, body, `rushgate_batch_calls_sum{kind="`+kind+`"}`)
				runs := metricValue(t, body, `rushgate_batch_calls_count{kind="`+kind+`"}`)
				if sum != float64(made) || runs < 1 || runs > float64(made) || (batch == 1 && runs != float64(made)) {
					t.Errorf("%s: runs carried %v requests in %v runs; want %d requests", kind, sum, runs, made)
				}
				for _, m := range []string{"rushgate_batch_queued_seconds_count", "rushgate_batch_duration_seconds_count"} {
					if got := metricValue(t, body, m+`{kind="`+kind+`"}`); got != runs {
						t.Errorf("%s: %s %v, want one per run (%v)", kind, m, got, runs)
					}
				}
				if took := metricValue(t, body, `rushgate_batch_duration_seconds_sum{kind="`+kind+`"}`); took <= 0 {
					t.Errorf("%s: runs took %v s in all", kind, took)
				}
			}
		})
	}
}

// metricValue is the value of the series named exactly so (with its labels)
// in a scrape.
func metricValue(t *testing.T, body, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics lacks %s", series)
	return 0
}
