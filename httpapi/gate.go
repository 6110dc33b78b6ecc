package httpapi

import (
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/rushgate/rushgate/queue"
)

const (
	ctxToken       = "rushgate.token"
	ctxActiveUntil = "rushgate.active_until"
)

// bearer returns the credentials of an "Authorization: Bearer …" header.
func bearer(c *gin.Context) (string, bool) {
	h := c.GetHeader("Authorization")
	const p = "Bearer "
	if len(h) <= len(p) || !strings.EqualFold(h[:len(p)], p) {
		return "", false
	}
	return strings.TrimSpace(h[len(p):]), true
}

// verifiedToken returns the request's queue token with its signature
// checked (before any Redis call), or answers 401 and returns false.
func (s *server) verifiedToken(c *gin.Context) (queue.Token, bool) {
	raw, ok := bearer(c)
	if !ok {
		s.writeError(c, queue.ErrInvalidToken)
		return queue.Token{}, false
	}
	t, err := s.Queue.Signer().Parse(raw)
	if err != nil {
		s.writeError(c, err)
		return queue.Token{}, false
	}
	return t, true
}

// requireToken lets through only a request with a verified queue token.
func (s *server) requireToken(c *gin.Context) {
	if t, ok := s.verifiedToken(c); ok {
		c.Set(ctxToken, t)
		c.Next()
	}
}

// requireActive lets through only an admitted token: one Redis round trip.
func (s *server) requireActive(c *gin.Context) {
	t := token(c)
	until, err := s.Queue.Admitted(c.Request.Context(), t)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Set(ctxActiveUntil, until)
	c.Next()
}

func token(c *gin.Context) queue.Token {
	return c.MustGet(ctxToken).(queue.Token)
}

// rfc3339 writes times the contract's way: RFC 3339 with offset.
func rfc3339(t time.Time) string { return t.Format(time.RFC3339) }
