package httpapi

import (
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	// The series each route and status already has, found without hashing
	// label values and formatting the status on every request.
	counters  sync.Map // routeStatus -> prometheus.Counter
	observers sync.Map // route -> prometheus.Observer
}

type routeStatus struct {
	route  string
	status int
}

func (m *httpMetrics) counter(route string, status int) prometheus.Counter {
	k := routeStatus{route, status}
	if c, ok := m.counters.Load(k); ok {
		return c.(prometheus.Counter)
	}
	c, _ := m.counters.LoadOrStore(k, m.requests.WithLabelValues(route, strconv.Itoa(status)))
	return c.(prometheus.Counter)
}

func (m *httpMetrics) observer(route string) prometheus.Observer {
	if o, ok := m.observers.Load(route); ok {
		return o.(prometheus.Observer)
	}
	o, _ := m.observers.LoadOrStore(route, m.latency.WithLabelValues(route))
	return o.(prometheus.Observer)
}

func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rushgate_http_requests_total",
			Help: "HTTP requests answered, by route and status.",
		}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rushgate_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// observe counts every request by its route pattern (never the raw path, so
// hostile paths cannot blow up the label set).
func (s *server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	s.metrics.counter(route, c.Writer.Status()).Inc()
	s.metrics.observer(route).Observe(time.Since(start).Seconds())
}
