package config_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/config"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaultsAreTheContracts(t *testing.T) {
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.RedisURL != "redis://127.0.0.1:6379/0" ||
		c.DatabaseURL != "postgres://postgres@127.0.0.1:5432/rushgate?sslmode=disable" {
		t.Errorf("addresses = %q %q %q", c.Addr, c.RedisURL, c.DatabaseURL)
	}
	if c.AdmitPerSecond != 100 || c.MaxActive != 1000 || c.MaxHoldsPerUser != 4 || c.EnterRatePerIP != 20 {
		t.Errorf("limits = %v %v %v %v", c.AdmitPerSecond, c.MaxActive, c.MaxHoldsPerUser, c.EnterRatePerIP)
	}
	if c.TokenTTL != 2*time.Hour || c.ActiveTTL != 10*time.Minute || c.HoldTTL != 5*time.Minute {
		t.Errorf("ttls = %v %v %v", c.TokenTTL, c.ActiveTTL, c.HoldTTL)
	}
	if c.AdminToken != "" || c.TokenSecret != "" || c.TrustedProxies != nil {
		t.Errorf("secrets or proxies set by default")
	}
}

func TestLoadReportsEveryBadValue(t *testing.T) {
	_, err := config.Load(env(map[string]string{
		"HOLD_TTL": "five minutes", "MAX_ACTIVE": "-3", "ADMIT_PER_SECOND": "fast", "TRUSTED_PROXIES": "10.0.0.0/8, nonsense",
	}))
	if err == nil {
		t.Fatal("bad values accepted")
	}
	for _, name := range []string{"HOLD_TTL", "MAX_ACTIVE", "ADMIT_PER_SECOND", "TRUSTED_PROXIES"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}

func TestLogValueMasksSecrets(t *testing.T) {
	c, err := config.Load(env(map[string]string{
		"ADMIN_TOKEN": "admin-s3cret", "TOKEN_SECRET": "tok-s3cret",
		"DATABASE_URL": "postgres://app:pw-s3cret@db:5432/rushgate", "TRUSTED_PROXIES": "10.0.0.1,192.168.0.0/16",
	}))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("config", "config", c)
	out := b.String()
	for _, secret := range []string{"admin-s3cret", "tok-s3cret", "pw-s3cret"} {
		if strings.Contains(out, secret) {
			t.Errorf("log shows %q: %s", secret, out)
		}
	}
	if got, want := len(c.TrustedProxies), 2; got != want {
		t.Errorf("trusted proxies = %d, want %d", got, want)
	}
}

func TestLogValueWritesDurationsAsPeopleDo(t *testing.T) {
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	slog.New(slog.NewJSONHandler(&b, nil)).Info("config", "config", c)
	out := b.String()
	if !strings.Contains(out, `"token_ttl":"2h0m0s"`) {
		t.Errorf("token_ttl not written as 2h0m0s: %s", out)
	}
	if strings.Contains(out, "7200000000000") {
		t.Errorf("a duration written in nanoseconds: %s", out)
	}
}

func TestAdminTokensNameTheirKeys(t *testing.T) {
	c, err := config.Load(env(map[string]string{
		"ADMIN_TOKEN": "the-admin-token-0123", "ADMIN_TOKENS": "ops-kim:kim-key-0123456789ab, ops.lee:lee-key-0123456789ab",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.AdminKeys) != 2 || c.AdminKeys["ops-kim"] != "kim-key-0123456789ab" || c.AdminKeys["ops.lee"] != "lee-key-0123456789ab" {
		t.Errorf("keys = %v", c.AdminKeys)
	}
	for _, bad := range []string{
		"nolabel", ":key-0123456789abcdef", "ops kim:key-0123456789abcdef", "ops:short",
		"admin:key-0123456789abcdef", "a:key-0123456789abcdef,a:key-0123456789abcdeX",
		"a:same-key-0123456789,b:same-key-0123456789", "b:the-admin-token-0123",
	} {
		_, err := config.Load(env(map[string]string{"ADMIN_TOKEN": "the-admin-token-0123", "ADMIN_TOKENS": bad}))
		if err == nil {
			t.Errorf("ADMIN_TOKENS=%q accepted", bad)
		} else if strings.Contains(err.Error(), "0123456789") {
			t.Errorf("ADMIN_TOKENS=%q: the error shows a key: %v", bad, err)
		}
	}
}

// TestLoadRefusesValuesThatParseButBreakTheGateway: every numeric setting is
// finite and within its range, and the error names the variable.
func TestLoadRefusesValuesThatParseButBreakTheGateway(t *testing.T) {
	bad := map[string][]string{
		"ADMIT_PER_SECOND":    {"NaN", "nan", "Inf", "+Inf", "-Inf", "infinity", "-1", "1000001", "1e400"},
		"ENTER_RATE_PER_IP":   {"NaN", "Inf", "-Inf", "-1", "0.001", "1e-300", "1000001"},
		"MAX_ACTIVE":          {"-1", "10000001", "1.5", "NaN"},
		"MAX_HOLDS_PER_USER":  {"0", "1001", "NaN"},
		"TOKEN_TTL":           {"0", "-1s", "59s", "169h"},
		"ACTIVE_TTL":          {"0", "999ms", "25h"},
		"HOLD_TTL":            {"1ns", "999us", "999ms", "25h", "-5m"},
		"ADMIT_INTERVAL":      {"1ms", "1001ms", "0"},
		"SHUTDOWN_GRACE":      {"0", "999ms", "11m"},
		"REDIS_TIMEOUT":       {"1ns", "9ms", "2m"},
		"DB_TIMEOUT":          {"1ns", "9ms", "2m"},
		"REDIS_WAIT_REPLICAS": {"-1", "17", "1.5", "NaN"},
		"REDIS_WAIT_TIMEOUT":  {"0", "999us", "2m"},
		"CORS_ORIGINS": {"*", "https://*.example.com", "example.com", "https://example.com/", "https://example.com/path",
			"ftp://example.com", "https://user@example.com", "https://example.com?x=1", "null"},
	}
	for name, values := range bad {
		for _, v := range values {
			_, err := config.Load(env(map[string]string{name: v}))
			if err == nil {
				t.Errorf("%s=%q accepted", name, v)
				continue
			}
			if !strings.Contains(err.Error(), name+":") {
				t.Errorf("%s=%q: error %q does not name the variable", name, v, err)
			}
		}
	}
}

func TestLoadAcceptsTheEdgesOfEachRange(t *testing.T) {
	c, err := config.Load(env(map[string]string{
		"ADMIT_PER_SECOND": "0", "ENTER_RATE_PER_IP": "0.5", "HOLD_TTL": "1s", "ACTIVE_TTL": "24h",
		"TOKEN_TTL": "1m", "ADMIT_INTERVAL": "1s", "SHUTDOWN_GRACE": "1s", "REDIS_TIMEOUT": "10ms", "DB_TIMEOUT": "1m",
		"CORS_ORIGINS": "https://Tickets.Example.com, http://localhost:3000,https://shop.example.com:443",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.EnterRatePerIP != 0.5 || c.HoldTTL != time.Second || c.AdmitPerSecond != 0 {
		t.Errorf("values = %v %v %v", c.EnterRatePerIP, c.HoldTTL, c.AdmitPerSecond)
	}
	want := []string{"https://tickets.example.com", "http://localhost:3000", "https://shop.example.com"}
	if strings.Join(c.CORSOrigins, " ") != strings.Join(want, " ") {
		t.Errorf("CORS origins = %q, want %q", c.CORSOrigins, want)
	}
	if off, err := config.Load(env(map[string]string{"ENTER_RATE_PER_IP": "0"})); err != nil || off.EnterRatePerIP != 0 {
		t.Errorf("ENTER_RATE_PER_IP=0: %v, %v; want the limit off", off.EnterRatePerIP, err)
	}
	if def, _ := config.Load(env(nil)); def.CORSOrigins != nil {
		t.Errorf("default CORS origins = %q, want none", def.CORSOrigins)
	}
}

func TestRedisModeIsSingleByDefaultAndSentinelNeedsAMasterSet(t *testing.T) {
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.RedisMode, config.RedisSingle; got != want {
		t.Errorf("REDIS_MODE default = %q, want %q", got, want)
	}
	for _, tc := range []struct {
		env     map[string]string
		wantErr string
	}{
		{map[string]string{"REDIS_MODE": "cluster"}, ""},
		{map[string]string{"REDIS_MODE": "sentinel", "REDIS_MASTER": "mymaster"}, ""},
		{map[string]string{"REDIS_MODE": "sentinel"}, "REDIS_MASTER"},
		{map[string]string{"REDIS_MODE": "Cluster"}, "REDIS_MODE"},
		{map[string]string{"REDIS_WAIT_REPLICAS": "1"}, ""},
		{map[string]string{"REDIS_WAIT_REPLICAS": "1", "REDIS_WAIT_TIMEOUT": "50ms", "REDIS_TIMEOUT": "200ms"}, ""},
		// WAIT shares REDIS_TIMEOUT with the write it follows.
		{map[string]string{"REDIS_WAIT_REPLICAS": "1", "REDIS_WAIT_TIMEOUT": "500ms"}, "REDIS_WAIT_TIMEOUT"},
		{map[string]string{"REDIS_WAIT_REPLICAS": "2", "REDIS_WAIT_TIMEOUT": "1s", "REDIS_TIMEOUT": "1s"}, "REDIS_WAIT_TIMEOUT"},
		// Off, the timeout is not checked against REDIS_TIMEOUT.
		{map[string]string{"REDIS_WAIT_TIMEOUT": "1s"}, ""},
	} {
		_, err := config.Load(env(tc.env))
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%v: %v", tc.env, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%v: error %v does not name %s", tc.env, err, tc.wantErr)
		}
	}
}

func TestHoldRecordsAreInTheUserSetByDefaultAndOwnKeysOnRequest(t *testing.T) {
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.HoldRecords != booking.RecordsInUserSet {
		t.Errorf("HOLD_RECORDS default = %q, want %q", c.HoldRecords, booking.RecordsInUserSet)
	}
	c, err = config.Load(env(map[string]string{"HOLD_RECORDS": "own-key"}))
	if err != nil || c.HoldRecords != booking.RecordsInOwnKey {
		t.Errorf("HOLD_RECORDS=own-key: %q, %v", c.HoldRecords, err)
	}
	for _, bad := range []string{"own_key", "set", "OWN-KEY"} {
		if _, err := config.Load(env(map[string]string{"HOLD_RECORDS": bad})); err == nil || !strings.Contains(err.Error(), "HOLD_RECORDS") {
			t.Errorf("HOLD_RECORDS=%s: error %v does not name HOLD_RECORDS", bad, err)
		}
	}
}
