-- Where each realm connection's event queue stands.
CREATE TABLE zlc_checkpoints (
    connection      TEXT PRIMARY KEY NOT NULL,
    queue_id        TEXT,
    last_event_id   BIGINT NOT NULL,
    last_message_id BIGINT,
    updated_at      BIGINT NOT NULL
);

-- Events that could not be recovered after a queue expired (non-message events).
CREATE TABLE zlc_gaps (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    connection          TEXT NOT NULL,
    old_queue_id        TEXT,
    new_queue_id        TEXT NOT NULL,
    last_event_id       BIGINT NOT NULL,
    last_message_id     BIGINT,
    detected_at         BIGINT NOT NULL
);
CREATE INDEX zlc_gaps_connection ON zlc_gaps (connection, detected_at);
