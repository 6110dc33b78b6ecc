-- +goose Up
-- A refused payment (402) is recorded, but it must not create the user: the
-- contract says a user's row and balance come from their first charge, so a
-- user who never charged keeps answering 404 to GET /api/pay. A FAILED row
-- therefore names its payer by user_id and links user_seq only when the user
-- already has a row. COMPLETED rows always have a user_seq: a payment debits
-- a balance.
ALTER TABLE pay_history ADD COLUMN user_id TEXT;
ALTER TABLE pay_history ALTER COLUMN user_seq DROP NOT NULL;
UPDATE pay_history p SET user_id = u.user_id FROM users u
WHERE u.user_seq = p.user_seq AND p.payment_status = 'FAILED';
ALTER TABLE pay_history ADD CONSTRAINT pay_history_payer
    CHECK (user_seq IS NOT NULL OR (payment_status = 'FAILED' AND user_id IS NOT NULL));

-- +goose Down
-- Failed attempts of users without a row cannot be kept without the column.
DELETE FROM pay_history WHERE user_seq IS NULL;
ALTER TABLE pay_history DROP CONSTRAINT pay_history_payer;
ALTER TABLE pay_history ALTER COLUMN user_seq SET NOT NULL;
ALTER TABLE pay_history DROP COLUMN user_id;
