-- Flood limits shared by a fleet (issue 17): with a PostgreSQL store, the token
-- buckets of the listeners' rate limits (per conversation, per sender) live here, so
-- processes together keep the limits one process keeps. `tokens` left at `at_ms`
-- (Unix milliseconds); refilled on read.
CREATE TABLE zlc_rate_buckets (
    pipeline TEXT NOT NULL,
    listener TEXT NOT NULL,
    bucket   TEXT NOT NULL,
    tokens   DOUBLE PRECISION NOT NULL,
    at_ms    BIGINT NOT NULL,
    PRIMARY KEY (pipeline, listener, bucket)
);
