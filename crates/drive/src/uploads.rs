//! Resumable uploads (upload sessions): a file sent in sequential fragments to a
//! pre-authenticated URL, assembled into one blob when the last byte arrives.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use graphdrive_storage::StorageError;
use graphdrive_storage::metadata::UploadSessionRecord;

use crate::access::{Caller, Need};
use crate::content::FileTarget;
use crate::drives::{Drive, DriveSelector};
use crate::error::{DriveError, Result, not_found};
use crate::items::{FsTimes, check_if_match, name_taken};
use crate::names::{self, ConflictBehavior};
use crate::service::{DriveService, ItemRef, ItemView, now_millis, resolve_opt, view};
use crate::tokens::random_token;

/// What `createUploadSession` was asked for.
#[derive(Clone, Debug, Default)]
pub struct SessionRequest {
    pub conflict: Option<ConflictBehavior>,
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    pub file_size: Option<i64>,
    pub fs: FsTimes,
}

/// A session's state: when it expires and where the next fragment must start.
#[derive(Clone, Debug)]
pub struct SessionStatus {
    pub id: String,
    pub expires_at: i64,
    pub next_expected: i64,
}

/// A fragment's `Content-Range: bytes start-end/total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragmentRange {
    pub start: u64,
    pub end: u64,
    pub total: u64,
}

pub enum FragmentOutcome {
    /// More bytes are expected.
    Accepted(SessionStatus),
    /// The file is complete; `bool` says whether it is new.
    Completed(Box<ItemView>, bool),
}

fn session_not_found() -> DriveError {
    DriveError::NotFound("The upload session does not exist or has expired.".into())
}

impl DriveService {
    pub async fn create_upload_session(
        &self,
        caller: &Caller,
        sel: &DriveSelector,
        at: &ItemRef,
        req: SessionRequest,
    ) -> Result<SessionStatus> {
        let drive = self.open_drive(caller, sel, Need::Write).await?;
        for name in &at.path {
            names::validate(name)?;
        }
        names::validate_path_length(at.path.iter().map(String::as_str))?;
        let max = self.config().max_file_size as i64;
        if req.file_size.is_some_and(|s| s < 0 || s > max) {
            return Err(DriveError::TooLarge(max as u64));
        }
        let now = now_millis();
        let mut tx = self.store().write().await?;
        tx.lock_drive(&drive.record.id).await?;
        // An existing file at the address: check the preconditions and the clash now.
        let existing = resolve_opt(&mut tx, &drive, at).await?;
        let conflict = match (&existing, at.path.is_empty()) {
            (_, true) => ConflictBehavior::Replace,
            // As `PUT …/content`, and as Graph: an existing file is replaced (keeping its id)
            // unless the request asks otherwise. Sync clients update files this way.
            _ => req.conflict.unwrap_or(ConflictBehavior::Replace),
        };
        if let Some(existing) = &existing {
            if existing.is_folder() {
                return Err(name_taken(&existing.name));
            }
            check_if_match(req.if_match.as_deref(), existing)?;
            if let Some(tag) = &req.if_none_match
                && crate::ids::tag_matches(tag, existing)
            {
                return Err(DriveError::PreconditionFailed);
            }
            if conflict == ConflictBehavior::Fail {
                return Err(name_taken(&existing.name));
            }
        } else if at.path.is_empty() {
            return Err(not_found());
        }
        // The session holds room for its whole file from the start, so that sessions never
        // park more bytes than the quota leaves.
        let replaced = match (&existing, conflict) {
            (Some(e), ConflictBehavior::Replace) => e.size,
            _ => 0,
        };
        let growth = req.file_size.unwrap_or(0) - replaced;
        if growth > 0 && growth > crate::content::quota_room(&mut tx, &drive.record).await? {
            return Err(DriveError::QuotaExceeded);
        }
        let target = self
            .target_for_path(&mut tx, &drive, at, &caller.id, now)
            .await?;
        let session = UploadSessionRecord {
            id: random_token(24),
            drive_id: drive.record.id.clone(),
            parent_id: target.parent.id,
            name: target.name,
            conflict: conflict.as_str().into(),
            if_match: req.if_match,
            file_size: req.file_size.unwrap_or(-1),
            received: 0,
            principal_id: caller.id.clone(),
            fs_created_at: req.fs.created,
            fs_modified_at: req.fs.modified,
            created_at: now,
            expires_at: now + self.config().upload_session_ttl_secs * 1000,
        };
        tx.insert_upload_session(&session).await?;
        tx.commit().await?;
        Ok(status_of(&session))
    }

    pub async fn upload_session_status(&self, id: &str) -> Result<SessionStatus> {
        let session = self.live_session(id).await?;
        let mut status = status_of(&session);
        if all_received(&session) {
            // Its completion failed or was cut short: the last fragment is what it wants again.
            let mut tx = self.store().read().await?;
            if let Some(start) = tx.last_upload_part_start(id).await? {
                status.next_expected = start;
            }
        }
        Ok(status)
    }

    pub async fn cancel_upload_session(&self, id: &str) -> Result<()> {
        let mut tx = self.store().write().await?;
        if !tx.delete_upload_session(id).await? {
            return Err(session_not_found());
        }
        tx.commit().await?;
        let _ = self.blobs().remove_parts(id).await;
        Ok(())
    }

    async fn live_session(&self, id: &str) -> Result<UploadSessionRecord> {
        let mut tx = self.store().read().await?;
        tx.upload_session(id)
            .await?
            .filter(|s| s.expires_at > now_millis())
            .ok_or_else(session_not_found)
    }

    /// Takes one fragment. Fragments must come in order, each starting where the last ended.
    pub async fn upload_fragment<S, E>(
        &self,
        id: &str,
        range: FragmentRange,
        body: S,
    ) -> Result<FragmentOutcome>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let session = self.live_session(id).await?;
        if all_received(&session) {
            return self.resend_last_fragment(session, range, body).await;
        }
        check_fragment(
            &session,
            range,
            self.config().max_fragment,
            self.config().max_file_size,
        )?;
        let expected_len = range.end - range.start + 1;
        let length_mismatch = |len: &str| {
            DriveError::InvalidRequest(format!(
                "The fragment holds {len} bytes but its Content-Range announces {expected_len}."
            ))
        };
        let (object, len) = match self.blobs().put_part(id, body, expected_len).await {
            Err(StorageError::TooLarge(_)) => return Err(length_mismatch("more")),
            other => other?,
        };
        metrics::counter!("graphdrive_upload_bytes_total").increment(len);
        if len != expected_len {
            let _ = self.blobs().remove_part(&object).await;
            return Err(length_mismatch(&len.to_string()));
        }
        let mut tx = self.store().write().await?;
        let accepted = tx
            .accept_upload_part(
                id,
                range.start as i64,
                range.end as i64 + 1,
                range.total as i64,
                &object,
            )
            .await?;
        if !accepted {
            drop(tx);
            let _ = self.blobs().remove_part(&object).await;
            return Err(overlap(range.start, session.received));
        }
        tx.commit().await?;
        if range.end + 1 < range.total {
            let mut s = session;
            s.received = range.end as i64 + 1;
            return Ok(FragmentOutcome::Accepted(status_of(&s)));
        }
        fail::fail_point!("upload-before-complete");
        self.complete_session(session).await
    }

    /// A fragment for a session that holds every byte already but was not completed: its
    /// completion failed (a name taken meanwhile, the quota) or the server stopped during it.
    /// The client sends the last fragment again; its bytes are read (and must be as many as
    /// before) and the upload completes from the fragments already stored.
    async fn resend_last_fragment<S, E>(
        &self,
        session: UploadSessionRecord,
        range: FragmentRange,
        mut body: S,
    ) -> Result<FragmentOutcome>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let last_start = {
            let mut tx = self.store().read().await?;
            tx.last_upload_part_start(&session.id).await?
        }
        .ok_or_else(session_not_found)?;
        let size = session.file_size as u64;
        if range.start != last_start as u64
            || range.end.checked_add(1) != Some(size)
            || range.total != size
        {
            return Err(overlap(range.start, last_start));
        }
        let expected = range.end - range.start + 1;
        let mut len = 0u64;
        while let Some(chunk) = body.next().await {
            len += chunk
                .map_err(|e| DriveError::BodyAborted(e.to_string()))?
                .len() as u64;
            if len > expected {
                break;
            }
        }
        if len != expected {
            return Err(DriveError::InvalidRequest(format!(
                "The fragment holds {} bytes but its Content-Range announces {expected}.",
                if len > expected { "more" } else { "fewer" }
            )));
        }
        self.complete_session(session).await
    }

    async fn complete_session(&self, session: UploadSessionRecord) -> Result<FragmentOutcome> {
        let parts = {
            let mut tx = self.store().read().await?;
            tx.upload_parts(&session.id).await?
        };
        let staged = match self
            .blobs()
            .stage_parts(parts, self.config().max_file_size)
            .await
        {
            Ok(staged) => staged,
            // A completion that raced this one may have ended the session and its fragments.
            Err(_) if self.live_session(&session.id).await.is_err() => {
                return Err(session_not_found());
            }
            Err(e) => return Err(e.into()),
        };
        let written = async {
            let now = now_millis();
            let mut tx = self.store().write().await?;
            let drive = self.session_drive(&mut tx, &session).await?;
            tx.lock_drive(&drive.record.id).await?;
            // The session ends in the transaction that writes its file: of two completions
            // racing (a client resending the last fragment meanwhile), one writes the file.
            if !tx.delete_upload_session(&session.id).await? {
                return Err(session_not_found());
            }
            let parent = tx
                .item(session.parent_id)
                .await?
                .filter(|p| p.drive_id == drive.record.id)
                .ok_or_else(|| {
                    DriveError::NotFound("The upload's destination folder no longer exists.".into())
                })?;
            let target = FileTarget {
                parent,
                name: session.name.clone(),
                conflict: ConflictBehavior::parse(&session.conflict)?,
                if_match: session.if_match.clone(),
                fs: FsTimes {
                    created: session.fs_created_at,
                    modified: session.fs_modified_at,
                },
            };
            let (id, created) = self
                .write_file(
                    &mut tx,
                    &drive,
                    target,
                    &staged.blob,
                    &session.principal_id,
                    now,
                )
                .await?;
            self.blobs().place(&staged, &mut tx).await?;
            let item = tx.item(id).await?.ok_or_else(not_found)?;
            let v = view(&mut tx, &drive, item).await?;
            tx.commit().await?;
            Ok(FragmentOutcome::Completed(Box::new(v), created))
        }
        .await;
        // On failure the session keeps every fragment: the client sends the last one again
        // (`nextExpectedRanges` names it) and completion is tried anew.
        if written.is_ok() {
            let _ = self.blobs().remove_parts(&session.id).await;
        }
        self.settle_staged(staged, written).await
    }

    async fn session_drive(
        &self,
        tx: &mut graphdrive_storage::Tx,
        s: &UploadSessionRecord,
    ) -> Result<Drive> {
        let record = tx.drive(&s.drive_id).await?.ok_or_else(not_found)?;
        let owner = tx
            .principal(&record.owner_id)
            .await?
            .ok_or_else(not_found)?;
        Ok(Drive { record, owner })
    }
}

/// True when every byte of the file arrived (the session lives on only if its completion did
/// not happen).
fn all_received(s: &UploadSessionRecord) -> bool {
    s.file_size > 0 && s.received == s.file_size
}

fn status_of(s: &UploadSessionRecord) -> SessionStatus {
    SessionStatus {
        id: s.id.clone(),
        expires_at: s.expires_at,
        next_expected: s.received,
    }
}

fn overlap(start: u64, received: i64) -> DriveError {
    let (message, detail) = if (start as i64) < received {
        (
            "The fragment overlaps bytes already received.",
            "fragmentOverlap",
        )
    } else {
        ("Fragments must be uploaded in order.", "fragmentOutOfOrder")
    };
    DriveError::InvalidRange {
        message: format!("{message} The next expected byte is {received}."),
        detail,
    }
}

fn check_fragment(
    s: &UploadSessionRecord,
    r: FragmentRange,
    max_fragment: u64,
    max_file: u64,
) -> Result<()> {
    if r.start > r.end || r.end >= r.total {
        return Err(DriveError::InvalidRequest(
            "The Content-Range header is not valid for this upload.".into(),
        ));
    }
    if r.total > max_file {
        return Err(DriveError::TooLarge(max_file));
    }
    if s.file_size >= 0 && r.total as i64 != s.file_size {
        return Err(DriveError::InvalidRequest(format!(
            "The Content-Range total {} differs from the file size {} of this upload.",
            r.total, s.file_size
        )));
    }
    if r.end - r.start + 1 > max_fragment {
        return Err(DriveError::TooLarge(max_fragment));
    }
    if r.start as i64 != s.received {
        return Err(overlap(r.start, s.received));
    }
    Ok(())
}
