package config_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

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
