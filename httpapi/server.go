// Package httpapi is rushgate's HTTP face: it lists every route of the
// contract in one place, decodes and checks requests, guards the routes that
// need an admitted token, and turns domain errors into the contract's status
// codes. It is the only package that imports gin.
package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rushgate/rushgate/admin"
	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/checkout"
	"github.com/rushgate/rushgate/livestats"
	"github.com/rushgate/rushgate/payment"
	"github.com/rushgate/rushgate/queue"
	"github.com/rushgate/rushgate/web"
)

// Booking is what the HTTP layer needs of booking.
type Booking interface {
	ConcertExists(ctx context.Context, concertID int64) (bool, error)
	AvailableDates(ctx context.Context, concertID int64) ([]string, error)
	AvailableSeats(ctx context.Context, concertID int64, date string) ([]int, error)
	// The catalogue.
	Concerts(ctx context.Context) ([]booking.Concert, error)
	OnSale(ctx context.Context) ([]booking.Concert, error)
	Concert(ctx context.Context, id int64) (booking.Concert, error)
	SeatCounts(ctx context.Context, concertID int64) ([]booking.DateSeats, error)
	FreeSeats(ctx context.Context, concertID int64) (int, error)
}

// Payment is what the HTTP layer needs of payment.
type Payment interface {
	Balance(ctx context.Context, userID string) (int64, error)
	Charge(ctx context.Context, userID string, amount int64) (int64, error)
}

// Checkout is what the HTTP layer needs of checkout (*checkout.Service): the
// steps of an admitted user.
type Checkout interface {
	Hold(ctx context.Context, t queue.Token, r checkout.HoldRequest) (booking.Hold, error)
	Refusal(ctx context.Context, t queue.Token, err error) error
	Pay(ctx context.Context, t queue.Token, r payment.Request) (payment.Receipt, error)
}

// Pages are the fan's browser pages (package web/fan).
type Pages interface {
	// Home writes the list of concerts on sale.
	Home(w http.ResponseWriter, r *http.Request)
	// Wait writes the waiting page of a concert; false when id is no
	// concert id (nothing written).
	Wait(w http.ResponseWriter, r *http.Request, id string) bool
	// Asset writes a script or style of the pages; false when there is none.
	Asset(w http.ResponseWriter, r *http.Request, name string) bool
}

// Deps are what the HTTP layer is built from.
type Deps struct {
	Queue    *queue.Queue
	Booking  Booking
	Payment  Payment
	Checkout Checkout
	// Pages are the browser pages; nil serves none.
	Pages Pages
	// Ready reports whether Redis and Postgres answer (for /readyz).
	Ready func(ctx context.Context) error
	// AdminKeys are the keys that open /admin, by label (the actor named in
	// the audit log); none disables the admin routes (403). AdminToken, when
	// set, is one more key, labelled "admin".
	AdminKeys  map[string]string
	AdminToken string
	// Admin applies and records operators' changes.
	Admin *admin.Service
	// Stats counts what happens for the live view (nil: nothing counted).
	Stats *livestats.Recorder
	// Console is the operator's console, served at /admin/ (nil: none).
	Console *web.Site
	// DefaultConcert is the concert of a request that names none.
	DefaultConcert int64
	// EnterRatePerIP limits token issues per second per client; 0 is no limit.
	EnterRatePerIP float64
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []string
	// CORSOrigins are the other sites' origins whose pages may call the API
	// from a browser (CORS); none by default.
	CORSOrigins []string
	// RequestTimeout bounds each request's work (Redis and Postgres calls).
	RequestTimeout time.Duration
	Logger         *slog.Logger
	// Registry receives the HTTP metrics; /metrics serves Gatherer.
	Registry prometheus.Registerer
	Gatherer prometheus.Gatherer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

type server struct {
	Deps
	log       *slog.Logger
	adminKeys []adminKey
	limiter   *limiter
	metrics   *httpMetrics
}

// New returns the gateway's whole http.Handler.
func New(d Deps) (http.Handler, error) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.DefaultConcert == 0 {
		d.DefaultConcert = 1
	}
	if d.RequestTimeout <= 0 {
		d.RequestTimeout = 5 * time.Second
	}
	if d.Registry == nil {
		reg := prometheus.NewRegistry()
		d.Registry, d.Gatherer = reg, reg
	}
	s := &server{Deps: d, log: d.Logger}
	for label, key := range d.AdminKeys {
		s.adminKeys = append(s.adminKeys, adminKey{label: label, hash: sha256.Sum256([]byte(key))})
	}
	if d.AdminToken != "" {
		s.adminKeys = append(s.adminKeys, adminKey{label: "admin", hash: sha256.Sum256([]byte(d.AdminToken))})
	}
	if d.EnterRatePerIP > 0 {
		s.limiter = newLimiter(d.EnterRatePerIP, d.Now)
	}
	m, err := newHTTPMetrics(d.Registry)
	if err != nil {
		return nil, err
	}
	s.metrics = m

	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.ContextWithFallback = true
	// A known route asked with another method is 405 with Allow.
	e.HandleMethodNotAllowed = true
	if err := e.SetTrustedProxies(d.TrustedProxies); err != nil {
		return nil, err
	}
	e.RemoteIPHeaders = []string{"X-Forwarded-For"}
	e.Use(s.recoverPanics, s.observe, s.headers, s.limitBody, s.requireJSON)
	e.NoRoute(func(c *gin.Context) { s.writeError(c, errNotFound) })
	e.NoMethod(func(c *gin.Context) { s.writeError(c, errMethodNotAllowed) })
	s.routes(e)
	s.addOptions(e)
	return e, nil
}

// limitBody makes bodies over 64 KiB fail to read (answered 413).
func (s *server) limitBody(c *gin.Context) {
	if c.Request.ContentLength > maxBody {
		s.writeError(c, errBodyTooLarge)
		return
	}
	// A request without a body (every poll) has nothing to limit: net/http
	// gives it NoBody, which reads as empty, and wrapping it would cost an
	// allocation per poll.
	if c.Request.Body != http.NoBody {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBody)
	}
	c.Next()
}

// deadline bounds a request's work, so an unreachable Redis or Postgres gives
// a fast 503 instead of a hang. (The poll goes without: its only possible
// call, a Redis read, is bounded by the Redis client's own deadline.)
func (s *server) deadline(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.RequestTimeout)
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

// longDeadline is deadline for the few admin requests that write a lot
// (creating a concert of up to a million seats).
func (s *server) longDeadline(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), max(s.RequestTimeout, longRequest))
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

// longRequest bounds the requests under longDeadline.
const longRequest = time.Minute

// recoverPanics answers 500 internal without a stack trace in the body.
func (s *server) recoverPanics(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.log.ErrorContext(c.Request.Context(), "panic", "route", c.FullPath(), "panic", r)
			var body errorBody
			body.Error.Code, body.Error.Message = "internal", messages["internal"]
			c.AbortWithStatusJSON(http.StatusInternalServerError, body)
		}
	}()
	c.Next()
}

// adminKey is one admin key, kept as its hash.
type adminKey struct {
	label string
	hash  [32]byte
}

// actorKey is where requireAdmin leaves the label of the key used.
const actorKey = "rushgate.admin_actor"

// requireAdmin checks the admin bearer key against every key in constant
// time (comparing hashes, so not even a key's length leaks, and never
// stopping at the first match, so the time says nothing of which key
// matched), and remembers the key's label as the actor of the request.
func (s *server) requireAdmin(c *gin.Context) {
	if len(s.adminKeys) == 0 {
		s.writeError(c, errAdminOff)
		return
	}
	got, ok := bearer(c)
	h := sha256.Sum256([]byte(got))
	match := -1
	for i := range s.adminKeys {
		if subtle.ConstantTimeCompare(h[:], s.adminKeys[i].hash[:]) == 1 {
			match = i
		}
	}
	if !ok || match < 0 {
		s.writeError(c, errAdminAuth)
		return
	}
	c.Set(actorKey, s.adminKeys[match].label)
	c.Next()
}

// actor is the label of the admin key of the request.
func actor(c *gin.Context) string { return c.GetString(actorKey) }
