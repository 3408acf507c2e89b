-- Who polls each realm connection: one process at a time holds its lease, renews it
-- while alive, and every checkpoint write checks owner and generation (a fence), so a
-- process that lost the lease can no longer move the checkpoint.
CREATE TABLE zlc_leases (
    connection  TEXT PRIMARY KEY,
    pipeline    TEXT NOT NULL,
    owner       TEXT NOT NULL,
    generation  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    acquired_at BIGINT NOT NULL
);
CREATE INDEX zlc_leases_pipeline ON zlc_leases (pipeline);
