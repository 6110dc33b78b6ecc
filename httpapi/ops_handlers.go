package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// handleHealthz answers while the process is up.
func (s *server) handleHealthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// handleReadyz answers 200 only while Redis and Postgres answer, so a load
// balancer stops sending traffic to a replica that cannot serve it.
func (s *server) handleReadyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), time.Second)
	defer cancel()
	if s.Ready != nil {
		if err := s.Ready(ctx); err != nil {
			s.log.WarnContext(ctx, "not ready", "err", err)
			c.Header("Retry-After", "1")
			var body errorBody
			body.Error.Code, body.Error.Message = "unavailable", messages["unavailable"]
			c.AbortWithStatusJSON(http.StatusServiceUnavailable, body)
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

func (s *server) handleMetrics() gin.HandlerFunc {
	h := promhttp.HandlerFor(s.Gatherer, promhttp.HandlerOpts{})
	return gin.WrapH(h)
}
