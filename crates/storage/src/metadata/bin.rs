//! The recycle bin: deleted items wait here, detached from the tree, until they are restored or
//! purged. Deleting and restoring move one row, whatever lies below it.

use super::{ItemChange, Tx};
use crate::Result;

/// An item in the recycle bin, with where it was deleted from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BinEntry {
    pub item_id: i64,
    pub drive_id: String,
    /// The folder it was deleted from.
    pub parent_id: i64,
    /// That folder's path from the root (`""` for the root itself).
    pub from_path: String,
    pub deleted_at: i64,
    pub deleted_by: String,
}

type BinRow = (i64, String, i64, String, i64, String);

fn entry(r: BinRow) -> BinEntry {
    BinEntry {
        item_id: r.0,
        drive_id: r.1,
        parent_id: r.2,
        from_path: r.3,
        deleted_at: r.4,
        deleted_by: r.5,
    }
}

const BIN_COLUMNS: &str = "item_id, drive_id, parent_id, from_path, deleted_at, deleted_by";

impl Tx {
    /// Moves an item (and so everything below it) into its drive's recycle bin. The totals of
    /// the folder it leaves are the caller's concern.
    pub async fn bin_item(
        &mut self,
        id: i64,
        from_path: &str,
        author: &str,
        now: i64,
    ) -> Result<()> {
        self.record_change(ItemChange::Deleted { id }, now).await?;
        sqlx::query(
            "INSERT INTO recycle_bin (item_id, drive_id, parent_id, from_path, deleted_at, deleted_by) \
             SELECT id, drive_id, parent_id, $2, $3, $4 FROM items WHERE id = $1",
        )
        .bind(id)
        .bind(from_path)
        .bind(now)
        .bind(author)
        .execute(self.conn())
        .await?;
        sqlx::query("UPDATE items SET parent_id = NULL WHERE id = $1")
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Puts an item from the recycle bin back under `parent` as `name`. The totals of the folder
    /// it joins are the caller's concern.
    pub async fn restore_item(
        &mut self,
        id: i64,
        parent: i64,
        name: &str,
        name_key: &str,
        now: i64,
    ) -> Result<()> {
        self.record_change(ItemChange::Restored { id, to: parent }, now)
            .await?;
        sqlx::query("DELETE FROM recycle_bin WHERE item_id = $1")
            .bind(id)
            .execute(self.conn())
            .await?;
        sqlx::query(
            "UPDATE items SET parent_id = $2, name = $3, name_key = $4, etag_rev = etag_rev + 1 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(parent)
        .bind(name)
        .bind(name_key)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn bin_entry(&mut self, id: i64) -> Result<Option<BinEntry>> {
        let sql = format!("SELECT {BIN_COLUMNS} FROM recycle_bin WHERE item_id = $1");
        let row: Option<BinRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.map(entry))
    }

    /// One page of a drive's recycle bin, newest first, after the entry `after` (its deletion
    /// time and item id).
    pub async fn bin_page(
        &mut self,
        drive_id: &str,
        after: Option<(i64, i64)>,
        limit: i64,
    ) -> Result<Vec<BinEntry>> {
        let (at, id) = after.unwrap_or((i64::MAX, i64::MAX));
        let sql = format!(
            "SELECT {BIN_COLUMNS} FROM recycle_bin WHERE drive_id = $1 \
             AND (deleted_at < $2 OR (deleted_at = $2 AND item_id < $3)) \
             ORDER BY deleted_at DESC, item_id DESC LIMIT $4"
        );
        let rows: Vec<BinRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(drive_id)
            .bind(at)
            .bind(id)
            .bind(limit)
            .fetch_all(self.conn())
            .await?;
        Ok(rows.into_iter().map(entry).collect())
    }

    /// Bytes a drive's recycle bin holds.
    pub async fn binned_size(&mut self, drive_id: &str) -> Result<i64> {
        let (size,): (i64,) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(i.size), 0) AS BIGINT) FROM recycle_bin r \
             JOIN items i ON i.id = r.item_id WHERE r.drive_id = $1",
        )
        .bind(drive_id)
        .fetch_one(self.conn())
        .await?;
        Ok(size)
    }

    /// Items deleted before `before`, oldest first, `limit` at most.
    pub async fn expired_bin_items(&mut self, before: i64, limit: i64) -> Result<Vec<BinEntry>> {
        let sql = format!(
            "SELECT {BIN_COLUMNS} FROM recycle_bin WHERE deleted_at < $1 \
             ORDER BY deleted_at LIMIT $2"
        );
        let rows: Vec<BinRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(before)
            .bind(limit)
            .fetch_all(self.conn())
            .await?;
        Ok(rows.into_iter().map(entry).collect())
    }
}
