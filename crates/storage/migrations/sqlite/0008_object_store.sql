-- A blob store that cannot rename (an S3 bucket) keeps each blob in the object it was written
-- to, named with the blob's row; NULL means the blob lies at its content address.
ALTER TABLE blobs ADD COLUMN object TEXT;
CREATE INDEX blobs_object ON blobs (object) WHERE object IS NOT NULL;

-- Objects being written to such a store. A writer refreshes `touched_at` while it writes and
-- removes the row when the blob's row names the object (or the object is gone), so that what a
-- crash leaves behind is found without listing the bucket.
CREATE TABLE staged_objects (
    object     TEXT PRIMARY KEY,
    touched_at BIGINT NOT NULL
);
CREATE INDEX staged_objects_touched ON staged_objects (touched_at);
