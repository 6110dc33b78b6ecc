-- +goose Up
-- A stored payment answer says what the payment got in payment's own terms
-- (the response column); its HTTP status is the HTTP layer's to derive, so
-- payment no longer writes status_code. The column stays, nullable, so that
-- replicas of the previous version keep writing it during a rolling deploy;
-- a later migration may drop it.
ALTER TABLE payment_idempotency ALTER COLUMN status_code DROP NOT NULL;

-- +goose Down
UPDATE payment_idempotency SET status_code = CASE response->>'error'
    WHEN 'amount_mismatch' THEN 400
    WHEN 'reservation_not_found' THEN 404
    WHEN 'hold_expired' THEN 409
    WHEN 'already_paid' THEN 409
    ELSE 201 END
WHERE status_code IS NULL;
ALTER TABLE payment_idempotency ALTER COLUMN status_code SET NOT NULL;
