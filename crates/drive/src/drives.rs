//! Drives: one personal drive per user and one shared drive per group, made on first use, and
//! who may reach them.

use graphdrive_storage::Tx;
use graphdrive_storage::metadata::{DriveRecord, PrincipalKind, PrincipalRecord};

use crate::access::{Caller, CallerKind, Need, denied};
use crate::error::{DriveError, Result, not_found};
use crate::identities::find_principal;
use crate::service::{DriveService, now_millis};
use crate::tokens::random_token;

/// How a request names a drive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DriveSelector {
    /// `/me/drive` or `/drive`: the caller's own.
    Me,
    /// `/drives/{id}`
    Id(String),
    /// `/users/{id-or-name}/drive`
    User(String),
    /// `/groups/{id}/drive`
    Group(String),
}

#[derive(Clone, Debug)]
pub struct Drive {
    pub record: DriveRecord,
    pub owner: PrincipalRecord,
}

/// A drive with its usage, for `GET …/drive`.
#[derive(Clone, Debug)]
pub struct DriveView {
    pub drive: Drive,
    /// Bytes the drive's items and its recycle bin hold.
    pub used: i64,
    /// Bytes its recycle bin holds.
    pub deleted: i64,
    pub file_count: i64,
}

impl DriveService {
    /// Opens the drive a request names, checking that the caller's scopes allow `need` and that
    /// the caller may reach it.
    pub async fn open_drive(
        &self,
        caller: &Caller,
        selector: &DriveSelector,
        need: Need,
    ) -> Result<Drive> {
        caller.require(need)?;
        let mut tx = self.store().read().await?;
        // A token outlives nothing its principal went through: a disabled or removed principal's
        // tokens stop working at once, on every node.
        match tx.principal(&caller.id).await? {
            Some(p) if !p.is_disabled() => {}
            Some(_) => {
                return Err(DriveError::Unauthenticated(
                    "The token's user or application is disabled.".into(),
                ));
            }
            None => {
                return Err(DriveError::Unauthenticated(
                    "The token's user or application no longer exists.".into(),
                ));
            }
        }
        // Nor does it outlive the app it was issued to.
        if let Some(client) = caller.client_id.as_deref()
            && !crate::signin::is_builtin(client)
            && tx.principal(client).await?.is_none_or(|p| p.is_disabled())
        {
            return Err(DriveError::Unauthenticated(
                "The application the token was issued to is disabled or was removed.".into(),
            ));
        }
        let existing = match selector {
            DriveSelector::Me => {
                if caller.kind == CallerKind::App {
                    return Err(DriveError::InvalidRequest(
                        "/me request is only valid with delegated authentication flow.".into(),
                    ));
                }
                let owner = tx.principal(&caller.id).await?.ok_or_else(not_found)?;
                self.existing_drive_of(&mut tx, owner).await?
            }
            DriveSelector::User(u) => {
                let owner = find_principal(&mut tx, PrincipalKind::User, u)
                    .await?
                    .ok_or_else(not_found)?;
                self.existing_drive_of(&mut tx, owner).await?
            }
            DriveSelector::Group(g) => {
                let owner = find_principal(&mut tx, PrincipalKind::Group, g)
                    .await?
                    .ok_or_else(not_found)?;
                self.existing_drive_of(&mut tx, owner).await?
            }
            DriveSelector::Id(id) => {
                let record = tx.drive(id).await?.ok_or_else(not_found)?;
                let owner = tx
                    .principal(&record.owner_id)
                    .await?
                    .ok_or_else(not_found)?;
                Ok(Drive { record, owner })
            }
        };
        let drive = match existing {
            Ok(d) => d,
            Err(owner) => {
                if !may_reach(&mut tx, caller, &owner).await? {
                    return Err(denied());
                }
                drop(tx);
                return self.provision_drive(owner).await;
            }
        };
        if !may_reach(&mut tx, caller, &drive.owner).await? {
            return Err(denied());
        }
        Ok(drive)
    }

    /// The owner's drive, or the owner back when it has none yet.
    async fn existing_drive_of(
        &self,
        tx: &mut Tx,
        owner: PrincipalRecord,
    ) -> Result<Result<Drive, PrincipalRecord>> {
        Ok(match tx.drive_of_owner(&owner.id).await? {
            Some(record) => Ok(Drive { record, owner }),
            None => Err(owner),
        })
    }

    /// Makes the drive of a user or group on first use (a concurrent first use wins the race).
    pub(crate) async fn provision_drive(&self, owner: PrincipalRecord) -> Result<Drive> {
        let mut tx = self.store().write().await?;
        if let Some(record) = tx.drive_of_owner(&owner.id).await? {
            return Ok(Drive { record, owner });
        }
        let now = now_millis();
        let id = format!("b!{}", random_token(24));
        let root_id = tx.insert_root(&id, &owner.id, now).await?;
        let (drive_type, name) = match owner.kind.as_str() {
            "group" => ("documentLibrary", "Documents"),
            _ => ("business", "OneDrive"),
        };
        let record = DriveRecord {
            id,
            owner_id: owner.id.clone(),
            drive_type: drive_type.into(),
            name: name.into(),
            root_id,
            quota_total: self.config().default_quota,
            created_at: now,
        };
        let made = match tx.insert_drive(&record).await {
            Ok(()) => tx.commit().await,
            Err(e) => Err(e),
        };
        match made {
            Ok(()) => Ok(Drive { record, owner }),
            // Another request made it first (PostgreSQL): use that one.
            Err(e) if e.is_unique_violation() => {
                let mut tx = self.store().read().await?;
                let record = tx
                    .drive_of_owner(&owner.id)
                    .await?
                    .ok_or_else(|| DriveError::from(e))?;
                Ok(Drive { record, owner })
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn drive_view(&self, caller: &Caller, selector: &DriveSelector) -> Result<DriveView> {
        let drive = self.open_drive(caller, selector, Need::Read).await?;
        let mut tx = self.store().read().await?;
        let root = tx.item(drive.record.root_id).await?.ok_or_else(not_found)?;
        let deleted = tx.binned_size(&drive.record.id).await?;
        Ok(DriveView {
            drive,
            used: root.size + deleted,
            deleted,
            file_count: root.descendant_files,
        })
    }
}

impl DriveService {
    /// `GET /me/drives`: the caller's own drive, then the drives of their groups by group name
    /// (each made on first use, as when it is first opened).
    pub async fn my_drives(&self, caller: &Caller) -> Result<Vec<DriveView>> {
        let mut out = vec![self.drive_view(caller, &DriveSelector::Me).await?];
        let groups = self.store().read().await?.groups_of(&caller.id).await?;
        for group in groups.into_iter().filter(|g| !g.is_disabled()) {
            // A group the user left (or that went) since the list was read is not listed.
            match self
                .drive_view(caller, &DriveSelector::Group(group.id))
                .await
            {
                Ok(view) => out.push(view),
                Err(DriveError::NotFound(_) | DriveError::AccessDenied(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

/// A user reaches their own drive and the drives of their groups; an application with an `.All`
/// scope reaches every drive.
async fn may_reach(tx: &mut Tx, caller: &Caller, owner: &PrincipalRecord) -> Result<bool> {
    Ok(match caller.kind {
        CallerKind::App => caller.scopes.all,
        CallerKind::User => match owner.kind.as_str() {
            "user" => owner.id == caller.id,
            "group" => tx.is_group_member(&owner.id, &caller.id).await?,
            _ => false,
        },
    })
}
