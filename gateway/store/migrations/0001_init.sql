-- One schema for SQLite and PostgreSQL: only TEXT and BIGINT columns (the
-- sqlx Any driver maps both the same way on each), times as Unix seconds or
-- milliseconds, booleans as 0/1, no auto-increment (it is spelled differently
-- on each database): keys are natural or assigned by the store.

-- Every imported dialplan source, verbatim. The latest version's source is
-- authoritative; the tables below are its normalized projection.
CREATE TABLE dialplan_versions (
    version             BIGINT PRIMARY KEY,
    file_name           TEXT NOT NULL,
    source_text         TEXT NOT NULL,
    sha256              TEXT NOT NULL,
    imported_at_unix    BIGINT NOT NULL,
    realm               TEXT NOT NULL,
    domains_json        TEXT NOT NULL,
    max_duration_secs   BIGINT NOT NULL,
    encryption          TEXT NOT NULL
);

CREATE TABLE units (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    parent_code TEXT REFERENCES units (code),
    position    BIGINT NOT NULL
);
CREATE INDEX units_parent ON units (parent_code);

CREATE TABLE endpoints (
    id              TEXT PRIMARY KEY,
    unit_code       TEXT NOT NULL REFERENCES units (code),
    display         TEXT,
    transport       TEXT NOT NULL,
    max_contacts    BIGINT NOT NULL,
    vetted          BIGINT NOT NULL,
    credential_kind TEXT NOT NULL,
    credential      TEXT NOT NULL,
    position        BIGINT NOT NULL
);
CREATE INDEX endpoints_unit ON endpoints (unit_code);

CREATE TABLE endpoint_numbers (
    number      TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES endpoints (id),
    position    BIGINT NOT NULL
);
CREATE INDEX endpoint_numbers_endpoint ON endpoint_numbers (endpoint_id);

CREATE TABLE endpoint_aliases (
    alias       TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES endpoints (id),
    position    BIGINT NOT NULL
);
CREATE INDEX endpoint_aliases_endpoint ON endpoint_aliases (endpoint_id);

CREATE TABLE trunks (
    name        TEXT PRIMARY KEY,
    uri         TEXT NOT NULL,
    username    TEXT,
    password    TEXT,
    unit_code   TEXT REFERENCES units (code),
    position    BIGINT NOT NULL
);

CREATE TABLE trunk_acl (
    trunk_name  TEXT NOT NULL REFERENCES trunks (name),
    position    BIGINT NOT NULL,
    cidr        TEXT NOT NULL,
    PRIMARY KEY (trunk_name, position)
);

CREATE TABLE rules (
    position            BIGINT PRIMARY KEY,
    name                TEXT NOT NULL UNIQUE,
    match_kind          TEXT NOT NULL,
    match_pattern       TEXT NOT NULL,
    from_unit           TEXT REFERENCES units (code),
    from_trunk          TEXT REFERENCES trunks (name),
    action              TEXT NOT NULL,
    target_endpoint     TEXT REFERENCES endpoints (id),
    target_trunk        TEXT REFERENCES trunks (name),
    uri_template        TEXT,
    rewrite             TEXT,
    strip               BIGINT,
    prepend             TEXT,
    reject_status       BIGINT,
    reject_reason       TEXT,
    caller_id           TEXT,
    encryption          TEXT,
    record              BIGINT,
    max_duration_secs   BIGINT
);

-- Registrations: runtime state, shared by the gateway nodes. No foreign key
-- to endpoints: a dialplan import must not fail on a stale binding; the
-- registrar ignores bindings of endpoints the dialplan no longer has.
CREATE TABLE bindings (
    endpoint_id     TEXT NOT NULL,
    contact_uri     TEXT NOT NULL,
    received        TEXT,
    transport       TEXT NOT NULL,
    path_json       TEXT NOT NULL,
    instance_id     TEXT,
    reg_id          BIGINT,
    expires_at_unix BIGINT NOT NULL,
    call_id         TEXT NOT NULL,
    cseq            BIGINT NOT NULL,
    user_agent      TEXT,
    PRIMARY KEY (endpoint_id, contact_uri)
);
CREATE INDEX bindings_expiry ON bindings (expires_at_unix);

-- Call detail records: history, kept whatever the dialplan becomes.
CREATE TABLE cdrs (
    call_id         TEXT NOT NULL,
    started_at_ms   BIGINT NOT NULL,
    answered_at_ms  BIGINT,
    ended_at_ms     BIGINT NOT NULL,
    from_uri        TEXT NOT NULL,
    to_uri          TEXT NOT NULL,
    caller          TEXT NOT NULL,
    callee          TEXT NOT NULL,
    unit_code       TEXT,
    outcome         TEXT NOT NULL CHECK (outcome IN
                        ('answered', 'busy', 'no_answer', 'rejected', 'failed', 'cancelled')),
    sip_status      BIGINT NOT NULL,
    reason          TEXT NOT NULL,
    duration_ms     BIGINT NOT NULL,
    rtp_packets_in  BIGINT NOT NULL,
    rtp_packets_out BIGINT NOT NULL,
    PRIMARY KEY (call_id, started_at_ms)
);
CREATE INDEX cdrs_started ON cdrs (started_at_ms);
CREATE INDEX cdrs_unit ON cdrs (unit_code);
