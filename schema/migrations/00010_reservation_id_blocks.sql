-- +goose Up
-- Reservation ids are handed out in blocks. Each concert's holds take ids one
-- by one from a block kept in Redis under the concert's hash tag (one Cluster
-- slot, one atomic script); a block is reserved here with one nextval, so no
-- two blocks share an id, whatever the concert, the gateway, or what Redis
-- lost. The increment is the block size. The largest value leaves the last
-- block's ids below 2^53, exact as JSON numbers.
--
-- The former numbering (hold counter * 10000 + concert id) stays below 10^12
-- until one concert has made 10^8 holds: starting at 10^12 keeps new ids apart
-- from holds of that numbering that are still live, and from ids handed out
-- by replicas of the previous version during a rolling deploy, unless such a
-- replica restarts a lost counter (a concert's first hold, or Redis lost its
-- data) above the greatest id in Postgres, which may by then be a new one.
CREATE SEQUENCE reservation_id_blocks AS BIGINT
    INCREMENT BY 10000 MINVALUE 1 MAXVALUE 9007199254730992 START WITH 1000000000000;
SELECT setval('reservation_id_blocks', GREATEST(1000000000000,
    (SELECT COALESCE(max(reservation_id), 0) + 1 FROM reservations),
    (SELECT COALESCE(max(reservation_id), 0) + 1 FROM pay_history)), false);

-- +goose Down
DROP SEQUENCE reservation_id_blocks;
