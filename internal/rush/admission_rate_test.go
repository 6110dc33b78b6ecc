package rush

import (
	"testing"
	"time"
)

// The admission rate is measured over readings in which only the rate held
// admission back: a stretch in which every unsold seat was held (admission
// paused by the stock) or the sale was over is not part of it.
func TestAdmissionRateLeavesOutReadingsWithNoSeatFree(t *testing.T) {
	at := func(s int) time.Duration { return time.Duration(s) * time.Second }
	sample := func(s int, admitted, free int64, state string) adminSample {
		return adminSample{at: at(s), waiting: 1000, active: 10, maxActive: 1000, rate: 100,
			admittedTotal: admitted, free: free, state: state}
	}
	samples := []adminSample{
		// Three seconds at the rate, then every seat held for four, then
		// the holds lapse and admission resumes for two, then sold out.
		sample(0, 0, 500, "open"),
		sample(1, 100, 400, "open"),
		sample(2, 200, 300, "open"),
		sample(3, 300, 0, "open"),
		sample(4, 300, 0, "open"),
		sample(5, 300, 0, "open"),
		sample(6, 300, 0, "open"),
		sample(7, 350, 150, "open"),
		sample(8, 450, 50, "open"),
		sample(9, 450, 0, "sold_out"),
	}
	a := admission(nil, samples)
	if a.WindowSeconds != 2 || a.AdmittedInWindow != 200 || a.MeasuredRate != 100 {
		t.Fatalf("window %vs, %d admitted, rate %v; want the first 2s: 200 at 100/s", a.WindowSeconds, a.AdmittedInWindow, a.MeasuredRate)
	}

	// A gateway that reports no free seats or state is judged on the rest.
	for i := range samples {
		samples[i].free, samples[i].state = -1, ""
	}
	if a := admission(nil, samples); a.WindowSeconds != 9 {
		t.Fatalf("window %vs, want all 9s when free seats and state are unknown", a.WindowSeconds)
	}
}
