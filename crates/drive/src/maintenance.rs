//! Background upkeep: expired upload sessions and content no item references any more.

use crate::error::Result;
use crate::service::{DriveService, now_millis};

/// How long the monitor of a finished copy keeps answering.
const FINISHED_COPY_TTL_MILLIS: i64 = 24 * 3600 * 1000;

/// What one round of upkeep removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Collected {
    pub upload_sessions: usize,
    pub blobs: usize,
}

impl DriveService {
    pub async fn collect_garbage(&self) -> Result<Collected> {
        let now = now_millis();
        let mut tx = self.store().write().await?;
        let sessions = tx.take_expired_upload_sessions(now).await?;
        let blobs = tx
            .take_unreferenced_blobs(now.saturating_sub(self.config().blob_grace_millis), 1000)
            .await?;
        // The bytes go while the blobs' rows are still locked: an upload of the same bytes waits
        // for this transaction to end, then finds them gone and places its own copy.
        for b in &blobs {
            self.blobs().remove(b).await?;
        }
        let leftovers = tx.finished_jobs_with_state().await?;
        for job in &leftovers {
            tx.forget_copy_state(job, 50_000).await?;
        }
        tx.expire_copy_jobs(now - FINISHED_COPY_TTL_MILLIS).await?;
        tx.commit().await?;
        for s in &sessions {
            let _ = self.blobs().remove_parts(s).await;
        }
        Ok(Collected {
            upload_sessions: sessions.len(),
            blobs: blobs.len(),
        })
    }
}
