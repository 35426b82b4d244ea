-- Call quality in the CDR (issue 5): per leg the E-model MOS estimate, RTP
-- loss in percent and interarrival jitter in milliseconds, and the round
-- trip time between the two endpoints. NULL where the gateway did not
-- measure (no media, no RTCP, calls written before this migration).
-- DOUBLE PRECISION is the one type besides TEXT and BIGINT in the schema:
-- SQLite gives it REAL affinity, PostgreSQL float8, and sqlx's Any driver
-- reads both as f64.
ALTER TABLE cdrs ADD COLUMN mos_a DOUBLE PRECISION;
ALTER TABLE cdrs ADD COLUMN mos_b DOUBLE PRECISION;
ALTER TABLE cdrs ADD COLUMN loss_pct_a DOUBLE PRECISION;
ALTER TABLE cdrs ADD COLUMN loss_pct_b DOUBLE PRECISION;
ALTER TABLE cdrs ADD COLUMN jitter_ms_a DOUBLE PRECISION;
ALTER TABLE cdrs ADD COLUMN jitter_ms_b DOUBLE PRECISION;
ALTER TABLE cdrs ADD COLUMN rtt_ms BIGINT;
