//! The recycle bin: `DELETE` moves an item there with everything below it, `restore` puts it
//! back, `permanentDelete` skips it, and upkeep purges what has been there longer than the
//! bin keeps things. Deleting and restoring cost the same whatever the size of the subtree.

use graphdrive_storage::Tx;
use graphdrive_storage::metadata::{BinEntry, ItemRecord};

use crate::access::{Caller, Need};
use crate::drives::{Drive, DriveSelector};
use crate::error::{DriveError, Result, not_found};
use crate::ids;
use crate::items::{ParentTarget, check_if_match, name_taken, resolve_parent_target};
use crate::names::{self, ConflictBehavior};
use crate::service::{
    DriveService, ItemBase, ItemRef, ItemView, folder_path, now_millis, resolve, view,
};

/// An item in the recycle bin, for `recycleBinItem`.
#[derive(Clone, Debug)]
pub struct BinItemView {
    pub record: ItemRecord,
    pub entry: BinEntry,
    pub deleted_by_name: Option<String>,
    pub deleted_by_kind: Option<String>,
}

pub struct BinPage {
    pub items: Vec<BinItemView>,
    /// Cursor of the next page, when there may be more.
    pub next: Option<String>,
}

/// Where `restore` puts an item back, and under what name.
#[derive(Clone, Debug, Default)]
pub struct RestoreTarget {
    pub parent: Option<ParentTarget>,
    pub name: Option<String>,
}

impl DriveService {
    /// `DELETE`: moves an item, with everything below it, into the recycle bin.
    pub async fn delete_item(
        &self,
        caller: &Caller,
        sel: &DriveSelector,
        at: &ItemRef,
        if_match: Option<&str>,
    ) -> Result<()> {
        let drive = self.open_drive(caller, sel, Need::Write).await?;
        let mut tx = self.store().write().await?;
        tx.lock_drive(&drive.record.id).await?;
        let item = resolve(&mut tx, &drive, at).await?;
        check_if_match(if_match, &item)?;
        bin_item(&mut tx, &item, &caller.id, now_millis()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `permanentDelete`: removes an item (from the tree or from the recycle bin) for good.
    pub async fn permanent_delete(
        &self,
        caller: &Caller,
        sel: &DriveSelector,
        at: &ItemRef,
        if_match: Option<&str>,
    ) -> Result<()> {
        let drive = self.open_drive(caller, sel, Need::Write).await?;
        let mut tx = self.store().write().await?;
        tx.lock_drive(&drive.record.id).await?;
        let item = match binned(&mut tx, &drive, at).await? {
            Some((item, _)) => item,
            None => {
                let item = resolve(&mut tx, &drive, at).await?;
                let parent = item.parent_id.ok_or_else(root_stays)?;
                tx.adjust_folder_totals(parent, -item.totals_in_parent())
                    .await?;
                item
            }
        };
        check_if_match(if_match, &item)?;
        tx.delete_subtree(item.id, now_millis()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// One page of a drive's recycle bin, newest first.
    pub async fn recycle_bin(
        &self,
        caller: &Caller,
        sel: &DriveSelector,
        after: Option<&str>,
        limit: i64,
    ) -> Result<BinPage> {
        let drive = self.open_drive(caller, sel, Need::Read).await?;
        let mut tx = self.store().read().await?;
        let after = after.map(decode_cursor).transpose()?;
        let entries = tx.bin_page(&drive.record.id, after, limit + 1).await?;
        let more = entries.len() as i64 > limit;
        let mut items = vec![];
        for entry in entries.into_iter().take(limit as usize) {
            let Some(record) = tx.item(entry.item_id).await? else {
                continue;
            };
            let who = tx.principal(&entry.deleted_by).await?;
            items.push(BinItemView {
                record,
                deleted_by_name: who.as_ref().map(|p| p.display_name.clone()),
                deleted_by_kind: who.map(|p| p.kind),
                entry,
            });
        }
        let next = if more {
            items
                .last()
                .map(|i| format!("{}.{}", i.entry.deleted_at, i.entry.item_id))
        } else {
            None
        };
        Ok(BinPage { items, next })
    }

    /// `restore`: puts an item from the recycle bin back, keeping its id: where it was deleted
    /// from (or into the root, when that folder is gone), or where `target` says.
    pub async fn restore_item(
        &self,
        caller: &Caller,
        sel: &DriveSelector,
        at: &ItemRef,
        target: RestoreTarget,
        conflict: ConflictBehavior,
    ) -> Result<ItemView> {
        let drive = self.open_drive(caller, sel, Need::Write).await?;
        let mut tx = self.store().write().await?;
        tx.lock_drive(&drive.record.id).await?;
        let (item, entry) = binned(&mut tx, &drive, at)
            .await?
            .ok_or_else(|| DriveError::NotFound("The item is not in the recycle bin.".into()))?;
        let parent = match &target.parent {
            Some(t) => resolve_parent_target(&mut tx, &drive, t).await?,
            None => {
                let from = ItemRef {
                    base: ItemBase::Id(ids::item_id(entry.parent_id)),
                    path: vec![],
                };
                match crate::service::resolve_opt(&mut tx, &drive, &from).await? {
                    Some(p) if p.is_folder() => p,
                    _ => resolve(&mut tx, &drive, &ItemRef::root()).await?,
                }
            }
        };
        let wanted = target.name.clone().unwrap_or_else(|| item.name.clone());
        names::validate(&wanted)?;
        crate::items::check_path_length(&mut tx, parent.id, &wanted).await?;
        // What lies below a folder fit under the folder it was deleted from.
        let old = entry.from_path.chars().count() + item.name.chars().count() + 1;
        let new = crate::items::path_chars(&mut tx, parent.id).await? + wanted.chars().count() + 1;
        crate::items::check_subtree_fits(&mut tx, &item, old, new).await?;
        let now = now_millis();
        let (name, existing) =
            crate::items::settle_name(&mut tx, parent.id, &wanted, item.is_folder(), conflict)
                .await?;
        if let Some(existing) = existing {
            // `replace` only puts a file in place of a file; the file it replaces goes to the bin.
            if existing.is_folder() || item.is_folder() {
                return Err(name_taken(&existing.name));
            }
            bin_item(&mut tx, &existing, &caller.id, now).await?;
        }
        tx.restore_item(item.id, parent.id, &name, &names::key(&name), now)
            .await?;
        tx.adjust_folder_totals(parent.id, item.totals_in_parent())
            .await?;
        let restored = tx.item(item.id).await?.ok_or_else(not_found)?;
        let v = view(&mut tx, &drive, restored).await?;
        tx.commit().await?;
        Ok(v)
    }
}

/// Moves a live item into the recycle bin, keeping the totals of the folders above it right.
pub(crate) async fn bin_item(tx: &mut Tx, item: &ItemRecord, author: &str, now: i64) -> Result<()> {
    let parent = item.parent_id.ok_or_else(root_stays)?;
    let from: String = folder_path(tx, parent)
        .await?
        .iter()
        .map(|n| format!("/{n}"))
        .collect();
    tx.adjust_folder_totals(parent, -item.totals_in_parent())
        .await?;
    tx.bin_item(item.id, &from, author, now).await?;
    Ok(())
}

/// The item an address names in the drive's recycle bin: by id only, as Graph names them.
async fn binned(
    tx: &mut Tx,
    drive: &Drive,
    at: &ItemRef,
) -> Result<Option<(ItemRecord, BinEntry)>> {
    let (ItemBase::Id(id), true) = (&at.base, at.path.is_empty()) else {
        return Ok(None);
    };
    let Some(id) = ids::parse_item_id(id) else {
        return Ok(None);
    };
    let Some(entry) = tx
        .bin_entry(id)
        .await?
        .filter(|e| e.drive_id == drive.record.id)
    else {
        return Ok(None);
    };
    Ok(tx.item(id).await?.map(|item| (item, entry)))
}

fn root_stays() -> DriveError {
    DriveError::InvalidRequest("The root folder cannot be deleted.".into())
}

fn decode_cursor(token: &str) -> Result<(i64, i64)> {
    token
        .split_once('.')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .ok_or_else(|| {
            DriveError::InvalidRequest("The $skiptoken is not valid for this listing.".into())
        })
}
