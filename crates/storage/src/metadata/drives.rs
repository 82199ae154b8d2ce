use super::{DriveRecord, Tx};
use crate::Result;

impl Tx {
    pub async fn insert_drive(&mut self, d: &DriveRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO drives (id, owner_id, drive_type, name, root_id, quota_total, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&d.id)
        .bind(&d.owner_id)
        .bind(&d.drive_type)
        .bind(&d.name)
        .bind(d.root_id)
        .bind(d.quota_total)
        .bind(d.created_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn drive(&mut self, id: &str) -> Result<Option<DriveRecord>> {
        Ok(sqlx::query_as("SELECT * FROM drives WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await?)
    }

    pub async fn drive_of_owner(&mut self, owner_id: &str) -> Result<Option<DriveRecord>> {
        Ok(sqlx::query_as("SELECT * FROM drives WHERE owner_id = $1")
            .bind(owner_id)
            .fetch_optional(self.conn())
            .await?)
    }

    pub async fn set_drive_quota(&mut self, id: &str, quota_total: i64) -> Result<()> {
        sqlx::query("UPDATE drives SET quota_total = $2 WHERE id = $1")
            .bind(id)
            .bind(quota_total)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Bytes the drive's open upload sessions have announced (their `fileSize`, or what they
    /// received when they announced none): room a write must leave in the quota, since those
    /// sessions may complete.
    pub async fn reserved_by_sessions(&mut self, drive_id: &str, now: i64) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(CASE WHEN file_size > received THEN file_size ELSE received END), 0) \
             AS BIGINT) FROM upload_sessions \
             WHERE drive_id = $1 AND expires_at > $2",
        )
        .bind(drive_id)
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        Ok(n)
    }

    /// Removes a drive with everything in it: its items (releasing their content, which upkeep
    /// then collects), its upload sessions and the drive itself. Returns the sessions removed,
    /// whose stored fragments the caller removes.
    pub async fn remove_drive(&mut self, id: &str, now: i64) -> Result<Vec<String>> {
        // The blobs its files and their earlier versions hold (files in the recycle bin too).
        sqlx::query(
            "UPDATE blobs SET refcount = refcount - c.n, \
             zero_since = CASE WHEN refcount - c.n <= 0 THEN $2 ELSE NULL END \
             FROM (SELECT blob_hash, COUNT(*) AS n FROM \
                   (SELECT blob_hash FROM items WHERE drive_id = $1 AND blob_hash IS NOT NULL \
                    UNION ALL SELECT v.blob_hash FROM item_versions v \
                    JOIN items i ON i.id = v.item_id WHERE i.drive_id = $1) r \
                   GROUP BY blob_hash) c \
             WHERE blobs.hash = c.blob_hash",
        )
        .bind(id)
        .bind(now)
        .execute(self.conn())
        .await?;
        for sql in [
            "DELETE FROM item_versions WHERE item_id IN (SELECT id FROM items WHERE drive_id = $1)",
            "DELETE FROM recycle_bin WHERE drive_id = $1",
            "DELETE FROM item_changes WHERE drive_id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(self.conn()).await?;
        }
        sqlx::query("DELETE FROM items WHERE drive_id = $1")
            .bind(id)
            .execute(self.conn())
            .await?;
        let sessions: Vec<(String,)> =
            sqlx::query_as("DELETE FROM upload_sessions WHERE drive_id = $1 RETURNING id")
                .bind(id)
                .fetch_all(self.conn())
                .await?;
        for (s,) in &sessions {
            sqlx::query("DELETE FROM upload_parts WHERE session_id = $1")
                .bind(s)
                .execute(self.conn())
                .await?;
        }
        sqlx::query("DELETE FROM drives WHERE id = $1")
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(sessions.into_iter().map(|s| s.0).collect())
    }

    /// True while a copy job into or out of the drive has not ended.
    pub async fn drive_has_active_copies(&mut self, id: &str) -> Result<bool> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT 1 FROM copy_jobs WHERE (source_drive = $1 OR dest_drive = $1) \
             AND status IN ('notStarted', 'inProgress') LIMIT 1",
        )
        .bind(id)
        .fetch_optional(self.conn())
        .await?;
        Ok(row.is_some())
    }

    /// Makes this transaction the only writer of the drive's tree until it ends (PostgreSQL;
    /// SQLite has one writer anyway). Folder totals are updated up to the root by every write, so
    /// two writers of one drive could otherwise lock folders in opposite orders and deadlock.
    pub async fn lock_drive(&mut self, drive_id: &str) -> Result<()> {
        if self.backend == super::Backend::Postgres {
            sqlx::query("SELECT id FROM drives WHERE id = $1 FOR UPDATE")
                .bind(drive_id)
                .execute(self.conn())
                .await?;
        }
        Ok(())
    }
}
