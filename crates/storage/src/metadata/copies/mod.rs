//! Copy jobs and the set-based SQL that copies a tree.
//!
//! A copy is built level by level, in batches, under a hidden placeholder folder (a folder with no
//! parent that no drive root leads to), then published by moving what is under the placeholder
//! into the destination in one transaction. Each batch is a handful of `INSERT … SELECT`
//! statements over a whole slice of a level; folders get their new ids through `copy_map`.
//!
//! A running copy reads its source as it was when the copy was accepted: writes that change rows
//! of an active copy's source keep their previous version in `copy_preserved`, and items that
//! arrive in the source later are listed in `copy_excluded` (see `snapshot.rs`).
//!
//! `jobs.rs` holds the job rows, `tree.rs` the SQL that copies a tree, `snapshot.rs` what keeps a
//! running copy's source as it was.

mod jobs;
mod snapshot;
mod tree;

pub use tree::StagedClash;

use sqlx::FromRow;

pub const NOT_STARTED: &str = "notStarted";
pub const IN_PROGRESS: &str = "inProgress";
pub const COMPLETED: &str = "completed";
pub const FAILED: &str = "failed";

#[derive(Clone, Debug, FromRow)]
pub struct CopyJobRecord {
    pub id: String,
    pub caller_id: String,
    pub client_request_id: Option<String>,
    pub status: String,
    pub source_drive: String,
    pub source_id: i64,
    pub dest_drive: String,
    pub dest_parent_id: i64,
    pub name: Option<String>,
    pub children_only: i64,
    pub conflict: String,
    pub total_items: i64,
    pub copied_items: i64,
    pub placeholder_id: Option<i64>,
    /// The level whose children are being copied (the placeholder's level is 0).
    pub depth: i64,
    /// The last parent folder (old id) of `depth` whose children are all copied.
    pub parent_cursor: i64,
    /// Inside a parent too large for one batch: the last child name key copied.
    pub key_cursor: Option<String>,
    pub cancel_requested: i64,
    pub result_id: Option<i64>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub error_target: Option<String>,
    pub owner: Option<String>,
    pub heartbeat_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
    /// Set (by migration 0004) for a job that ran across the upgrade that introduced file
    /// counts: what it built is recounted ([`Tx::recount_files_below`]) before it is published.
    /// A new job never needs it, and it is not written back.
    pub recount_files: i64,
    /// 1 when the copy carries the earlier versions of the files it copies.
    pub include_versions: i64,
}

impl CopyJobRecord {
    pub fn is_active(&self) -> bool {
        self.status == NOT_STARTED || self.status == IN_PROGRESS
    }
}

/// Who makes a copy, where and when: what every statement of a copy job writes into new rows.
#[derive(Clone, Copy, Debug)]
pub struct CopyWriter<'a> {
    pub job_id: &'a str,
    pub dest_drive: &'a str,
    pub author: &'a str,
    pub now: i64,
}

/// The part of a level one batch copies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LevelSlice {
    /// The children of this level's folders whose (old) ids are in `(after, upto]`.
    Parents { after: i64, upto: i64 },
    /// The children of one large folder whose name keys are in `(after, upto]`.
    Children {
        parent: i64,
        after: Option<String>,
        upto: Option<String>,
    },
}
