-- +goose Up
-- Replicas re-read the sales of the last minute to heal the sold-seat cache
-- after a payment committed but its process died before marking the seat
-- sold in Redis; this index keeps that read from scanning every sale.
CREATE INDEX reservations_confirmed_at ON reservations (confirmed_at);

-- +goose Down
DROP INDEX reservations_confirmed_at;
