package rush

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// adminSample is one reading of GET /admin/queue.
type adminSample struct {
	at            time.Duration
	waiting       int64
	active        int64
	rate          float64
	maxActive     int64
	paused        bool
	admittedTotal int64
	skipped       int64 // skipped_inactive_total; 0 from gateways without it
	free          int64 // free_seats; -1 when unknown (or a gateway without it)
	state         string
}

// sampleAdmin reads the admission state each second until the users are done.
func (r *runner) sampleAdmin(ctx context.Context, done <-chan struct{}) {
	if r.opt.AdminToken == "" {
		return
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		r.readAdmin(ctx)
		select {
		case <-done:
			r.readAdmin(context.WithoutCancel(ctx))
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (r *runner) readAdmin(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	path := "/admin/queue?concert_id=" + strconv.FormatInt(r.opt.ConcertID, 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.opt.BaseURL+path, nil)
	if err != nil {
		return
	}
	req.Header.Set("Authorization", "Bearer "+r.opt.AdminToken)
	t0 := time.Now()
	resp, err := r.client.Do(req)
	if err != nil {
		return
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t1 := time.Now()
	r.stats.observe("GET /admin/queue", resp.StatusCode, t1.Sub(t0))
	if resp.StatusCode != http.StatusOK {
		return
	}
	var q struct {
		Waiting        int64   `json:"waiting"`
		Active         int64   `json:"active"`
		AdmitPerSecond float64 `json:"admit_per_second"`
		MaxActive      int64   `json:"max_active"`
		Paused         bool    `json:"paused"`
		AdmittedTotal  int64   `json:"admitted_total"`
		Skipped        int64   `json:"skipped_inactive_total"`
		FreeSeats      *int64  `json:"free_seats"`
		State          string  `json:"state"`
	}
	if json.Unmarshal(raw, &q) != nil {
		return
	}
	// The reading is of the moment half-way through the request.
	at := t0.Add(t1.Sub(t0) / 2).Sub(r.start)
	r.mu.Lock()
	free := int64(-1)
	if q.FreeSeats != nil {
		free = *q.FreeSeats
	}
	r.samples = append(r.samples, adminSample{at: at, waiting: q.Waiting, active: q.Active, rate: q.AdmitPerSecond,
		maxActive: q.MaxActive, paused: q.Paused, admittedTotal: q.AdmittedTotal, skipped: q.Skipped,
		free: free, state: q.State})
	r.mu.Unlock()
}

func (r *runner) lastSample() (adminSample, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.samples) == 0 {
		return adminSample{}, false
	}
	return r.samples[len(r.samples)-1], true
}

// progress writes a status line every second.
func (r *runner) progress(done <-chan struct{}) {
	if r.opt.Progress == nil {
		return
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastReq int64
	last := time.Now()
	for {
		select {
		case <-done:
			return
		case now := <-tick.C:
			n := r.requests.Load()
			rps := float64(n-lastReq) / now.Sub(last).Seconds()
			lastReq, last = n, now
			line := fmt.Sprintf("rushload %5.0fs  waiting %6d  active %6d  done %6d/%d  %7.0f req/s",
				now.Sub(r.start).Seconds(), r.waiting.Load(), r.active.Load(), r.done.Load(), r.opt.Users, rps)
			if s, ok := r.lastSample(); ok {
				line += fmt.Sprintf("  | gateway: waiting %d active %d admitted_total %d", s.waiting, s.active, s.admittedTotal)
			}
			fmt.Fprintln(r.opt.Progress, line)
		}
	}
}
