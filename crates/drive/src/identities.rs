//! Users, groups and applications, and the tokens issued to them.

use graphdrive_storage::metadata::{PrincipalKind, PrincipalRecord};

use crate::access::CallerKind;
use crate::error::{DriveError, Result};
use crate::service::{DriveService, now_millis};
use crate::signin::tokens::Subject;

impl DriveService {
    /// Adds a user; fails if the name is taken.
    pub async fn add_user(
        &self,
        name: &str,
        display_name: Option<&str>,
    ) -> Result<PrincipalRecord> {
        self.add_principal(PrincipalKind::User, name, display_name.unwrap_or(name))
            .await
    }

    /// Adds a group with its members (who must exist), or adds members to an existing group.
    pub async fn add_group(&self, name: &str, members: &[String]) -> Result<PrincipalRecord> {
        let mut tx = self.store().write().await?;
        let group = match tx
            .principal_by_name(PrincipalKind::Group.as_str(), name)
            .await?
        {
            Some(g) => g,
            None => {
                let g = new_principal(PrincipalKind::Group, name, name);
                tx.insert_principal(&g).await?;
                g
            }
        };
        for member in members {
            let user = tx
                .principal_by_name(PrincipalKind::User.as_str(), member)
                .await?
                .ok_or_else(|| {
                    DriveError::NotFound(format!("There is no user named \"{member}\"."))
                })?;
            tx.add_group_member(&group.id, &user.id).await?;
        }
        tx.commit().await?;
        Ok(group)
    }

    pub(crate) async fn add_principal(
        &self,
        kind: PrincipalKind,
        name: &str,
        display: &str,
    ) -> Result<PrincipalRecord> {
        validate_principal_name(name)?;
        let p = new_principal(kind, name, display);
        let mut tx = self.store().write().await?;
        if tx.principal_by_name(kind.as_str(), name).await?.is_some() {
            return Err(DriveError::NameConflict(format!(
                "A {} named \"{name}\" already exists.",
                kind.as_str()
            )));
        }
        tx.insert_principal(&p).await?;
        tx.commit().await?;
        Ok(p)
    }

    /// A user by id or by name.
    pub async fn find_user(&self, id_or_name: &str) -> Result<Option<PrincipalRecord>> {
        let mut tx = self.store().read().await?;
        find_principal(&mut tx, PrincipalKind::User, id_or_name).await
    }

    /// Issues a bearer token for a user (who must exist) or an application (made on first use).
    pub async fn issue_token(
        &self,
        kind: CallerKind,
        name: &str,
        scopes: &[String],
        ttl_secs: i64,
    ) -> Result<String> {
        let unknown: Vec<&str> = scopes
            .iter()
            .map(String::as_str)
            .filter(|s| crate::access::known_scope(s).is_none())
            .collect();
        if !unknown.is_empty() {
            return Err(DriveError::InvalidRequest(format!(
                "Unknown scope {}; the scopes are: {}.",
                unknown.join(", "),
                crate::access::KNOWN_SCOPES.join(", ")
            )));
        }
        if ttl_secs <= 0 {
            return Err(DriveError::InvalidRequest(
                "The token lifetime must be positive.".into(),
            ));
        }
        let principal = match kind {
            CallerKind::User => self.find_user(name).await?.ok_or_else(|| {
                DriveError::NotFound(format!("There is no user named \"{name}\"."))
            })?,
            CallerKind::App => {
                let mut tx = self.store().read().await?;
                let found = tx
                    .principal_by_name(PrincipalKind::App.as_str(), name)
                    .await?;
                drop(tx);
                match found {
                    Some(p) => p,
                    None => self.add_principal(PrincipalKind::App, name, name).await?,
                }
            }
        };
        if principal.is_disabled() {
            return Err(DriveError::AccessDenied(format!(
                "The {} \"{name}\" is disabled.",
                principal.kind
            )));
        }
        let canonical: Vec<String> = scopes
            .iter()
            .filter_map(|s| crate::access::known_scope(s))
            .map(str::to_string)
            .collect();
        // The CLI stands in for a client of its own: its tokens name no app.
        match kind {
            CallerKind::User => {
                self.sign_access(Subject::User(&principal), "", &canonical, &[], ttl_secs)
                    .await
            }
            CallerKind::App => {
                self.sign_access(Subject::App(&principal), "", &[], &canonical, ttl_secs)
                    .await
            }
        }
    }
}

pub(crate) async fn find_principal(
    tx: &mut graphdrive_storage::Tx,
    kind: PrincipalKind,
    id_or_name: &str,
) -> Result<Option<PrincipalRecord>> {
    if let Some(p) = tx
        .principal(id_or_name)
        .await?
        .filter(|p| p.kind == kind.as_str())
    {
        return Ok(Some(p));
    }
    Ok(tx.principal_by_name(kind.as_str(), id_or_name).await?)
}

pub(crate) fn new_principal(kind: PrincipalKind, name: &str, display: &str) -> PrincipalRecord {
    PrincipalRecord {
        id: uuid::Uuid::new_v4().to_string(),
        kind: kind.as_str().to_string(),
        name: name.to_string(),
        display_name: display.to_string(),
        created_at: now_millis(),
        disabled_at: None,
    }
}

/// A character a principal's name may hold.
pub(crate) fn valid_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')
}

pub(crate) fn valid_principal_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 256 && name.chars().all(valid_name_char)
}

fn validate_principal_name(name: &str) -> Result<()> {
    if valid_principal_name(name) {
        Ok(())
    } else {
        Err(DriveError::InvalidRequest(format!(
            "Invalid name \"{name}\": use letters, digits, '.', '_', '-' or '@'."
        )))
    }
}
