//! Reference counts of content blobs. A blob whose count drops to zero is kept for a grace
//! period (`zero_since`) before it is collected, so that download links issued before the last
//! delete keep working that long. Upkeep removes the bytes while it holds the rows it deletes,
//! and an upload places its bytes while it holds the row it references: the two never overlap.

use super::Tx;
use crate::{Result, StoredBlob};

impl Tx {
    /// Adds `n` references to a blob, recording it if it is new.
    pub async fn add_blob_refs(&mut self, blob: &StoredBlob, n: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO blobs (hash, size, sha1, quickxor, refcount, zero_since) \
             VALUES ($1, $2, $3, $4, $5, NULL) \
             ON CONFLICT (hash) DO UPDATE SET refcount = blobs.refcount + $5, zero_since = NULL",
        )
        .bind(&blob.sha256)
        .bind(blob.size as i64)
        .bind(&blob.sha1)
        .bind(&blob.quickxor)
        .bind(n)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Records stored content that no item references (its metadata write failed), so that
    /// upkeep removes it after the grace period; a blob already known is left as it is.
    pub async fn note_unreferenced_blob(&mut self, blob: &StoredBlob, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO blobs (hash, size, sha1, quickxor, refcount, zero_since) \
             VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT (hash) DO NOTHING",
        )
        .bind(&blob.sha256)
        .bind(blob.size as i64)
        .bind(&blob.sha1)
        .bind(&blob.quickxor)
        .bind(now)
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
    /// copy's snapshot holds); returns their hashes and sizes so their bytes can be removed. The conditions
    /// are checked again on the row itself, after any concurrent reference was taken.
    pub async fn take_unreferenced_blobs(
        &mut self,
        cutoff: i64,
        limit: i64,
    ) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "DELETE FROM blobs WHERE hash IN (SELECT b.hash FROM blobs b \
             WHERE b.refcount <= 0 AND b.zero_since < $1 \
             AND NOT EXISTS (SELECT 1 FROM copy_preserved p WHERE p.blob_hash = b.hash) LIMIT $2) \
             AND refcount <= 0 AND zero_since < $1 RETURNING hash, size",
        )
        .bind(cutoff)
        .bind(limit)
        .fetch_all(self.conn())
        .await?)
    }
}
