-- The dialplan's read model is brought to a new version by difference
-- (read_model.rs), so endpoints and units are deleted one by one as they
-- leave the dialplan. Deleting a parent row makes the database look for
-- child rows that still refer to it: without an index on the referring
-- column that is a scan of all rules per deleted row (PostgreSQL scans the
-- dead rows too), quadratic when a city-scale version drops many endpoints.
-- Trunks are few; endpoints (numbers, aliases) are already indexed.
CREATE INDEX rules_target_endpoint ON rules (target_endpoint);
CREATE INDEX rules_from_unit ON rules (from_unit);
