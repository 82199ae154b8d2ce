//! The copy runner: claims persisted copy jobs and runs each in bounded batches, one short write
//! transaction per batch (with the job's progress saved in the same transaction), so other
//! requests keep being served and a job resumes where it stopped after a crash.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use tracing::Instrument;

use graphdrive_storage::Tx;
use graphdrive_storage::metadata::copies::{self, CopyJobRecord, CopyWriter, LevelSlice};

use crate::error::{DriveError, Result};
use crate::items::path_chars;
use crate::names;
use crate::service::{DriveService, now_millis};

/// A runner that has not saved progress for this long is presumed dead; its jobs are taken over.
const STALE_MILLIS: i64 = 15_000;
/// How many times a batch that failed for a passing reason (a lost database connection, say) is
/// retried before the job fails.
const BATCH_ATTEMPTS: u32 = 5;
/// Folders fetched at a time when planning a batch.
const PLAN_WINDOW: i64 = 1024;

/// The runner's state inside the service.
pub(crate) struct CopyRunner {
    wake: tokio::sync::Notify,
    running: Arc<Mutex<HashSet<String>>>,
    /// Set when the node shuts down: jobs stop at their next batch boundary and are given back.
    must_exit: tokio::sync::watch::Sender<bool>,
    /// Told when a job ends or is given back.
    ended: Arc<tokio::sync::Notify>,
}

impl CopyRunner {
    pub fn new() -> Self {
        Self {
            wake: tokio::sync::Notify::new(),
            running: Arc::default(),
            must_exit: tokio::sync::watch::Sender::new(false),
            ended: Arc::default(),
        }
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn exiting(&self) -> bool {
        *self.must_exit.borrow()
    }
}

/// A job this node runs. However its task ends (done, failed, given back, or a panic), dropping
/// this gives the job back, so that the runner can take it up again.
struct RunningJob {
    id: String,
    running: Arc<Mutex<HashSet<String>>>,
    ended: Arc<tokio::sync::Notify>,
}

impl Drop for RunningJob {
    fn drop(&mut self) {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
        self.ended.notify_waiters();
    }
}

enum Step {
    More,
    Done,
    /// The copy was published: how many items it made, and when it was accepted.
    Finished {
        items: i64,
        accepted_at: i64,
    },
}

impl DriveService {
    pub(crate) fn wake_copy_runner(&self) {
        self.inner.runner.wake.notify_one();
    }

    /// Runs copy jobs until [`DriveService::stop_copy_runner`]: those accepted here, and those
    /// left by a runner that stopped (this process before a restart, or another node).
    pub fn start_copy_runner(&self) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        let mut must_exit = self.inner.runner.must_exit.subscribe();
        tokio::spawn(async move {
            while !*must_exit.borrow() {
                if let Err(e) = service.claim_jobs().await {
                    tracing::warn!(error = %e, "could not look for copy jobs");
                }
                tokio::select! {
                    _ = tokio::time::timeout(
                        Duration::from_secs(1),
                        service.inner.runner.wake.notified(),
                    ) => {}
                    _ = must_exit.changed() => {}
                }
            }
        })
    }

    /// Stops taking up copy jobs and has the running ones stop at their next batch boundary
    /// (a batch is one transaction: what it copied stays) and given back, so that another node,
    /// or this one after a restart, resumes them at once. Waits for that up to `wait`; returns
    /// how many jobs were still running when it gave up waiting.
    pub async fn stop_copy_runner(&self, wait: Duration) -> usize {
        let runner = &self.inner.runner;
        runner.must_exit.send_replace(true);
        let drained = tokio::time::timeout(wait, async {
            loop {
                // Registered before the check, so that a job ending in between is not missed.
                let ended = runner.ended.notified();
                tokio::pin!(ended);
                ended.as_mut().enable();
                if runner.running().is_empty() {
                    return;
                }
                ended.await;
            }
        })
        .await;
        match drained {
            Ok(()) => 0,
            Err(_) => runner.running().len(),
        }
    }

    /// Copy jobs this node runs now.
    pub fn running_copies(&self) -> usize {
        self.inner.runner.running().len()
    }

    async fn claim_jobs(&self) -> Result<()> {
        if self.inner.runner.exiting() {
            return Ok(());
        }
        let running = self.inner.runner.running().clone();
        let free = self
            .config()
            .max_concurrent_copies
            .saturating_sub(running.len());
        if free == 0 {
            return Ok(());
        }
        let now = now_millis();
        let waiting = {
            let mut tx = self.store().read().await?;
            tx.claimable_copy_jobs(now - STALE_MILLIS, &self.config().node_id)
                .await?
        };
        if waiting.iter().all(|id| running.contains(id)) {
            return Ok(());
        }
        let mut tx = self.store().write().await?;
        let claimed = tx
            .claim_copy_jobs(
                &self.config().node_id,
                now,
                now - STALE_MILLIS,
                free,
                &running,
            )
            .await?;
        tx.commit().await?;
        for id in claimed {
            if self.inner.runner.running().insert(id.clone()) {
                let service = self.clone();
                let held = RunningJob {
                    id,
                    running: self.inner.runner.running.clone(),
                    ended: self.inner.runner.ended.clone(),
                };
                let span = tracing::info_span!("copy", job = log_id(&held.id));
                tokio::spawn(
                    async move {
                        service.run_job(&held.id).await;
                        drop(held);
                        service.wake_copy_runner();
                    }
                    .instrument(span),
                );
            }
        }
        Ok(())
    }

    async fn run_job(&self, id: &str) {
        fail::fail_point!("copy-job");
        let mut failures = 0;
        let job = match self.store().read().await {
            Ok(mut tx) => tx.copy_job(id).await.ok().flatten(),
            Err(_) => None,
        };
        // The drives a batch reads and writes, in one order for every runner.
        let drives = job.as_ref().map(|j| {
            let mut d = vec![j.source_drive.clone(), j.dest_drive.clone()];
            d.sort();
            d.dedup();
            d
        });
        if let Some(j) = &job {
            tracing::info!(
                items = j.total_items,
                copied = j.copied_items,
                resumed = j.placeholder_id.is_some(),
                "copy running"
            );
        }
        let mut must_exit = self.inner.runner.must_exit.subscribe();
        loop {
            if *must_exit.borrow() {
                self.give_back(id).await;
                return;
            }
            let step = match &drives {
                // A panic in a batch counts as a failed attempt: its transaction was dropped
                // (rolled back), and the job is retried or failed like any other.
                Some(drives) => AssertUnwindSafe(self.copy_step(id, drives))
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|_| Err(DriveError::Internal("a copy batch panicked".into()))),
                None => Ok(Step::Done),
            };
            let pause = match step {
                Ok(Step::More) => {
                    failures = 0;
                    Duration::from_millis(self.config().copy_batch_pause_ms)
                }
                Ok(Step::Done) => break,
                Ok(Step::Finished { items, accepted_at }) => {
                    let secs = (now_millis() - accepted_at) as f64 / 1000.0;
                    tracing::info!(items, seconds = secs, "copy finished");
                    metrics::counter!("graphdrive_copy_jobs_completed_total").increment(1);
                    break;
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %e, attempt = failures, "copy batch failed");
                    if failures >= BATCH_ATTEMPTS {
                        let failure = ("generalException", "General exception while processing.");
                        if let Err(e) = self.fail_job(id, failure.0, failure.1, None).await {
                            tracing::error!(error = %e, "could not clean up a failed copy");
                        }
                        break;
                    }
                    Duration::from_millis(200 << failures)
                }
            };
            if pause.is_zero() {
                tokio::task::yield_now().await;
            } else {
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = must_exit.changed() => {}
                }
            }
        }
        self.forget_job_state(id).await;
        self.refresh_item_statistics().await;
    }

    /// Gives a job back at shutdown: its progress is saved, and any runner resumes it at once.
    async fn give_back(&self, id: &str) {
        let released = async {
            let mut tx = self.store().write().await?;
            tx.release_copy_job(id, &self.config().node_id).await?;
            tx.commit().await?;
            Ok::<_, DriveError>(())
        };
        match released.await {
            Ok(()) => tracing::info!("copy stopped at a batch boundary and given back"),
            Err(e) => {
                tracing::warn!(error = %e, "could not give a copy back; it is taken over when its heartbeat is stale")
            }
        }
    }

    /// After a copy added many rows, lets PostgreSQL's planner know (walks of the tree otherwise
    /// pick plans made for a small table).
    async fn refresh_item_statistics(&self) {
        let refreshed = async {
            let mut tx = self.store().write().await?;
            tx.refresh_statistics("items").await?;
            tx.commit().await?;
            Ok::<_, DriveError>(())
        };
        if let Err(e) = refreshed.await {
            tracing::warn!(error = %e, "could not refresh statistics");
        }
    }

    /// Drops a finished job's working rows, a slice at a time.
    async fn forget_job_state(&self, id: &str) {
        loop {
            let done = async {
                let mut tx = self.store().write().await?;
                let n = tx.forget_copy_state(id, 20_000).await?;
                tx.commit().await?;
                Ok::<_, DriveError>(n == 0)
            };
            match done.await {
                Ok(false) => tokio::task::yield_now().await,
                Ok(true) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "could not drop a copy's working state");
                    break;
                }
            }
        }
    }

    /// One batch of a job, in one transaction.
    async fn copy_step(&self, id: &str, drives: &[String]) -> Result<Step> {
        fail::fail_point!("copy-batch");
        let mut tx = self.store().write().await?;
        // No writer of the source or the destination runs during a batch: its statements read
        // the same source rows, and its folder updates never cross another writer's.
        for drive in drives {
            tx.lock_drive(drive).await?;
        }
        let now = now_millis();
        if !tx.hold_copy_job(id, &self.config().node_id, now).await? {
            return Ok(Step::Done);
        }
        let Some(mut job) = tx.copy_job(id).await? else {
            return Ok(Step::Done);
        };
        if job.cancel_requested != 0 {
            drop(tx);
            self.fail_job(id, "cancelled", "The copy was cancelled.", None)
                .await?;
            return Ok(Step::Done);
        }
        let copied_before = job.copied_items;
        let step = match job.placeholder_id {
            None => self.start_job(&mut tx, &mut job, now).await?,
            Some(_) => self.copy_batch(&mut tx, &mut job, now).await?,
        };
        let step = match step {
            Some(step) => {
                tx.save_copy_progress(&job, now).await?;
                step
            }
            None => match self.publish(&mut tx, &mut job, now).await? {
                Ok(()) => {
                    tx.finish_copy_job(&job, now).await?;
                    Step::Finished {
                        items: job.copied_items,
                        accepted_at: job.created_at,
                    }
                }
                Err((code, message, target)) => {
                    drop(tx);
                    self.fail_job(id, code, &message, target).await?;
                    return Ok(Step::Done);
                }
            },
        };
        tx.commit().await?;
        let copied = job.copied_items.saturating_sub(copied_before).max(0);
        metrics::counter!("graphdrive_copy_items_total").increment(copied as u64);
        Ok(step)
    }

    /// Makes the placeholder and copies the top: the source itself, or (children only) maps the
    /// source folder onto the placeholder so that its children land there.
    async fn start_job(
        &self,
        tx: &mut Tx,
        job: &mut CopyJobRecord,
        now: i64,
    ) -> Result<Option<Step>> {
        let placeholder = tx
            .insert_placeholder(&job.dest_drive, &job.caller_id, now)
            .await?;
        job.placeholder_id = Some(placeholder);
        job.status = copies::IN_PROGRESS.into();
        if job.children_only != 0 {
            let children = tx.item(job.source_id).await?.map_or(0, |s| s.child_count);
            tx.map_copy_folder(&job.id, job.source_id, placeholder, 0, children)
                .await?;
            job.depth = 0;
        } else {
            let name = job.name.clone().unwrap_or_default();
            let top = tx
                .copy_single_item(
                    writer(job, now),
                    job.source_id,
                    placeholder,
                    &name,
                    &names::key(&name),
                )
                .await?;
            let Some((new_id, is_folder, child_count)) = top else {
                return Err(DriveError::NotFound(
                    "The item to copy no longer exists.".into(),
                ));
            };
            if is_folder {
                tx.map_copy_folder(&job.id, job.source_id, new_id, 1, child_count)
                    .await?;
            } else if job.include_versions != 0 {
                tx.copy_versions(new_id, job.source_id).await?;
            }
            job.copied_items = 1;
            job.depth = 1;
        }
        job.parent_cursor = 0;
        job.key_cursor = None;
        Ok(Some(Step::More))
    }

    /// Copies the next slice of the current level; `None` when the whole tree is copied.
    async fn copy_batch(
        &self,
        tx: &mut Tx,
        job: &mut CopyJobRecord,
        now: i64,
    ) -> Result<Option<Step>> {
        let batch = self.config().copy_batch_items.max(1);
        loop {
            let folders = tx
                .copy_level_folders(&job.id, job.depth, job.parent_cursor, PLAN_WINDOW)
                .await?;
            let Some(&(first, first_children)) = folders.first() else {
                // This level is done: go down one, or finish when there is nothing below.
                let below = tx.copy_level_folders(&job.id, job.depth + 1, 0, 1).await?;
                if below.is_empty() {
                    return Ok(None);
                }
                job.depth += 1;
                job.parent_cursor = 0;
                job.key_cursor = None;
                // The next level is planned from the map: let PostgreSQL see how it grew.
                tx.refresh_statistics("copy_map").await?;
                continue;
            };
            let slice = if job.key_cursor.is_some() || first_children > batch {
                let upto = tx
                    .copy_slice_end(first, job.key_cursor.as_deref(), batch)
                    .await?;
                LevelSlice::Children {
                    parent: first,
                    after: job.key_cursor.clone(),
                    upto,
                }
            } else {
                let mut total = 0;
                let mut upto = first;
                for &(id, children) in &folders {
                    if total + children > batch && total > 0 {
                        break;
                    }
                    total += children;
                    upto = id;
                }
                LevelSlice::Parents {
                    after: job.parent_cursor,
                    upto,
                }
            };
            job.copied_items += tx
                .copy_level_slice(writer(job, now), job.depth, &slice)
                .await?;
            match slice {
                LevelSlice::Parents { upto, .. } => job.parent_cursor = upto,
                LevelSlice::Children {
                    parent,
                    upto: Some(key),
                    ..
                } => {
                    job.parent_cursor = parent - 1;
                    job.key_cursor = Some(key);
                }
                LevelSlice::Children {
                    parent, upto: None, ..
                } => {
                    job.parent_cursor = parent;
                    job.key_cursor = None;
                }
            }
            return Ok(Some(Step::More));
        }
    }

    /// Moves the finished copy from its placeholder into the destination, settling name clashes
    /// by the job's conflict behaviour. A failure comes back as (code, message, target).
    async fn publish(
        &self,
        tx: &mut Tx,
        job: &mut CopyJobRecord,
        now: i64,
    ) -> Result<Result<(), (&'static str, String, Option<String>)>> {
        let placeholder = job.placeholder_id.expect("publish follows start");
        let dest = match tx.item(job.dest_parent_id).await? {
            Some(d) if d.is_folder() && tx.reaches_root(d.id, &job.dest_drive).await? => d,
            _ => {
                return Ok(Err((
                    "itemNotFound",
                    "The destination folder no longer exists.".into(),
                    None,
                )));
            }
        };
        // Before any top is renamed: the copies are matched to their sources by name.
        if job.include_versions != 0 {
            for (copy, source) in tx.versioned_copies(&job.id).await? {
                tx.copy_versions(copy, source).await?;
            }
        }
        let conflict = names::ConflictBehavior::parse(&job.conflict)?;
        let mut renamed = false;
        for clash in tx.staged_clashes(placeholder, dest.id).await? {
            let target = Some(crate::ids::item_id(clash.existing_id));
            match conflict {
                names::ConflictBehavior::Fail => {
                    return Ok(Err((
                        "nameAlreadyExists",
                        format!("The name \"{}\" already exists.", clash.name),
                        target,
                    )));
                }
                names::ConflictBehavior::Replace
                    if clash.top_is_folder || clash.existing_is_folder =>
                {
                    return Ok(Err((
                        "nameAlreadyExists",
                        format!("The name \"{}\" already exists.", clash.name),
                        target,
                    )));
                }
                names::ConflictBehavior::Replace => {
                    // Only a file is replaced (folders clash as errors above); the file it
                    // replaces goes to the recycle bin.
                    let existing = tx
                        .item(clash.existing_id)
                        .await?
                        .ok_or_else(crate::error::not_found)?;
                    crate::recycle::bin_item(tx, &existing, &job.caller_id, now).await?;
                }
                names::ConflictBehavior::Rename => {
                    renamed = true;
                    let free = free_name(
                        tx,
                        &clash.name,
                        clash.top_is_folder,
                        &[dest.id, placeholder],
                    )
                    .await?;
                    tx.relocate_item(
                        clash.top_id,
                        placeholder,
                        &free,
                        &names::key(&free),
                        &job.caller_id,
                        now,
                    )
                    .await?;
                }
            }
        }
        if job.recount_files != 0 {
            tx.recount_files_below(placeholder).await?;
        }
        if !copy_fits(tx, job, dest.id, renamed).await? {
            return Ok(Err((
                "invalidRequest",
                format!(
                    "The copy would make paths longer than {} characters.",
                    names::MAX_PATH_CHARS
                ),
                None,
            )));
        }
        let totals = tx.folder_contents_totals(placeholder).await?;
        let dest_drive = tx
            .drive(&job.dest_drive)
            .await?
            .ok_or_else(|| DriveError::NotFound("drive".into()))?;
        if totals.size > crate::content::quota_room(tx, &dest_drive).await? {
            return Ok(Err((
                "quotaLimitReached",
                "Insufficient space available.".into(),
                None,
            )));
        }
        let tops = tx.adopt_children(placeholder, dest.id, now).await?;
        tx.adjust_folder_totals(dest.id, totals).await?;
        tx.delete_subtree(placeholder, now).await?;
        job.status = copies::COMPLETED.into();
        job.copied_items = job.total_items;
        job.result_id = Some(if job.children_only != 0 {
            dest.id
        } else {
            tops.first().copied().unwrap_or(dest.id)
        });
        Ok(Ok(()))
    }

    /// Ends a job as failed and removes everything it made.
    async fn fail_job(
        &self,
        id: &str,
        code: &str,
        message: &str,
        target: Option<String>,
    ) -> Result<()> {
        let now = now_millis();
        let mut tx = self.store().write().await?;
        let Some(mut job) = tx.copy_job(id).await?.filter(CopyJobRecord::is_active) else {
            return Ok(());
        };
        tx.lock_drive(&job.dest_drive).await?;
        if let Some(placeholder) = job.placeholder_id {
            tx.delete_subtree(placeholder, now).await?;
        }
        job.status = copies::FAILED.into();
        job.error_code = Some(code.into());
        job.error_message = Some(message.into());
        job.error_target = target;
        tx.finish_copy_job(&job, now).await?;
        tx.commit().await?;
        tracing::warn!(code, message, "copy failed");
        metrics::counter!("graphdrive_copy_jobs_failed_total").increment(1);
        Ok(())
    }
}

/// How logs name a job: the first characters of its id, which is also the secret of its
/// monitor URL and so never logged whole.
pub(crate) fn log_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

fn writer(job: &CopyJobRecord, now: i64) -> CopyWriter<'_> {
    CopyWriter {
        job_id: &job.id,
        dest_drive: &job.dest_drive,
        author: &job.caller_id,
        now,
    }
}

/// The first numbered variant of `name` free in every one of `folders`.
/// True when every path of the finished copy fits under `dest`. The tree is only walked when
/// its paths may have grown: a destination deeper than the source's folder, or a top name
/// longer than the source's own (a new name, or a clash renamed).
async fn copy_fits(tx: &mut Tx, job: &CopyJobRecord, dest: i64, renamed: bool) -> Result<bool> {
    let placeholder = job.placeholder_id.expect("publish follows start");
    let dest_chars = path_chars(tx, dest).await?;
    let source = tx.item(job.source_id).await?;
    let grown = renamed
        || match &source {
            None => true,
            Some(src) if job.children_only != 0 => dest_chars > path_chars(tx, src.id).await?,
            Some(src) => {
                let from = match src.parent_id {
                    Some(p) => path_chars(tx, p).await?,
                    None => 0,
                };
                let longer_name = job
                    .name
                    .as_ref()
                    .is_some_and(|n| n.chars().count() > src.name.chars().count());
                longer_name || dest_chars > from
            }
        };
    if !grown {
        return Ok(true);
    }
    let budget = names::MAX_PATH_CHARS.saturating_sub(dest_chars) as i64;
    Ok(!tx.path_longer_below(placeholder, budget).await?)
}

async fn free_name(tx: &mut Tx, name: &str, is_folder: bool, folders: &[i64]) -> Result<String> {
    'candidates: for n in 1.. {
        let candidate = names::numbered(name, n, is_folder);
        let key = names::key(&candidate);
        for &f in folders {
            if tx.child_by_name(f, &key).await?.is_some() {
                continue 'candidates;
            }
        }
        return Ok(candidate);
    }
    unreachable!("an unbounded search ends with a free name")
}
