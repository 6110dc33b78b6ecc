-- +goose Up
-- Users and their prepaid balance. The CHECK is the last guard against a
-- negative balance even if a code path forgot its own.
CREATE TABLE users (
    user_seq   BIGSERIAL PRIMARY KEY,
    user_id    TEXT        NOT NULL UNIQUE,
    pay        NUMERIC(20) NOT NULL DEFAULT 0 CHECK (pay >= 0),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Every top-up, so money can be reconciled: sum(charges) = sum(balances) + sum(COMPLETED payments).
CREATE TABLE charges (
    charge_id  BIGSERIAL PRIMARY KEY,
    user_seq   BIGINT      NOT NULL REFERENCES users (user_seq),
    amount     NUMERIC(20) NOT NULL CHECK (amount > 0),
    charged_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX charges_user_seq ON charges (user_seq);

CREATE TABLE concerts (
    concert_id BIGSERIAL PRIMARY KEY,
    name       TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE concert_dates (
    date_id      BIGSERIAL PRIMARY KEY,
    concert_id   BIGINT NOT NULL REFERENCES concerts (concert_id),
    concert_date DATE   NOT NULL,
    UNIQUE (concert_id, concert_date)
);

CREATE TABLE seats (
    seat_id     BIGSERIAL PRIMARY KEY,
    date_id     BIGINT      NOT NULL REFERENCES concert_dates (date_id),
    seat_number INT         NOT NULL CHECK (seat_number > 0),
    price       NUMERIC(20) NOT NULL CHECK (price > 0),
    UNIQUE (date_id, seat_number)
);

-- Confirmed (paid) reservations. Holds live in Redis until paid; a row here is
-- a sale, and the unique (date_id, seat_number) makes a double sale impossible
-- even if Redis lies. reservation_id is the hold's id.
CREATE TABLE reservations (
    reservation_id   BIGINT PRIMARY KEY,
    concert_id       BIGINT      NOT NULL REFERENCES concerts (concert_id),
    date_id          BIGINT      NOT NULL REFERENCES concert_dates (date_id),
    seat_id          BIGINT      NOT NULL REFERENCES seats (seat_id),
    user_seq         BIGINT      NOT NULL REFERENCES users (user_seq),
    reservation_date DATE        NOT NULL,
    seat_number      INT         NOT NULL,
    price            NUMERIC(20) NOT NULL,
    is_temporary     BOOLEAN     NOT NULL DEFAULT false,
    confirmed_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (date_id, seat_number)
);
CREATE INDEX reservations_user_seq ON reservations (user_seq);

-- Every payment attempt. reservation_id names the hold (it has no foreign key:
-- a FAILED attempt refers to a hold that never became a reservation).
CREATE TABLE pay_history (
    payment_id     BIGSERIAL PRIMARY KEY,
    user_seq       BIGINT      NOT NULL REFERENCES users (user_seq),
    reservation_id BIGINT      NOT NULL,
    amount         NUMERIC(20) NOT NULL,
    payment_time   TIMESTAMPTZ NOT NULL DEFAULT now(),
    payment_status TEXT        NOT NULL CHECK (payment_status IN ('PENDING', 'COMPLETED', 'FAILED'))
);
CREATE INDEX pay_history_user_seq ON pay_history (user_seq);
-- A reservation is paid at most once, whatever the code above does.
CREATE UNIQUE INDEX pay_history_one_completed ON pay_history (reservation_id) WHERE payment_status = 'COMPLETED';

-- The first response to each (user, Idempotency-Key) of POST /api/payment.
CREATE TABLE payment_idempotency (
    user_id         TEXT        NOT NULL,
    idempotency_key TEXT        NOT NULL,
    request_hash    TEXT        NOT NULL,
    status_code     INT         NOT NULL,
    response        JSONB       NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, idempotency_key)
);

-- +goose Down
DROP TABLE payment_idempotency;
DROP TABLE pay_history;
DROP TABLE reservations;
DROP TABLE seats;
DROP TABLE concert_dates;
DROP TABLE concerts;
DROP TABLE charges;
DROP TABLE users;
