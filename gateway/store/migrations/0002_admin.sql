-- Administration of the city's network (issue 10): the registry that
-- administrators edit through the API, kept apart from the dialplan's read
-- model (units, endpoints, ... in 0001), which every dialplan import rewrites
-- whole. Same conventions as 0001: TEXT and BIGINT only, times in Unix
-- seconds (or milliseconds where named so), booleans 0/1, keys natural or
-- assigned by the store.

-- Administrative units of one structure ('2024': city, districts, wards and
-- communes; '2025': city, wards and communes). Official codes repeat between
-- structures with other meanings (00004 is Trúc Bạch in 2024, Ba Đình in
-- 2025), so a unit is known by (structure, code).
CREATE TABLE adm_units (
    structure   TEXT NOT NULL CHECK (structure IN ('2024', '2025')),
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    codename    TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN
                    ('city', 'urban_district', 'rural_district', 'town', 'ward', 'commune', 'township')),
    parent_code TEXT,
    -- ISO dates; valid_to is exclusive, NULL is open.
    valid_from  TEXT,
    valid_to    TEXT,
    position    BIGINT NOT NULL,
    PRIMARY KEY (structure, code),
    FOREIGN KEY (structure, parent_code) REFERENCES adm_units (structure, code)
);
CREATE INDEX adm_units_parent ON adm_units (structure, parent_code);

-- A bridge point's room system or soft client, as administrators know it.
CREATE TABLE adm_endpoints (
    id              TEXT PRIMARY KEY,
    unit_structure  TEXT NOT NULL,
    unit_code       TEXT NOT NULL,
    display         TEXT,
    protocol        TEXT NOT NULL CHECK (protocol IN ('sip', 'h323', 'webrtc')),
    -- Digest credentials only as HA1 forms: the password is never stored.
    realm           TEXT,
    ha1_md5         TEXT,
    ha1_sha256      TEXT,
    -- Rooms that do not register are reached at this fixed address.
    fixed_address   TEXT,
    vetting_state   TEXT NOT NULL CHECK (vetting_state IN ('pending', 'approved', 'suspended')),
    vetting_reason  TEXT,
    vetting_by      TEXT,
    vetting_at_unix BIGINT NOT NULL,
    created_at_unix BIGINT NOT NULL,
    updated_at_unix BIGINT NOT NULL,
    FOREIGN KEY (unit_structure, unit_code) REFERENCES adm_units (structure, code)
);
CREATE INDEX adm_endpoints_unit ON adm_endpoints (unit_structure, unit_code);
CREATE INDEX adm_endpoints_vetting ON adm_endpoints (vetting_state);

CREATE TABLE adm_endpoint_numbers (
    number      TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES adm_endpoints (id),
    position    BIGINT NOT NULL
);
CREATE INDEX adm_endpoint_numbers_endpoint ON adm_endpoint_numbers (endpoint_id);

CREATE TABLE adm_endpoint_aliases (
    alias       TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES adm_endpoints (id),
    position    BIGINT NOT NULL
);
CREATE INDEX adm_endpoint_aliases_endpoint ON adm_endpoint_aliases (endpoint_id);

-- The two people responsible for a bridge point, with every replacement:
-- the current one has until_unix NULL.
CREATE TABLE adm_contacts (
    id          BIGINT PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES adm_endpoints (id),
    role        TEXT NOT NULL CHECK (role IN ('office_lead', 'technical_officer')),
    name        TEXT NOT NULL,
    phone       TEXT,
    email       TEXT,
    since_unix  BIGINT NOT NULL,
    until_unix  BIGINT,
    changed_by  TEXT NOT NULL
);
CREATE INDEX adm_contacts_endpoint ON adm_contacts (endpoint_id, role);

-- Devices as the gateway saw them (User-Agent, later H.225 vendor
-- identifiers). The current device of an endpoint has retired_unix NULL.
CREATE TABLE adm_devices (
    id                  BIGINT PRIMARY KEY,
    endpoint_id         TEXT NOT NULL REFERENCES adm_endpoints (id),
    vendor              TEXT NOT NULL,
    model               TEXT NOT NULL,
    firmware            TEXT,
    serial              TEXT,
    user_agent          TEXT NOT NULL,
    first_seen_unix     BIGINT NOT NULL,
    last_seen_unix      BIGINT NOT NULL,
    maintenance_due     TEXT,
    retired_unix        BIGINT
);
CREATE INDEX adm_devices_endpoint ON adm_devices (endpoint_id);

CREATE TABLE adm_device_events (
    id          BIGINT PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES adm_endpoints (id),
    at_unix     BIGINT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('adopted', 'first_seen', 'changed')),
    before_json TEXT,
    after_json  TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX adm_device_events_endpoint ON adm_device_events (endpoint_id);

CREATE TABLE adm_users (
    name            TEXT PRIMARY KEY,
    -- argon2 PHC string.
    password_hash   TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN
                        ('city-admin', 'unit-admin', 'operator', 'security-reviewer', 'auditor')),
    -- NULL: the whole network (every structure).
    scope_structure TEXT,
    scope_code      TEXT,
    disabled        BIGINT NOT NULL,
    created_at_unix BIGINT NOT NULL,
    created_by      TEXT NOT NULL,
    FOREIGN KEY (scope_structure, scope_code) REFERENCES adm_units (structure, code)
);

-- Bearer tokens, stored only as their SHA-256.
CREATE TABLE adm_sessions (
    token_sha256    TEXT PRIMARY KEY,
    user_name       TEXT NOT NULL REFERENCES adm_users (name),
    created_at_unix BIGINT NOT NULL,
    expires_at_unix BIGINT NOT NULL
);
CREATE INDEX adm_sessions_expiry ON adm_sessions (expires_at_unix);

-- Every change: who, when, what, the object before and after (JSON).
-- unit_* is where the object sits, for scoping who may read the row.
CREATE TABLE adm_audit (
    id              BIGINT PRIMARY KEY,
    at_ms           BIGINT NOT NULL,
    actor           TEXT NOT NULL,
    actor_role      TEXT NOT NULL,
    action          TEXT NOT NULL,
    object_kind     TEXT NOT NULL,
    object_id       TEXT NOT NULL,
    unit_structure  TEXT,
    unit_code       TEXT,
    before_json     TEXT,
    after_json      TEXT
);
CREATE INDEX adm_audit_object ON adm_audit (object_kind, object_id);
CREATE INDEX adm_audit_unit ON adm_audit (unit_structure, unit_code);
