package payment

import "context"

// Replay returns the stored answer to an earlier payment request with the
// same Idempotency-Key by the same user, without paying anything: found is
// false when there is none (or the request has no key). A stored refusal
// comes back as its sentinel error; a key used for another request is
// ErrIdempotencyConflict. The HTTP layer uses it to answer a retry whose
// token was released by the very payment being retried.
func (s *Service) Replay(ctx context.Context, req Request) (r Receipt, found bool, err error) {
	if err := validate(req); err != nil {
		return Receipt{}, false, err
	}
	idem := newIdempotency(req)
	if !idem.on() {
		return Receipt{}, false, nil
	}
	type lookup struct {
		r     Receipt
		found bool
	}
	l, err := within(ctx, func() (lookup, error) {
		r, found, err := s.replay(ctx, idem)
		return lookup{r, found}, err
	})
	return l.r, l.found, err
}
