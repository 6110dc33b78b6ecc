package gateway

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rushgate/rushgate/internal/coalesce"
)

// batchMetrics show how this replica's token issues and holds share their
// Redis calls (REDIS_BATCH, HOLD_BATCH and their waits): how full the runs
// are, how long a call waits for its run to go and how long a run takes.
// A run that takes much longer than Redis reports for the script
// (INFO commandstats) spends the rest in the network and in waiting for
// a core on either side, which a larger batch does not make longer.
type batchMetrics struct {
	calls, queued, took *prometheus.HistogramVec
}

func newBatchMetrics() *batchMetrics {
	return &batchMetrics{
		calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rushgate_batch_calls",
			Help:    "Requests carried by each run of the enter (token issue) or hold script.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}, []string{"kind"}),
		queued: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rushgate_batch_queued_seconds",
			Help:    "How long the oldest request of each run waited for it to go (the run ahead, then the batch wait).",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25},
		}, []string{"kind"}),
		took: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rushgate_batch_duration_seconds",
			Help:    "How long each run of the enter or hold script took, from this replica (Redis round trips included).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"kind"}),
	}
}

func (m *batchMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.calls, m.queued, m.took}
}

// observer returns what records the runs of kind ("enter" or "hold"): the
// label's series are looked up once, not at each run.
func (m *batchMetrics) observer(kind string) func(coalesce.BatchStats) {
	calls, queued, took := m.calls.WithLabelValues(kind), m.queued.WithLabelValues(kind), m.took.WithLabelValues(kind)
	return func(s coalesce.BatchStats) {
		calls.Observe(float64(s.Calls))
		queued.Observe(s.Queued.Seconds())
		took.Observe(s.Took.Seconds())
	}
}
