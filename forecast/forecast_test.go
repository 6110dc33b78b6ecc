package forecast_test

import (
	"fmt"
	"testing"

	"github.com/rushgate/rushgate/forecast"
)

func str(p *int64) string {
	if p == nil {
		return "never"
	}
	return fmt.Sprint(*p)
}

func TestProject(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		line                 forecast.Line
		rate                 float64
		drain, tail, soldOut string
	}{
		{"the contract's example", forecast.Line{Waiting: 120000, FreeSeats: 5000}, 300, "400", "400", "17"},
		{"seats outlast a short line", forecast.Line{Waiting: 100, FreeSeats: 5000}, 50, "2", "2", "never"},
		{"arrivals slow the drain but not the tail", forecast.Line{Waiting: 1000, FreeSeats: 100000, ArrivalsPerSecond: 50}, 100, "20", "10", "never"},
		{"arrivals that fill the seats before the line drains", forecast.Line{Waiting: 1000, FreeSeats: 1500, ArrivalsPerSecond: 50}, 100, "20", "10", "15"},
		{"arrivals outpacing admission never drain", forecast.Line{Waiting: 1000, FreeSeats: 100000, ArrivalsPerSecond: 150}, 100, "never", "10", "1000"},
		{"rate 0 tells nothing", forecast.Line{Waiting: 1000, FreeSeats: 10}, 0, "never", "never", "never"},
		{"an empty line drains now", forecast.Line{FreeSeats: 10}, 0, "0", "0", "never"},
		{"no free seats is sold out now", forecast.Line{Waiting: 10}, 5, "2", "2", "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := forecast.Project(tc.line, tc.rate)
			if got, want := fmt.Sprint(str(p.DrainSeconds), " ", str(p.TailWaitSeconds), " ", str(p.SoldOutInSeconds)),
				tc.drain+" "+tc.tail+" "+tc.soldOut; got != want {
				t.Errorf("drain tail sold-out = %s, want %s", got, want)
			}
		})
	}
}
