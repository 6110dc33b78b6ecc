-- +goose Up
-- The catalogue as operators write it: a concert may open its sale at a set
-- time, and its seats are blocks of consecutive numbers with a price each
-- (every date of a concert has the same blocks). The seats table keeps one
-- row per seat and date, which sales reference; seat_blocks keeps the blocks
-- as they were given, so the catalogue reads back exactly as written.
ALTER TABLE concerts ADD COLUMN opens_at TIMESTAMPTZ;

CREATE TABLE seat_blocks (
    concert_id BIGINT      NOT NULL REFERENCES concerts (concert_id),
    seat_from  INT         NOT NULL CHECK (seat_from > 0),
    seat_to    INT         NOT NULL CHECK (seat_to >= seat_from),
    price      NUMERIC(20) NOT NULL CHECK (price > 0),
    PRIMARY KEY (concert_id, seat_from)
);

-- Concerts created before blocks existed: one block per run of consecutive
-- seats of one price on their first date.
INSERT INTO seat_blocks (concert_id, seat_from, seat_to, price)
SELECT concert_id, min(seat_number), max(seat_number), price
FROM (
    SELECT d.concert_id, s.seat_number, s.price,
           s.seat_number - row_number() OVER (PARTITION BY d.concert_id, s.price ORDER BY s.seat_number) AS run
    FROM seats s JOIN concert_dates d ON d.date_id = s.date_id
    WHERE d.date_id = (SELECT min(d2.date_id) FROM concert_dates d2 WHERE d2.concert_id = d.concert_id)
) seats_of_first_date
GROUP BY concert_id, price, run;

-- +goose Down
DROP TABLE seat_blocks;
ALTER TABLE concerts DROP COLUMN opens_at;
