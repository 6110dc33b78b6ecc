// Package forecast answers the operator's question before a change is made:
// what will the line do at a given admission rate? It is arithmetic on the
// line as it stands (its length, the free seats, the measured arrival rate),
// kept apart so that it can be checked against real runs.
package forecast

import "math"

// Line is the state a projection starts from.
type Line struct {
	Waiting   int64 // fans in line now
	FreeSeats int64 // seats neither sold nor held (dates from today on)
	// ArrivalsPerSecond is the rate at which fans have been joining the line
	// lately; the projection assumes it goes on.
	ArrivalsPerSecond float64
}

// Projection is what the line would do at AdmitPerSecond. A nil duration
// means "never" (or "cannot tell": a rate of 0).
type Projection struct {
	AdmitPerSecond float64
	// DrainSeconds: until the line is empty, new arrivals included. Never
	// when they arrive at least as fast as they are admitted.
	DrainSeconds *int64
	// TailWaitSeconds: how long the fan now last in line still waits.
	TailWaitSeconds *int64
	// SoldOutInSeconds: until the free seats are gone, if every admitted fan
	// buys one; nil when the seats outlast the line.
	SoldOutInSeconds *int64
}

// Project returns the projection of line l at rate admitPerSecond. Admission
// is taken to run at the full rate while anyone waits (as it does unless
// max_active binds, i.e. admitted fans hold their slots longer than
// max_active / rate seconds).
func Project(l Line, admitPerSecond float64) Projection {
	p := Projection{AdmitPerSecond: admitPerSecond}
	r, lambda := admitPerSecond, max(l.ArrivalsPerSecond, 0)
	if l.Waiting <= 0 {
		p.DrainSeconds, p.TailWaitSeconds = seconds(0), seconds(0)
	}
	if r <= 0 || math.IsNaN(r) || math.IsInf(r, 0) {
		return p
	}
	w := float64(max(l.Waiting, 0))
	p.TailWaitSeconds = seconds(w / r)
	// Admitted by the time the line drains; all of them if it never does.
	admittedWhileLine := math.Inf(1)
	if r > lambda {
		drain := w / (r - lambda)
		p.DrainSeconds = seconds(drain)
		admittedWhileLine = r * drain
	}
	if free := float64(max(l.FreeSeats, 0)); admittedWhileLine >= free {
		p.SoldOutInSeconds = seconds(free / r)
	}
	return p
}

func seconds(s float64) *int64 {
	n := int64(math.Ceil(s - 1e-9))
	return &n
}
