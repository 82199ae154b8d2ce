//! The set-based SQL that builds a copy under its placeholder and publishes it.

use sqlx::any::AnyArguments;
use sqlx::{Any, FromRow, Row};

use super::{CopyWriter, LevelSlice};
use crate::Result;
use crate::metadata::{Backend, ContentTotals, ItemChange, Tx};

/// The columns a copy carries over, in `items` and in `copy_preserved` alike.
/// Where a copy reads its source rows, each with the filter that applies there: live rows (less
/// those a snapshot replaces or leaves out), then, when the job has a snapshot, the preserved
/// versions. Statements using them bind the job id as `$1`.
fn snapshot_sources(snapshot: bool) -> Vec<(String, &'static str)> {
    if !snapshot {
        return vec![("items".into(), "")];
    }
    vec![
        (
            "items".into(),
            " AND NOT EXISTS (SELECT 1 FROM copy_preserved p WHERE p.job_id = $1 AND p.id = s.id) \
             AND NOT EXISTS (SELECT 1 FROM copy_excluded x WHERE x.job_id = $1 AND x.id = s.id)",
        ),
        (
            format!("(SELECT {SOURCE_COLUMNS} FROM copy_preserved WHERE job_id = $1)"),
            " AND NOT EXISTS (SELECT 1 FROM copy_excluded x WHERE x.job_id = $1 AND x.id = s.id)",
        ),
    ]
}

pub(super) const SOURCE_COLUMNS: &str = "id, parent_id, name, name_key, is_folder, size, child_count, descendants, \
                              descendant_files, blob_hash, mime_type, fs_created_at, fs_modified_at";

impl Tx {
    /// Creates the hidden folder a copy is built under.
    pub async fn insert_placeholder(
        &mut self,
        drive_id: &str,
        author: &str,
        now: i64,
    ) -> Result<i64> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO items (drive_id, parent_id, name, name_key, is_folder, size, child_count, \
             descendants, created_at, modified_at, created_by, modified_by, fs_created_at, fs_modified_at, \
             etag_rev, ctag_rev) \
             VALUES ($1, NULL, '', '', 1, 0, 0, 0, $2, $2, $3, $3, $2, $2, 1, 1) RETURNING id",
        )
        .bind(drive_id)
        .bind(now)
        .bind(author)
        .fetch_one(self.conn())
        .await?;
        Ok(id)
    }

    /// Maps a folder to its copy at `depth`, so the next level finds its new parent.
    pub async fn map_copy_folder(
        &mut self,
        job_id: &str,
        old_id: i64,
        new_id: i64,
        depth: i64,
        child_count: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO copy_map (job_id, old_id, new_id, depth, child_count) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(job_id)
        .bind(old_id)
        .bind(new_id)
        .bind(depth)
        .bind(child_count)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Copies one item (as the copy job sees it) under `parent` with a new name; returns the
    /// copy's id, whether it is a folder, and its child count.
    pub async fn copy_single_item(
        &mut self,
        w: CopyWriter<'_>,
        source_id: i64,
        parent: i64,
        name: &str,
        name_key: &str,
    ) -> Result<Option<(i64, bool, i64)>> {
        let snapshot = self.has_snapshot_rows(w.job_id).await?;
        for (source, filter) in snapshot_sources(snapshot) {
            let sql = format!(
                "INSERT INTO items ({COPY_COLUMNS}) \
                 SELECT $2, $3, $4, $5, s.is_folder, s.size, s.child_count, s.descendants, \
                 s.descendant_files, s.blob_hash, s.mime_type, $6, $6, $7, $7, s.fs_created_at, \
                 s.fs_modified_at, 1, 1 \
                 FROM {source} s WHERE s.id = $8 AND $1 = $1{filter} RETURNING id, is_folder, child_count"
            );
            let row: Option<(i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(w.job_id)
                .bind(w.dest_drive)
                .bind(parent)
                .bind(name)
                .bind(name_key)
                .bind(w.now)
                .bind(w.author)
                .bind(source_id)
                .fetch_optional(self.conn())
                .await?;
            if let Some((new_id, is_folder, child_count)) = row {
                if is_folder == 0 {
                    self.add_copied_blob_refs_of(new_id).await?;
                }
                return Ok(Some((new_id, is_folder != 0, child_count)));
            }
        }
        Ok(None)
    }

    async fn add_copied_blob_refs_of(&mut self, item: i64) -> Result<()> {
        sqlx::query(
            "UPDATE blobs SET refcount = refcount + 1, zero_since = NULL \
             WHERE hash = (SELECT blob_hash FROM items WHERE id = $1)",
        )
        .bind(item)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Up to `limit` folders of a level after `after` (old ids), with their child counts.
    pub async fn copy_level_folders(
        &mut self,
        job_id: &str,
        depth: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, i64)>> {
        Ok(sqlx::query_as(
            "SELECT old_id, child_count FROM copy_map WHERE job_id = $1 AND depth = $2 AND old_id > $3 \
             ORDER BY old_id LIMIT $4",
        )
        .bind(job_id)
        .bind(depth)
        .bind(after)
        .bind(limit)
        .fetch_all(self.conn())
        .await?)
    }

    /// The name key of the `n`th child (1-based) of `parent` after `after`, as the copy sees the
    /// children; `None` when fewer remain.
    pub async fn copy_slice_end(
        &mut self,
        parent: i64,
        after: Option<&str>,
        n: i64,
    ) -> Result<Option<String>> {
        let sql = match after {
            Some(_) => {
                "SELECT name_key FROM items WHERE parent_id = $1 AND name_key > $3 ORDER BY name_key LIMIT 1 OFFSET $2"
            }
            None => {
                "SELECT name_key FROM items WHERE parent_id = $1 ORDER BY name_key LIMIT 1 OFFSET $2"
            }
        };
        let mut q = sqlx::query_as(sql).bind(parent).bind(n - 1);
        if let Some(a) = after {
            q = q.bind(a);
        }
        let row: Option<(String,)> = q.fetch_optional(self.conn()).await?;
        Ok(row.map(|r| r.0))
    }

    async fn has_snapshot_rows(&mut self, job_id: &str) -> Result<bool> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT 1 FROM copy_preserved WHERE job_id = $1 UNION ALL \
             SELECT 1 FROM copy_excluded WHERE job_id = $1 LIMIT 1",
        )
        .bind(job_id)
        .fetch_optional(self.conn())
        .await?;
        Ok(row.is_some())
    }

    /// Copies one slice of level `depth` (the children of its folders) into the new tree: folders
    /// first (their new ids mapped at `depth + 1`), then files, then the blob references.
    /// Returns how many items were copied.
    pub async fn copy_level_slice(
        &mut self,
        w: CopyWriter<'_>,
        depth: i64,
        slice: &LevelSlice,
    ) -> Result<i64> {
        let snapshot = self.has_snapshot_rows(w.job_id).await?;
        // SQLite has one writer, so every id above this one is a row this slice adds.
        let ids_before = match self.backend {
            Backend::Sqlite => Some(self.last_item_id().await?),
            Backend::Postgres => None,
        };
        let mut copied = 0;
        for (source, filter) in &snapshot_sources(snapshot) {
            let folders = SliceRows {
                source,
                filter: format!("{{slice}} AND s.is_folder = 1{filter}"),
            };
            let files = SliceRows {
                source,
                filter: format!("{{slice}} AND s.is_folder = 0{filter}"),
            };
            let map = map_subfolders_sql(self.backend, &folders);
            self.slice_query(&map, w, depth, slice)
                .execute(self.conn())
                .await?;
            let folders = self.slice_query(&copy_folders_sql(&folders), w, depth, slice);
            copied += folders.execute(self.conn()).await?.rows_affected() as i64;
            copied += match self.backend {
                Backend::Sqlite => {
                    let files = self.slice_query(&copy_files_sql(&files), w, depth, slice);
                    files.execute(self.conn()).await?.rows_affected() as i64
                }
                Backend::Postgres => {
                    let sql = copy_files_counting_blobs_sql(&files);
                    let row = self
                        .slice_query(&sql, w, depth, slice)
                        .fetch_one(self.conn())
                        .await?;
                    row.try_get::<i64, _>(0)?
                }
            };
        }
        if let Some(after) = ids_before {
            self.add_blob_refs_of_items_after(after).await?;
        }
        Ok(copied)
    }

    /// The highest item id handed out so far (SQLite).
    async fn last_item_id(&mut self) -> Result<i64> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT seq FROM sqlite_sequence WHERE name = 'items'")
                .fetch_optional(self.conn())
                .await?;
        Ok(row.map_or(0, |r| r.0))
    }

    /// Adds one blob reference per file whose id is above `after`: the files just copied, read
    /// back in id order from the pages the copy has just written.
    async fn add_blob_refs_of_items_after(&mut self, after: i64) -> Result<()> {
        sqlx::query(
            "UPDATE blobs SET refcount = blobs.refcount + r.n, zero_since = NULL FROM \
             (SELECT blob_hash AS hash, COUNT(*) AS n FROM items \
             WHERE id > $1 AND blob_hash IS NOT NULL GROUP BY blob_hash) r WHERE blobs.hash = r.hash",
        )
        .bind(after)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// One statement of a slice, bound. Parameters: $1 job, $2 depth, $3 destination drive,
    /// $4 author, $5 time, then the slice's bounds from $6.
    fn slice_query<'q>(
        &self,
        template: &str,
        w: CopyWriter<'q>,
        depth: i64,
        slice: &'q LevelSlice,
    ) -> sqlx::query::Query<'q, Any, AnyArguments> {
        let (cond, ints, keys): (String, Vec<i64>, Vec<&str>) = match slice {
            LevelSlice::Parents { after, upto } => (
                "s.parent_id IN (SELECT old_id FROM copy_map WHERE job_id = $1 AND depth = $2 \
                 AND old_id > $6 AND old_id <= $7)"
                    .into(),
                vec![*after, *upto],
                vec![],
            ),
            LevelSlice::Children {
                parent,
                after,
                upto,
            } => {
                let mut cond = String::from("s.parent_id = $6");
                let mut keys = vec![];
                for (bound, op) in [(after, ">"), (upto, "<=")] {
                    if let Some(k) = bound {
                        keys.push(k.as_str());
                        cond.push_str(&format!(" AND s.name_key {op} ${}", 6 + keys.len()));
                    }
                }
                (cond, vec![*parent], keys)
            }
        };
        let sql = template.replace("{slice}", &cond);
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(w.job_id)
            .bind(depth)
            .bind(w.dest_drive)
            .bind(w.author)
            .bind(w.now);
        for i in ints {
            q = q.bind(i);
        }
        for k in keys {
            q = q.bind(k);
        }
        q
    }
}

/// A staged top-level item whose name is taken in the destination.
#[derive(Clone, Debug, FromRow)]
pub struct StagedClash {
    pub top_id: i64,
    pub name: String,
    pub top_is_folder: bool,
    pub existing_id: i64,
    pub existing_is_folder: bool,
    pub existing_size: i64,
}

impl Tx {
    /// Names of `source`'s children that are taken in `dest`, each with whether a folder is
    /// involved on either side.
    pub async fn child_name_clashes(
        &mut self,
        source: i64,
        dest: i64,
    ) -> Result<Vec<(String, bool)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT d.name, CASE WHEN d.is_folder = 1 OR s.is_folder = 1 THEN 1 ELSE 0 END \
             FROM items s JOIN items d ON d.parent_id = $2 AND d.name_key = s.name_key WHERE s.parent_id = $1",
        )
        .bind(source)
        .bind(dest)
        .fetch_all(self.conn())
        .await?;
        Ok(rows.into_iter().map(|(n, f)| (n, f != 0)).collect())
    }

    pub async fn staged_clashes(
        &mut self,
        placeholder: i64,
        dest: i64,
    ) -> Result<Vec<StagedClash>> {
        let rows: Vec<(i64, String, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT t.id, t.name, t.is_folder, d.id, d.is_folder, d.size FROM items t \
             JOIN items d ON d.parent_id = $2 AND d.name_key = t.name_key WHERE t.parent_id = $1",
        )
        .bind(placeholder)
        .bind(dest)
        .fetch_all(self.conn())
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(top_id, name, tf, existing_id, ef, existing_size)| StagedClash {
                    top_id,
                    name,
                    top_is_folder: tf != 0,
                    existing_id,
                    existing_is_folder: ef != 0,
                    existing_size,
                },
            )
            .collect())
    }

    /// What a folder holds: total size, items and files at every depth, direct children.
    pub async fn folder_contents_totals(&mut self, folder: i64) -> Result<ContentTotals> {
        let (size, items, files, children): (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT), \
             CAST(COALESCE(SUM(descendants), 0) + COUNT(*) AS BIGINT), \
             CAST(COALESCE(SUM(descendant_files + 1 - is_folder), 0) AS BIGINT), \
             CAST(COUNT(*) AS BIGINT) \
             FROM items WHERE parent_id = $1",
        )
        .bind(folder)
        .fetch_one(self.conn())
        .await?;
        Ok(ContentTotals {
            size,
            items,
            files,
            children,
        })
    }

    /// Sets the file count of `top` and of every folder below it from the rows themselves: one
    /// pass over the subtree (the folders above are the caller's concern).
    pub async fn recount_files_below(&mut self, top: i64) -> Result<()> {
        sqlx::query(
            "WITH RECURSIVE sub(id) AS (SELECT CAST($1 AS BIGINT) \
             UNION ALL SELECT i.id FROM items i JOIN sub ON i.parent_id = sub.id) \
             UPDATE items SET descendant_files = 0 WHERE id IN (SELECT id FROM sub) AND is_folder = 1",
        )
        .bind(top)
        .execute(self.conn())
        .await?;
        sqlx::query(
            "WITH RECURSIVE sub(id) AS (SELECT CAST($1 AS BIGINT) \
             UNION ALL SELECT i.id FROM items i JOIN sub ON i.parent_id = sub.id), \
             up(folder) AS (SELECT i.parent_id FROM items i JOIN sub ON i.id = sub.id \
             WHERE i.is_folder = 0 \
             UNION ALL SELECT i.parent_id FROM up JOIN items i ON i.id = up.folder \
             WHERE i.id <> $1 AND i.parent_id IS NOT NULL) \
             UPDATE items SET descendant_files = c.n \
             FROM (SELECT folder, COUNT(*) AS n FROM up GROUP BY folder) c WHERE items.id = c.folder",
        )
        .bind(top)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Moves every child of `from` into `to` (totals are the caller's concern); returns their ids.
    pub async fn adopt_children(&mut self, from: i64, to: i64, now: i64) -> Result<Vec<i64>> {
        let rows: Vec<(i64,)> =
            sqlx::query_as("UPDATE items SET parent_id = $2 WHERE parent_id = $1 RETURNING id")
                .bind(from)
                .bind(to)
                .fetch_all(self.conn())
                .await?;
        let ids: Vec<i64> = rows.into_iter().map(|r| r.0).collect();
        for &id in &ids {
            self.record_change(ItemChange::Published { id, to }, now)
                .await?;
        }
        Ok(ids)
    }

    /// True when `item` lies in the tree of `drive`'s root (not in a copy still being built).
    pub async fn reaches_root(&mut self, item: i64, drive_id: &str) -> Result<bool> {
        let top = self.ancestors(item).await?.pop();
        let root: Option<(i64,)> = sqlx::query_as("SELECT root_id FROM drives WHERE id = $1")
            .bind(drive_id)
            .fetch_optional(self.conn())
            .await?;
        Ok(matches!((top, root), (Some(t), Some((r,))) if t.id == r))
    }
}

/// The rows of a slice a statement reads: `source` (aliased `s`) filtered by `filter`, whose
/// `{slice}` stands for the slice's bounds.
struct SliceRows<'a> {
    source: &'a str,
    filter: String,
}

/// Maps the slice's subfolders to new ids at `depth + 1`, in old-id order.
fn map_subfolders_sql(backend: Backend, from: &SliceRows) -> String {
    let new_id = match backend {
        Backend::Sqlite => {
            "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'items'), 0) \
             + ROW_NUMBER() OVER (ORDER BY s.id)"
        }
        Backend::Postgres => "nextval(pg_get_serial_sequence('items', 'id'))",
    };
    format!(
        "INSERT INTO copy_map (job_id, old_id, new_id, depth, child_count) \
         SELECT $1, s.id, {new_id}, $2 + 1, s.child_count FROM {} s WHERE {}",
        from.source, from.filter
    )
}

const COPY_COLUMNS: &str = "drive_id, parent_id, name, name_key, is_folder, size, child_count, \
    descendants, descendant_files, blob_hash, mime_type, created_at, modified_at, created_by, modified_by, \
    fs_created_at, fs_modified_at, etag_rev, ctag_rev";

/// Inserts the slice's subfolders under their new ids. The slice's folders are read first and
/// their map entries looked up by key (SQLite follows `CROSS JOIN` order; it would otherwise
/// walk the job's whole map).
fn copy_folders_sql(from: &SliceRows) -> String {
    let SliceRows { source, filter } = from;
    format!(
        "INSERT INTO items (id, {COPY_COLUMNS}) \
         SELECT m.new_id, $3, pm.new_id, s.name, s.name_key, 1, s.size, s.child_count, s.descendants, \
         s.descendant_files, NULL, NULL, $5, $5, $4, $4, s.fs_created_at, s.fs_modified_at, 1, 1 \
         FROM {source} s CROSS JOIN copy_map m CROSS JOIN copy_map pm \
         WHERE m.job_id = $1 AND m.old_id = s.id AND pm.job_id = $1 AND pm.old_id = s.parent_id \
         AND {filter}"
    )
}

/// Inserts the slice's files under their parents' copies (each parent's map entry is looked up
/// once, then its files read by the parent index).
fn copy_files_sql(from: &SliceRows) -> String {
    let SliceRows { source, filter } = from;
    format!(
        "INSERT INTO items ({COPY_COLUMNS}) \
         SELECT $3, pm.new_id, s.name, s.name_key, 0, s.size, 0, 0, 0, s.blob_hash, s.mime_type, \
         $5, $5, $4, $4, s.fs_created_at, s.fs_modified_at, 1, 1 \
         FROM {source} s JOIN copy_map pm ON pm.job_id = $1 AND pm.old_id = s.parent_id \
         WHERE {filter}"
    )
}

/// [`copy_files_sql`] adding the blob references of what it inserted in the same statement
/// (PostgreSQL), so the slice is read once; it returns how many files it copied.
fn copy_files_counting_blobs_sql(from: &SliceRows) -> String {
    format!(
        "WITH inserted AS ({} RETURNING blob_hash), \
         counted AS (SELECT blob_hash AS hash, COUNT(*) AS n FROM inserted \
         WHERE blob_hash IS NOT NULL GROUP BY blob_hash), \
         bumped AS (UPDATE blobs SET refcount = blobs.refcount + counted.n, zero_since = NULL \
         FROM counted WHERE blobs.hash = counted.hash RETURNING 1) \
         SELECT COUNT(*) FROM inserted",
        copy_files_sql(from)
    )
}
