-- Access to recordings between units (issue 10). A recording belongs to the
-- unit of its meeting's main bridge point; the regulation has that unit
-- provide it to other units on request. A grant lets the grantee unit (and
-- the units above it, whose administrators see it) read the owner's
-- recordings: all of them, or one (recording_id). Grants are never deleted:
-- a revoked or expired one stays as the record of who could read what, when.
--
-- Units are (structure, code) as in adm_units. A recording row names its unit
-- by bare code, read in the administration's default structure (as the
-- dialplan's units are). Times in Unix seconds; the id is assigned by the
-- administration inside its serialized write transaction (see 0001, 0002).
CREATE TABLE recording_grants (
    id                  BIGINT PRIMARY KEY,
    owner_structure     TEXT NOT NULL,
    owner_code          TEXT NOT NULL,
    grantee_structure   TEXT NOT NULL,
    grantee_code        TEXT NOT NULL,
    -- NULL: every recording of the owner, past and future. Not a foreign
    -- key: a recording removed by retention leaves its grants as history.
    recording_id        TEXT,
    -- Why, e.g. the written request it answers.
    reason              TEXT,
    granted_by          TEXT NOT NULL,
    created_at_unix     BIGINT NOT NULL,
    -- Exclusive; NULL never expires.
    expires_at_unix     BIGINT,
    revoked_at_unix     BIGINT,
    revoked_by          TEXT,
    FOREIGN KEY (owner_structure, owner_code) REFERENCES adm_units (structure, code),
    FOREIGN KEY (grantee_structure, grantee_code) REFERENCES adm_units (structure, code)
);
CREATE INDEX recording_grants_owner ON recording_grants (owner_structure, owner_code);
CREATE INDEX recording_grants_grantee ON recording_grants (grantee_structure, grantee_code);
