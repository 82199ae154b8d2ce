-- Principals: users, groups and applications that tokens are issued to.
CREATE TABLE principals (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    name         TEXT NOT NULL,
    display_name TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (kind, name)
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES principals (id),
    user_id  TEXT NOT NULL REFERENCES principals (id),
    PRIMARY KEY (group_id, user_id)
);

-- Server-wide values shared by every node, such as the token signing key.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE drives (
    id          TEXT PRIMARY KEY,
    owner_id    TEXT NOT NULL UNIQUE REFERENCES principals (id),
    drive_type  TEXT NOT NULL,
    name        TEXT NOT NULL,
    root_id     INTEGER NOT NULL,
    quota_total INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);

-- File contents, addressed by SHA-256 and shared by every item that holds the same bytes.
CREATE TABLE blobs (
    hash       TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    sha1       TEXT NOT NULL,
    quickxor   TEXT NOT NULL,
    refcount   INTEGER NOT NULL,
    zero_since INTEGER
);
CREATE INDEX blobs_unreferenced ON blobs (zero_since) WHERE refcount = 0;

-- Files and folders. A folder's `size` is the total of its descendants, `descendants` how many
-- items lie below it and `child_count` its direct children, all kept up to date on every write so
-- that reads (and copies) never walk a subtree to learn them. Ids are never reused.
CREATE TABLE items (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    drive_id       TEXT NOT NULL,
    parent_id      INTEGER,
    name           TEXT NOT NULL,
    name_key       TEXT NOT NULL,
    is_folder      INTEGER NOT NULL,
    size           INTEGER NOT NULL,
    child_count    INTEGER NOT NULL,
    descendants    INTEGER NOT NULL,
    blob_hash      TEXT,
    mime_type      TEXT,
    created_at     INTEGER NOT NULL,
    modified_at    INTEGER NOT NULL,
    created_by     TEXT NOT NULL,
    modified_by    TEXT NOT NULL,
    fs_created_at  INTEGER NOT NULL,
    fs_modified_at INTEGER NOT NULL,
    etag_rev       INTEGER NOT NULL,
    ctag_rev       INTEGER NOT NULL
);
CREATE UNIQUE INDEX items_parent_name ON items (parent_id, name_key);

CREATE TABLE upload_sessions (
    id             TEXT PRIMARY KEY,
    drive_id       TEXT NOT NULL,
    parent_id      INTEGER NOT NULL,
    name           TEXT NOT NULL,
    conflict       TEXT NOT NULL,
    if_match       TEXT,
    file_size      INTEGER NOT NULL,
    received       INTEGER NOT NULL,
    principal_id   TEXT NOT NULL,
    fs_created_at  INTEGER,
    fs_modified_at INTEGER,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
);

-- The fragments an upload session has accepted, in file order.
CREATE TABLE upload_parts (
    session_id TEXT NOT NULL,
    start      INTEGER NOT NULL,
    object     TEXT NOT NULL,
    PRIMARY KEY (session_id, start)
);
