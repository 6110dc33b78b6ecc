package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// TestServeRefusesSettingsThatWouldBreakTheGateway: values that parse but
// would stop the line (a NaN rate), refuse every client (a rate whose burst
// never reaches one) or fail every hold (an expiry under a millisecond) end
// the start with an error naming the variable, before anything is opened.
func TestServeRefusesSettingsThatWouldBreakTheGateway(t *testing.T) {
	for _, tc := range [][2]string{
		{"ADMIT_PER_SECOND", "NaN"}, {"ADMIT_PER_SECOND", "+Inf"}, {"ADMIT_PER_SECOND", "-1"},
		{"ENTER_RATE_PER_IP", "NaN"}, {"ENTER_RATE_PER_IP", "Inf"}, {"ENTER_RATE_PER_IP", "0.001"},
		{"HOLD_TTL", "500us"}, {"HOLD_TTL", "1ns"}, {"TOKEN_TTL", "1s"}, {"ACTIVE_TTL", "100ms"},
		{"ADMIT_INTERVAL", "1h"}, {"SHUTDOWN_GRACE", "0s"}, {"REDIS_TIMEOUT", "1us"}, {"DB_TIMEOUT", "2h"},
		{"MAX_ACTIVE", "NaN"}, {"CORS_ORIGINS", "*"},
	} {
		env := map[string]string{
			"ADDR": "127.0.0.1:0", "LOG_LEVEL": "error",
			// Nothing answers here: a start that got past the settings
			// would fail on these, without naming the variable.
			"REDIS_URL": "redis://127.0.0.1:1/0", "DATABASE_URL": "postgres://postgres@127.0.0.1:1/none?sslmode=disable",
			tc[0]: tc[1],
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := run(ctx, []string{"serve"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tc[0]+":") {
			t.Errorf("serve with %s=%s: %v, want an error naming %s", tc[0], tc[1], err, tc[0])
		}
	}
}
