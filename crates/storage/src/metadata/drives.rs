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
