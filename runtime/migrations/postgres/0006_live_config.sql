-- A version per pipeline, raised by every change of enable/disable or config values:
-- running processes poll it and reload what changed.
CREATE TABLE zlc_config_versions (
    pipeline TEXT PRIMARY KEY,
    version  BIGINT NOT NULL
);
