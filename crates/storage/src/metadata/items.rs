//! Items: files and folders.

use super::{ChildOrder, ContentTotals, FileContent, ItemChange, ItemRecord, NewItem, Tx};
use crate::Result;

/// Every item read joins its blob's hashes and its authors' names.
macro_rules! item_select {
    () => {
        "SELECT i.id, i.drive_id, i.parent_id, i.name, i.is_folder, i.size, i.child_count, \
         i.descendants, i.descendant_files, i.blob_hash, i.mime_type, i.created_at, i.modified_at, i.created_by, i.modified_by, \
         i.fs_created_at, i.fs_modified_at, i.etag_rev, i.ctag_rev, b.sha1, b.quickxor, \
         pc.display_name AS created_by_name, pc.kind AS created_by_kind, \
         pm.display_name AS modified_by_name, pm.kind AS modified_by_kind \
         FROM items i LEFT JOIN blobs b ON b.hash = i.blob_hash \
         LEFT JOIN principals pc ON pc.id = i.created_by \
         LEFT JOIN principals pm ON pm.id = i.modified_by "
    };
}

/// The ids of a folder and everything below it.
macro_rules! subtree_cte {
    () => {
        "WITH RECURSIVE sub(id) AS (SELECT CAST($1 AS BIGINT) \
         UNION ALL SELECT i.id FROM items i JOIN sub ON i.parent_id = sub.id) "
    };
}

/// One step up from an item to the root.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Ancestor {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub name: String,
}

impl Tx {
    pub async fn item(&mut self, id: i64) -> Result<Option<ItemRecord>> {
        Ok(sqlx::query_as(concat!(item_select!(), "WHERE i.id = $1"))
            .bind(id)
            .fetch_optional(self.conn())
            .await?)
    }

    pub async fn child_by_name(
        &mut self,
        parent_id: i64,
        name_key: &str,
    ) -> Result<Option<ItemRecord>> {
        Ok(sqlx::query_as(concat!(
            item_select!(),
            "WHERE i.parent_id = $1 AND i.name_key = $2"
        ))
        .bind(parent_id)
        .bind(name_key)
        .fetch_optional(self.conn())
        .await?)
    }

    /// One page of a folder's children, after the `after` name key (exclusive) in `order`.
    pub async fn children(
        &mut self,
        parent_id: i64,
        order: ChildOrder,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ItemRecord>> {
        let query = match (order, after.is_some()) {
            (ChildOrder::NameAsc, false) => {
                concat!(
                    item_select!(),
                    "WHERE i.parent_id = $1 ORDER BY i.name_key LIMIT $2"
                )
            }
            (ChildOrder::NameAsc, true) => concat!(
                item_select!(),
                "WHERE i.parent_id = $1 AND i.name_key > $3 ORDER BY i.name_key LIMIT $2"
            ),
            (ChildOrder::NameDesc, false) => {
                concat!(
                    item_select!(),
                    "WHERE i.parent_id = $1 ORDER BY i.name_key DESC LIMIT $2"
                )
            }
            (ChildOrder::NameDesc, true) => concat!(
                item_select!(),
                "WHERE i.parent_id = $1 AND i.name_key < $3 ORDER BY i.name_key DESC LIMIT $2"
            ),
        };
        let mut q = sqlx::query_as(query).bind(parent_id).bind(limit);
        if let Some(after) = after {
            q = q.bind(after);
        }
        Ok(q.fetch_all(self.conn()).await?)
    }

    /// True when some item below `folder` lies deeper than `budget` characters: its path
    /// relative to the folder (each name and one separator before it) is longer. The walk goes
    /// down the folders only (through `items_folders`); every folder's children are then read
    /// from the covering name index alone, never from their rows. (A name key is the name in
    /// lower case: as long as the name, save for a few letters that lower-case longer, which
    /// then count a little long.)
    pub async fn path_longer_below(&mut self, folder: i64, budget: i64) -> Result<bool> {
        let row: Option<(i64,)> = sqlx::query_as(
            "WITH RECURSIVE f(id, len) AS ( \
               SELECT CAST($1 AS BIGINT), CAST(0 AS BIGINT) \
               UNION ALL SELECT i.id, f.len + LENGTH(i.name) + 1 \
               FROM f JOIN items i ON i.parent_id = f.id WHERE i.is_folder = 1) \
             SELECT CAST(1 AS BIGINT) FROM f JOIN items c ON c.parent_id = f.id \
             WHERE f.len + LENGTH(c.name_key) + 1 > $2 LIMIT 1",
        )
        .bind(folder)
        .bind(budget)
        .fetch_optional(self.conn())
        .await?;
        Ok(row.is_some())
    }

    /// Creates a drive's root folder, which has no parent.
    pub async fn insert_root(&mut self, drive_id: &str, author: &str, now: i64) -> Result<i64> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO items (drive_id, parent_id, name, name_key, is_folder, size, child_count, \
             descendants, created_at, modified_at, created_by, modified_by, fs_created_at, \
             fs_modified_at, etag_rev, ctag_rev) \
             VALUES ($1, NULL, 'root', 'root', 1, 0, 0, 0, $2, $2, $3, $3, $2, $2, 1, 1) RETURNING id",
        )
        .bind(drive_id)
        .bind(now)
        .bind(author)
        .fetch_one(self.conn())
        .await?;
        Ok(id)
    }

    /// Inserts a file or folder under its parent and updates the totals of the folders above.
    pub async fn insert_item(&mut self, item: &NewItem) -> Result<i64> {
        let (is_folder, size, blob, mime) = match &item.file {
            Some(f) => (
                0i64,
                f.size,
                Some(f.blob_hash.as_str()),
                Some(f.mime_type.as_str()),
            ),
            None => (1, 0, None, None),
        };
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO items (drive_id, parent_id, name, name_key, is_folder, size, child_count, \
             descendants, blob_hash, mime_type, created_at, modified_at, created_by, modified_by, \
             fs_created_at, fs_modified_at, etag_rev, ctag_rev) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, 0, $7, $8, $9, $9, $10, $10, $11, $12, 1, 1) \
             RETURNING id",
        )
        .bind(&item.drive_id)
        .bind(item.parent_id)
        .bind(&item.name)
        .bind(&item.name_key)
        .bind(is_folder)
        .bind(size)
        .bind(blob)
        .bind(mime)
        .bind(item.now)
        .bind(&item.author)
        .bind(item.fs_created_at)
        .bind(item.fs_modified_at)
        .fetch_one(self.conn())
        .await?;
        self.record_change(ItemChange::Created { id }, item.now)
            .await?;
        let added = ContentTotals {
            size,
            items: 1,
            files: 1 - is_folder,
            children: 1,
        };
        self.adjust_folder_totals(item.parent_id, added).await?;
        Ok(id)
    }

    /// Adds `delta.children` to a folder's child count, and the rest of `delta` to the totals of
    /// it and of every folder above it.
    pub async fn adjust_folder_totals(
        &mut self,
        folder_id: i64,
        delta: ContentTotals,
    ) -> Result<()> {
        let chain: Vec<i64> = self
            .ancestors(folder_id)
            .await?
            .into_iter()
            .map(|a| a.id)
            .collect();
        self.snapshot_totals(&chain).await?;
        if delta.children != 0 {
            sqlx::query("UPDATE items SET child_count = child_count + $2 WHERE id = $1")
                .bind(folder_id)
                .bind(delta.children)
                .execute(self.conn())
                .await?;
        }
        if delta.size != 0 || delta.items != 0 || delta.files != 0 {
            let list = (0..chain.len())
                .map(|i| format!("${}", i + 4))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "UPDATE items SET size = size + $1, descendants = descendants + $2, \
                 descendant_files = descendant_files + $3 WHERE id IN ({list})"
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(delta.size)
                .bind(delta.items)
                .bind(delta.files);
            for id in chain {
                q = q.bind(id);
            }
            q.execute(self.conn()).await?;
        }
        Ok(())
    }

    /// The item and every folder above it, nearest first, ending with the top (a drive's root,
    /// or the placeholder of a copy being built). One primary-key lookup a level: trees are
    /// shallow, and the plan never depends on table statistics.
    pub async fn ancestors(&mut self, id: i64) -> Result<Vec<Ancestor>> {
        let mut chain: Vec<Ancestor> = vec![];
        let mut next = Some(id);
        while let Some(id) = next {
            let row: Option<Ancestor> =
                sqlx::query_as("SELECT id, parent_id, name FROM items WHERE id = $1")
                    .bind(id)
                    .fetch_optional(self.conn())
                    .await?;
            let Some(a) = row else { break };
            next = a.parent_id;
            chain.push(a);
        }
        Ok(chain)
    }

    /// Renames and/or moves an item (totals of old and new parents are the caller's concern).
    pub async fn relocate_item(
        &mut self,
        id: i64,
        parent_id: i64,
        name: &str,
        name_key: &str,
        author: &str,
        now: i64,
    ) -> Result<()> {
        // Recorded as a rename when the folder stays the same.
        self.record_change(ItemChange::Moved { id, to: parent_id }, now)
            .await?;
        sqlx::query(
            "UPDATE items SET parent_id = $2, name = $3, name_key = $4, modified_by = $5, \
             modified_at = $6, etag_rev = etag_rev + 1 WHERE id = $1",
        )
        .bind(id)
        .bind(parent_id)
        .bind(name)
        .bind(name_key)
        .bind(author)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Points a file at new content (blob references are the caller's concern).
    pub async fn set_item_content(
        &mut self,
        id: i64,
        content: &FileContent,
        author: &str,
        now: i64,
        fs_modified_at: i64,
    ) -> Result<()> {
        self.record_change(ItemChange::ContentReplaced { id }, now)
            .await?;
        sqlx::query(
            "UPDATE items SET blob_hash = $2, size = $3, mime_type = $4, modified_by = $5, \
             modified_at = $6, fs_modified_at = $7, etag_rev = etag_rev + 1, \
             ctag_rev = ctag_rev + 1 WHERE id = $1",
        )
        .bind(id)
        .bind(&content.blob_hash)
        .bind(content.size)
        .bind(&content.mime_type)
        .bind(author)
        .bind(now)
        .bind(fs_modified_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn set_item_fs_times(
        &mut self,
        id: i64,
        created: i64,
        modified: i64,
        author: &str,
        now: i64,
    ) -> Result<()> {
        self.record_change(ItemChange::Updated { id }, now).await?;
        sqlx::query(
            "UPDATE items SET fs_created_at = $2, fs_modified_at = $3, modified_by = $4, \
             modified_at = $5, etag_rev = etag_rev + 1 WHERE id = $1",
        )
        .bind(id)
        .bind(created)
        .bind(modified)
        .bind(author)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Deletes an item with everything below it for good (their earlier versions and recycle
    /// bin entries too) and releases the blobs they referenced. The totals of the folders above
    /// are the caller's concern.
    pub async fn delete_subtree(&mut self, id: i64, now: i64) -> Result<()> {
        self.record_change(ItemChange::Purged { id }, now).await?;
        self.forget_versions_below(id, now).await?;
        // Only an item detached from the tree has an entry: nothing below one can have its own.
        sqlx::query("DELETE FROM recycle_bin WHERE item_id = $1")
            .bind(id)
            .execute(self.conn())
            .await?;
        sqlx::query(concat!(
            subtree_cte!(),
            ", refs AS (SELECT i.blob_hash AS hash, COUNT(*) AS n FROM items i \
             WHERE i.id IN (SELECT id FROM sub) AND i.blob_hash IS NOT NULL GROUP BY i.blob_hash) \
             UPDATE blobs SET refcount = blobs.refcount - refs.n, \
             zero_since = CASE WHEN blobs.refcount - refs.n <= 0 THEN $2 ELSE NULL END \
             FROM refs WHERE blobs.hash = refs.hash"
        ))
        .bind(id)
        .bind(now)
        .execute(self.conn())
        .await?;
        sqlx::query(concat!(
            subtree_cte!(),
            "DELETE FROM items WHERE id IN (SELECT id FROM sub)"
        ))
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
