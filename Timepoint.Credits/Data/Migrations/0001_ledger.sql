-- Balances, the ledger that explains them, and the reservations the gateway opens around metered calls.
-- Invariants the database itself enforces: no negative balance (or balance_after), one debit and at most one
-- refund per reservation, one use of an idempotency key per user.

CREATE TABLE IF NOT EXISTS accounts (
    user_id         uuid PRIMARY KEY,
    balance         bigint NOT NULL CHECK (balance >= 0),
    lifetime_earned bigint NOT NULL DEFAULT 0 CHECK (lifetime_earned >= 0),
    lifetime_spent  bigint NOT NULL DEFAULT 0 CHECK (lifetime_spent >= 0),
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS reservations (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             uuid NOT NULL REFERENCES accounts (user_id) ON DELETE CASCADE,
    operation           text NOT NULL,
    amount              bigint NOT NULL CHECK (amount > 0),
    status              text NOT NULL DEFAULT 'reserved' CHECK (status IN ('reserved', 'settled', 'refunded')),
    idempotency_key     text CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
    request_fingerprint text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, idempotency_key)
);

-- The reconciler looks only at open reservations, oldest first.
CREATE INDEX IF NOT EXISTS reservations_open_by_age ON reservations (created_at) WHERE status = 'reserved';

CREATE TABLE IF NOT EXISTS ledger (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id             uuid NOT NULL REFERENCES accounts (user_id) ON DELETE CASCADE,
    amount              bigint NOT NULL CHECK (amount <> 0),
    balance_after       bigint NOT NULL CHECK (balance_after >= 0),
    type                text NOT NULL,
    description         text,
    reservation_id      uuid REFERENCES reservations (id) ON DELETE CASCADE,
    idempotency_key     text,
    request_fingerprint text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, idempotency_key)
);

CREATE INDEX IF NOT EXISTS ledger_by_user_newest ON ledger (user_id, id DESC);

-- A reservation has one debit (amount < 0) and at most one refund (amount > 0), whatever the code above does.
CREATE UNIQUE INDEX IF NOT EXISTS ledger_one_debit_one_refund_per_reservation
    ON ledger (reservation_id, (amount > 0)) WHERE reservation_id IS NOT NULL;

-- Users deleted here: never given an account (or a signup bonus) again.
CREATE TABLE IF NOT EXISTS deleted_users (
    user_id    uuid PRIMARY KEY,
    deleted_at timestamptz NOT NULL DEFAULT now()
);
