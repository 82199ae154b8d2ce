//! Earlier contents of files. Replacing a file's content keeps the old content as a version,
//! which holds a reference to its blob like any file does.

use super::{ItemRecord, Tx};
use crate::Result;

/// One earlier content of a file.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct VersionRecord {
    pub item_id: i64,
    /// The file's content revision while this content was current.
    pub number: i64,
    pub blob_hash: String,
    pub size: i64,
    pub mime_type: String,
    pub modified_at: i64,
    pub modified_by: String,
    pub fs_modified_at: i64,
    pub modified_by_name: Option<String>,
    pub modified_by_kind: Option<String>,
}

const VERSION_SELECT: &str = "SELECT v.item_id, v.number, v.blob_hash, v.size, v.mime_type, \
     v.modified_at, v.modified_by, v.fs_modified_at, p.display_name AS modified_by_name, \
     p.kind AS modified_by_kind FROM item_versions v LEFT JOIN principals p ON p.id = v.modified_by ";

impl Tx {
    /// Keeps a file's current content as a version before it is replaced, taking over the
    /// file's reference to its blob, then drops the oldest versions beyond `keep`.
    pub async fn keep_version(&mut self, file: &ItemRecord, keep: i64, now: i64) -> Result<()> {
        let Some(hash) = &file.blob_hash else {
            return Ok(());
        };
        let kept = sqlx::query(
            "INSERT INTO item_versions (item_id, number, blob_hash, size, mime_type, modified_at, \
             modified_by, fs_modified_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (item_id, number) DO NOTHING",
        )
        .bind(file.id)
        .bind(file.ctag_rev)
        .bind(hash)
        .bind(file.size)
        .bind(
            file.mime_type
                .as_deref()
                .unwrap_or("application/octet-stream"),
        )
        .bind(file.modified_at)
        .bind(&file.modified_by)
        .bind(file.fs_modified_at)
        .execute(self.conn())
        .await?
        .rows_affected();
        if kept == 0 {
            self.release_blob_refs(hash, 1, now).await?;
        }
        // The newest `keep` stay; the first one past them, and all older, go.
        let first_dropped: Option<(i64,)> = sqlx::query_as(
            "SELECT number FROM item_versions WHERE item_id = $1 ORDER BY number DESC LIMIT 1 OFFSET $2",
        )
        .bind(file.id)
        .bind(keep.max(0))
        .fetch_optional(self.conn())
        .await?;
        if let Some((cutoff,)) = first_dropped {
            let old: Vec<(i64,)> = sqlx::query_as(
                "SELECT number FROM item_versions WHERE item_id = $1 AND number <= $2",
            )
            .bind(file.id)
            .bind(cutoff)
            .fetch_all(self.conn())
            .await?;
            for (number,) in old {
                self.delete_version(file.id, number, now).await?;
            }
        }
        Ok(())
    }

    /// A file's earlier versions, newest first.
    pub async fn versions(&mut self, item_id: i64) -> Result<Vec<VersionRecord>> {
        let sql = format!("{VERSION_SELECT} WHERE v.item_id = $1 ORDER BY v.number DESC");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(item_id)
            .fetch_all(self.conn())
            .await?)
    }

    pub async fn version(&mut self, item_id: i64, number: i64) -> Result<Option<VersionRecord>> {
        let sql = format!("{VERSION_SELECT} WHERE v.item_id = $1 AND v.number = $2");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(item_id)
            .bind(number)
            .fetch_optional(self.conn())
            .await?)
    }

    /// Removes one version and releases its blob; false when there was none.
    pub async fn delete_version(&mut self, item_id: i64, number: i64, now: i64) -> Result<bool> {
        let row: Option<(String,)> = sqlx::query_as(
            "DELETE FROM item_versions WHERE item_id = $1 AND number = $2 RETURNING blob_hash",
        )
        .bind(item_id)
        .bind(number)
        .fetch_optional(self.conn())
        .await?;
        match row {
            Some((hash,)) => {
                self.release_blob_refs(&hash, 1, now).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Removes the versions of every file in the subtree of `id`, releasing their blobs.
    pub(crate) async fn forget_versions_below(&mut self, id: i64, now: i64) -> Result<()> {
        let sub = "WITH RECURSIVE sub(id) AS (SELECT CAST($1 AS BIGINT) \
                   UNION ALL SELECT i.id FROM items i JOIN sub ON i.parent_id = sub.id) ";
        let refs: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{sub}SELECT blob_hash, CAST(COUNT(*) AS BIGINT) FROM item_versions \
             WHERE item_id IN (SELECT id FROM sub) GROUP BY blob_hash"
        )))
        .bind(id)
        .fetch_all(self.conn())
        .await?;
        if refs.is_empty() {
            return Ok(());
        }
        for (hash, n) in refs {
            self.release_blob_refs(&hash, n, now).await?;
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "{sub}DELETE FROM item_versions WHERE item_id IN (SELECT id FROM sub)"
        )))
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The files a copy job made below the folders it mapped whose source files have earlier
    /// versions, as (copy, source): matched by their folders' map and their names.
    pub async fn versioned_copies(&mut self, job_id: &str) -> Result<Vec<(i64, i64)>> {
        Ok(sqlx::query_as(
            "SELECT DISTINCT n.id, o.id FROM item_versions v JOIN items o ON o.id = v.item_id \
             JOIN copy_map m ON m.job_id = $1 AND m.old_id = o.parent_id \
             JOIN items n ON n.parent_id = m.new_id AND n.name_key = o.name_key AND n.is_folder = 0",
        )
        .bind(job_id)
        .fetch_all(self.conn())
        .await?)
    }

    /// Gives the file `copy` the earlier versions of `source` (numbered from 1, with references
    /// to their blobs); its own content becomes the revision after them.
    pub async fn copy_versions(&mut self, copy: i64, source: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO item_versions (item_id, number, blob_hash, size, mime_type, modified_at, \
             modified_by, fs_modified_at) \
             SELECT $1, ROW_NUMBER() OVER (ORDER BY number), blob_hash, size, mime_type, \
             modified_at, modified_by, fs_modified_at FROM item_versions WHERE item_id = $2",
        )
        .bind(copy)
        .bind(source)
        .execute(self.conn())
        .await?;
        sqlx::query(
            "UPDATE blobs SET refcount = blobs.refcount + c.n, zero_since = NULL \
             FROM (SELECT blob_hash, COUNT(*) AS n FROM item_versions WHERE item_id = $1 \
                   GROUP BY blob_hash) c WHERE blobs.hash = c.blob_hash",
        )
        .bind(copy)
        .execute(self.conn())
        .await?;
        sqlx::query(
            "UPDATE items SET ctag_rev = 1 + (SELECT COUNT(*) FROM item_versions WHERE item_id = $1) \
             WHERE id = $1",
        )
        .bind(copy)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
