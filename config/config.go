// Package config reads rushgate's configuration from the environment, with
// the contract's defaults, and prints it with secrets masked.
package config

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/queue"
)

// Config is every setting of a gateway process.
type Config struct {
	Addr     string
	RedisURL string
	// RedisMode is how RedisURL is read: RedisSingle, RedisCluster (a seed
	// list) or RedisSentinel (the sentinels, with RedisMaster the master set).
	RedisMode   string
	RedisMaster string
	DatabaseURL string
	AdminToken  string // secret
	// AdminKeys are the named admin keys of ADMIN_TOKENS, label -> key
	// (secret); ADMIN_TOKEN is not among them (its label is "admin").
	AdminKeys       map[string]string
	TokenSecret     string // secret
	AdmitPerSecond  float64
	MaxActive       int64
	TokenTTL        time.Duration
	ActiveTTL       time.Duration
	HoldTTL         time.Duration
	MaxHoldsPerUser int
	// HoldBatch is the most holds of one concert sent to Redis as one script
	// run (HOLD_BATCH, 256 by default; 1 sends each alone); HoldBatchWait how
	// long a hold queued behind its concert's batch in flight may wait for
	// more to join (HOLD_BATCH_WAIT). See booking.Config.HoldBatch.
	HoldBatch     int
	HoldBatchWait time.Duration
	// HoldRecords is where new holds' records go (HOLD_RECORDS): user-set,
	// the default, or own-key while older replicas still serve (see
	// booking.Config.HoldRecords).
	HoldRecords string
	// EnterRatePerIP is token issues per second per client address, 0 for
	// no limit; a client may always issue at least one at once (see httpapi).
	EnterRatePerIP float64
	TrustedProxies []string
	// CORSOrigins are the exact origins (scheme://host[:port]) of other
	// sites whose pages may call the API from a browser; none by default.
	CORSOrigins   []string
	AdmitInterval time.Duration
	// AbandonAfter is how long a waiter may stay silent (no poll) before
	// the admission step skips them; RejoinGrace how long after that they
	// may come back to their old place.
	AbandonAfter  time.Duration
	RejoinGrace   time.Duration
	ShutdownGrace time.Duration
	RedisTimeout  time.Duration
	// RedisWaitReplicas is how many replicas must acknowledge a new token
	// or hold (WAIT) before it is answered; 0 (default) does not wait.
	// RedisWaitTimeout bounds that WAIT.
	RedisWaitReplicas int
	RedisWaitTimeout  time.Duration
	DBTimeout         time.Duration
	LogLevel          slog.Level
	KeyPrefix         string
	// RedisBatch is the most token issues of one concert sent to Redis as
	// one script run (REDIS_BATCH, 256 by default; 1 sends each alone);
	// RedisBatchWait how
	// long an issue queued behind its concert's batch in flight may wait for
	// more to join (REDIS_BATCH_WAIT). See queue.Config.EnterBatch.
	RedisBatch     int
	RedisBatchWait time.Duration
}

// MinEnterRatePerIP is the lowest per-client rate of token issues other than
// 0 (no limit): one issue per 100 seconds. Below it the wait a refused client
// is told to keep (Retry-After) would grow past what a person can use.
const MinEnterRatePerIP = 0.01

// The values of REDIS_MODE.
const (
	RedisSingle   = "single"
	RedisCluster  = "cluster"
	RedisSentinel = "sentinel"
)

// defaultBatch is the most token issues, and the most holds, of one concert
// that one script run takes. A batch is only as large as the requests that
// arrived while the one before it ran, so the bound matters only to a replica
// with hundreds of requests in flight. With 4,096 connections offering 11,000
// holds a second, batches of up to 256 answered 9,959–10,734 a second against
// 8,452–9,383 with 64; at 8,000 a second both kept up, with a p99 of 62–267 ms
// against 335–409 ms. A full run of holds keeps Redis busy for about 6 ms
// (some 25 µs a hold), of issues about half that.
const defaultBatch = 256

// Load reads the configuration through getenv (os.Getenv in production).
// Every malformed value is reported, not silently replaced by its default.
func Load(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	c := Config{
		Addr:              r.str("ADDR", ":8080"),
		RedisURL:          r.str("REDIS_URL", "redis://127.0.0.1:6379/0"),
		RedisMode:         r.oneOf("REDIS_MODE", RedisSingle, RedisCluster, RedisSentinel),
		RedisMaster:       getenv("REDIS_MASTER"),
		DatabaseURL:       r.str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/rushgate?sslmode=disable"),
		AdminToken:        getenv("ADMIN_TOKEN"),
		TokenSecret:       getenv("TOKEN_SECRET"),
		AdmitPerSecond:    r.float("ADMIT_PER_SECOND", 100, 0, queue.MaxAdmitPerSecond),
		MaxActive:         int64(r.int("MAX_ACTIVE", 1000, 0, queue.MaxMaxActive)),
		TokenTTL:          r.dur("TOKEN_TTL", 2*time.Hour, time.Minute, 7*24*time.Hour),
		ActiveTTL:         r.dur("ACTIVE_TTL", 10*time.Minute, queue.MinActiveTTL, queue.MaxActiveTTL),
		HoldTTL:           r.dur("HOLD_TTL", 5*time.Minute, time.Second, 24*time.Hour),
		MaxHoldsPerUser:   r.int("MAX_HOLDS_PER_USER", 4, 1, 1000),
		HoldBatch:         r.int("HOLD_BATCH", defaultBatch, 1, 1000),
		HoldBatchWait:     r.dur("HOLD_BATCH_WAIT", 0, 0, 10*time.Millisecond),
		HoldRecords:       r.oneOf("HOLD_RECORDS", booking.RecordsInUserSet, booking.RecordsInOwnKey),
		EnterRatePerIP:    r.rateOrOff("ENTER_RATE_PER_IP", 20, MinEnterRatePerIP, 1_000_000),
		TrustedProxies:    r.list("TRUSTED_PROXIES"),
		CORSOrigins:       r.origins("CORS_ORIGINS"),
		AdmitInterval:     r.dur("ADMIT_INTERVAL", 50*time.Millisecond, 5*time.Millisecond, time.Second),
		AbandonAfter:      r.dur("ABANDON_AFTER", 30*time.Second, time.Second, 24*time.Hour),
		RejoinGrace:       r.dur("REJOIN_GRACE", 10*time.Minute, time.Second, 24*time.Hour),
		ShutdownGrace:     r.dur("SHUTDOWN_GRACE", 15*time.Second, time.Second, 10*time.Minute),
		RedisTimeout:      r.dur("REDIS_TIMEOUT", 500*time.Millisecond, 10*time.Millisecond, time.Minute),
		RedisWaitReplicas: r.int("REDIS_WAIT_REPLICAS", 0, 0, 16),
		RedisWaitTimeout:  r.dur("REDIS_WAIT_TIMEOUT", 100*time.Millisecond, time.Millisecond, time.Minute),
		DBTimeout:         r.dur("DB_TIMEOUT", 3*time.Second, 10*time.Millisecond, time.Minute),
		KeyPrefix:         r.str("KEY_PREFIX", "rg:"),
		RedisBatch:        r.int("REDIS_BATCH", defaultBatch, 1, 1000),
		RedisBatchWait:    r.dur("REDIS_BATCH_WAIT", 0, 0, 10*time.Millisecond),
	}
	if c.RedisMode == RedisSentinel && c.RedisMaster == "" {
		r.errs = append(r.errs, "REDIS_MASTER: REDIS_MODE=sentinel needs the name of the master set")
	}
	if c.RedisWaitReplicas > 0 && c.RedisWaitTimeout >= c.RedisTimeout {
		r.errs = append(r.errs, fmt.Sprintf("REDIS_WAIT_TIMEOUT: %v must be shorter than REDIS_TIMEOUT (%v), which bounds a write and its WAIT together",
			c.RedisWaitTimeout, c.RedisTimeout))
	}
	c.AdminKeys = r.adminKeys("ADMIN_TOKENS", c.AdminToken)
	if err := c.LogLevel.UnmarshalText([]byte(r.str("LOG_LEVEL", "info"))); err != nil {
		r.errs = append(r.errs, fmt.Sprintf("LOG_LEVEL: %v", err))
	}
	for _, p := range c.TrustedProxies {
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				r.errs = append(r.errs, fmt.Sprintf("TRUSTED_PROXIES: %q is neither an address nor a CIDR", p))
			}
		}
	}
	if len(r.errs) > 0 {
		return c, fmt.Errorf("config: %s", strings.Join(r.errs, "; "))
	}
	return c, nil
}

// LogValue prints the configuration with secrets and passwords masked.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.String("redis_url", MaskURL(c.RedisURL)),
		slog.String("redis_mode", c.RedisMode),
		slog.String("redis_master", c.RedisMaster),
		slog.String("database_url", MaskURL(c.DatabaseURL)),
		slog.String("admin_token", mask(c.AdminToken)),
		slog.Any("admin_tokens", adminLabels(c.AdminKeys)),
		slog.String("token_secret", mask(c.TokenSecret)),
		slog.Float64("admit_per_second", c.AdmitPerSecond),
		slog.Int64("max_active", c.MaxActive),
		duration("token_ttl", c.TokenTTL),
		duration("active_ttl", c.ActiveTTL),
		duration("hold_ttl", c.HoldTTL),
		slog.Int("max_holds_per_user", c.MaxHoldsPerUser),
		slog.Int("hold_batch", c.HoldBatch),
		duration("hold_batch_wait", c.HoldBatchWait),
		slog.String("hold_records", c.HoldRecords),
		slog.Float64("enter_rate_per_ip", c.EnterRatePerIP),
		slog.Any("trusted_proxies", c.TrustedProxies),
		slog.Any("cors_origins", c.CORSOrigins),
		duration("admit_interval", c.AdmitInterval),
		duration("abandon_after", c.AbandonAfter),
		duration("rejoin_grace", c.RejoinGrace),
		duration("shutdown_grace", c.ShutdownGrace),
		duration("redis_timeout", c.RedisTimeout),
		slog.Int("redis_wait_replicas", c.RedisWaitReplicas),
		duration("redis_wait_timeout", c.RedisWaitTimeout),
		duration("db_timeout", c.DBTimeout),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("key_prefix", c.KeyPrefix),
		slog.Int("redis_batch", c.RedisBatch),
		duration("redis_batch_wait", c.RedisBatchWait),
	)
}

// duration logs d as people write it ("2h0m0s"): a JSON log would otherwise
// show nanoseconds.
func duration(name string, d time.Duration) slog.Attr { return slog.String(name, d.String()) }

func mask(secret string) string {
	if secret == "" {
		return "(unset)"
	}
	return "(set)"
}

// MaskURL is raw with its password, if any, replaced by xxxxx.
func MaskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

type reader struct {
	getenv func(string) string
	errs   []string
}

func (r *reader) str(name, def string) string {
	if v := r.getenv(name); v != "" {
		return v
	}
	return def
}

// oneOf is the value of name, which must be one of allowed; the first is
// the default.
func (r *reader) oneOf(name string, allowed ...string) string {
	v := r.getenv(name)
	if v == "" {
		return allowed[0]
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.errs = append(r.errs, fmt.Sprintf("%s: %q is not one of %s", name, v, strings.Join(allowed, ", ")))
	return allowed[0]
}

// dur reads a Go duration within [lo, hi]. Every duration setting has
// bounds, because a value that parses can still break the gateway: a
// HOLD_TTL under a millisecond becomes a Redis expiry of 0, which Redis
// refuses, and every hold would fail.
func (r *reader) dur(name string, def, lo, hi time.Duration) time.Duration {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		r.errs = append(r.errs, fmt.Sprintf("%s: %q is not a Go duration from %v to %v (e.g. %v)", name, v, lo, hi, def))
		return def
	}
	return d
}

func (r *reader) int(name string, def, lo, hi int) int {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.errs = append(r.errs, fmt.Sprintf("%s: %q is not an integer from %d to %d", name, v, lo, hi))
		return def
	}
	return n
}

// float reads a finite number within [lo, hi].
func (r *reader) float(name string, def, lo, hi float64) float64 {
	return r.number(name, def, func(n float64) bool { return n >= lo && n <= hi },
		fmt.Sprintf("a finite number from %g to %g", lo, hi))
}

// rateOrOff reads a rate that is either 0 (off) or a finite number within
// [lo, hi].
func (r *reader) rateOrOff(name string, def, lo, hi float64) float64 {
	return r.number(name, def, func(n float64) bool { return n == 0 || (n >= lo && n <= hi) },
		fmt.Sprintf("0 (off) or a finite number from %g to %g", lo, hi))
}

// number reads a finite number that ok accepts. NaN must be refused by name:
// it fails every comparison, so a range check alone lets it through.
func (r *reader) number(name string, def float64, ok func(float64) bool, want string) float64 {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) || !ok(n) {
		r.errs = append(r.errs, fmt.Sprintf("%s: %q is not %s", name, v, want))
		return def
	}
	return n
}

func (r *reader) list(name string) []string {
	var out []string
	for _, p := range strings.Split(r.getenv(name), ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// origins reads a comma-separated list of exact browser origins,
// scheme://host[:port] as a browser sends them in the Origin header. A
// wildcard is refused: which other sites may drive a visitor's queue token
// from their pages is a choice to make one site at a time.
func (r *reader) origins(name string) []string {
	var out []string
	for _, o := range r.list(name) {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(o, "*?#") {
			r.errs = append(r.errs, fmt.Sprintf("%s: %q is not an origin like https://tickets.example.com (scheme and host, optional port, nothing else; no wildcard)", name, o))
			continue
		}
		// A browser leaves the scheme's default port out of Origin.
		scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
		host = strings.TrimSuffix(host, map[string]string{"http": ":80", "https": ":443"}[scheme])
		out = append(out, scheme+"://"+host)
	}
	return out
}

// adminKeys parses "label:key,label:key". Labels are 1–64 characters of
// [A-Za-z0-9._-] and name the actor in the audit log, so each is used once
// ("admin" is ADMIN_TOKEN's when that is set); keys are at least 16
// characters without spaces or commas, and no two labels share a key (the
// log could not tell who acted).
func (r *reader) adminKeys(name, adminToken string) map[string]string {
	v := r.getenv(name)
	if strings.TrimSpace(v) == "" {
		return nil
	}
	out := map[string]string{}
	keys := map[string]string{}
	if adminToken != "" {
		keys[adminToken] = "admin"
	}
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		label, key, ok := strings.Cut(item, ":")
		switch {
		case !ok || !validLabel(label):
			r.errs = append(r.errs, fmt.Sprintf("%s: each entry must be label:key with a label of 1 to 64 characters of A-Z a-z 0-9 . _ - (got %q)", name, maskedEntry(item)))
			continue
		case len(key) < 16 || strings.ContainsAny(key, " \t"):
			r.errs = append(r.errs, fmt.Sprintf("%s: the key of %q must be at least 16 characters without spaces", name, label))
			continue
		case label == "admin" && adminToken != "":
			r.errs = append(r.errs, fmt.Sprintf("%s: the label \"admin\" is ADMIN_TOKEN's", name))
			continue
		case out[label] != "":
			r.errs = append(r.errs, fmt.Sprintf("%s: label %q appears twice", name, label))
			continue
		case keys[key] != "":
			r.errs = append(r.errs, fmt.Sprintf("%s: %q and %q have the same key", name, keys[key], label))
			continue
		}
		out[label] = key
		keys[key] = label
	}
	return out
}

func validLabel(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// maskedEntry shows what comes before the first colon only, so an error
// message never prints a key.
func maskedEntry(item string) string {
	label, _, ok := strings.Cut(item, ":")
	if ok {
		return label + ":…"
	}
	if len(item) > 8 {
		return item[:4] + "…"
	}
	return item
}

// adminLabels lists the labels of the admin keys, for the log.
func adminLabels(keys map[string]string) []string {
	out := make([]string, 0, len(keys))
	for label := range keys {
		out = append(out, label)
	}
	slices.Sort(out)
	return out
}
