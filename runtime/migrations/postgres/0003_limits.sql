-- Rate limits: matched events whose posts to Zulip a limit held back.
ALTER TABLE zlc_listener_stats ADD COLUMN limited BIGINT NOT NULL DEFAULT 0;

-- Event-log payloads are stored up to a size limit; a longer one is cut, and says so.
ALTER TABLE zlc_event_log ADD COLUMN payload_bytes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE zlc_event_log ADD COLUMN truncated BOOLEAN NOT NULL DEFAULT FALSE;
