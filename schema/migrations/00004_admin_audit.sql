-- +goose Up
-- Every change an operator makes (admission settings, concerts, schedules):
-- who, when, what, and the state before and after. Rows are only ever
-- inserted. audit_id orders the entries of a concert as they were applied:
-- changes of one concert are serialised while they are applied and recorded.
-- concert_id has no foreign key so that the log outlives what it describes.
CREATE TABLE admin_audit (
    audit_id   BIGSERIAL PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    actor      TEXT        NOT NULL,
    action     TEXT        NOT NULL,
    concert_id BIGINT,
    before     JSONB,
    after      JSONB
);
CREATE INDEX admin_audit_concert ON admin_audit (concert_id, audit_id);

-- +goose Down
DROP TABLE admin_audit;
