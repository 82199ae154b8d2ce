-- Copy jobs behind `POST …/copy`: one row per job, holding its progress, so that a job survives
-- a restart and its monitor URL keeps answering.
CREATE TABLE copy_jobs (
    id                TEXT PRIMARY KEY,
    caller_id         TEXT NOT NULL,
    client_request_id TEXT,
    status            TEXT NOT NULL,
    source_drive      TEXT NOT NULL,
    source_id         BIGINT NOT NULL,
    dest_drive        TEXT NOT NULL,
    dest_parent_id    BIGINT NOT NULL,
    name              TEXT,
    children_only     BIGINT NOT NULL,
    conflict          TEXT NOT NULL,
    total_items       BIGINT NOT NULL,
    copied_items      BIGINT NOT NULL,
    placeholder_id    BIGINT,
    depth             BIGINT NOT NULL,
    parent_cursor     BIGINT NOT NULL,
    key_cursor        TEXT,
    cancel_requested  BIGINT NOT NULL,
    result_id         BIGINT,
    error_code        TEXT,
    error_message     TEXT,
    error_target      TEXT,
    owner             TEXT,
    heartbeat_at      BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    finished_at       BIGINT
);
CREATE INDEX copy_jobs_active ON copy_jobs (status);
-- A caller's `client-request-id` (with what the request asked for) names one job; keys of old
-- jobs are released after the retry window.
CREATE UNIQUE INDEX copy_jobs_request ON copy_jobs (caller_id, client_request_id);

-- Source folder → its copy, per job: how the next level of the tree finds its new parents.
CREATE TABLE copy_map (
    job_id      TEXT NOT NULL,
    old_id      BIGINT NOT NULL,
    new_id      BIGINT NOT NULL,
    depth       BIGINT NOT NULL,
    child_count BIGINT NOT NULL,
    PRIMARY KEY (job_id, old_id)
);
CREATE INDEX copy_map_level ON copy_map (job_id, depth, old_id);

-- The snapshot a running copy reads: rows of its source as they were when it was accepted,
-- kept here by writes that change them while it runs...
CREATE TABLE copy_preserved (
    job_id         TEXT NOT NULL,
    id             BIGINT NOT NULL,
    parent_id      BIGINT,
    name           TEXT NOT NULL,
    name_key       TEXT NOT NULL,
    is_folder      BIGINT NOT NULL,
    size           BIGINT NOT NULL,
    child_count    BIGINT NOT NULL,
    descendants    BIGINT NOT NULL,
    blob_hash      TEXT,
    mime_type      TEXT,
    fs_created_at  BIGINT NOT NULL,
    fs_modified_at BIGINT NOT NULL,
    PRIMARY KEY (job_id, id)
);
CREATE INDEX copy_preserved_parent ON copy_preserved (job_id, parent_id, name_key);

-- ...and the items that came into its source after it was accepted, which it leaves out.
CREATE TABLE copy_excluded (
    job_id TEXT NOT NULL,
    id     BIGINT NOT NULL,
    PRIMARY KEY (job_id, id)
);

-- Taken (shared) by every metadata write and bumped by every copy acceptance, so that a copy's
-- snapshot begins between writes, never in the middle of one (PostgreSQL; SQLite has one writer).
CREATE TABLE copy_epoch (
    id    BIGINT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO copy_epoch (id, value) VALUES (1, 0);
