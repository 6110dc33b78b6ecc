package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/rushgate/rushgate/payment"
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

// handlePayment is POST /api/payment: pay for a hold, all or nothing, and
// give the token's place to the next in line (see checkout.Service.Pay). A
// retry with the same Idempotency-Key gets the first answer, even once the
// token is released.
func (s *server) handlePayment(c *gin.Context) {
	r := readRequest(c)
	req := payment.Request{UserID: r.userID(), ReservationID: r.id("reservation_id"), Amount: r.amount(),
		IdempotencyKey: c.GetHeader("Idempotency-Key")}
	if r.err == nil && req.IdempotencyKey != "" && !payment.ValidIdempotencyKey(req.IdempotencyKey) {
		r.err = invalid("Idempotency-Key must be at most 255 printable ASCII characters")
	}
	if r.err != nil {
		s.writeError(c, r.err)
		return
	}
	t := token(c)
	receipt, err := s.Checkout.Pay(c.Request.Context(), t, req)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if !receipt.Replayed {
		s.Stats.Sold(t.ConcertID)
	}
	c.JSON(http.StatusCreated, paymentResponse{
		PaymentID: receipt.PaymentID, ReservationID: receipt.ReservationID, ReservationDate: receipt.ReservationDate,
		ReservationSeat: receipt.ReservationSeat, Amount: receipt.Amount, PaymentStatus: receipt.Status, Balance: receipt.Balance,
	})
}
