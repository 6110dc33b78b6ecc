package rush

import (
	"sort"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are kept in HdrHistograms of microseconds, from 1 µs to 5 min at
// 3 significant digits: percentiles exact to 0.1% with no sample kept.
const (
	histMin    = 1
	histMax    = int64(5 * time.Minute / time.Microsecond)
	histDigits = 3
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histDigits) }

// stats gathers per-route latencies and status counts; safe for concurrent use.
type stats struct {
	mu     sync.Mutex
	routes map[string]*routeStats
}

type routeStats struct {
	hist      *hdrhistogram.Histogram
	statuses  map[int]int64
	transport int64 // requests that got no answer
}

func newStats() *stats { return &stats{routes: make(map[string]*routeStats)} }

func (s *stats) route(name string) *routeStats {
	r := s.routes[name]
	if r == nil {
		r = &routeStats{hist: newHist(), statuses: make(map[int]int64)}
		s.routes[name] = r
	}
	return r
}

func (s *stats) observe(name string, status int, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.route(name)
	r.statuses[status]++
	r.hist.RecordValue(max(histMin, min(histMax, d.Microseconds())))
}

func (s *stats) transportError(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.route(name).transport++
}

// Latency is a summary of a latency histogram, in milliseconds.
type Latency struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

func summarize(h *hdrhistogram.Histogram) Latency {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Latency{
		Count: h.TotalCount(),
		P50:   ms(h.ValueAtQuantile(50)), P95: ms(h.ValueAtQuantile(95)),
		P99: ms(h.ValueAtQuantile(99)), Max: ms(h.Max()), Mean: h.Mean() / 1000,
	}
}

// RouteReport is the throughput and latency of one route over the run.
type RouteReport struct {
	Route string `json:"route"`
	// Requests counts every request, answered or not.
	Requests int64 `json:"requests"`
	// PerSecond is requests over the run's wall time.
	PerSecond float64 `json:"per_second"`
	// Statuses counts answers by HTTP status; TransportErrors requests that
	// got none.
	Statuses        map[int]int64 `json:"statuses"`
	TransportErrors int64         `json:"transport_errors"`
	// ServerErrors counts 5xx answers.
	ServerErrors int64   `json:"server_errors"`
	Latency      Latency `json:"latency"`
}

func (s *stats) report(elapsed time.Duration) []RouteReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RouteReport, 0, len(s.routes))
	for name, r := range s.routes {
		rr := RouteReport{Route: name, Statuses: make(map[int]int64, len(r.statuses)),
			TransportErrors: r.transport, Latency: summarize(r.hist)}
		for code, n := range r.statuses {
			rr.Statuses[code] = n
			rr.Requests += n
			if code >= 500 {
				rr.ServerErrors += n
			}
		}
		rr.Requests += r.transport
		if elapsed > 0 {
			rr.PerSecond = float64(rr.Requests) / elapsed.Seconds()
		}
		out = append(out, rr)
	}
	sort.Slice(out, func(i, j int) bool { return routeOrder(out[i].Route) < routeOrder(out[j].Route) })
	return out
}

// routeOrder sorts routes in the order a user meets them.
func routeOrder(name string) string {
	order := []string{
		"POST /api/tokens", "GET /api/queue/position", "GET /api/reservationData/available",
		"GET /api/reservationSeat/available", "POST /api/reservation", "POST /api/chargePay",
		"POST /api/payment", "GET /api/pay", "GET /admin/queue",
	}
	for i, r := range order {
		if r == name {
			return string(rune('a' + i))
		}
	}
	return "z" + name
}
