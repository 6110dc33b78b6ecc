package httpapi

import (
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// limiter is a per-client token bucket: rate tokens a second, bursts of up to
// rate but never less than one, so a rate below 1 (0.5: one issue every two
// seconds) still lets a client through; a bucket capped below one token
// would refuse everyone forever. Idle clients are forgotten, so memory
// follows the active clients only.
type limiter struct {
	rate  float64
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, now func() time.Time) *limiter {
	return &limiter{rate: rate, burst: max(1, rate), now: now, buckets: make(map[string]*bucket)}
}

// allow takes one token for client; when none is left it says how long until
// one is.
func (l *limiter) allow(client string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.last) > time.Minute {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b := l.buckets[client]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[client] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// clientKey is whom the limit counts: an IPv4 address, or the /64 network
// of an IPv6 address, since one IPv6 client holds a whole /64 and could
// otherwise rotate through it.
func clientKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil || addr.Is4() || addr.Is4In6() {
		return ip
	}
	p, err := addr.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

// limitEnter applies ENTER_RATE_PER_IP to POST /api/tokens. The client is the
// peer address, or X-Forwarded-For when the peer is a trusted proxy.
func (s *server) limitEnter(c *gin.Context) {
	if s.limiter == nil {
		c.Next()
		return
	}
	ok, wait := s.limiter.allow(clientKey(c.ClientIP()))
	if !ok {
		secs := int(wait/time.Second) + 1
		c.Header("Retry-After", strconv.Itoa(secs))
		s.writeError(c, errRateLimited)
		return
	}
	c.Next()
}
