//! File contents: simple upload, and the pre-authenticated download links.

use bytes::Bytes;
use futures::Stream;
use graphdrive_storage::metadata::{DriveRecord, FileContent, ItemRecord, NewItem};
use graphdrive_storage::{StagedBlob, StoredBlob, Tx};

use crate::access::{Caller, Need};
use crate::drives::{Drive, DriveSelector};
use crate::error::{DriveError, Result, not_found};
use crate::items::{
    FsTimes, check_if_match, check_path_length, name_taken, require_folder, settle_name,
};
use crate::names::{self, ConflictBehavior};
use crate::service::{DriveService, ItemRef, ItemView, now_millis, resolve, resolve_opt, view};
use crate::tokens::DownloadGrant;

/// Where a new file's bytes go: its folder and name, how to settle a clash there, and what the
/// request demanded of an item it replaces.
pub(crate) struct FileTarget {
    pub parent: ItemRecord,
    pub name: String,
    pub conflict: ConflictBehavior,
    pub if_match: Option<String>,
    pub fs: FsTimes,
}

impl DriveService {
    /// `PUT …/content`: stores the body as the file the address names, creating missing folders
    /// on the way (as OneDrive does). Returns the file and whether it is new.
    pub async fn upload_content<S, E>(
        &self,
        caller: &Caller,
        sel: &DriveSelector,
        at: &ItemRef,
        conflict: ConflictBehavior,
        if_match: Option<&str>,
        body: S,
    ) -> Result<(ItemView, bool)>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let drive = self.open_drive(caller, sel, Need::Write).await?;
        for name in &at.path {
            names::validate(name)?;
        }
        names::validate_path_length(at.path.iter().map(String::as_str))?;
        // Fail fast, before any byte is read, when the address cannot take a file.
        {
            let mut tx = self.store().read().await?;
            if let Some(existing) = resolve_opt(&mut tx, &drive, at).await? {
                if existing.is_folder() {
                    return Err(DriveError::InvalidRequest(
                        "A folder has no content to replace.".into(),
                    ));
                }
                check_if_match(if_match, &existing)?;
            } else if at.path.is_empty() {
                return Err(not_found());
            }
        }
        let staged = self
            .blobs()
            .stage_stream(body, self.config().max_simple_upload)
            .await?;
        metrics::counter!("graphdrive_upload_bytes_total").increment(staged.blob.size);
        let written = async {
            let mut tx = self.store().write().await?;
            tx.lock_drive(&drive.record.id).await?;
            let now = now_millis();
            let target = self
                .target_for_path(&mut tx, &drive, at, &caller.id, now)
                .await?;
            let target = FileTarget {
                conflict,
                if_match: if_match.map(str::to_string),
                fs: FsTimes::default(),
                ..target
            };
            let (id, created) = self
                .write_file(&mut tx, &drive, target, &staged.blob, &caller.id, now)
                .await?;
            self.blobs().place(&staged, &mut tx).await?;
            let item = tx.item(id).await?.ok_or_else(not_found)?;
            let v = view(&mut tx, &drive, item).await?;
            tx.commit().await?;
            Ok((v, created))
        }
        .await;
        self.settle_staged(staged, written).await
    }

    /// Drops what is left of staged content. When the metadata write that was to reference it
    /// failed (perhaps after the bytes were placed), records the content as unreferenced so that
    /// upkeep removes its bytes once the grace period is over.
    pub(crate) async fn settle_staged<T>(
        &self,
        staged: StagedBlob,
        result: Result<T>,
    ) -> Result<T> {
        let blob = &staged.blob;
        if result.is_err() {
            let noted = async {
                let mut tx = self.store().write().await?;
                tx.note_unreferenced_blob(blob, now_millis()).await?;
                tx.commit().await
            };
            if let Err(e) = noted.await {
                tracing::warn!(blob = %blob.sha256, error = %e, "could not record unreferenced content");
            }
        }
        self.blobs().discard(&staged).await;
        result
    }

    /// The folder and name an upload address names. `items/{id}` alone names an existing file;
    /// a path names a child, whose missing folders are created.
    pub(crate) async fn target_for_path(
        &self,
        tx: &mut Tx,
        drive: &Drive,
        at: &ItemRef,
        author: &str,
        now: i64,
    ) -> Result<FileTarget> {
        let (parent, name) = match at.path.split_last() {
            None => {
                let item = resolve(tx, drive, at).await?;
                let parent = item.parent_id.ok_or_else(|| {
                    DriveError::InvalidRequest("The root folder has no content.".into())
                })?;
                (tx.item(parent).await?.ok_or_else(not_found)?, item.name)
            }
            Some((name, folders)) => {
                let base = resolve(
                    tx,
                    drive,
                    &ItemRef {
                        base: at.base.clone(),
                        path: vec![],
                    },
                )
                .await?;
                let parent = ensure_folders(tx, drive, base, folders, author, now).await?;
                (parent, name.clone())
            }
        };
        Ok(FileTarget {
            parent,
            name,
            conflict: ConflictBehavior::Replace,
            if_match: None,
            fs: FsTimes::default(),
        })
    }

    /// A pre-authenticated link token for a file's bytes.
    pub async fn download_link(
        &self,
        caller: &Caller,
        sel: &DriveSelector,
        at: &ItemRef,
    ) -> Result<String> {
        let drive = self.open_drive(caller, sel, Need::Read).await?;
        let mut tx = self.store().read().await?;
        let item = resolve(&mut tx, &drive, at).await?;
        self.link_for(&item)
    }

    pub(crate) fn link_for(&self, item: &ItemRecord) -> Result<String> {
        let blob = item.blob_hash.clone().ok_or_else(|| {
            DriveError::InvalidRequest("A folder has no content to download.".into())
        })?;
        let mime = item
            .mime_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".into());
        self.link_for_blob(blob, item.size, &item.name, mime)
    }

    /// A pre-authenticated link token for a blob, served as `name`.
    pub(crate) fn link_for_blob(
        &self,
        blob: String,
        size: i64,
        name: &str,
        mime: String,
    ) -> Result<String> {
        let grant = DownloadGrant {
            blob,
            size,
            name: name.to_string(),
            mime,
        };
        self.keys().issue_download(
            grant,
            now_millis() / 1000,
            self.config().download_link_ttl_secs,
        )
    }

    /// The download link of an item already read, for `@microsoft.graph.downloadUrl`.
    pub fn download_link_of(&self, item: &ItemView) -> Option<String> {
        self.link_for(&item.record).ok()
    }

    pub fn open_download(&self, token: &str) -> Result<DownloadGrant> {
        self.keys().open_download(token)
    }

    /// Where the bucket itself serves a download, when downloads are sent there
    /// ([`DriveConfig::downloads_from_bucket`]): a URL signed for as long as a download link
    /// lives, under `disposition` (the `Content-Disposition` to answer with). `None` when the
    /// node serves the bytes itself.
    pub async fn direct_download(
        &self,
        grant: &DownloadGrant,
        disposition: &str,
    ) -> Result<Option<String>> {
        if !self.config().downloads_from_bucket || !self.blobs().names_objects() {
            return Ok(None);
        }
        let gone = || DriveError::NotFound("The content is no longer available.".into());
        let object = {
            let mut tx = self.store().read().await?;
            tx.blob_object(&grant.blob)
                .await?
                .flatten()
                .ok_or_else(gone)?
        };
        let expire = std::time::Duration::from_secs(self.config().download_link_ttl_secs as u64);
        Ok(self
            .blobs()
            .presigned_read(&object, disposition, &grant.mime, expire)
            .await?)
    }

    /// The bytes of a download, or of the range `start..end` of it.
    pub async fn read_content(
        &self,
        grant: &DownloadGrant,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<impl Stream<Item = std::io::Result<Bytes>> + Send + 'static + use<>> {
        let gone = || DriveError::NotFound("The content is no longer available.".into());
        let object = match self.blobs().names_objects() {
            false => None,
            true => {
                let mut tx = self.store().read().await?;
                tx.blob_object(&grant.blob).await?.ok_or_else(gone)?
            }
        };
        match self
            .blobs()
            .read(&grant.blob, object.as_deref(), range)
            .await
        {
            Ok(stream) => Ok(stream),
            Err(e) if e.is_unavailable() => Err(e.into()),
            Err(_) => Err(gone()),
        }
    }
}

/// Walks `names` down from `base`, creating the folders that are missing.
pub(crate) async fn ensure_folders(
    tx: &mut Tx,
    drive: &Drive,
    base: ItemRecord,
    names_down: &[String],
    author: &str,
    now: i64,
) -> Result<ItemRecord> {
    let mut folder = base;
    require_folder(&folder)?;
    for name in names_down {
        let key = names::key(name);
        folder = match tx.child_by_name(folder.id, &key).await? {
            Some(child) if child.is_folder() => child,
            Some(child) => return Err(name_taken(&child.name)),
            None => {
                let id = tx
                    .insert_item(&NewItem {
                        drive_id: drive.record.id.clone(),
                        parent_id: folder.id,
                        name: name.clone(),
                        name_key: key,
                        file: None,
                        author: author.to_string(),
                        now,
                        fs_created_at: now,
                        fs_modified_at: now,
                    })
                    .await?;
                tx.item(id).await?.ok_or_else(not_found)?
            }
        };
    }
    Ok(folder)
}

impl DriveService {
    /// Writes a stored blob as the file `target` names: a new file, or new content for the file it
    /// replaces. Returns the file's id and whether it is new.
    pub(crate) async fn write_file(
        &self,
        tx: &mut Tx,
        drive: &Drive,
        target: FileTarget,
        blob: &StoredBlob,
        author: &str,
        now: i64,
    ) -> Result<(i64, bool)> {
        require_folder(&target.parent)?;
        let (name, existing) =
            settle_name(tx, target.parent.id, &target.name, false, target.conflict).await?;
        // New content for an existing file makes no new path: only a new file's path is checked.
        if existing.is_none() {
            check_path_length(tx, target.parent.id, &name).await?;
        }
        let size = blob.size as i64;
        let freed = existing.as_ref().map_or(0, |e| e.size);
        check_quota(tx, drive, size - freed).await?;
        let content = FileContent {
            blob_hash: blob.sha256.clone(),
            size,
            mime_type: mime_guess::from_path(&name)
                .first_or_octet_stream()
                .to_string(),
        };
        tx.add_blob_refs(blob, 1).await?;
        let fs = target.fs;
        let (id, created) = match existing {
            Some(old) => {
                check_if_match(target.if_match.as_deref(), &old)?;
                self.replace_content(tx, &old, &content, author, now, fs.modified.unwrap_or(now))
                    .await?;
                if let Some(created) = fs.created {
                    tx.set_item_fs_times(old.id, created, fs.modified.unwrap_or(now), author, now)
                        .await?;
                }
                (old.id, false)
            }
            None => {
                let id = tx
                    .insert_item(&NewItem {
                        drive_id: drive.record.id.clone(),
                        parent_id: target.parent.id,
                        name_key: names::key(&name),
                        name,
                        file: Some(content),
                        author: author.to_string(),
                        now,
                        fs_created_at: fs.created.unwrap_or(now),
                        fs_modified_at: fs.modified.unwrap_or(now),
                    })
                    .await?;
                (id, true)
            }
        };
        Ok((id, created))
    }
}

pub(crate) async fn check_quota(tx: &mut Tx, drive: &Drive, growth: i64) -> Result<()> {
    if growth > 0 && growth > quota_room(tx, &drive.record).await? {
        return Err(DriveError::QuotaExceeded);
    }
    Ok(())
}

/// Bytes a drive can still take: its quota less what its items and its recycle bin use and what
/// its open upload sessions have announced (each holds room for its whole file from the start).
pub(crate) async fn quota_room(tx: &mut Tx, drive: &DriveRecord) -> Result<i64> {
    let root = tx.item(drive.root_id).await?.ok_or_else(not_found)?;
    let reserved = tx.reserved_by_sessions(&drive.id, now_millis()).await?;
    let binned = tx.binned_size(&drive.id).await?;
    Ok(drive.quota_total - root.size - binned - reserved)
}
