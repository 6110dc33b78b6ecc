package httpapi

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/rushgate/rushgate/payment"
	"github.com/rushgate/rushgate/queue"
)

// handleBalance is GET /api/pay?user_id=… (a JSON body is accepted too).
func (s *server) handleBalance(c *gin.Context) {
	user, ok := c.GetQuery("user_id")
	var err error
	if ok {
		user, err = checkUserID(user)
	} else {
		var f fields
		if f, err = readFields(c, true); err == nil {
			user, err = f.userID()
		}
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	amount, err := s.Payment.Balance(c.Request.Context(), user)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"user_id": user, "amount": amount})
}

// handleCharge is POST /api/chargePay: top up a balance.
func (s *server) handleCharge(c *gin.Context) {
	r := readRequest(c)
	user, amount := r.userID(), r.amount()
	if r.err != nil {
		s.writeError(c, r.err)
		return
	}
	pay, err := s.Payment.Charge(c.Request.Context(), user, amount)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"user_id": user, "pay": pay})
}

type paymentResponse struct {
	PaymentID       int64  `json:"payment_id"`
	ReservationID   int64  `json:"reservation_id"`
	ReservationDate string `json:"reservation_date"`
	ReservationSeat int    `json:"reservation_seat"`
	Amount          int64  `json:"amount"`
	PaymentStatus   string `json:"payment_status"`
	Balance         int64  `json:"balance"`
}

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 255

// handlePayment is POST /api/payment: pay for a hold, all or nothing. On
// success the token is released so its active slot goes to the next in line.
// A retry with the same Idempotency-Key gets the first answer, even once the
// token is released.
func (s *server) handlePayment(c *gin.Context) {
	r := readRequest(c)
	user, rid, amount := r.userID(), r.id("reservation_id"), r.amount()
	if r.err != nil {
		s.writeError(c, r.err)
		return
	}
	key := c.GetHeader("Idempotency-Key")
	if len(key) > maxIdempotencyKey || !printable(key) {
		s.writeError(c, invalid("Idempotency-Key must be at most 255 printable ASCII characters"))
		return
	}
	t := token(c)
	if err := sameUser(t, user); err != nil {
		s.writeError(c, err)
		return
	}
	ctx := c.Request.Context()
	req := payment.Request{ConcertID: t.ConcertID, UserID: user, ReservationID: rid, Amount: amount, IdempotencyKey: key}

	if _, err := s.Queue.Admitted(ctx, t); err != nil {
		// A released or lapsed token may still learn what its paid request got.
		if key != "" && errors.Is(err, queue.ErrTokenExpired) {
			stored, found, rerr := s.Payment.Replay(ctx, req)
			if rerr != nil {
				s.writeError(c, rerr)
				return
			}
			if found {
				c.JSON(http.StatusCreated, toPaymentResponse(stored))
				return
			}
		}
		s.writeError(c, err)
		return
	}
	receipt, err := s.Payment.Pay(ctx, req)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if !receipt.Replayed {
		s.Stats.Sold(t.ConcertID)
	}
	if err := s.Queue.Release(ctx, t); err != nil {
		// The sale stands; the slot lapses by itself at its active TTL.
		s.log.WarnContext(ctx, "release after payment", "token_id", t.Seq, "err", err)
	}
	c.JSON(http.StatusCreated, toPaymentResponse(receipt))
}

func toPaymentResponse(r payment.Receipt) paymentResponse {
	return paymentResponse{
		PaymentID: r.PaymentID, ReservationID: r.ReservationID, ReservationDate: r.ReservationDate,
		ReservationSeat: r.ReservationSeat, Amount: r.Amount, PaymentStatus: r.Status, Balance: r.Balance,
	}
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
