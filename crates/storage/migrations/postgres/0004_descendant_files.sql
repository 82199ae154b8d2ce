-- How many files lie below a folder, kept up to date like `descendants`: the root's is the
-- drive's `quota.fileCount`, read without counting, and a copy still being built is not in it.
ALTER TABLE items ADD COLUMN descendant_files BIGINT NOT NULL DEFAULT 0;
ALTER TABLE copy_preserved ADD COLUMN descendant_files BIGINT NOT NULL DEFAULT 0;

-- Every file counts once for each folder above it.
WITH RECURSIVE up(folder) AS (
    SELECT parent_id FROM items WHERE is_folder = 0 AND parent_id IS NOT NULL
    UNION ALL
    SELECT i.parent_id FROM up JOIN items i ON i.id = up.folder WHERE i.parent_id IS NOT NULL
)
UPDATE items SET descendant_files = c.n
FROM (SELECT folder, COUNT(*) AS n FROM up GROUP BY folder) c
WHERE items.id = c.folder;

-- A running copy's kept versions of folders take their current count (see below).
UPDATE copy_preserved SET descendant_files = COALESCE(
    (SELECT i.descendant_files FROM items i WHERE i.id = copy_preserved.id), 0)
WHERE is_folder = 1;

-- For a copy running across this upgrade, the counts above are not those of its source as it
-- sees it (folders it built, and the kept versions it reads): it recounts what it built before
-- publishing it.
ALTER TABLE copy_jobs ADD COLUMN recount_files BIGINT NOT NULL DEFAULT 0;
UPDATE copy_jobs SET recount_files = 1 WHERE status IN ('notStarted', 'inProgress');
