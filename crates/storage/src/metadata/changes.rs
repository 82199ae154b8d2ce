//! The change journal. Every change to an item goes through [`Tx::record_change`], inside the
//! transaction that makes it: it keeps the copy snapshot of running copies right and writes one
//! numbered row per change into its drive's journal, which delta reads.

use super::Tx;
use crate::Result;

/// A change to one item, as a writing transaction records it. A change is recorded before the
/// row changes (so that a running copy can keep its previous version), except for an item that
/// is new to the tree (`Created`, `Published`), which is recorded once it is there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemChange {
    /// A new file or folder.
    Created { id: i64 },
    /// New client-side times (`fileSystemInfo`).
    Updated { id: i64 },
    /// A new name in the same folder.
    Renamed { id: i64 },
    /// Into another folder (and maybe a new name); into its own folder, it is recorded as
    /// `Renamed`.
    Moved { id: i64, to: i64 },
    /// A file's content replaced.
    ContentReplaced { id: i64 },
    /// Moved into the recycle bin, with everything below it.
    Deleted { id: i64 },
    /// Back from the recycle bin into `to`, with everything below it.
    Restored { id: i64, to: i64 },
    /// Removed for good, with everything below it.
    Purged { id: i64 },
    /// Made by a copy, which has just moved it into `to` with everything below it.
    Published { id: i64, to: i64 },
}

impl ItemChange {
    pub fn item(self) -> i64 {
        match self {
            ItemChange::Created { id }
            | ItemChange::Updated { id }
            | ItemChange::Renamed { id }
            | ItemChange::Moved { id, .. }
            | ItemChange::ContentReplaced { id }
            | ItemChange::Deleted { id }
            | ItemChange::Restored { id, .. }
            | ItemChange::Purged { id }
            | ItemChange::Published { id, .. } => id,
        }
    }

    fn kind(self) -> ChangeKind {
        match self {
            ItemChange::Created { .. } => ChangeKind::Created,
            ItemChange::Updated { .. } => ChangeKind::Updated,
            ItemChange::Renamed { .. } => ChangeKind::Renamed,
            ItemChange::Moved { .. } => ChangeKind::Moved,
            ItemChange::ContentReplaced { .. } => ChangeKind::ContentReplaced,
            ItemChange::Deleted { .. } | ItemChange::Purged { .. } => ChangeKind::Deleted,
            ItemChange::Restored { .. } => ChangeKind::Restored,
            ItemChange::Published { .. } => ChangeKind::Published,
        }
    }
}

/// What a journal row says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Created,
    Updated,
    Renamed,
    Moved,
    ContentReplaced,
    Deleted,
    Restored,
    Published,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Updated => "updated",
            ChangeKind::Renamed => "renamed",
            ChangeKind::Moved => "moved",
            ChangeKind::ContentReplaced => "contentReplaced",
            ChangeKind::Deleted => "deleted",
            ChangeKind::Restored => "restored",
            ChangeKind::Published => "published",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            ChangeKind::Created,
            ChangeKind::Updated,
            ChangeKind::Renamed,
            ChangeKind::Moved,
            ChangeKind::ContentReplaced,
            ChangeKind::Deleted,
            ChangeKind::Restored,
            ChangeKind::Published,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// True when the item came into the tree with everything below it, which a client has
    /// never seen.
    pub fn brings_subtree(self) -> bool {
        matches!(self, ChangeKind::Restored | ChangeKind::Published)
    }
}

/// One row of a drive's journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeRecord {
    pub seq: i64,
    pub item_id: i64,
    pub kind: ChangeKind,
    /// The folder the item was in before the change.
    pub parent_id: Option<i64>,
    pub is_folder: bool,
    pub at: i64,
}

/// Where a drive's journal stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JournalState {
    /// The number of the drive's latest change.
    pub latest: i64,
    /// Changes up to this number are forgotten.
    pub floor: i64,
}

impl Tx {
    /// Records one change to an item: the copy snapshot first, then the journal row (see
    /// [`ItemChange`] for when to call it). Removing an item that is in no folder (a copy's
    /// placeholder, something already in the recycle bin) changes nothing a client can see
    /// and writes no row.
    pub async fn record_change(&mut self, change: ItemChange, now: i64) -> Result<()> {
        let row: Option<(String, Option<i64>, i64)> =
            sqlx::query_as("SELECT drive_id, parent_id, is_folder FROM items WHERE id = $1")
                .bind(change.item())
                .fetch_optional(self.conn())
                .await?;
        let Some((drive_id, parent_id, is_folder)) = row else {
            return Ok(());
        };
        // A move into the folder the item is in already is a rename.
        let change = match change {
            ItemChange::Moved { id, to } if parent_id == Some(to) => ItemChange::Renamed { id },
            c => c,
        };
        self.snapshot_change(change).await?;
        if parent_id.is_none() && matches!(change, ItemChange::Purged { .. }) {
            return Ok(());
        }
        let (seq,): (i64,) = sqlx::query_as(
            "UPDATE drives SET change_seq = change_seq + 1 WHERE id = $1 RETURNING change_seq",
        )
        .bind(&drive_id)
        .fetch_one(self.conn())
        .await?;
        sqlx::query(
            "INSERT INTO item_changes (drive_id, seq, item_id, kind, parent_id, is_folder, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&drive_id)
        .bind(seq)
        .bind(change.item())
        .bind(change.kind().as_str())
        .bind(parent_id)
        .bind(is_folder)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The number of a drive's latest change, and of the last one forgotten.
    pub async fn journal_state(&mut self, drive_id: &str) -> Result<Option<JournalState>> {
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT change_seq, journal_floor FROM drives WHERE id = $1")
                .bind(drive_id)
                .fetch_optional(self.conn())
                .await?;
        Ok(row.map(|(latest, floor)| JournalState { latest, floor }))
    }

    /// A drive's changes numbered in `(after, upto]`, oldest first, `limit` at most.
    pub async fn changes_between(
        &mut self,
        drive_id: &str,
        after: i64,
        upto: i64,
        limit: i64,
    ) -> Result<Vec<ChangeRecord>> {
        let rows: Vec<(i64, i64, String, Option<i64>, i64, i64)> = sqlx::query_as(
            "SELECT seq, item_id, kind, parent_id, is_folder, at FROM item_changes \
             WHERE drive_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4",
        )
        .bind(drive_id)
        .bind(after)
        .bind(upto)
        .bind(limit)
        .fetch_all(self.conn())
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(seq, item_id, kind, parent_id, is_folder, at)| ChangeRecord {
                    seq,
                    item_id,
                    // Every row was written from a `ChangeKind`; an unknown one reads as an update,
                    // which shows the item in its latest state.
                    kind: ChangeKind::parse(&kind).unwrap_or(ChangeKind::Updated),
                    parent_id,
                    is_folder: is_folder != 0,
                    at,
                },
            )
            .collect())
    }

    /// Forgets journal rows written before `before`, raising each drive's floor past them, so
    /// that a delta token older than them is told to start over. Returns how many went.
    pub async fn forget_changes(&mut self, before: i64) -> Result<u64> {
        sqlx::query(
            "UPDATE drives SET journal_floor = (SELECT MAX(c.seq) FROM item_changes c \
             WHERE c.drive_id = drives.id AND c.at < $1) \
             WHERE EXISTS (SELECT 1 FROM item_changes c WHERE c.drive_id = drives.id AND c.at < $1)",
        )
        .bind(before)
        .execute(self.conn())
        .await?;
        Ok(sqlx::query("DELETE FROM item_changes WHERE at < $1")
            .bind(before)
            .execute(self.conn())
            .await?
            .rows_affected())
    }
}
