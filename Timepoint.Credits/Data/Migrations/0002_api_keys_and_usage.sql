-- Which API key made each reservation and ledger row (null: the user's own access token), so a key's credit cap is
-- checked in the reservation's transaction and its usage is read from the money itself; and the edge's per-day request
-- counts per user and key, written in batches.

ALTER TABLE reservations ADD COLUMN IF NOT EXISTS api_key_id uuid;
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS api_key_id uuid;

-- A key's spending in a period: read under the account's lock on every reservation made with a capped key.
CREATE INDEX IF NOT EXISTS reservations_by_key_and_age ON reservations (api_key_id, created_at) WHERE api_key_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS reservations_by_user_and_age ON reservations (user_id, created_at);

-- No foreign key to accounts: counts may arrive before credits has seen the user; they go with the user's deletion.
CREATE TABLE IF NOT EXISTS usage_daily (
    user_id    uuid NOT NULL,
    api_key_id uuid NOT NULL, -- the empty UUID for the user's access tokens
    day        date NOT NULL,
    requests   bigint NOT NULL DEFAULT 0 CHECK (requests >= 0),
    refused    bigint NOT NULL DEFAULT 0 CHECK (refused >= 0),
    PRIMARY KEY (user_id, day, api_key_id)
);
