package gateway

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rushgate/rushgate/queue"
)

// queueCollector exports each concert's line as this replica last saw it.
// It reads the replica's memory only: a scrape never touches Redis.
type queueCollector struct {
	q        *queue.Queue
	concerts func() []int64

	waiting, active, admitted, skipped, rate, measured, paused, free *prometheus.Desc
}

func newQueueCollector(q *queue.Queue, concerts func() []int64) *queueCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("rushgate_queue_"+name, help, []string{"concert_id"}, nil)
	}
	return &queueCollector{
		q: q, concerts: concerts,
		waiting:  d("waiting", "Tokens waiting in line."),
		active:   d("active", "Tokens admitted and still active."),
		admitted: d("admitted_total", "Tokens admitted since the line began."),
		skipped:  d("skipped_inactive_total", "Waiting tokens skipped as silent (their holder left) since the line began."),
		rate:     d("admit_per_second", "Configured admission rate."),
		measured: d("measured_admit_per_second", "Admission rate measured over the last seconds."),
		paused:   d("paused", "1 while admission is paused."),
		free:     d("free_seats", "Seats neither sold nor held, as admission last saw them (absent when unknown)."),
	}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.waiting, c.active, c.admitted, c.skipped, c.rate, c.measured, c.paused, c.free} {
		ch <- d
	}
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	for _, id := range c.concerts() {
		a, measured, _, ok := c.q.Observed(id)
		if !ok {
			continue
		}
		label := strconv.FormatInt(id, 10)
		paused := 0.0
		if a.Settings.Paused {
			paused = 1
		}
		ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(a.Waiting), label)
		ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(a.Active), label)
		ch <- prometheus.MustNewConstMetric(c.admitted, prometheus.CounterValue, float64(a.AdmittedTotal), label)
		// The line's total as the latest admission step returned it, so every
		// replica reports the same figure without asking Redis.
		ch <- prometheus.MustNewConstMetric(c.skipped, prometheus.CounterValue, float64(a.SkippedTotal), label)
		ch <- prometheus.MustNewConstMetric(c.rate, prometheus.GaugeValue, a.Settings.AdmitPerSecond, label)
		ch <- prometheus.MustNewConstMetric(c.measured, prometheus.GaugeValue, measured, label)
		ch <- prometheus.MustNewConstMetric(c.paused, prometheus.GaugeValue, paused, label)
		if a.FreeSeats >= 0 {
			ch <- prometheus.MustNewConstMetric(c.free, prometheus.GaugeValue, float64(a.FreeSeats), label)
		}
	}
}
