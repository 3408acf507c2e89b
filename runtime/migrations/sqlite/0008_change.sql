-- Change without loss (issue 13).

-- What the checkpoint's queue was registered for (event types, narrow, flags): a queue
-- that no longer fits the pipeline is replaced, not resumed. NULL: written before this
-- was recorded (replaced as well, since nobody knows what it was registered for).
-- registered_queue is the queue it describes: an older zlc moving queue_id without
-- knowing these columns leaves them describing another queue, which then counts as
-- unknown.
ALTER TABLE zlc_checkpoints ADD COLUMN registered_for TEXT;
ALTER TABLE zlc_checkpoints ADD COLUMN registered_queue TEXT;

-- Why a queue was replaced: 'expired', 'pruned' or 'changed' (the pipeline's
-- registration changed).
ALTER TABLE zlc_gaps ADD COLUMN reason TEXT NOT NULL DEFAULT 'expired';

-- The key side effects of an event are de-duplicated by (m<message id>,
-- q<queue>:e<event id> or e<event id>), so that a replayed dead letter skips what its
-- first run did. NULL in rows from before: derived from the ids as then.
ALTER TABLE zlc_event_log ADD COLUMN event_key TEXT;

-- Builds of each pipeline in the order the store first saw them: while processes of
-- two builds share a store, free connections go to the newest build.
CREATE TABLE zlc_builds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline   TEXT NOT NULL,
    build      TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    UNIQUE (pipeline, build)
);

-- Which build each running process and each lease holder runs.
ALTER TABLE zlc_owners ADD COLUMN build TEXT NOT NULL DEFAULT '';
ALTER TABLE zlc_leases ADD COLUMN build TEXT NOT NULL DEFAULT '';
