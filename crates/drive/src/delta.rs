//! Delta: what changed in a folder's tree since a client's token, read from the drive's change
//! journal (never by walking the tree), or the whole tree for a client without a token.
//!
//! A round of delta ends at the drive's latest change when it began (`upto`); every change after
//! it waits for the next round. A page holds journal rows in order, each item in its latest
//! state, preceded by the folders above it that the page has not shown yet, so that parents
//! always come before their children. An item that came into the tree with a subtree a client
//! has never seen (restored from the recycle bin, made by a copy, moved in from outside the
//! folder) brings that subtree, enumerated depth-first like a first sync.
//!
//! The token is the whole cursor, so it survives restarts and works on every node: the journal
//! position, the round's end, and the folders being enumerated with the last child given in
//! each (a path, never longer than the tree is deep).

use std::collections::{HashMap, HashSet};

use base64::Engine;
use graphdrive_storage::Tx;
use graphdrive_storage::metadata::{
    ChangeKind, ChangeRecord, ChildOrder, ItemRecord, JournalState,
};
use serde::{Deserialize, Serialize};

use crate::access::{Caller, Need};
use crate::drives::{Drive, DriveSelector};
use crate::error::{DriveError, Result};
use crate::items::require_folder;
use crate::names;
use crate::service::{DriveService, ItemRef, ItemView, resolve, view_with_parent_path};

/// Items a page holds when the client names no `$top`: a first sync pages like a listing, a
/// token's changes come in one page up to the larger bound.
pub const ENUMERATION_PAGE: i64 = 200;
pub const CHANGES_PAGE: i64 = 2_000;
/// The largest `$top` a delta page takes.
pub const MAX_PAGE: i64 = 2_000;
/// Journal rows read per query.
const JOURNAL_BATCH: i64 = 500;

/// One entry of a delta page.
#[derive(Clone, Debug)]
pub enum DeltaEntry {
    /// An item in its latest state (its view has no parent path: delta leaves it out).
    Item(Box<ItemView>),
    /// An item that left the folder's tree (deleted, or moved out of it).
    Deleted {
        id: i64,
        parent_id: Option<i64>,
        is_folder: bool,
    },
}

/// What follows a delta page: more of this round, or the token of the next round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeltaNext {
    NextPage(String),
    NextRound(String),
}

pub struct DeltaPage {
    pub entries: Vec<DeltaEntry>,
    pub next: DeltaNext,
    pub drive_id: String,
    pub drive_type: String,
}

/// A delta token, decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Cursor {
    #[serde(rename = "d")]
    drive: String,
    /// The folder whose tree is followed.
    #[serde(rename = "s")]
    scope: i64,
    /// Journal rows up to this number have been given.
    #[serde(rename = "p")]
    pos: i64,
    /// The round's last change; `None` in a next-round token (the round has not begun).
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    upto: Option<i64>,
    /// Folders being enumerated, outermost first, each with the name key of its last child given.
    #[serde(rename = "k", default, skip_serializing_if = "Vec::is_empty")]
    stack: Vec<(i64, Option<String>)>,
}

impl Cursor {
    /// A round that begins now, at the drive's latest change.
    fn fresh(drive: &Drive, scope: i64, latest: i64) -> Self {
        Self {
            drive: drive.record.id.clone(),
            scope,
            pos: latest,
            upto: Some(latest),
            stack: vec![],
        }
    }

    /// The cursor a client's token names: `latest`, or one this folder handed out that the
    /// journal still covers.
    fn resume(token: &str, drive: &Drive, scope: i64, journal: JournalState) -> Result<Self> {
        if token.eq_ignore_ascii_case("latest") {
            return Ok(Self {
                upto: None,
                ..Self::fresh(drive, scope, journal.latest)
            });
        }
        let c = Self::decode(token)?;
        if c.drive != drive.record.id || c.scope != scope {
            return Err(DriveError::InvalidRequest(
                "The delta token belongs to another folder.".into(),
            ));
        }
        if c.pos < journal.floor || c.pos > journal.latest {
            return Err(DriveError::ResyncRequired);
        }
        Ok(Self {
            upto: Some(c.upto.unwrap_or(journal.latest)),
            ..c
        })
    }

    fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("a cursor serializes");
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    fn decode(token: &str) -> Result<Self> {
        let invalid = || DriveError::InvalidRequest("The delta token is not valid.".into());
        if token.len() > 64 * 1024 {
            return Err(invalid());
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.trim_end_matches('='))
            .map_err(|_| invalid())?;
        let c: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        let keys_ok = c.stack.iter().all(|(_, k)| {
            k.as_ref()
                .is_none_or(|k| !k.contains('\0') && k.len() <= 4 * names::MAX_PATH_CHARS)
        });
        if !keys_ok || c.stack.len() > names::MAX_PATH_CHARS || c.upto.is_some_and(|u| u < c.pos) {
            return Err(invalid());
        }
        Ok(c)
    }
}

impl DriveService {
    /// One page of delta for the folder `at` names. `token` is a token from an earlier page
    /// (`None`: the whole tree; `"latest"`: nothing, only a token for what comes next).
    pub async fn delta(
        &self,
        caller: &Caller,
        sel: &DriveSelector,
        at: &ItemRef,
        token: Option<&str>,
        top: Option<i64>,
    ) -> Result<DeltaPage> {
        let drive = self.open_drive(caller, sel, Need::Read).await?;
        let mut tx = self.store().read().await?;
        let scope = resolve(&mut tx, &drive, at).await?;
        require_folder(&scope)?;
        let journal = tx
            .journal_state(&drive.record.id)
            .await?
            .ok_or_else(crate::error::not_found)?;
        let mut page = Builder::new(&drive, scope.id);
        let mut cursor = match token {
            None => {
                page.emit(&mut tx, scope.clone()).await?;
                Cursor {
                    stack: vec![(scope.id, None)],
                    ..Cursor::fresh(&drive, scope.id, journal.latest)
                }
            }
            Some(t) => Cursor::resume(t, &drive, scope.id, journal)?,
        };
        let limit = top
            .unwrap_or(if token.is_none() {
                ENUMERATION_PAGE
            } else {
                CHANGES_PAGE
            })
            .clamp(1, MAX_PAGE) as usize;
        if cursor.upto.is_some() {
            page.fill(&mut tx, &mut cursor, limit).await?;
        }
        let next = match cursor.upto {
            Some(upto) if cursor.pos < upto || !cursor.stack.is_empty() => {
                DeltaNext::NextPage(cursor.encode())
            }
            _ => DeltaNext::NextRound(
                Cursor {
                    pos: cursor.upto.unwrap_or(cursor.pos),
                    upto: None,
                    stack: vec![],
                    ..cursor
                }
                .encode(),
            ),
        };
        Ok(DeltaPage {
            entries: page.entries,
            next,
            drive_id: drive.record.id.clone(),
            drive_type: drive.record.drive_type.clone(),
        })
    }
}

/// A page being put together.
struct Builder<'a> {
    drive: &'a Drive,
    scope: i64,
    entries: Vec<DeltaEntry>,
    /// Items the page shows, alive or deleted.
    shown: HashSet<i64>,
    /// Folders whose chain up to the root is known: the chain, nearest first (`None`: the
    /// folder is in no tree, such as one in the recycle bin).
    chains: HashMap<i64, Option<Vec<i64>>>,
}

impl<'a> Builder<'a> {
    fn new(drive: &'a Drive, scope: i64) -> Self {
        Self {
            drive,
            scope,
            entries: vec![],
            shown: HashSet::new(),
            chains: HashMap::new(),
        }
    }

    fn emit_view(&mut self, record: ItemRecord) {
        self.shown.insert(record.id);
        self.entries
            .push(DeltaEntry::Item(Box::new(view_with_parent_path(
                self.drive, record, None,
            ))));
    }

    /// Shows an item, after the folders between it and the followed folder that the page has
    /// not shown yet.
    async fn emit(&mut self, tx: &mut Tx, record: ItemRecord) -> Result<()> {
        if let Some(parent) = record.parent_id
            && record.id != self.scope
            && let Some(chain) = self.chain(tx, parent).await?
        {
            // The folders strictly between the followed folder and the item.
            let upto = chain.iter().position(|&id| id == self.scope).unwrap_or(0);
            let missing: Vec<i64> = chain[..upto]
                .iter()
                .copied()
                .filter(|id| !self.shown.contains(id))
                .collect();
            for id in missing.into_iter().rev() {
                if let Some(folder) = tx.item(id).await? {
                    self.emit_view(folder);
                }
            }
        }
        if !self.shown.contains(&record.id) {
            self.emit_view(record);
        }
        Ok(())
    }

    /// The chain from `folder` up to the drive's root, nearest first, when it reaches the root.
    async fn chain(&mut self, tx: &mut Tx, folder: i64) -> Result<Option<Vec<i64>>> {
        if let Some(c) = self.chains.get(&folder) {
            return Ok(c.clone());
        }
        let ids: Vec<i64> = tx.ancestors(folder).await?.iter().map(|a| a.id).collect();
        let chain = (ids.last() == Some(&self.drive.record.root_id)).then_some(ids);
        self.chains.insert(folder, chain.clone());
        Ok(chain)
    }

    /// True when `folder` lies in the followed folder's tree.
    async fn in_scope(&mut self, tx: &mut Tx, folder: Option<i64>) -> Result<bool> {
        let Some(folder) = folder else {
            return Ok(false);
        };
        Ok(self
            .chain(tx, folder)
            .await?
            .is_some_and(|c| c.contains(&self.scope)))
    }

    /// Fills the page up to `limit` entries, moving the cursor past what it shows.
    async fn fill(&mut self, tx: &mut Tx, cursor: &mut Cursor, limit: usize) -> Result<()> {
        let upto = cursor.upto.expect("a round has begun");
        // Folders still being enumerated were shown on an earlier page of this round, in a
        // state at least as new as any change of the round: showing them again later in this
        // page would put them after children of theirs.
        self.shown
            .extend(cursor.stack.iter().map(|(folder, _)| *folder));
        while self.entries.len() < limit {
            if !cursor.stack.is_empty() {
                self.enumerate(tx, cursor, limit).await?;
                continue;
            }
            let rows = tx
                .changes_between(&self.drive.record.id, cursor.pos, upto, JOURNAL_BATCH)
                .await?;
            if rows.is_empty() {
                cursor.pos = upto;
                break;
            }
            for row in rows {
                cursor.pos = row.seq;
                if let Some(folder) = self.apply(tx, &row).await? {
                    cursor.stack.push((folder, None));
                }
                if !cursor.stack.is_empty() || self.entries.len() >= limit {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Shows what one journal row changed; returns a folder whose subtree is to follow.
    async fn apply(&mut self, tx: &mut Tx, row: &ChangeRecord) -> Result<Option<i64>> {
        let item = tx
            .item(row.item_id)
            .await?
            .filter(|i| i.drive_id == self.drive.record.id);
        let alive = match &item {
            Some(i) if i.id == self.scope => true,
            Some(i) => self.in_scope(tx, i.parent_id).await?,
            None => false,
        };
        match item {
            Some(item) if alive => {
                let came_in = row.kind.brings_subtree()
                    || (row.kind == ChangeKind::Moved && !self.in_scope(tx, row.parent_id).await?);
                let expand = item.is_folder() && item.child_count > 0 && came_in;
                let id = item.id;
                self.emit(tx, item).await?;
                Ok(expand.then_some(id))
            }
            _ => {
                let was_here = self.scope == self.drive.record.root_id
                    || self.in_scope(tx, row.parent_id).await?;
                if was_here && self.shown.insert(row.item_id) {
                    self.entries.push(DeltaEntry::Deleted {
                        id: row.item_id,
                        parent_id: row.parent_id,
                        is_folder: row.is_folder,
                    });
                }
                Ok(None)
            }
        }
    }

    /// Goes on with the innermost folder being enumerated: its next children, descending into
    /// the first subfolder that has children of its own.
    async fn enumerate(&mut self, tx: &mut Tx, cursor: &mut Cursor, limit: usize) -> Result<()> {
        let Some((folder, after)) = cursor.stack.last().cloned() else {
            return Ok(());
        };
        let want = (limit - self.entries.len()).max(1) as i64;
        let rows = tx
            .children(folder, ChildOrder::NameAsc, after.as_deref(), want)
            .await?;
        if rows.is_empty() {
            cursor.stack.pop();
            return Ok(());
        }
        for child in rows {
            let key = names::key(&child.name);
            let descend = child.is_folder() && child.child_count > 0;
            let id = child.id;
            if !self.shown.contains(&id) {
                self.emit_view(child);
            }
            if let Some(top) = cursor.stack.last_mut() {
                top.1 = Some(key);
            }
            if descend {
                cursor.stack.push((id, None));
                return Ok(());
            }
            if self.entries.len() >= limit {
                return Ok(());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_garbage() {
        let c = Cursor {
            drive: "b!x".into(),
            scope: 7,
            pos: 42,
            upto: Some(50),
            stack: vec![(7, None), (9, Some("a b".into()))],
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        for bad in ["", "!!!", "e30", "eyJkIjoxfQ"] {
            assert!(Cursor::decode(bad).is_err(), "{bad}");
        }
        let backwards = Cursor { upto: Some(1), ..c };
        assert!(Cursor::decode(&backwards.encode()).is_err());
    }
}
