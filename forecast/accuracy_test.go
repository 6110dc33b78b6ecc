package forecast_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/internal/gatewaytest"
	"github.com/rushgate/rushgate/queue"
)

// The projection made at the start of a real run, on the real Redis and
// Postgres with the admission loop running, is within 10% of what happens:
// a line of about 1,240 fans with 20 more arriving each second drains at
// 100/s, and the fan last in line when the projection was made is admitted
// when it said.
func TestProjectionMatchesARealRun(t *testing.T) {
	r := gatewaytest.New(t, 1, 5000, 1000, func(c *config.Config) {
		c.AdmitPerSecond, c.MaxActive = 100, 1_000_000
		// These fans never poll: on a busy machine the first of them, let
		// in half a minute before the line resumes, would be skipped as
		// silent (ABANDON_AFTER) and the line drain faster than any rate.
		c.AbandonAfter = 10 * time.Minute
	})
	ctx := context.Background()
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.StopAdmitting)
	do := func(method, path, body string) (int, map[string]any) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+gatewaytest.AdminToken)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		r.Handler.ServeHTTP(rec, req)
		var out map[string]any
		json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out
	}
	var entered atomic.Int64
	enter := func() string {
		n := entered.Add(1)
		code, out := do("POST", "/api/tokens", fmt.Sprintf(`{"user_id": "fan%d"}`, n))
		if code != http.StatusCreated {
			t.Errorf("enter: %d %v", code, out)
		}
		tok, _ := out["token"].(string)
		return tok
	}
	if code, out := do("PATCH", "/admin/queue?concert_id=1", `{"paused": true, "admit_per_second": 100}`); code != 200 {
		t.Fatalf("pause: %d %v", code, out)
	}
	for i := 0; i < 1000; i++ {
		enter()
	}
	// Fans keep arriving at 20 a second, catching up when the machine lags.
	const arrivals = 20
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		start, done := time.Now(), 0
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			for due := int(time.Since(start).Seconds() * arrivals); done < due; done++ {
				enter()
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	// Let the arrival rate the projection measures settle on the steady one.
	time.Sleep(13 * time.Second)

	tail := enter()
	claims, err := r.Queue.Signer().Parse(tail)
	if err != nil {
		t.Fatal(err)
	}
	code, p := do("GET", "/admin/queue/projection?concert_id=1&admit_per_second=100", "")
	if code != 200 || p["drain_seconds"] == nil || p["tail_wait_seconds"] == nil {
		t.Fatalf("projection: %d %v", code, p)
	}
	drain, tailWait := p["drain_seconds"].(float64), p["tail_wait_seconds"].(float64)
	resumed := time.Now()
	if code, out := do("PATCH", "/admin/queue?concert_id=1", `{"paused": false}`); code != 200 {
		t.Fatalf("resume: %d %v", code, out)
	}
	var tailAt, drainAt time.Duration
	deadline := resumed.Add(3 * time.Duration(drain) * time.Second)
	for (tailAt == 0 || drainAt == 0) && time.Now().Before(deadline) {
		if tailAt == 0 {
			if pos, err := r.Queue.Position(ctx, claims); err == nil && pos.Status == queue.StatusActive {
				tailAt = time.Since(resumed)
			}
		}
		if drainAt == 0 {
			if st, err := r.Queue.Status(ctx, 1); err == nil && st.Waiting == 0 {
				drainAt = time.Since(resumed)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if tailAt == 0 || drainAt == 0 {
		t.Fatalf("after %v: tail admitted after %v, line drained after %v (projected %vs, %vs)", 3*drain, tailAt, drainAt, tailWait, drain)
	}
	off := func(actual time.Duration, projected float64) float64 {
		return math.Abs(actual.Seconds()-projected) / projected
	}
	t.Logf("projection at the start: waiting %v, arrivals %.1f/s, drain %vs, tail wait %vs", p["waiting"], p["arrivals_per_second"], drain, tailWait)
	t.Logf("what happened: drained after %.2fs (%.1f%% off), tail admitted after %.2fs (%.1f%% off)",
		drainAt.Seconds(), 100*off(drainAt, drain), tailAt.Seconds(), 100*off(tailAt, tailWait))
	if off(drainAt, drain) > 0.10 {
		t.Errorf("drain: projected %vs, took %.2fs", drain, drainAt.Seconds())
	}
	if off(tailAt, tailWait) > 0.10 {
		t.Errorf("tail wait: projected %vs, took %.2fs", tailWait, tailAt.Seconds())
	}
}
