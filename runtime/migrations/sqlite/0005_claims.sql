-- Side effects are claimed before they are performed (insert-if-absent), so that two
-- deliveries of one message, in one process or in two, perform it once. A claim whose
-- owner stopped beating its heart may be taken over. Rows from before are done.
ALTER TABLE zlc_effects ADD COLUMN state TEXT NOT NULL DEFAULT 'done';
ALTER TABLE zlc_effects ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE zlc_effects ADD COLUMN claimed_at BIGINT NOT NULL DEFAULT 0;

-- The running processes: each beats every few seconds while it lives.
CREATE TABLE zlc_owners (
    owner      TEXT PRIMARY KEY,
    pipeline   TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL
);
