package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/rushgate/rushgate/queue"
)

// A store failure is a warning, unless the client hung up: its request's
// store calls were canceled, which is no outage.
func TestAnUnavailableStoreIsWarnedOfUnlessTheClientHungUp(t *testing.T) {
	gin.SetMode(gin.TestMode)
	storeDown := fmt.Errorf("queue: enter: %w", queue.ErrUnavailable)
	for _, tc := range []struct {
		name string
		ctx  func() context.Context
		warn bool
	}{
		{"StoreDown", context.Background, true},
		{"ClientHungUp", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, false},
		{"RequestOutOfTime", func() context.Context {
			ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
			t.Cleanup(cancel)
			<-ctx.Done()
			return ctx
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			s := &server{log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))}
			w := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(w)
			c.Request = httptest.NewRequestWithContext(tc.ctx(), http.MethodPost, "/api/tokens", nil)
			s.writeError(c, storeDown)
			if w.Code != http.StatusServiceUnavailable {
				t.Fatalf("status %d, want 503", w.Code)
			}
			if warned := strings.Contains(logs.String(), "level=WARN"); warned != tc.warn {
				t.Fatalf("warned = %v, want %v; log: %q", warned, tc.warn, logs.String())
			}
		})
	}
}
