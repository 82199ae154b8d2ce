//! Reference counts of content blobs. A blob whose count drops to zero is kept for a grace
//! period (`zero_since`) before it is collected, so that download links issued before the last
//! delete keep working that long. Upkeep removes the bytes while it holds the rows it deletes,
//! and an upload places its bytes while it holds the row it references: the two never overlap.

use super::Tx;
use crate::{Result, StoredBlob};

/// A blob upkeep forgot, whose bytes are to be removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectedBlob {
    pub hash: String,
    pub size: i64,
    /// The object its bytes lie in, when not at its content address.
    pub object: Option<String>,
}

impl Tx {
    /// Adds `n` references to a blob, recording it if it is new.
    pub async fn add_blob_refs(&mut self, blob: &StoredBlob, n: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO blobs (hash, size, sha1, quickxor, refcount, zero_since, object) \
             VALUES ($1, $2, $3, $4, $5, NULL, $6) \
             ON CONFLICT (hash) DO UPDATE SET refcount = blobs.refcount + $5, zero_since = NULL",
        )
        .bind(&blob.sha256)
        .bind(blob.size as i64)
        .bind(&blob.sha1)
        .bind(&blob.quickxor)
        .bind(n)
        .bind(&blob.object)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Records stored content that no item references (its metadata write failed), so that
    /// upkeep removes it after the grace period; a blob already known is left as it is.
    pub async fn note_unreferenced_blob(&mut self, blob: &StoredBlob, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO blobs (hash, size, sha1, quickxor, refcount, zero_since, object) \
             VALUES ($1, $2, $3, $4, 0, $5, $6) ON CONFLICT (hash) DO NOTHING",
        )
        .bind(&blob.sha256)
        .bind(blob.size as i64)
        .bind(&blob.sha1)
        .bind(&blob.quickxor)
        .bind(now)
        .bind(&blob.object)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Adds `n` references to a blob the store already holds.
    pub async fn retain_blob(&mut self, hash: &str, n: i64) -> Result<()> {
        sqlx::query("UPDATE blobs SET refcount = refcount + $2, zero_since = NULL WHERE hash = $1")
            .bind(hash)
            .bind(n)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn release_blob_refs(&mut self, hash: &str, n: i64, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE blobs SET refcount = refcount - $2, \
             zero_since = CASE WHEN refcount - $2 <= 0 THEN $3 ELSE NULL END WHERE hash = $1",
        )
        .bind(hash)
        .bind(n)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Forgets blobs that have had no reference since before `cutoff` (and that no running
    /// copy's snapshot holds); returns them so their bytes can be removed. The conditions are
    /// checked again on the row itself, after any concurrent reference was taken.
    pub async fn take_unreferenced_blobs(
        &mut self,
        cutoff: i64,
        limit: i64,
    ) -> Result<Vec<CollectedBlob>> {
        let rows: Vec<(String, i64, Option<String>)> = sqlx::query_as(
            "DELETE FROM blobs WHERE hash IN (SELECT b.hash FROM blobs b \
             WHERE b.refcount <= 0 AND b.zero_since < $1 \
             AND NOT EXISTS (SELECT 1 FROM copy_preserved p WHERE p.blob_hash = b.hash) LIMIT $2) \
             AND refcount <= 0 AND zero_since < $1 RETURNING hash, size, object",
        )
        .bind(cutoff)
        .bind(limit)
        .fetch_all(self.conn())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(hash, size, object)| CollectedBlob { hash, size, object })
            .collect())
    }

    /// The object a blob's bytes lie in: `None` when no blob has that hash, `Some(None)` when it
    /// lies at its content address.
    pub async fn blob_object(&mut self, hash: &str) -> Result<Option<Option<String>>> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT object FROM blobs WHERE hash = $1")
                .bind(hash)
                .fetch_optional(self.conn())
                .await?;
        Ok(row.map(|r| r.0))
    }

    /// True when a blob's row names `object`.
    pub async fn object_is_named(&mut self, object: &str) -> Result<bool> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT size FROM blobs WHERE object = $1")
            .bind(object)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.is_some())
    }

    /// Notes an object about to be written, so that it is found if the writer never finishes.
    pub async fn stage_object(&mut self, object: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO staged_objects (object, touched_at) VALUES ($1, $2) \
             ON CONFLICT (object) DO UPDATE SET touched_at = $2",
        )
        .bind(object)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Forgets a staged object: a blob's row names it, or it was removed.
    pub async fn unstage_object(&mut self, object: &str) -> Result<()> {
        sqlx::query("DELETE FROM staged_objects WHERE object = $1")
            .bind(object)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Staged objects last touched before `before`, each with whether a blob's row names it.
    pub async fn stale_staged_objects(
        &mut self,
        before: i64,
        limit: i64,
    ) -> Result<Vec<(String, bool)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT s.object, CAST(CASE WHEN EXISTS (SELECT 1 FROM blobs b \
             WHERE b.object = s.object) THEN 1 ELSE 0 END AS BIGINT) FROM staged_objects s WHERE s.touched_at < $1 \
             ORDER BY s.touched_at LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(self.conn())
        .await?;
        Ok(rows.into_iter().map(|(o, named)| (o, named != 0)).collect())
    }
}
