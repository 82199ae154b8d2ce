-- Every change to an item, numbered in the order its drive's writes commit (each write holds its
-- drive's row, so numbers never commit out of order): what delta reads instead of the tree.
ALTER TABLE drives ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
-- Changes numbered up to here were forgotten; a delta token from before them starts over.
ALTER TABLE drives ADD COLUMN journal_floor INTEGER NOT NULL DEFAULT 0;

CREATE TABLE item_changes (
    drive_id  TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    item_id   INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    -- The folder the item was in before the change (for a new item, the one it was made in).
    parent_id INTEGER,
    is_folder INTEGER NOT NULL,
    at        INTEGER NOT NULL,
    PRIMARY KEY (drive_id, seq)
);
CREATE INDEX item_changes_at ON item_changes (at);

-- Deleted items: each is detached from its folder (no parent, so no path, listing or search
-- finds it or anything below it) and waits here until it is restored or purged.
CREATE TABLE recycle_bin (
    item_id    INTEGER PRIMARY KEY,
    drive_id   TEXT NOT NULL,
    parent_id  INTEGER NOT NULL,
    from_path  TEXT NOT NULL,
    deleted_at INTEGER NOT NULL,
    deleted_by TEXT NOT NULL
);
CREATE INDEX recycle_bin_drive ON recycle_bin (drive_id, deleted_at, item_id);
CREATE INDEX recycle_bin_age ON recycle_bin (deleted_at);

-- Earlier contents of files, numbered by the content revision (cTag) they had while current.
CREATE TABLE item_versions (
    item_id        INTEGER NOT NULL,
    number         INTEGER NOT NULL,
    blob_hash      TEXT NOT NULL,
    size           INTEGER NOT NULL,
    mime_type      TEXT NOT NULL,
    modified_at    INTEGER NOT NULL,
    modified_by    TEXT NOT NULL,
    fs_modified_at INTEGER NOT NULL,
    PRIMARY KEY (item_id, number)
);

-- Whether a copy job carries the earlier versions of the files it copies
-- (`includeAllVersionHistory`).
ALTER TABLE copy_jobs ADD COLUMN include_versions INTEGER NOT NULL DEFAULT 0;
