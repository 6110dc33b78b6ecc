package httpapi

import (
	"testing"
	"time"
)

func TestClientKeyGroupsAnIPv6ClientByItsSlash64(t *testing.T) {
	for _, tc := range []struct{ ip, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "::ffff:192.0.2.7"},
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:bbbb:cccc:dddd:eeee", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"not an ip", "not an ip"},
	} {
		if got := clientKey(tc.ip); got != tc.want {
			t.Errorf("clientKey(%q) = %q, want %q", tc.ip, got, tc.want)
		}
	}
}

// TestLimiterBelowOneASecondStillLetsAClientThrough: a bucket capped at the
// rate never reached one token for rates below 1, refusing everyone forever.
func TestLimiterBelowOneASecondStillLetsAClientThrough(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(0.5, func() time.Time { return now })
	if ok, _ := l.allow("a"); !ok {
		t.Fatal("first issue at 0.5/s refused")
	}
	ok, wait := l.allow("a")
	if ok || wait != 2*time.Second {
		t.Fatalf("second issue at once: %v, wait %v; want refused for 2s", ok, wait)
	}
	now = now.Add(2 * time.Second)
	if ok, _ := l.allow("a"); !ok {
		t.Fatal("issue 2s later refused")
	}
	now = now.Add(time.Hour) // a long idle time banks one issue, not 1800
	for i, want := range []bool{true, false} {
		if ok, _ := l.allow("a"); ok != want {
			t.Errorf("issue %d after an idle hour: %v, want %v", i+1, ok, want)
		}
	}
}
