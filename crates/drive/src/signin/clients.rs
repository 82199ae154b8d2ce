//! Registered applications (OAuth clients): confidential ones with a secret, public ones that
//! prove themselves with PKCE, the application permissions (`roles`) of app-only tokens, and the
//! clients known out of the box.

use graphdrive_storage::metadata::{ClientRecord, PrincipalKind};

use super::{OAuthError, digest, same};
use crate::error::{DriveError, Result};
use crate::identities::find_principal;
use crate::service::now_millis;

/// rclone's own client id for OneDrive, with its redirect URI: `rclone config` signs in with it
/// when no client id is set.
pub const RCLONE_CLIENT_ID: &str = "b15665d9-eda6-4092-8539-0eec376afd59";
const RCLONE_REDIRECT: &str = "http://localhost:53682/";

/// Application permissions an app may be granted (`--role`).
pub const APP_ROLES: &[&str] = &[
    "Files.Read.All",
    "Files.ReadWrite.All",
    "Sites.Read.All",
    "Sites.ReadWrite.All",
];

/// A client, registered or built in.
#[derive(Clone, Debug)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub is_public: bool,
    /// Built-in clients whose programs do not send PKCE (rclone) sign in without it.
    pub requires_pkce: bool,
    pub builtin: bool,
    pub redirect_uris: Vec<String>,
    pub roles: Vec<String>,
    pub created_at: i64,
    secret_hash: Option<String>,
}

/// The web drive's client id: the page at the server's URL signs in with it, with PKCE, and
/// comes back to that URL.
pub const WEB_CLIENT_ID: &str = "6a0f3c1e-2b7d-4e58-9c4a-0d1f5e7b8a21";

/// Whether a client id names a built-in client (one with no principal of its own).
pub fn is_builtin(id: &str) -> bool {
    id == RCLONE_CLIENT_ID || id == WEB_CLIENT_ID
}

/// A built-in client; the web drive's redirect URI is the server's public URL.
fn builtin(id: &str, public_url: &str) -> Option<Client> {
    let (name, requires_pkce, redirect) = match id {
        RCLONE_CLIENT_ID => ("rclone", false, RCLONE_REDIRECT.to_string()),
        WEB_CLIENT_ID => ("graphdrive", true, format!("{public_url}/")),
        _ => return None,
    };
    Some(Client {
        id: id.into(),
        name: name.into(),
        is_public: true,
        requires_pkce,
        builtin: true,
        redirect_uris: vec![redirect],
        roles: vec![],
        created_at: 0,
        secret_hash: None,
    })
}

/// A new app's registration: what `graphdrive app add` prints.
#[derive(Clone, Debug)]
pub struct NewApp {
    pub client: Client,
    /// The secret of a confidential client, shown once.
    pub secret: Option<String>,
}

fn new_secret() -> String {
    crate::tokens::random_token(30)
}

impl Client {
    fn from_record(r: ClientRecord, name: String) -> Self {
        Self {
            id: r.client_id,
            name,
            is_public: r.is_public,
            requires_pkce: r.is_public,
            builtin: false,
            redirect_uris: r.redirect_uris,
            roles: r.roles,
            created_at: r.created_at,
            secret_hash: r.secret_hash,
        }
    }

    /// Checks what a client presented at the token endpoint: a confidential client its secret;
    /// a public client nothing (an empty secret counts as none; rclone's built-in client's
    /// well-known secret is ignored).
    pub fn authenticate(&self, secret: Option<&str>) -> Result<(), OAuthError> {
        let secret = secret.filter(|s| !s.is_empty());
        match (&self.secret_hash, secret) {
            (_, _) if self.builtin => Ok(()),
            (None, None) if self.is_public => Ok(()),
            (None, Some(_)) => Err(OAuthError::client(
                700025,
                "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
            )),
            (Some(hash), Some(s)) if same(hash, &digest(s)) => Ok(()),
            (Some(_), Some(_)) => Err(OAuthError::client(
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
            )),
            (_, None) => Err(OAuthError::client(
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            )),
        }
    }

    /// Whether `uri` is one of the client's redirect URIs, compared exactly.
    pub fn allows_redirect(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }
}

fn validate_redirect(uri: &str) -> Result<()> {
    let ok = url::Url::parse(uri).is_ok_and(|u| {
        u.fragment().is_none()
            && (u.scheme() == "https"
                || (u.scheme() == "http"
                    && matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")))
                || !matches!(
                    u.scheme(),
                    "http" | "https" | "javascript" | "data" | "file"
                ))
    });
    if ok {
        Ok(())
    } else {
        Err(DriveError::InvalidRequest(format!(
            "Invalid redirect URI \"{uri}\": use https://, http://localhost or a custom scheme, without a fragment."
        )))
    }
}

impl crate::DriveService {
    /// A client by id: a registered app that is enabled, or a built-in client.
    pub async fn client(&self, client_id: &str) -> Result<Option<Client>> {
        if let Some(c) = builtin(client_id, &self.public_url()) {
            return Ok(Some(c));
        }
        let mut tx = self.store().read().await?;
        let Some(record) = tx.client(client_id).await? else {
            return Ok(None);
        };
        match tx.principal(client_id).await? {
            Some(p) if !p.is_disabled() => Ok(Some(Client::from_record(record, p.display_name))),
            _ => Ok(None),
        }
    }

    /// Registers an application (`graphdrive app add`).
    pub async fn add_app(
        &self,
        name: &str,
        redirect_uris: &[String],
        is_public: bool,
        roles: &[String],
    ) -> Result<NewApp> {
        for uri in redirect_uris {
            validate_redirect(uri)?;
        }
        let roles = roles
            .iter()
            .map(|r| {
                APP_ROLES
                    .iter()
                    .find(|k| k.eq_ignore_ascii_case(r))
                    .map(|k| k.to_string())
                    .ok_or_else(|| {
                        DriveError::InvalidRequest(format!(
                            "Unknown role {r}; the roles are: {}.",
                            APP_ROLES.join(", ")
                        ))
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        if is_public && !roles.is_empty() {
            return Err(DriveError::InvalidRequest(
                "A public client has no secret, so it cannot be granted roles (app-only tokens need a confidential client).".into(),
            ));
        }
        let principal = self.add_principal(PrincipalKind::App, name, name).await?;
        let secret = (!is_public).then(new_secret);
        let record = ClientRecord {
            client_id: principal.id.clone(),
            is_public,
            secret_hash: secret.as_deref().map(digest),
            redirect_uris: redirect_uris.to_vec(),
            roles,
            created_at: now_millis(),
        };
        let mut tx = self.store().write().await?;
        tx.insert_client(&record).await?;
        tx.commit().await?;
        Ok(NewApp {
            client: Client::from_record(record, principal.display_name),
            secret,
        })
    }

    /// Every registered application, then the built-in clients.
    pub async fn apps(&self) -> Result<Vec<Client>> {
        let mut tx = self.store().read().await?;
        let mut out = vec![];
        for record in tx.clients().await? {
            let name = tx
                .principal(&record.client_id)
                .await?
                .map(|p| p.name)
                .unwrap_or_default();
            out.push(Client::from_record(record, name));
        }
        let url = self.public_url();
        out.extend(
            [RCLONE_CLIENT_ID, WEB_CLIENT_ID]
                .map(|id| builtin(id, &url))
                .into_iter()
                .flatten(),
        );
        Ok(out)
    }

    async fn registered_app(&self, tx: &mut graphdrive_storage::Tx, app: &str) -> Result<String> {
        let p = find_principal(tx, PrincipalKind::App, app)
            .await?
            .ok_or_else(|| DriveError::NotFound(format!("There is no app named \"{app}\".")))?;
        if tx.client(&p.id).await?.is_none() {
            return Err(DriveError::NotFound(format!(
                "\"{app}\" is not a registered app (it has no client registration)."
            )));
        }
        Ok(p.id)
    }

    /// Removes an app: its registration, its tokens and its principal. Access tokens it holds
    /// stop working at once.
    pub async fn remove_app(&self, app: &str) -> Result<()> {
        if is_builtin(app) {
            return Err(DriveError::InvalidRequest(format!(
                "\"{app}\" is built in and cannot be removed."
            )));
        }
        let mut tx = self.store().write().await?;
        let id = self.registered_app(&mut tx, app).await?;
        if tx.drive_of_owner(&id).await?.is_some() {
            return Err(DriveError::InvalidRequest(format!(
                "The app \"{app}\" owns a drive; remove it first."
            )));
        }
        tx.remove_client(&id).await?;
        tx.remove_principal(&id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Gives a confidential app a new secret (the old one stops working); returns it.
    pub async fn reset_app_secret(&self, app: &str) -> Result<String> {
        let mut tx = self.store().write().await?;
        let id = self.registered_app(&mut tx, app).await?;
        if tx.client(&id).await?.is_some_and(|c| c.is_public) {
            return Err(DriveError::InvalidRequest(format!(
                "\"{app}\" is a public client; it has no secret."
            )));
        }
        let secret = new_secret();
        tx.set_client_secret(&id, &digest(&secret)).await?;
        tx.commit().await?;
        Ok(secret)
    }
}
