//! Reading and changing items: get, list, create folders, rename, move, delete.

use graphdrive_storage::Tx;
pub use graphdrive_storage::metadata::ChildOrder;
use graphdrive_storage::metadata::{ItemRecord, NewItem};

use crate::access::{Caller, Need};
use crate::drives::{Drive, DriveSelector};
use crate::error::{DriveError, Result, not_found};
use crate::ids;
use crate::names::{self, ConflictBehavior};
use crate::service::{
    DriveService, ItemRef, ItemView, folder_path, now_millis, resolve, view, view_with_parent_path,
};

/// A page of a folder's children.
pub struct ChildPage {
    pub items: Vec<ItemView>,
    /// Cursor for the next page (the last item's sort key, opaque), when there may be more.
    pub next: Option<String>,
}

/// A folder named by a request body (`parentReference`): by id, by address, or both.
#[derive(Clone, Debug, Default)]
pub struct ParentTarget {
    pub drive_id: Option<String>,
    pub id: Option<String>,
    pub path: Option<ItemRef>,
}

/// The client-side times of `fileSystemInfo`, in milliseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct FsTimes {
    pub created: Option<i64>,
    pub modified: Option<i64>,
}

/// What a `PATCH` on an item changes.
#[derive(Clone, Debug, Default)]
pub struct ItemPatch {
    pub name: Option<String>,
    pub parent: Option<ParentTarget>,
    pub fs_times: FsTimes,
}

impl DriveService {
    pub async fn get_item(
        &self,
        caller: &Caller,
        sel: &DriveSelector,
        at: &ItemRef,
    ) -> Result<ItemView> {
        let drive = self.open_drive(caller, sel, Need::Read).await?;
        let mut tx = self.store().read().await?;
        let item = resolve(&mut tx, &drive, at).await?;
        view(&mut tx, &drive, item).await
    }

    /// One page of a folder's children, `limit` at most, after the item `after` (a cursor from a
    /// previous page).
    pub async fn list_children(
        &self,
        caller: &Caller,
        sel: &DriveSelector,
        at: &ItemRef,
        order: ChildOrder,
        after: Option<&str>,
        limit: i64,
    ) -> Result<(ItemView, ChildPage)> {
        let drive = self.open_drive(caller, sel, Need::Read).await?;
        let mut tx = self.store().read().await?;
        let folder = resolve(&mut tx, &drive, at).await?;
        let page = children_page(&mut tx, &drive, &folder, order, after, limit).await?;
        let folder = view(&mut tx, &drive, folder).await?;
        Ok((folder, page))
    }

    pub async fn create_folder(
        &self,
        caller: &Caller,
        sel: &DriveSelector,
        parent: &ItemRef,
        name: &str,
        conflict: ConflictBehavior,
        fs: FsTimes,
    ) -> Result<ItemView> {
        names::validate(name)?;
        let drive = self.open_drive(caller, sel, Need::Write).await?;
        let mut tx = self.store().write().await?;
        tx.lock_drive(&drive.record.id).await?;
        let parent = resolve(&mut tx, &drive, parent).await?;
        require_folder(&parent)?;
        check_path_length(&mut tx, parent.id, name).await?;
        let (name, existing) = settle_name(&mut tx, parent.id, name, true, conflict).await?;
        if let Some(existing) = existing {
            // `replace` applies to files only; a folder in the way is a clash.
            return Err(name_taken(&existing.name));
        }
        let now = now_millis();
        let id = tx
            .insert_item(&NewItem {
                drive_id: drive.record.id.clone(),
                parent_id: parent.id,
                name_key: names::key(&name),
                name,
                file: None,
                author: caller.id.clone(),
                now,
                fs_created_at: fs.created.unwrap_or(now),
                fs_modified_at: fs.modified.unwrap_or(now),
            })
            .await?;
        let item = tx.item(id).await?.ok_or_else(not_found)?;
        let v = view(&mut tx, &drive, item).await?;
        tx.commit().await?;
        Ok(v)
    }

    pub async fn update_item(
        &self,
        caller: &Caller,
        sel: &DriveSelector,
        at: &ItemRef,
        patch: ItemPatch,
        if_match: Option<&str>,
    ) -> Result<ItemView> {
        let drive = self.open_drive(caller, sel, Need::Write).await?;
        let mut tx = self.store().write().await?;
        tx.lock_drive(&drive.record.id).await?;
        let item = resolve(&mut tx, &drive, at).await?;
        check_if_match(if_match, &item)?;
        let now = now_millis();
        if patch.name.is_some() || patch.parent.is_some() {
            let Some(old_parent) = item.parent_id else {
                return Err(DriveError::InvalidRequest(
                    "The root folder cannot be renamed or moved.".into(),
                ));
            };
            let name = patch.name.clone().unwrap_or_else(|| item.name.clone());
            names::validate(&name)?;
            let new_parent = match &patch.parent {
                Some(target) => resolve_parent_target(&mut tx, &drive, target).await?,
                None => tx.item(old_parent).await?.ok_or_else(not_found)?,
            };
            move_item(&mut tx, &item, &new_parent, &name, &caller.id, now).await?;
        }
        if patch.fs_times.created.is_some() || patch.fs_times.modified.is_some() {
            let created = patch.fs_times.created.unwrap_or(item.fs_created_at);
            let modified = patch.fs_times.modified.unwrap_or(item.fs_modified_at);
            tx.set_item_fs_times(item.id, created, modified, &caller.id, now)
                .await?;
        }
        let item = tx.item(item.id).await?.ok_or_else(not_found)?;
        let v = view(&mut tx, &drive, item).await?;
        tx.commit().await?;
        Ok(v)
    }
}

pub(crate) async fn children_page(
    tx: &mut Tx,
    drive: &Drive,
    folder: &ItemRecord,
    order: ChildOrder,
    after: Option<&str>,
    limit: i64,
) -> Result<ChildPage> {
    require_folder(folder)?;
    let cursor = after.map(|t| decode_cursor(order, t)).transpose()?;
    let rows = tx
        .children(folder.id, order, cursor.as_deref(), limit + 1)
        .await?;
    let more = rows.len() as i64 > limit;
    let mut path = match folder.parent_id {
        None => vec![],
        Some(_) => folder_path(tx, folder.id).await?,
    };
    path.shrink_to_fit();
    let items: Vec<ItemView> = rows
        .into_iter()
        .take(limit as usize)
        .map(|r| view_with_parent_path(drive, r, Some(path.clone())))
        .collect();
    let next = if more {
        items
            .last()
            .map(|v| encode_cursor(order, &names::key(&v.record.name)))
    } else {
        None
    };
    Ok(ChildPage { items, next })
}

/// A listing's cursor is the sort key of the last child it returned, not that child: the next
/// page starts after the key whether that child was meanwhile deleted, renamed or moved away, so
/// no child that stays put is skipped or returned twice. It names its order (`a.` or `d.`),
/// so a cursor of one order is refused by a listing in the other.
fn encode_cursor(order: ChildOrder, name_key: &str) -> String {
    use base64::Engine;
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(name_key);
    format!("{}{key}", cursor_prefix(order))
}

fn decode_cursor(order: ChildOrder, token: &str) -> Result<String> {
    use base64::Engine;
    token
        .strip_prefix(cursor_prefix(order))
        .and_then(|k| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(k)
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        // No name holds a NUL (which PostgreSQL text cannot) or is longer than a path.
        .filter(|k| !k.is_empty() && !k.contains('\0') && k.len() <= 4 * names::MAX_PATH_CHARS)
        .ok_or_else(|| {
            DriveError::InvalidRequest("The $skiptoken is not valid for this listing.".into())
        })
}

fn cursor_prefix(order: ChildOrder) -> &'static str {
    match order {
        ChildOrder::NameAsc => "a.",
        ChildOrder::NameDesc => "d.",
    }
}

pub(crate) fn require_folder(item: &ItemRecord) -> Result<()> {
    if item.is_folder() {
        Ok(())
    } else {
        Err(DriveError::InvalidRequest(format!(
            "\"{}\" is a file, not a folder.",
            item.name
        )))
    }
}

pub(crate) fn check_if_match(if_match: Option<&str>, item: &ItemRecord) -> Result<()> {
    match if_match {
        Some(tag) if !ids::tag_matches(tag, item) => Err(DriveError::PreconditionFailed),
        _ => Ok(()),
    }
}

pub(crate) fn name_taken(name: &str) -> DriveError {
    DriveError::NameConflict(format!(
        "The specified item name \"{name}\" already exists."
    ))
}

/// Fails when the path to a new child `name` of `parent` would be too long.
pub(crate) async fn check_path_length(tx: &mut Tx, parent: i64, name: &str) -> Result<()> {
    let path = folder_path(tx, parent).await?;
    names::validate_path_length(path.iter().map(String::as_str).chain([name]))
}

/// The length a path counts for: each name of `folder`'s path from the root, and a separator
/// before each (0 for the root).
pub(crate) async fn path_chars(tx: &mut Tx, folder: i64) -> Result<usize> {
    let path = folder_path(tx, folder).await?;
    Ok(path.iter().map(|n| n.chars().count() + 1).sum())
}

/// Fails when a folder whose path grows from `old_chars` to `new_chars` has something below it
/// whose path would then pass the limit. Only a growing path is checked: everything below fit
/// before, and it walks the folder's subtree.
pub(crate) async fn check_subtree_fits(
    tx: &mut Tx,
    item: &ItemRecord,
    old_chars: usize,
    new_chars: usize,
) -> Result<()> {
    if !item.is_folder() || new_chars <= old_chars {
        return Ok(());
    }
    let budget = names::MAX_PATH_CHARS.saturating_sub(new_chars) as i64;
    if tx.path_longer_below(item.id, budget).await? {
        return Err(names::path_too_long());
    }
    Ok(())
}

/// Settles the name of a new item under `parent`. Returns the name to use and, for `replace`
/// of an existing file by a file, the item to replace.
pub(crate) async fn settle_name(
    tx: &mut Tx,
    parent: i64,
    wanted: &str,
    is_folder: bool,
    conflict: ConflictBehavior,
) -> Result<(String, Option<ItemRecord>)> {
    let Some(existing) = tx.child_by_name(parent, &names::key(wanted)).await? else {
        return Ok((wanted.to_string(), None));
    };
    match conflict {
        ConflictBehavior::Fail => Err(name_taken(wanted)),
        ConflictBehavior::Replace if is_folder || existing.is_folder() => Err(name_taken(wanted)),
        ConflictBehavior::Replace => Ok((wanted.to_string(), Some(existing))),
        ConflictBehavior::Rename => {
            for n in 1.. {
                let candidate = names::numbered(wanted, n, is_folder);
                if tx
                    .child_by_name(parent, &names::key(&candidate))
                    .await?
                    .is_none()
                {
                    names::validate(&candidate)?;
                    return Ok((candidate, None));
                }
            }
            unreachable!("an unbounded search ends with a free name")
        }
    }
}

/// Finds the folder a `parentReference` of a move names: in the item's own drive only.
pub(crate) async fn resolve_parent_target(
    tx: &mut Tx,
    drive: &Drive,
    target: &ParentTarget,
) -> Result<ItemRecord> {
    if let Some(d) = &target.drive_id
        && !d.is_empty()
        && d != &drive.record.id
    {
        return Err(DriveError::InvalidRequest(
            "Moving an item to another drive is not supported; copy it instead.".into(),
        ));
    }
    resolve_folder_target(tx, drive, target).await
}

/// Finds the folder a `parentReference` names in `drive`, by id, by path, or both (which must
/// then name the same folder).
pub(crate) async fn resolve_folder_target(
    tx: &mut Tx,
    drive: &Drive,
    target: &ParentTarget,
) -> Result<ItemRecord> {
    let by_id = match target.id.as_deref().filter(|s| !s.is_empty()) {
        Some(id) => Some(
            resolve(
                tx,
                drive,
                &ItemRef {
                    base: crate::service::ItemBase::Id(id.into()),
                    path: vec![],
                },
            )
            .await?,
        ),
        None => None,
    };
    let by_path = match &target.path {
        Some(at) => Some(resolve(tx, drive, at).await?),
        None => None,
    };
    let folder = match (by_id, by_path) {
        (Some(a), Some(b)) if a.id != b.id => {
            return Err(DriveError::InvalidRequest(
                "parentReference.id and parentReference.path name different items.".into(),
            ));
        }
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => {
            return Err(DriveError::InvalidRequest(
                "parentReference needs an id or a path.".into(),
            ));
        }
    };
    require_folder(&folder)?;
    Ok(folder)
}

/// Moves and/or renames `item` to `name` under `new_parent`, keeping folder totals right.
async fn move_item(
    tx: &mut Tx,
    item: &ItemRecord,
    new_parent: &ItemRecord,
    name: &str,
    author: &str,
    now: i64,
) -> Result<()> {
    let old_parent = item.parent_id.expect("the root is never moved");
    if new_parent.id != old_parent {
        let above = tx.ancestors(new_parent.id).await?;
        if above.iter().any(|a| a.id == item.id) {
            return Err(DriveError::InvalidRequest(
                "An item cannot be moved into itself or below itself.".into(),
            ));
        }
    }
    let key = names::key(name);
    if let Some(other) = tx.child_by_name(new_parent.id, &key).await?
        && other.id != item.id
    {
        return Err(name_taken(name));
    }
    // One walk up the new parent's path serves both checks; the old path matters for a folder.
    let new_chars = path_chars(tx, new_parent.id).await? + name.chars().count() + 1;
    if new_chars > names::MAX_PATH_CHARS {
        return Err(names::path_too_long());
    }
    if item.is_folder() {
        let old_chars = path_chars(tx, old_parent).await? + item.name.chars().count() + 1;
        check_subtree_fits(tx, item, old_chars, new_chars).await?;
    }
    tx.relocate_item(item.id, new_parent.id, name, &key, author, now)
        .await?;
    if new_parent.id != old_parent {
        let moved = item.totals_in_parent();
        tx.adjust_folder_totals(old_parent, -moved).await?;
        tx.adjust_folder_totals(new_parent.id, moved).await?;
    }
    Ok(())
}
