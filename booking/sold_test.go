package booking

import (
	"testing"
	"time"
)

// A "sold" lock lives until soldLockMargin after its date's UTC midnight, and
// an hour at least.
func TestSoldLocksLiveUntilDaysAfterTheirDate(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	s := &Service{cfg: Config{Now: func() time.Time { return now }}}
	for _, tc := range []struct {
		day  string
		want time.Duration
	}{
		{"2030-01-02", 84 * time.Hour}, // its midnight + 72h, from noon the day before
		{"2030-01-01", 60 * time.Hour},
		{"2029-12-29", time.Hour}, // passed long ago: an hour, never less
		{"2030-13-45", soldLockMargin},
	} {
		if got := s.soldLockTTL(tc.day); got != tc.want {
			t.Errorf("soldLockTTL(%s) = %v, want %v", tc.day, got, tc.want)
		}
	}
}
