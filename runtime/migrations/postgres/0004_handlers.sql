-- Listeners written in Rust: persistent state per listener (like zulip_bots' storage).
CREATE TABLE zlc_state (
    pipeline   TEXT NOT NULL,
    listener   TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (pipeline, listener, key)
);

-- Counters a handler names (Context::count), per listener and hour.
CREATE TABLE zlc_named_counts (
    pipeline TEXT NOT NULL,
    listener TEXT NOT NULL,
    hour     BIGINT NOT NULL,
    name     TEXT NOT NULL,
    n        BIGINT NOT NULL,
    PRIMARY KEY (pipeline, listener, hour, name)
);

-- Config values set without a rebuild (NAME config LISTENER KEY VALUE); they override
-- the pipeline's `config`.
CREATE TABLE zlc_listener_settings (
    pipeline   TEXT NOT NULL,
    listener   TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (pipeline, listener, key)
);
