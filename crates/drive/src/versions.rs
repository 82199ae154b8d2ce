//! File versions: replacing a file's content keeps the old content as a version (up to
//! `max_versions` per file, the current one included), which can be listed, downloaded,
//! restored and deleted. Versions share bytes by content address like files do.

use graphdrive_storage::metadata::{ContentTotals, FileContent, ItemRecord, VersionRecord};

use crate::access::{Caller, Need};
use crate::drives::DriveSelector;
use crate::error::{DriveError, Result};
use crate::items::check_if_match;
use crate::service::{DriveService, ItemRef, now_millis, resolve};

/// One version of a file, for `driveItemVersion`.
#[derive(Clone, Debug)]
pub struct VersionView {
    /// The content revision it had while current; its id is `{number}.0`.
    pub number: i64,
    pub current: bool,
    pub size: i64,
    pub modified_at: i64,
    pub modified_by: String,
    pub modified_by_name: Option<String>,
    pub modified_by_kind: Option<String>,
}

impl VersionView {
    pub fn id(&self) -> String {
        format!("{}.0", self.number)
    }

    fn current(file: &ItemRecord) -> Self {
        Self {
            number: file.ctag_rev,
            current: true,
            size: file.size,
            modified_at: file.modified_at,
            modified_by: file.modified_by.clone(),
            modified_by_name: file.modified_by_name.clone(),
            modified_by_kind: file.modified_by_kind.clone(),
        }
    }

    fn earlier(v: VersionRecord) -> Self {
        Self {
            number: v.number,
            current: false,
            size: v.size,
            modified_at: v.modified_at,
            modified_by: v.modified_by,
            modified_by_name: v.modified_by_name,
            modified_by_kind: v.modified_by_kind,
        }
    }
}

/// Reads a version id: `3.0`, as Graph spells them, or a bare `3`.
fn parse_version_id(id: &str) -> Result<i64> {
    id.strip_suffix(".0")
        .unwrap_or(id)
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(version_not_found)
}

fn version_not_found() -> DriveError {
    DriveError::NotFound("The version could not be found.".into())
}

fn require_file(item: &ItemRecord) -> Result<()> {
    if item.is_folder() {
        return Err(DriveError::InvalidRequest(
            "A folder has no versions.".into(),
        ));
    }
    Ok(())
}

impl DriveService {
    /// A file's versions, the current one first.
    pub async fn list_versions(
        &self,
        caller: &Caller,
        sel: &DriveSelector,
        at: &ItemRef,
    ) -> Result<Vec<VersionView>> {
        let drive = self.open_drive(caller, sel, Need::Read).await?;
        let mut tx = self.store().read().await?;
        let file = resolve(&mut tx, &drive, at).await?;
        require_file(&file)?;
        let mut out = vec![VersionView::current(&file)];
        out.extend(
            tx.versions(file.id)
                .await?
                .into_iter()
                .map(VersionView::earlier),
        );
        Ok(out)
    }

    /// One version of a file.
    pub async fn get_version(
        &self,
        caller: &Caller,
        sel: &DriveSelector,
        at: &ItemRef,
        version: &str,
    ) -> Result<VersionView> {
        Ok(match self.find_version(caller, sel, at, version).await? {
            (file, None) => VersionView::current(&file),
            (_, Some(v)) => VersionView::earlier(v),
        })
    }

    /// A pre-authenticated link token for the bytes of one version.
    pub async fn version_link(
        &self,
        caller: &Caller,
        sel: &DriveSelector,
        at: &ItemRef,
        version: &str,
    ) -> Result<String> {
        match self.find_version(caller, sel, at, version).await? {
            (file, None) => self.link_for(&file),
            (file, Some(v)) => self.link_for_blob(v.blob_hash, v.size, &file.name, v.mime_type),
        }
    }

    /// The file `at` names and its version `version` (`None`: the current one), for reading.
    async fn find_version(
        &self,
        caller: &Caller,
        sel: &DriveSelector,
        at: &ItemRef,
        version: &str,
    ) -> Result<(ItemRecord, Option<VersionRecord>)> {
        let number = parse_version_id(version)?;
        let drive = self.open_drive(caller, sel, Need::Read).await?;
        let mut tx = self.store().read().await?;
        let file = resolve(&mut tx, &drive, at).await?;
        require_file(&file)?;
        if number == file.ctag_rev {
            return Ok((file, None));
        }
        let v = tx
            .version(file.id, number)
            .await?
            .ok_or_else(version_not_found)?;
        Ok((file, Some(v)))
    }

    /// `restoreVersion`: makes an earlier version's content current again (the content it
    /// replaces becomes a version, as any replaced content does).
    pub async fn restore_version(
        &self,
        caller: &Caller,
        sel: &DriveSelector,
        at: &ItemRef,
        version: &str,
        if_match: Option<&str>,
    ) -> Result<()> {
        let number = parse_version_id(version)?;
        let drive = self.open_drive(caller, sel, Need::Write).await?;
        let mut tx = self.store().write().await?;
        tx.lock_drive(&drive.record.id).await?;
        let file = resolve(&mut tx, &drive, at).await?;
        require_file(&file)?;
        check_if_match(if_match, &file)?;
        if number == file.ctag_rev {
            return Ok(());
        }
        let v = tx
            .version(file.id, number)
            .await?
            .ok_or_else(version_not_found)?;
        let grown = v.size - file.size;
        crate::content::check_quota(&mut tx, &drive, grown).await?;
        let now = now_millis();
        tx.retain_blob(&v.blob_hash, 1).await?;
        self.replace_content(
            &mut tx,
            &file,
            &FileContent {
                blob_hash: v.blob_hash,
                size: v.size,
                mime_type: v.mime_type,
            },
            &caller.id,
            now,
            v.fs_modified_at,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes an earlier version (the current one cannot be).
    pub async fn delete_version(
        &self,
        caller: &Caller,
        sel: &DriveSelector,
        at: &ItemRef,
        version: &str,
    ) -> Result<()> {
        let number = parse_version_id(version)?;
        let drive = self.open_drive(caller, sel, Need::Write).await?;
        let mut tx = self.store().write().await?;
        tx.lock_drive(&drive.record.id).await?;
        let file = resolve(&mut tx, &drive, at).await?;
        require_file(&file)?;
        if number == file.ctag_rev {
            return Err(DriveError::InvalidRequest(
                "The current version cannot be deleted; delete the file instead.".into(),
            ));
        }
        if !tx.delete_version(file.id, number, now_millis()).await? {
            return Err(version_not_found());
        }
        tx.commit().await?;
        Ok(())
    }

    /// Points a file at new content (whose blob reference the caller holds), keeping the old
    /// content as a version and the totals of the folders above right.
    pub(crate) async fn replace_content(
        &self,
        tx: &mut graphdrive_storage::Tx,
        old: &ItemRecord,
        content: &FileContent,
        author: &str,
        now: i64,
        fs_modified_at: i64,
    ) -> Result<()> {
        let keep = i64::from(self.config().max_versions.saturating_sub(1));
        tx.keep_version(old, keep, now).await?;
        tx.set_item_content(old.id, content, author, now, fs_modified_at)
            .await?;
        if let Some(parent) = old.parent_id {
            let grown = ContentTotals {
                size: content.size - old.size,
                ..ContentTotals::default()
            };
            tx.adjust_folder_totals(parent, grown).await?;
        }
        Ok(())
    }
}
