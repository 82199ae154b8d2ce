//! Copying items: `POST …/copy` is checked and accepted here, at once and whatever the size of
//! the tree, as a persisted job that [`crate::jobs`] runs in the background.

use graphdrive_storage::Tx;
use graphdrive_storage::metadata::ItemRecord;
use graphdrive_storage::metadata::copies::{self, CopyJobRecord};

use crate::access::{Caller, Need};
use crate::drives::{Drive, DriveSelector};
use crate::error::{DriveError, Result, not_found};
use crate::items::{ParentTarget, name_taken, require_folder, resolve_folder_target};
use crate::names::{self, ConflictBehavior};
use crate::service::{DriveService, ItemRef, now_millis, resolve};
use crate::tokens::random_token;

/// How long a `client-request-id` makes a repeated copy request return the first one's monitor.
const IDEMPOTENCY_WINDOW_MILLIS: i64 = 5 * 60 * 1000;

/// What `POST …/copy` asks for.
#[derive(Clone, Debug)]
pub struct CopyRequest {
    pub parent: Option<ParentTarget>,
    pub name: Option<String>,
    pub children_only: bool,
    /// `includeAllVersionHistory`: the copied files keep their earlier versions.
    pub include_versions: bool,
    pub conflict: ConflictBehavior,
    pub client_request_id: Option<String>,
}

/// A copy job as its monitor reports it.
#[derive(Clone, Debug)]
pub struct CopyStatus {
    pub id: String,
    pub status: String,
    pub percentage: f64,
    /// Drive id and item id of the copy, once completed.
    pub resource: Option<(String, String)>,
    pub error: Option<CopyFailure>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug)]
pub struct CopyFailure {
    pub code: String,
    pub message: String,
    pub target: Option<String>,
}

impl DriveService {
    /// Checks a copy request and accepts it as a job; returns the job (monitor) id. Everything
    /// that can be known now is reported now: unknown items, bad names, the top-level name clash.
    pub async fn accept_copy(
        &self,
        caller: &Caller,
        sel: &DriveSelector,
        at: &ItemRef,
        req: CopyRequest,
    ) -> Result<String> {
        caller.require(Need::Write)?;
        let source_drive = self.open_drive(caller, sel, Need::Read).await?;
        let dest_drive = match req.parent.as_ref().and_then(|p| p.drive_id.clone()) {
            Some(d) if d != source_drive.record.id => {
                self.open_drive(caller, &DriveSelector::Id(d), Need::Write)
                    .await?
            }
            _ => self.open_drive(caller, sel, Need::Write).await?,
        };
        let mut tx = self.store().write().await?;
        let source = resolve(&mut tx, &source_drive, at).await?;
        let (dest, name) = check_copy(&mut tx, &source, &dest_drive, &req).await?;
        // A retry (same `client-request-id`, same request) gets the first request's monitor.
        let request_key = req.client_request_id.as_ref().map(|crid| {
            format!(
                "{crid}\n{}:{}>{}:{}:{name}:{}:{}",
                source.drive_id,
                source.id,
                dest.drive_id,
                dest.id,
                req.children_only,
                req.conflict.as_str()
            )
        });
        if let Some(key) = &request_key {
            tx.release_request_key(&caller.id, key, now_millis() - IDEMPOTENCY_WINDOW_MILLIS)
                .await?;
            if let Some(job) = tx.copy_job_for_request(&caller.id, key).await? {
                return Ok(job.id);
            }
        }
        check_top_level_clash(&mut tx, &source, &dest, &name, &req).await?;
        if source.size > crate::content::quota_room(&mut tx, &dest_drive.record).await? {
            return Err(DriveError::QuotaExceeded);
        }
        let now = now_millis();
        let job = CopyJobRecord {
            id: random_token(24),
            caller_id: caller.id.clone(),
            client_request_id: request_key.clone(),
            status: copies::NOT_STARTED.into(),
            source_drive: source_drive.record.id.clone(),
            source_id: source.id,
            dest_drive: dest_drive.record.id.clone(),
            dest_parent_id: dest.id,
            name: Some(name),
            children_only: req.children_only as i64,
            conflict: req.conflict.as_str().into(),
            total_items: source.descendants + if req.children_only { 0 } else { 1 },
            copied_items: 0,
            placeholder_id: None,
            depth: 0,
            parent_cursor: 0,
            key_cursor: None,
            cancel_requested: 0,
            result_id: None,
            error_code: None,
            error_message: None,
            error_target: None,
            owner: None,
            heartbeat_at: 0,
            created_at: now,
            updated_at: now,
            finished_at: None,
            recount_files: 0,
            include_versions: i64::from(req.include_versions),
        };
        let inserted = match tx.insert_copy_job(&job).await {
            Ok(()) => tx.commit().await,
            Err(e) => Err(e),
        };
        match inserted {
            Ok(()) => {}
            // A concurrent retry inserted the same key first (PostgreSQL): answer with its job.
            Err(e) if e.is_unique_violation() && request_key.is_some() => {
                let mut tx = self.store().read().await?;
                let key = request_key.as_deref().unwrap_or_default();
                return tx
                    .copy_job_for_request(&caller.id, key)
                    .await?
                    .map(|j| j.id)
                    .ok_or_else(|| e.into());
            }
            Err(e) => return Err(e.into()),
        }
        metrics::counter!("graphdrive_copy_jobs_accepted_total").increment(1);
        tracing::info!(
            job = crate::jobs::log_id(&job.id),
            items = job.total_items,
            "copy accepted"
        );
        self.wake_copy_runner();
        Ok(job.id)
    }

    /// The state of a copy job, for its monitor URL.
    pub async fn copy_status(&self, id: &str) -> Result<CopyStatus> {
        let mut tx = self.store().read().await?;
        let job = tx.copy_job(id).await?.ok_or_else(operation_not_found)?;
        let percentage = match job.status.as_str() {
            copies::COMPLETED => 100.0,
            _ if job.total_items == 0 => 0.0,
            // Never 100 before the copy is published.
            _ => ((job.copied_items as f64 * 100.0) / job.total_items as f64).min(99.9),
        };
        let resource = job
            .result_id
            .map(|r| (job.dest_drive.clone(), crate::ids::item_id(r)));
        let error = job.error_code.clone().map(|code| CopyFailure {
            code,
            message: job.error_message.clone().unwrap_or_default(),
            target: job.error_target.clone(),
        });
        Ok(CopyStatus {
            id: job.id,
            status: job.status,
            percentage,
            resource,
            error,
            created_at: job.created_at,
            updated_at: job.updated_at,
        })
    }

    /// Cancels a running copy: it stops, and everything it made is removed.
    pub async fn cancel_copy(&self, id: &str) -> Result<()> {
        let mut tx = self.store().write().await?;
        let job = tx.copy_job(id).await?.ok_or_else(operation_not_found)?;
        if !job.is_active() {
            return Err(DriveError::InvalidRequest(format!(
                "The copy has already {}.",
                job.status
            )));
        }
        tx.request_copy_cancel(id).await?;
        tx.commit().await?;
        self.wake_copy_runner();
        Ok(())
    }
}

pub(crate) fn operation_not_found() -> DriveError {
    DriveError::NotFound("The operation does not exist.".into())
}

/// The synchronous checks of a copy; returns the destination folder and the copy's name.
async fn check_copy(
    tx: &mut Tx,
    source: &ItemRecord,
    dest_drive: &Drive,
    req: &CopyRequest,
) -> Result<(ItemRecord, String)> {
    let invalid = |m: &str| Err(DriveError::InvalidRequest(m.into()));
    if source.parent_id.is_none() && !req.children_only {
        return invalid("Cannot copy the root folder.");
    }
    if req.children_only && !source.is_folder() {
        return invalid("childrenOnly option is not valid for file items.");
    }
    if req.children_only && req.name.is_some() {
        return invalid("Cannot use name parameter alongside childrenOnly.");
    }
    let name = req.name.clone().unwrap_or_else(|| source.name.clone());
    if !req.children_only {
        names::validate(&name)?;
    }
    let dest = match &req.parent {
        Some(target) if target.id.is_some() || target.path.is_some() => {
            resolve_folder_target(tx, dest_drive, target).await?
        }
        _ => match source.parent_id {
            Some(p) if source.drive_id == dest_drive.record.id => {
                tx.item(p).await?.ok_or_else(not_found)?
            }
            Some(_) => tx
                .item(dest_drive.record.root_id)
                .await?
                .ok_or_else(not_found)?,
            None => tx
                .item(dest_drive.record.root_id)
                .await?
                .ok_or_else(not_found)?,
        },
    };
    require_folder(&dest).map_err(|_| {
        DriveError::InvalidRequest("The destination is a file, not a folder.".into())
    })?;
    if dest.drive_id == source.drive_id {
        let above = tx.ancestors(dest.id).await?;
        if above.iter().any(|a| a.id == source.id) {
            return invalid("The destination is the item being copied or lies inside it.");
        }
    }
    Ok((dest, name))
}

/// A clash at the destination's top level is reported now; `rename` and `replace` settle theirs
/// when the copy is published.
async fn check_top_level_clash(
    tx: &mut Tx,
    source: &ItemRecord,
    dest: &ItemRecord,
    name: &str,
    req: &CopyRequest,
) -> Result<()> {
    let clashes: Vec<(String, bool)> = if req.children_only {
        tx.child_name_clashes(source.id, dest.id).await?
    } else {
        match tx.child_by_name(dest.id, &names::key(name)).await? {
            Some(existing) => vec![(
                existing.name.clone(),
                existing.is_folder() || source.is_folder(),
            )],
            None => vec![],
        }
    };
    for (clash, involves_folder) in clashes {
        match req.conflict {
            ConflictBehavior::Fail => return Err(name_taken(&clash)),
            ConflictBehavior::Replace if involves_folder => return Err(name_taken(&clash)),
            _ => {}
        }
    }
    Ok(())
}
