-- The listeners a pipeline binary declared (refreshed at each start).
CREATE TABLE zlc_listeners (
    pipeline    TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    events      TEXT NOT NULL,
    actions     TEXT NOT NULL,
    first_seen  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    PRIMARY KEY (pipeline, name)
);

-- Per listener and hour: events seen, matched, succeeded, failed, time spent.
CREATE TABLE zlc_listener_stats (
    pipeline  TEXT NOT NULL,
    listener  TEXT NOT NULL,
    hour      BIGINT NOT NULL,
    seen      BIGINT NOT NULL,
    matched   BIGINT NOT NULL,
    succeeded BIGINT NOT NULL,
    failed    BIGINT NOT NULL,
    time_us   BIGINT NOT NULL,
    PRIMARY KEY (pipeline, listener, hour)
);

-- Grouped counts of `count` actions ('' when not grouped by that key).
CREATE TABLE zlc_counts (
    pipeline TEXT NOT NULL,
    listener TEXT NOT NULL,
    hour     BIGINT NOT NULL,
    channel  TEXT NOT NULL,
    sender   TEXT NOT NULL,
    n        BIGINT NOT NULL,
    PRIMARY KEY (pipeline, listener, hour, channel, sender)
);

-- Failures, dead letters and (on request) every matched event.
CREATE TABLE zlc_event_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline   TEXT NOT NULL,
    listener   TEXT NOT NULL,
    realm_id   BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    event_id   BIGINT,
    message_id BIGINT,
    status     TEXT NOT NULL,
    error      TEXT,
    payload    TEXT NOT NULL,
    at         BIGINT NOT NULL
);
CREATE INDEX zlc_event_log_listener ON zlc_event_log (pipeline, listener, at);

-- Enable or disable a listener without a rebuild.
CREATE TABLE zlc_listener_config (
    pipeline   TEXT NOT NULL,
    listener   TEXT NOT NULL,
    enabled    BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (pipeline, listener)
);

-- Side effects done, so that a re-delivered event does not repeat them.
CREATE TABLE zlc_effects (
    pipeline TEXT NOT NULL,
    listener TEXT NOT NULL,
    effect   TEXT NOT NULL,
    done_at  BIGINT NOT NULL,
    PRIMARY KEY (pipeline, listener, effect)
);
