use super::{Tx, UploadSessionRecord};
use crate::Result;

impl Tx {
    pub async fn insert_upload_session(&mut self, s: &UploadSessionRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO upload_sessions (id, drive_id, parent_id, name, conflict, if_match, \
             file_size, received, principal_id, fs_created_at, fs_modified_at, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&s.id)
        .bind(&s.drive_id)
        .bind(s.parent_id)
        .bind(&s.name)
        .bind(&s.conflict)
        .bind(&s.if_match)
        .bind(s.file_size)
        .bind(s.received)
        .bind(&s.principal_id)
        .bind(s.fs_created_at)
        .bind(s.fs_modified_at)
        .bind(s.created_at)
        .bind(s.expires_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Upload sessions not yet expired, in every drive.
    pub async fn open_upload_sessions(&mut self, now: i64) -> Result<i64> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM upload_sessions WHERE expires_at > $1")
                .bind(now)
                .fetch_one(self.conn())
                .await?;
        Ok(n)
    }

    pub async fn upload_session(&mut self, id: &str) -> Result<Option<UploadSessionRecord>> {
        Ok(
            sqlx::query_as("SELECT * FROM upload_sessions WHERE id = $1")
                .bind(id)
                .fetch_optional(self.conn())
                .await?,
        )
    }

    /// Accepts a stored fragment `object` covering `start..end`, only if the session still
    /// expects `start`: of two fragments racing for the same range, one wins.
    pub async fn accept_upload_part(
        &mut self,
        id: &str,
        start: i64,
        end: i64,
        file_size: i64,
        object: &str,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE upload_sessions SET received = $3, file_size = $4 WHERE id = $1 AND received = $2",
        )
        .bind(id)
        .bind(start)
        .bind(end)
        .bind(file_size)
        .execute(self.conn())
        .await?;
        if r.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("INSERT INTO upload_parts (session_id, start, object) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(start)
            .bind(object)
            .execute(self.conn())
            .await?;
        Ok(true)
    }

    /// Where a session's last accepted fragment starts (`None` before the first).
    pub async fn last_upload_part_start(&mut self, id: &str) -> Result<Option<i64>> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT start FROM upload_parts WHERE session_id = $1 ORDER BY start DESC LIMIT 1",
        )
        .bind(id)
        .fetch_optional(self.conn())
        .await?;
        Ok(row.map(|r| r.0))
    }

    /// The stored objects of a session's accepted fragments, in file order.
    pub async fn upload_parts(&mut self, id: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT object FROM upload_parts WHERE session_id = $1 ORDER BY start")
                .bind(id)
                .fetch_all(self.conn())
                .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    pub async fn delete_upload_session(&mut self, id: &str) -> Result<bool> {
        sqlx::query("DELETE FROM upload_parts WHERE session_id = $1")
            .bind(id)
            .execute(self.conn())
            .await?;
        let r = sqlx::query("DELETE FROM upload_sessions WHERE id = $1")
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Removes sessions that expired before `now`; returns their ids so their parts can go.
    pub async fn take_expired_upload_sessions(&mut self, now: i64) -> Result<Vec<String>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("DELETE FROM upload_sessions WHERE expires_at < $1 RETURNING id")
                .bind(now)
                .fetch_all(self.conn())
                .await?;
        sqlx::query(
            "DELETE FROM upload_parts WHERE session_id NOT IN (SELECT id FROM upload_sessions)",
        )
        .execute(self.conn())
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }
}
