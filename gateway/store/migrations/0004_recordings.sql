-- Recordings of meetings (issue 5). A recording belongs to the unit of the
-- meeting's main bridge point (unit_code); other units read it only when
-- granted (a later table). One row is written when the recording starts
-- (status 'recording') and completed when its file is closed ('complete',
-- or 'failed' when the file could not be written to the end).
--
-- file_path is relative to the gateway's data directory, so a data
-- directory moved to another disk keeps its rows valid. sha256 is the hex
-- SHA-256 of the file as stored (ciphertext for encrypted ones); key_id the
-- hex identifier of the recording key (see the gateway's recordings.key_file)
-- for encrypted files. No auto-increment (see 0001): the gateway assigns ids.
CREATE TABLE recordings (
    id              TEXT PRIMARY KEY,
    meeting_number  TEXT NOT NULL,
    unit_code       TEXT NOT NULL,
    classification  TEXT NOT NULL,
    status          TEXT NOT NULL,
    started_at_ms   BIGINT NOT NULL,
    ended_at_ms     BIGINT,
    duration_ms     BIGINT,
    file_path       TEXT NOT NULL,
    size_bytes      BIGINT,
    codec           TEXT NOT NULL,
    encrypted       BIGINT NOT NULL,
    key_id          TEXT,
    sha256          TEXT,
    participants    BIGINT NOT NULL,
    packets_dropped BIGINT NOT NULL
);
CREATE INDEX recordings_unit ON recordings (unit_code, started_at_ms);
CREATE INDEX recordings_meeting ON recordings (meeting_number, started_at_ms);
