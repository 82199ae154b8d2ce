//! Background upkeep: expired upload sessions, content no item references any more, what a
//! crash or a request that broke off left on the blob store, recycle bins and the change journal.

use crate::error::Result;
use crate::service::{DriveService, now_millis};

/// How long the monitor of a finished copy keeps answering.
const FINISHED_COPY_TTL_MILLIS: i64 = 24 * 3600 * 1000;
/// Staged content not written to for this long, and held by no request of this process, was
/// left by a crash or by a request that broke off. (A live upload writes far more often: its
/// body may not stall for longer than the body timeout.)
const STAGED_GRACE_MILLIS: i64 = 15 * 60 * 1000;

/// What one round of upkeep removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Collected {
    pub upload_sessions: usize,
    pub blobs: usize,
    /// Staged files left behind.
    pub staged: usize,
    /// Fragment folders of upload sessions that no longer exist.
    pub orphan_parts: usize,
    /// Items purged from recycle bins (each with everything below it).
    pub purged: usize,
    /// Change journal rows past their retention.
    pub changes: u64,
}

impl DriveService {
    pub async fn collect_garbage(&self) -> Result<Collected> {
        let now = now_millis();
        // Purged items release their blobs before the blobs no item references are collected.
        let purged = self.purge_recycle_bins(now).await?;
        // In a transaction of its own: it takes drive rows, which writers take before blob rows.
        let mut tx = self.store().write().await?;
        let changes = tx
            .forget_changes(now.saturating_sub(self.config().journal_millis))
            .await?;
        tx.commit().await?;
        let mut tx = self.store().write().await?;
        let sessions = tx.take_expired_upload_sessions(now).await?;
        let blobs = tx
            .take_unreferenced_blobs(now.saturating_sub(self.config().blob_grace_millis), 1000)
            .await?;
        // On the local disk the bytes go while the blobs' rows are still locked: an upload of the
        // same bytes waits for this transaction to end, then finds them gone and places its own
        // copy. A bucket's objects go once no row names them any more (after the commit); noted
        // as left over in this transaction, they are swept if this process stops before.
        for b in &blobs {
            match &b.object {
                Some(object) => tx.stage_object(object, 0).await?,
                None => self.blobs().remove(&b.hash, None).await?,
            }
        }
        let leftovers = tx.finished_jobs_with_state().await?;
        for job in &leftovers {
            tx.forget_copy_state(job, 50_000).await?;
        }
        tx.expire_copy_jobs(now - FINISHED_COPY_TTL_MILLIS).await?;
        let sign_ins = tx.remove_expired_sign_ins(now).await?;
        tx.commit().await?;
        for object in blobs.iter().filter_map(|b| b.object.as_deref()) {
            if let Err(e) = self.blobs().remove_released(object).await {
                tracing::warn!(object, error = %e, "could not remove an unreferenced object; upkeep sweeps it later");
            }
        }
        if sign_ins > 0 {
            tracing::info!(
                removed = sign_ins,
                "upkeep: expired codes and refresh tokens removed"
            );
        }
        for s in &sessions {
            let _ = self.blobs().remove_parts(s).await;
        }
        // Leftovers are swept after the rest, and a failure there does not undo what went.
        let staged = self
            .blobs()
            .sweep_staged(now - STAGED_GRACE_MILLIS)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "could not sweep staged content");
                0
            });
        let orphan_parts = self.remove_orphan_parts().await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not sweep orphan upload fragments");
            0
        });
        let freed: i64 = blobs.iter().map(|b| b.size).sum();
        metrics::counter!("graphdrive_blob_gc_runs_total").increment(1);
        metrics::counter!("graphdrive_blob_gc_blobs_removed_total").increment(blobs.len() as u64);
        metrics::counter!("graphdrive_blob_gc_freed_bytes_total").increment(freed.max(0) as u64);
        if !blobs.is_empty() {
            tracing::info!(
                blobs = blobs.len(),
                bytes = freed,
                "removed unreferenced content"
            );
        }
        if staged + orphan_parts > 0 {
            tracing::info!(staged, orphan_parts, "removed content a crash left behind");
        }
        Ok(Collected {
            upload_sessions: sessions.len(),
            blobs: blobs.len(),
            staged,
            orphan_parts,
            purged,
            changes,
        })
    }

    /// Purges what has been in a recycle bin for longer than the bin keeps things: one item (and
    /// its subtree) per transaction, so no write waits long on one.
    async fn purge_recycle_bins(&self, now: i64) -> Result<usize> {
        let before = now.saturating_sub(self.config().recycle_bin_millis);
        let mut purged = 0;
        loop {
            let expired = self
                .store()
                .read()
                .await?
                .expired_bin_items(before, 100)
                .await?;
            if expired.is_empty() {
                break;
            }
            for entry in expired {
                let mut tx = self.store().write().await?;
                tx.lock_drive(&entry.drive_id).await?;
                // Restored or purged meanwhile: nothing to do.
                if tx.bin_entry(entry.item_id).await?.is_some() {
                    tx.delete_subtree(entry.item_id, now).await?;
                    purged += 1;
                }
                tx.commit().await?;
            }
        }
        if purged > 0 {
            tracing::info!(purged, "upkeep: items purged from recycle bins");
            metrics::counter!("graphdrive_recycle_bin_purged_total").increment(purged as u64);
        }
        Ok(purged)
    }

    /// Removes stored fragments whose session is gone (the server stopped between ending a
    /// session and removing its fragments). A session's row exists before any fragment of it
    /// is written, so a folder without one is never written to again.
    async fn remove_orphan_parts(&self) -> Result<usize> {
        let mut removed = 0;
        for session in self.blobs().part_sessions().await? {
            let exists = {
                let mut tx = self.store().read().await?;
                tx.upload_session(&session).await?.is_some()
            };
            if !exists {
                self.blobs().remove_parts(&session).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}
