package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/rushgate/rushgate/audit"
	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/checkout"
	"github.com/rushgate/rushgate/payment"
	"github.com/rushgate/rushgate/queue"
)

// apiError is an error with the contract's status and code, for failures the
// HTTP layer finds itself (bad input, bad admin key).
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.message }

func invalid(format string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "invalid_request", message: format}
}

var (
	errBodyTooLarge = &apiError{http.StatusRequestEntityTooLarge, "body_too_large", "request body is larger than 64 KiB"}
	errAdminAuth    = &apiError{http.StatusUnauthorized, "unauthorized", "missing or wrong admin token"}
	errAdminOff     = &apiError{http.StatusForbidden, "admin_disabled", "admin routes are disabled: neither ADMIN_TOKEN nor ADMIN_TOKENS is set"}
	errNotFound     = &apiError{http.StatusNotFound, "not_found", "no such route"}
	// The Allow header of a 405 lists the route's methods.
	errMethodNotAllowed     = &apiError{http.StatusMethodNotAllowed, "method_not_allowed", "this route does not take this method; see the Allow header"}
	errUnsupportedMediaType = &apiError{http.StatusUnsupportedMediaType, "unsupported_media_type", "the request body must be JSON, sent with Content-Type: application/json"}
	errRateLimited          = &apiError{http.StatusTooManyRequests, "rate_limited", "too many token requests from this client; retry later"}
)

// domainError is how a domain sentinel is answered.
type domainError struct {
	status int
	code   string
}

// codes maps each domain sentinel to the contract's status and code; the
// first entry that errors.Is matches wins.
var codes = []struct {
	err error
	domainError
}{
	{queue.ErrInvalidToken, domainError{http.StatusUnauthorized, "invalid_token"}},
	{queue.ErrTokenExpired, domainError{http.StatusUnauthorized, "token_expired"}},
	{queue.ErrNotAdmitted, domainError{http.StatusForbidden, "not_admitted"}},
	{queue.ErrInvalidSettings, domainError{http.StatusBadRequest, "invalid_request"}},
	{queue.ErrSoldOut, domainError{http.StatusConflict, "sold_out"}},
	{queue.ErrNoDraw, domainError{http.StatusNotFound, "draw_not_found"}},
	{booking.ErrConcertNotFound, domainError{http.StatusNotFound, "concert_not_found"}},
	{booking.ErrInvalidConcert, domainError{http.StatusBadRequest, "invalid_request"}},
	{booking.ErrSaleOpen, domainError{http.StatusConflict, "sale_open"}},
	{queue.ErrSaleOpen, domainError{http.StatusConflict, "sale_open"}},
	{booking.ErrDateNotFound, domainError{http.StatusNotFound, "date_not_found"}},
	{booking.ErrSeatNotFound, domainError{http.StatusNotFound, "seat_not_found"}},
	{booking.ErrSeatTaken, domainError{http.StatusConflict, "seat_taken"}},
	{booking.ErrHoldLimit, domainError{http.StatusConflict, "hold_limit"}},
	{payment.ErrUserNotFound, domainError{http.StatusNotFound, "user_not_found"}},
	{payment.ErrInvalidAmount, domainError{http.StatusBadRequest, "invalid_request"}},
	{payment.ErrInvalidUserID, domainError{http.StatusBadRequest, "invalid_request"}},
	{payment.ErrInvalidIdempotencyKey, domainError{http.StatusBadRequest, "invalid_request"}},
	{payment.ErrAmountMismatch, domainError{http.StatusBadRequest, "amount_mismatch"}},
	{payment.ErrInsufficientBalance, domainError{http.StatusPaymentRequired, "insufficient_balance"}},
	{payment.ErrReservationNotFound, domainError{http.StatusNotFound, "reservation_not_found"}},
	{payment.ErrHoldExpired, domainError{http.StatusConflict, "hold_expired"}},
	{payment.ErrAlreadyPaid, domainError{http.StatusConflict, "already_paid"}},
	{payment.ErrPaymentInProgress, domainError{http.StatusConflict, "payment_in_progress"}},
	{payment.ErrIdempotencyConflict, domainError{http.StatusConflict, "idempotency_conflict"}},
	{checkout.ErrUserMismatch, domainError{http.StatusForbidden, "user_mismatch"}},
	// A store that cannot be reached, as each domain decides it at its own
	// boundary: 503 with Retry-After.
	{queue.ErrUnavailable, domainError{http.StatusServiceUnavailable, "unavailable"}},
	{booking.ErrUnavailable, domainError{http.StatusServiceUnavailable, "unavailable"}},
	{payment.ErrUnavailable, domainError{http.StatusServiceUnavailable, "unavailable"}},
	{audit.ErrUnavailable, domainError{http.StatusServiceUnavailable, "unavailable"}},
}

// messages are the texts people read; domain errors' own texts may carry
// details, so only these are shown.
var messages = map[string]string{
	"invalid_token":         "missing, malformed or forged token",
	"token_expired":         "the token has expired or was released; enter the queue again",
	"not_admitted":          "still waiting in the queue",
	"sold_out":              "every seat of this concert is sold",
	"draw_not_found":        "this concert has no scheduled open, hence no draw",
	"user_mismatch":         "user_id does not match the token's user",
	"concert_not_found":     "no such concert",
	"sale_open":             "the sale has opened: its opening time can no longer change",
	"date_not_found":        "no such date for this concert",
	"seat_not_found":        "no such seat on this date",
	"seat_taken":            "the seat is held or sold",
	"hold_limit":            "you already hold the most unpaid seats allowed",
	"user_not_found":        "no such user",
	"amount_mismatch":       "amount does not match the price of the reservation",
	"insufficient_balance":  "balance too low; charge first",
	"reservation_not_found": "no such reservation for this user",
	"hold_expired":          "the hold lapsed before payment",
	"already_paid":          "the reservation is already paid",
	"payment_in_progress":   "a payment of this reservation is in progress; retry shortly",
	"idempotency_conflict":  "this Idempotency-Key was used for a different request",
	"unavailable":           "a backing service is unavailable; retry shortly",
	"internal":              "internal error",
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	QueuePosition *int64 `json:"queue_position,omitempty"`
}

// writeError answers err with the contract's status, code and body. Internal
// failures are logged and shown only as "internal error"; a store that
// cannot be reached (a domain's ErrUnavailable) is 503 with Retry-After.
func (s *server) writeError(c *gin.Context, err error) {
	var body errorBody
	status, code, msg := s.classify(c, err)
	body.Error.Code, body.Error.Message = code, msg
	var na *queue.NotAdmittedError
	if errors.As(err, &na) {
		body.QueuePosition = &na.Position
	}
	if status == http.StatusServiceUnavailable {
		c.Header("Retry-After", "1")
	}
	c.AbortWithStatusJSON(status, body)
}

func (s *server) classify(c *gin.Context, err error) (int, string, string) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status, ae.code, ae.message
	}
	for _, e := range codes {
		if errors.Is(err, e.err) {
			if e.status == http.StatusServiceUnavailable {
				s.logUnavailable(c, err)
			}
			msg := messages[e.code]
			if e.code == "invalid_request" {
				msg = err.Error()
			}
			return e.status, e.code, msg
		}
	}
	s.log.ErrorContext(c.Request.Context(), "internal error", "route", c.FullPath(), "err", err)
	return http.StatusInternalServerError, "internal", messages["internal"]
}

// logUnavailable logs a store failure. A request whose client hung up
// cancels its own store calls, which then fail as "unavailable": that is no
// outage, and a load test's end would otherwise flood the log with
// warnings, one per connection it dropped. A request that ran out of its
// own time is a slow store, and warned of.
func (s *server) logUnavailable(c *gin.Context, err error) {
	ctx := c.Request.Context()
	if errors.Is(ctx.Err(), context.Canceled) {
		s.log.DebugContext(ctx, "request abandoned by its client", "route", c.FullPath(), "err", err)
		return
	}
	s.log.WarnContext(ctx, "backing service unavailable", "route", c.FullPath(), "err", err)
}
