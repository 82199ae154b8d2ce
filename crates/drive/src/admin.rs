//! What an operator does from the command line: list and inspect users and groups, disable,
//! enable and remove users, manage group members, and set drive quotas.

use graphdrive_storage::Tx;
use graphdrive_storage::metadata::{DriveRecord, PrincipalKind, PrincipalRecord};

use crate::error::{DriveError, Result};
use crate::identities::find_principal;
use crate::service::{DriveService, now_millis};

/// A drive's size and use, as the operator sees it.
#[derive(Clone, Debug)]
pub struct DriveUsage {
    pub record: DriveRecord,
    pub used: i64,
    pub files: i64,
    /// Items in the drive besides its root.
    pub items: i64,
    /// Bytes open upload sessions have announced (they count against the quota).
    pub reserved: i64,
}

/// A user or a group with its drive and its memberships.
#[derive(Clone, Debug)]
pub struct PrincipalSummary {
    pub principal: PrincipalRecord,
    /// `None` until the drive is first used.
    pub drive: Option<DriveUsage>,
    /// A user's groups, or a group's members, by name.
    pub related: Vec<String>,
}

/// What removing a user removed.
#[derive(Clone, Debug)]
pub struct RemovedUser {
    pub user: PrincipalRecord,
    pub drive: Option<DriveUsage>,
}

fn no_such(kind: PrincipalKind, name: &str) -> DriveError {
    DriveError::NotFound(format!("There is no {} named \"{name}\".", kind.as_str()))
}

impl DriveService {
    /// Every user or every group, by name.
    pub async fn list_principals(&self, kind: PrincipalKind) -> Result<Vec<PrincipalSummary>> {
        let mut tx = self.store().read().await?;
        let mut out = vec![];
        for p in tx.principals(kind.as_str()).await? {
            out.push(summary(&mut tx, p).await?);
        }
        Ok(out)
    }

    /// One user or group, by name or id.
    pub async fn principal_summary(
        &self,
        kind: PrincipalKind,
        name: &str,
    ) -> Result<PrincipalSummary> {
        let mut tx = self.store().read().await?;
        let p = find_principal(&mut tx, kind, name)
            .await?
            .ok_or_else(|| no_such(kind, name))?;
        summary(&mut tx, p).await
    }

    /// Disables a user (their tokens stop working at once) or enables them again.
    pub async fn set_user_enabled(&self, name: &str, enabled: bool) -> Result<PrincipalRecord> {
        let mut tx = self.store().write().await?;
        let mut user = find_principal(&mut tx, PrincipalKind::User, name)
            .await?
            .ok_or_else(|| no_such(PrincipalKind::User, name))?;
        if user.is_disabled() == enabled {
            user.disabled_at = (!enabled).then(now_millis);
            tx.set_principal_disabled(&user.id, user.disabled_at)
                .await?;
            tx.commit().await?;
        }
        Ok(user)
    }

    /// Removes a user. While the user's drive holds anything (items or open upload sessions),
    /// this refuses unless `delete_drive`, which removes the drive with it; its content is then
    /// collected by upkeep, after the grace period download links are given.
    pub async fn remove_user(&self, name: &str, delete_drive: bool) -> Result<RemovedUser> {
        let mut tx = self.store().write().await?;
        let user = find_principal(&mut tx, PrincipalKind::User, name)
            .await?
            .ok_or_else(|| no_such(PrincipalKind::User, name))?;
        let drive = drive_usage(&mut tx, &user.id).await?;
        let mut sessions = vec![];
        if let Some(d) = &drive {
            tx.lock_drive(&d.record.id).await?;
            if (d.items > 0 || d.used > 0 || d.reserved > 0) && !delete_drive {
                return Err(DriveError::InvalidRequest(format!(
                    "The user \"{}\" owns a drive with {} items ({} bytes); remove it with \
                     --delete-drive, or empty the drive first.",
                    user.name, d.items, d.used
                )));
            }
            if tx.drive_has_active_copies(&d.record.id).await? {
                return Err(DriveError::InvalidRequest(format!(
                    "A copy into or out of the drive of \"{}\" is running; try again when it ended.",
                    user.name
                )));
            }
            sessions = tx.remove_drive(&d.record.id, now_millis()).await?;
        }
        tx.remove_principal(&user.id).await?;
        tx.commit().await?;
        for s in &sessions {
            if let Err(e) = self.blobs().remove_parts(s).await {
                tracing::warn!(session = %s, error = %e, "could not remove upload fragments");
            }
        }
        Ok(RemovedUser { user, drive })
    }

    /// Removes a user from a group.
    pub async fn remove_group_member(&self, group: &str, member: &str) -> Result<()> {
        let mut tx = self.store().write().await?;
        let g = find_principal(&mut tx, PrincipalKind::Group, group)
            .await?
            .ok_or_else(|| no_such(PrincipalKind::Group, group))?;
        let u = find_principal(&mut tx, PrincipalKind::User, member)
            .await?
            .ok_or_else(|| no_such(PrincipalKind::User, member))?;
        if !tx.remove_group_member(&g.id, &u.id).await? {
            return Err(DriveError::NotFound(format!(
                "The user \"{member}\" is not a member of \"{group}\"."
            )));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Sets the quota of the drive of a user or group (named, or by id), or of a drive by id;
    /// the drive is made if it was not used yet.
    pub async fn set_quota(&self, owner: &str, bytes: i64) -> Result<DriveUsage> {
        if bytes < 0 {
            return Err(DriveError::InvalidRequest(
                "A quota cannot be negative.".into(),
            ));
        }
        let owner_id = {
            let mut tx = self.store().read().await?;
            match tx.drive(owner).await? {
                Some(d) => d.owner_id,
                None => self.owner_named(&mut tx, owner).await?.id,
            }
        };
        let mut tx = self.store().read().await?;
        if tx.drive_of_owner(&owner_id).await?.is_none() {
            let principal = tx.principal(&owner_id).await?.ok_or_else(|| {
                DriveError::NotFound(format!("There is no user or group \"{owner}\"."))
            })?;
            drop(tx);
            self.provision_drive(principal).await?;
        } else {
            drop(tx);
        }
        let mut tx = self.store().write().await?;
        let record = tx
            .drive_of_owner(&owner_id)
            .await?
            .ok_or_else(|| DriveError::NotFound(format!("There is no drive of \"{owner}\".")))?;
        tx.lock_drive(&record.id).await?;
        tx.set_drive_quota(&record.id, bytes).await?;
        let usage = drive_usage(&mut tx, &owner_id)
            .await?
            .ok_or_else(|| DriveError::NotFound(format!("There is no drive of \"{owner}\".")))?;
        tx.commit().await?;
        Ok(usage)
    }

    /// The user, or else the group, of that name or id.
    async fn owner_named(&self, tx: &mut Tx, name: &str) -> Result<PrincipalRecord> {
        if let Some(u) = find_principal(tx, PrincipalKind::User, name).await? {
            return Ok(u);
        }
        find_principal(tx, PrincipalKind::Group, name)
            .await?
            .ok_or_else(|| DriveError::NotFound(format!("There is no user or group \"{name}\".")))
    }
}

async fn summary(tx: &mut Tx, principal: PrincipalRecord) -> Result<PrincipalSummary> {
    let related = match principal.kind.as_str() {
        "group" => tx.group_members(&principal.id).await?,
        _ => tx.groups_of(&principal.id).await?,
    };
    Ok(PrincipalSummary {
        drive: drive_usage(tx, &principal.id).await?,
        related: related.into_iter().map(|p| p.name).collect(),
        principal,
    })
}

async fn drive_usage(tx: &mut Tx, owner_id: &str) -> Result<Option<DriveUsage>> {
    let Some(record) = tx.drive_of_owner(owner_id).await? else {
        return Ok(None);
    };
    let root = tx.item(record.root_id).await?;
    let reserved = tx.reserved_by_sessions(&record.id, now_millis()).await?;
    let binned = tx.binned_size(&record.id).await?;
    Ok(Some(DriveUsage {
        // As `quota.used`: the recycle bin counts.
        used: root.as_ref().map_or(0, |r| r.size) + binned,
        files: root.as_ref().map_or(0, |r| r.descendant_files),
        items: root.as_ref().map_or(0, |r| r.descendants),
        reserved,
        record,
    }))
}
