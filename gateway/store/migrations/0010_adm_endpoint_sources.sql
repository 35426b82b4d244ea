-- What the dialplan file said of each endpoint when it was last brought
-- into the registry (gateway-admin's adoption): a SHA-256 over its unit,
-- display, credential, realm, numbers and aliases. An edit made through the
-- administration wins until the file changes the endpoint again; a row
-- whose endpoint is gone is one the registry deleted, which the file does
-- not bring back unless it changes it. No foreign key, for that reason.
CREATE TABLE adm_endpoint_sources (
    endpoint_id     TEXT PRIMARY KEY,
    fingerprint     TEXT NOT NULL,
    synced_at_unix  BIGINT NOT NULL
);
