//! Sign-in, shaped like Entra ID: the tenant, registered applications, passwords, the OAuth 2.0
//! grants (authorization code with PKCE, refresh token, device code, client credentials and,
//! when allowed, password), the RSA keys tokens are signed with, and the identity providers whose
//! tokens are trusted. The wire layer for all of it lives beside the Graph API, not here.

pub mod clients;
mod device;
pub(crate) mod external;
mod grants;
pub mod keys;
mod passwords;
mod scopes;
pub(crate) mod tokens;

use std::sync::RwLock;

use sha2::Digest;

pub use clients::{Client, RCLONE_CLIENT_ID, WEB_CLIENT_ID, is_builtin};
pub use device::DeviceStart;
pub use grants::{AuthorizeError, AuthorizeRequest, ResponseMode, TokenRequest, ValidAuthorize};
pub use keys::PublicKey;
pub use passwords::SignInFailure;
pub use tokens::TokenSet;

/// The resource Graph tokens are for, in the two spellings Entra ID uses as `aud`.
pub const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// The tenant names that Entra accepts in place of a tenant id.
pub const TENANT_ALIASES: &[&str] = &["common", "organizations", "consumers"];

pub(crate) const TENANT_SETTING: &str = "tenant_id";
pub(crate) const PUBLIC_URL_SETTING: &str = "public_url";

/// How sign-in behaves; `serve` sets it from its flags.
#[derive(Clone, Debug)]
pub struct SignInConfig {
    pub access_token_ttl_secs: i64,
    /// A refresh token's lifetime, renewed with every use (a sliding window).
    pub refresh_token_ttl_secs: i64,
    pub code_ttl_secs: i64,
    pub device_code_ttl_secs: i64,
    /// Seconds a device must wait between two polls of the token endpoint.
    pub device_poll_interval_secs: i64,
    /// Entra's resource-owner password grant (off by default).
    pub allow_password_grant: bool,
    /// Issuers (as their tokens' `iss`) whose access tokens are accepted.
    pub trusted_issuers: Vec<String>,
    /// Audiences accepted besides Graph's own and the server's public URL.
    pub extra_audiences: Vec<String>,
}

impl Default for SignInConfig {
    fn default() -> Self {
        Self {
            access_token_ttl_secs: 3600,
            refresh_token_ttl_secs: 90 * 24 * 3600,
            code_ttl_secs: 600,
            device_code_ttl_secs: 900,
            device_poll_interval_secs: 5,
            allow_password_grant: false,
            trusted_issuers: vec![],
            extra_audiences: vec![],
        }
    }
}

/// What the OAuth endpoints answer when a request fails, as RFC 6749 names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OAuthCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    AccessDenied,
    LoginRequired,
    AuthorizationPending,
    SlowDown,
    ExpiredToken,
    InvalidTenant,
    TemporarilyUnavailable,
    ServerError,
}

impl OAuthCode {
    pub fn as_str(self) -> &'static str {
        use OAuthCode::*;
        match self {
            InvalidRequest => "invalid_request",
            InvalidClient => "invalid_client",
            InvalidGrant => "invalid_grant",
            UnauthorizedClient => "unauthorized_client",
            UnsupportedGrantType => "unsupported_grant_type",
            UnsupportedResponseType => "unsupported_response_type",
            InvalidScope => "invalid_scope",
            AccessDenied => "access_denied",
            LoginRequired => "login_required",
            AuthorizationPending => "authorization_pending",
            SlowDown => "slow_down",
            ExpiredToken => "expired_token",
            InvalidTenant => "invalid_tenant",
            TemporarilyUnavailable => "temporarily_unavailable",
            ServerError => "server_error",
        }
    }
}

/// An OAuth error: its code, Entra's AADSTS number where there is one, and a description.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {description}", code.as_str())]
pub struct OAuthError {
    pub code: OAuthCode,
    pub aadsts: Option<u32>,
    pub description: String,
}

impl OAuthError {
    pub fn new(code: OAuthCode, aadsts: Option<u32>, description: impl Into<String>) -> Self {
        let description = description.into();
        let description = match aadsts {
            Some(n) => format!("AADSTS{n}: {description}"),
            None => description,
        };
        Self {
            code,
            aadsts,
            description,
        }
    }

    pub(crate) fn request(aadsts: u32, description: impl Into<String>) -> Self {
        Self::new(OAuthCode::InvalidRequest, Some(aadsts), description)
    }

    pub(crate) fn grant(aadsts: u32, description: impl Into<String>) -> Self {
        Self::new(OAuthCode::InvalidGrant, Some(aadsts), description)
    }

    pub(crate) fn client(aadsts: u32, description: impl Into<String>) -> Self {
        Self::new(OAuthCode::InvalidClient, Some(aadsts), description)
    }
}

impl From<crate::DriveError> for OAuthError {
    fn from(e: crate::DriveError) -> Self {
        tracing::warn!(error = %e, "sign-in failed on the server's side");
        match e {
            crate::DriveError::InsufficientStorage => OAuthError::new(
                OAuthCode::TemporarilyUnavailable,
                None,
                "The server is out of space; try again later.",
            ),
            _ => OAuthError::new(
                OAuthCode::ServerError,
                None,
                "The server could not complete the sign-in; try again.",
            ),
        }
    }
}

impl From<graphdrive_storage::StorageError> for OAuthError {
    fn from(e: graphdrive_storage::StorageError) -> Self {
        crate::DriveError::from(e).into()
    }
}

/// Sign-in's share of the service: its settings and what it keeps in memory.
pub(crate) struct SignIn {
    pub config: SignInConfig,
    pub tenant_id: String,
    /// The server's public URL, which issuers and endpoints are named under.
    pub public_url: RwLock<String>,
    pub keys: keys::KeyRing,
    pub limiter: passwords::FailureLimiter,
    pub external: external::TrustedIssuers,
    pub verified: tokens::VerifiedTokens,
}

/// SHA-256 of a secret (a code, a refresh token, a client secret), hex: what the store keeps.
pub(crate) fn digest(secret: &str) -> String {
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

/// Compares two strings in time that does not depend on where they differ.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl crate::DriveService {
    pub(crate) fn sign_in(&self) -> &SignIn {
        &self.inner.sign_in
    }

    /// This server's tenant id (a GUID made on first start).
    pub fn tenant_id(&self) -> &str {
        &self.sign_in().tenant_id
    }

    pub fn sign_in_config(&self) -> &SignInConfig {
        &self.sign_in().config
    }

    /// The server's public URL, as `serve` last recorded it.
    pub fn public_url(&self) -> String {
        self.sign_in()
            .public_url
            .read()
            .expect("not poisoned")
            .clone()
    }

    /// Records the URL clients reach this server at, which token issuers are named under; every
    /// command run on the same store (`graphdrive token`) then issues tokens under it too.
    pub async fn set_public_url(&self, url: &str) -> crate::Result<()> {
        let mut tx = self.store().write().await?;
        tx.set_setting(PUBLIC_URL_SETTING, url).await?;
        tx.commit().await?;
        *self.sign_in().public_url.write().expect("not poisoned") = url.to_string();
        Ok(())
    }

    /// The issuer of this server's tokens: `{public-url}/{tenant-id}/v2.0`.
    pub fn issuer(&self) -> String {
        format!("{}/{}/v2.0", self.public_url(), self.tenant_id())
    }

    /// Whether a tenant segment of a sign-in URL names this server: an alias or its id.
    pub fn is_own_tenant(&self, tenant: &str) -> bool {
        TENANT_ALIASES
            .iter()
            .any(|a| a.eq_ignore_ascii_case(tenant))
            || tenant.eq_ignore_ascii_case(self.tenant_id())
    }

    /// Audiences this server's API accepts in access tokens.
    pub(crate) fn accepted_audiences(&self) -> Vec<String> {
        let mut aud = vec![
            GRAPH_RESOURCE.to_string(),
            format!("{GRAPH_RESOURCE}/"),
            GRAPH_APP_ID.to_string(),
            self.public_url(),
        ];
        aud.extend(self.sign_in_config().extra_audiences.iter().cloned());
        aud
    }
}
