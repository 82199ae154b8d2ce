//! The authorization endpoint's request, and the token endpoint's grants: authorization code
//! (PKCE for public clients), refresh token (rotated; a reused one revokes its family), client
//! credentials, password (when allowed) and device code.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use graphdrive_storage::Tx;
use graphdrive_storage::metadata::{CodeRecord, PrincipalRecord, RefreshRecord};
use sha2::Digest;

use super::clients::Client;
use super::scopes::{self, Granted};
use super::tokens::{Subject, TokenSet};
use super::{OAuthCode, OAuthError, digest};
use crate::service::now_millis;

/// How the authorization response travels back to the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseMode {
    Query,
    FormPost,
}

/// The parameters of `GET …/oauth2/v2.0/authorize`.
#[derive(Clone, Debug, Default)]
pub struct AuthorizeRequest {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub response_mode: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub nonce: Option<String>,
    pub prompt: Option<String>,
}

/// An authorization request that may be answered with a sign-in page.
#[derive(Clone, Debug)]
pub struct ValidAuthorize {
    pub client: Client,
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    pub state: Option<String>,
    granted: Granted,
    challenge: Option<(String, String)>,
    nonce: Option<String>,
}

/// Why an authorization request cannot go on.
#[derive(Clone, Debug)]
pub enum AuthorizeError {
    /// The client or its redirect URI is unknown: the error is shown, never sent anywhere.
    Shown(String),
    /// Sent back to the client's redirect URI.
    Redirect {
        redirect_uri: String,
        response_mode: ResponseMode,
        state: Option<String>,
        error: OAuthError,
    },
}

/// The form of `POST …/oauth2/v2.0/token`, with the client's Basic credentials merged in.
#[derive(Clone, Debug, Default)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub device_code: Option<String>,
    pub remote: Option<IpAddr>,
}

fn missing(param: &str) -> OAuthError {
    OAuthError::request(
        900144,
        format!("The request body must contain the following parameter: '{param}'."),
    )
}

fn pkce_matches(method: &str, challenge: &str, verifier: &str) -> bool {
    match method {
        "S256" => {
            let hashed = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
            super::same(&hashed, challenge)
        }
        _ => super::same(verifier, challenge),
    }
}

impl crate::DriveService {
    /// Checks an authorization request: the client, the exact redirect URI, the response type,
    /// the scopes and PKCE.
    pub async fn validate_authorize(
        &self,
        req: &AuthorizeRequest,
    ) -> Result<ValidAuthorize, AuthorizeError> {
        let shown = |m: &str| AuthorizeError::Shown(m.to_string());
        let client_id = req.client_id.as_deref().unwrap_or("");
        let client = match self.client(client_id).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                return Err(shown(&format!(
                    "AADSTS700016: Application with identifier '{client_id}' was not found on this server."
                )));
            }
            Err(e) => return Err(shown(&format!("The server could not look the app up: {e}"))),
        };
        let redirect_uri = match (&req.redirect_uri, client.redirect_uris.as_slice()) {
            (Some(uri), _) if client.allows_redirect(uri) => uri.clone(),
            (None, [only]) => only.clone(),
            (Some(uri), _) => {
                return Err(shown(&format!(
                    "AADSTS50011: The redirect URI '{uri}' specified in the request does not match the redirect URIs configured for the application '{}'.",
                    client.name
                )));
            }
            (None, _) => return Err(shown(&missing("redirect_uri").description)),
        };
        let response_mode = match req.response_mode.as_deref() {
            None | Some("query") => ResponseMode::Query,
            Some("form_post") => ResponseMode::FormPost,
            Some(other) => {
                return Err(shown(&format!(
                    "AADSTS900144: The response_mode '{other}' is not supported; use query or form_post."
                )));
            }
        };
        let redirect = |error: OAuthError| AuthorizeError::Redirect {
            redirect_uri: redirect_uri.clone(),
            response_mode,
            state: req.state.clone(),
            error,
        };
        if req.response_type.as_deref() != Some("code") {
            return Err(redirect(OAuthError::new(
                OAuthCode::UnsupportedResponseType,
                Some(700054),
                "The response_type must be 'code' (the authorization code flow).",
            )));
        }
        if req.prompt.as_deref() == Some("none") {
            return Err(redirect(OAuthError::new(
                OAuthCode::LoginRequired,
                Some(50058),
                "A silent sign-in was requested but the user is not signed in.",
            )));
        }
        let granted = scopes::delegated(req.scope.as_deref().unwrap_or("")).map_err(&redirect)?;
        let challenge = match (&req.code_challenge, req.code_challenge_method.as_deref()) {
            (Some(c), None | Some("S256") | Some("plain")) if (43..=128).contains(&c.len()) => {
                let method = req.code_challenge_method.as_deref().unwrap_or("plain");
                Some((c.clone(), method.to_string()))
            }
            (Some(_), _) => {
                return Err(redirect(OAuthError::request(
                    501491,
                    "Invalid code_challenge: use 43 to 128 characters, with code_challenge_method S256 or plain.",
                )));
            }
            (None, _) if client.requires_pkce => {
                return Err(redirect(OAuthError::request(
                    9002325,
                    "Proof Key for Code Exchange is required for cross-origin authorization code redemption: a public client must send code_challenge.",
                )));
            }
            (None, _) => None,
        };
        Ok(ValidAuthorize {
            client,
            redirect_uri,
            response_mode,
            state: req.state.clone(),
            granted,
            challenge,
            nonce: req.nonce.clone(),
        })
    }

    /// Issues the authorization code a signed-in user's browser carries back to the client.
    pub async fn issue_code(
        &self,
        v: &ValidAuthorize,
        user: &PrincipalRecord,
    ) -> Result<String, OAuthError> {
        let code = crate::tokens::random_token(32);
        let record = CodeRecord {
            code_hash: digest(&code),
            client_id: v.client.id.clone(),
            principal_id: user.id.clone(),
            redirect_uri: v.redirect_uri.clone(),
            scopes: v.granted.stored(),
            code_challenge: v.challenge.as_ref().map(|c| c.0.clone()),
            challenge_method: v.challenge.as_ref().map(|c| c.1.clone()),
            nonce: v.nonce.clone(),
            expires_at: now_millis() + self.sign_in_config().code_ttl_secs * 1000,
        };
        let mut tx = self.store().write().await?;
        tx.insert_code(&record).await?;
        tx.commit().await?;
        tracing::info!(user = %user.name, client = %v.client.name, "signed in: authorization code issued");
        Ok(code)
    }

    /// The token endpoint.
    pub async fn token(&self, req: TokenRequest) -> Result<TokenSet, OAuthError> {
        let grant = req
            .grant_type
            .clone()
            .ok_or_else(|| missing("grant_type"))?;
        let client_id = req.client_id.clone().ok_or_else(|| missing("client_id"))?;
        // The client is checked before any code or token is spent: a client that retries with
        // other credentials (rclone does) must still find its code.
        let client = self.client(&client_id).await?.ok_or_else(|| {
            OAuthError::client(
                700016,
                format!("Application with identifier '{client_id}' was not found on this server."),
            )
        })?;
        client.authenticate(req.client_secret.as_deref())?;
        match grant.as_str() {
            "authorization_code" => self.redeem_code(&client, &req).await,
            "refresh_token" => self.redeem_refresh(&client, &req).await,
            "client_credentials" => self.app_only_token(&client, &req).await,
            "password" => self.password_grant(&client, &req).await,
            "urn:ietf:params:oauth:grant-type:device_code" => {
                let code = req
                    .device_code
                    .as_deref()
                    .ok_or_else(|| missing("device_code"))?;
                self.poll_device(&client, code).await
            }
            other => Err(OAuthError::new(
                OAuthCode::UnsupportedGrantType,
                Some(70003),
                format!("The app requested an unsupported grant type '{other}'."),
            )),
        }
    }

    async fn redeem_code(
        &self,
        client: &Client,
        req: &TokenRequest,
    ) -> Result<TokenSet, OAuthError> {
        let code = req.code.as_deref().ok_or_else(|| missing("code"))?;
        let mut tx = self.store().write().await?;
        let record = tx.take_code(&digest(code)).await?;
        let record = match record.ok_or_else(code_expired).and_then(|r| {
            check_code(&r, client, req)?;
            Ok(r)
        }) {
            Ok(r) => r,
            Err(e) => {
                // A code that failed its check is spent all the same.
                tx.commit().await?;
                return Err(e);
            }
        };
        let granted = scopes::from_stored(&record.scopes);
        let nonce = record.nonce.as_deref();
        self.finish_delegated(tx, &record.principal_id, client, &granted, nonce, None)
            .await
    }

    /// Ends a delegated grant: the refresh token (with `offline_access`) is written in `tx`,
    /// beside what the grant spent, and committed; then the tokens are signed.
    pub(crate) async fn finish_delegated(
        &self,
        mut tx: Tx,
        user_id: &str,
        client: &Client,
        granted: &Granted,
        nonce: Option<&str>,
        family: Option<&str>,
    ) -> Result<TokenSet, OAuthError> {
        let user = active_user(&mut tx, user_id).await?;
        let refresh = self
            .new_refresh(&mut tx, &user, client, granted, family)
            .await?;
        tx.commit().await?;
        Ok(self
            .user_tokens(&user, &client.id, granted, nonce, refresh)
            .await?)
    }

    /// A refresh token in `family` (a new family when `None`), if `offline_access` was granted,
    /// written in the caller's transaction with what it replaces.
    pub(crate) async fn new_refresh(
        &self,
        tx: &mut Tx,
        user: &PrincipalRecord,
        client: &Client,
        granted: &Granted,
        family: Option<&str>,
    ) -> Result<Option<String>, OAuthError> {
        if !granted.offline {
            return Ok(None);
        }
        let token = crate::tokens::random_token(48);
        let now = now_millis();
        let record = RefreshRecord {
            token_hash: digest(&token),
            family_id: family
                .map(str::to_string)
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            client_id: client.id.clone(),
            principal_id: user.id.clone(),
            scopes: granted.stored(),
            issued_at: now,
            expires_at: now + self.sign_in_config().refresh_token_ttl_secs * 1000,
            spent_at: None,
        };
        tx.insert_refresh(&record).await?;
        Ok(Some(token))
    }

    async fn redeem_refresh(
        &self,
        client: &Client,
        req: &TokenRequest,
    ) -> Result<TokenSet, OAuthError> {
        let token = req
            .refresh_token
            .as_deref()
            .ok_or_else(|| missing("refresh_token"))?;
        let invalid = || {
            OAuthError::grant(
                70000,
                "The refresh token is invalid, expired or revoked. Sign in again.",
            )
        };
        let hash = digest(token);
        let now = now_millis();
        let mut tx = self.store().write().await?;
        let record = tx.refresh_token(&hash).await?.ok_or_else(invalid)?;
        if record.client_id != client.id || record.expires_at <= now {
            return Err(invalid());
        }
        let original = scopes::from_stored(&record.scopes);
        let granted = match req
            .scope
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => original.clone(),
            Some(asked) => {
                let asked = scopes::delegated(asked)?;
                if !scopes::within(&asked, &original) {
                    return Err(OAuthError::new(
                        OAuthCode::InvalidScope,
                        Some(65001),
                        "The refresh token does not grant the scopes asked for; sign in again to consent to them.",
                    ));
                }
                Granted {
                    offline: true,
                    ..asked
                }
            }
        };
        if record.spent_at.is_some() || !tx.spend_refresh(&hash, now).await? {
            // A spent token presented again was copied: end the whole sign-in it belongs to.
            let revoked = tx.revoke_family(&record.family_id).await?;
            tx.commit().await?;
            tracing::warn!(
                family = %&record.family_id[..8],
                revoked,
                "a spent refresh token was presented again; its sign-in is revoked"
            );
            return Err(OAuthError::grant(
                70043,
                "The refresh token was already used. Its sign-in has been revoked; sign in again.",
            ));
        }
        let family = Some(record.family_id.as_str());
        self.finish_delegated(tx, &record.principal_id, client, &granted, None, family)
            .await
    }

    async fn app_only_token(
        &self,
        client: &Client,
        req: &TokenRequest,
    ) -> Result<TokenSet, OAuthError> {
        if client.is_public {
            return Err(OAuthError::new(
                OAuthCode::UnauthorizedClient,
                Some(7000218),
                "A public client cannot use the client credentials grant; register a confidential app (graphdrive app add NAME --role ROLE).",
            ));
        }
        scopes::app_only(req.scope.as_deref().unwrap_or(""))?;
        let mut tx = self.store().read().await?;
        let app = tx
            .principal(&client.id)
            .await?
            .ok_or_else(|| OAuthError::client(700016, "The application no longer exists."))?;
        drop(tx);
        let ttl = self.sign_in_config().access_token_ttl_secs;
        let access_token = self
            .sign_access(Subject::App(&app), &client.id, &[], &client.roles, ttl)
            .await?;
        Ok(TokenSet {
            access_token,
            expires_in: ttl,
            scope: format!("{}/.default", super::GRAPH_RESOURCE),
            refresh_token: None,
            id_token: None,
            client_info: self.client_info(&app.id),
        })
    }

    async fn password_grant(
        &self,
        client: &Client,
        req: &TokenRequest,
    ) -> Result<TokenSet, OAuthError> {
        if !self.sign_in_config().allow_password_grant {
            return Err(OAuthError::new(
                OAuthCode::UnsupportedGrantType,
                Some(7000218),
                "The password grant is turned off on this server (serve --allow-password-grant turns it on).",
            ));
        }
        let username = req.username.as_deref().ok_or_else(|| missing("username"))?;
        let password = req.password.as_deref().ok_or_else(|| missing("password"))?;
        let granted = scopes::delegated(req.scope.as_deref().unwrap_or(""))?;
        let user = self
            .check_password(username, password, req.remote)
            .await
            .map_err(|e| match e {
                super::SignInFailure::Server(e) => OAuthError::from(e),
                super::SignInFailure::TooManyAttempts => OAuthError::grant(50053, e.to_string()),
                super::SignInFailure::Disabled => OAuthError::grant(50057, e.to_string()),
                super::SignInFailure::WrongCredentials => OAuthError::grant(
                    50126,
                    "Error validating credentials due to invalid username or password.",
                ),
            })?;
        let tx = self.store().write().await?;
        self.finish_delegated(tx, &user.id, client, &granted, None, None)
            .await
    }
}

fn code_expired() -> OAuthError {
    OAuthError::grant(
        70008,
        "The provided authorization code or refresh token has expired, was already redeemed or was never issued. Send a new interactive authorization request.",
    )
}

/// Whether a code may be redeemed by this request: its client, its redirect URI, its PKCE.
fn check_code(record: &CodeRecord, client: &Client, req: &TokenRequest) -> Result<(), OAuthError> {
    if record.expires_at <= now_millis() || record.client_id != client.id {
        return Err(code_expired());
    }
    if req.redirect_uri.as_deref() != Some(record.redirect_uri.as_str()) {
        return Err(OAuthError::grant(
            50148,
            "The redirect_uri does not match the one the authorization code was issued for.",
        ));
    }
    if let (Some(challenge), Some(method)) = (&record.code_challenge, &record.challenge_method) {
        let verifier = req.code_verifier.as_deref().ok_or_else(|| {
            OAuthError::grant(501481, "The code_verifier is missing; it is required because the authorization request sent a code_challenge.")
        })?;
        if !pkce_matches(method, challenge, verifier) {
            return Err(OAuthError::grant(
                501481,
                "The code_verifier does not match the code_challenge supplied in the authorization request.",
            ));
        }
    }
    Ok(())
}

/// The user a grant is for, unless they were disabled or removed since.
pub(crate) async fn active_user(tx: &mut Tx, id: &str) -> Result<PrincipalRecord, OAuthError> {
    match tx.principal(id).await? {
        Some(p) if !p.is_disabled() => Ok(p),
        _ => Err(OAuthError::grant(
            50057,
            "The user account is disabled or no longer exists.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_pkce() {
        // RFC 7636, appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches("S256", challenge, verifier));
        assert!(!pkce_matches("S256", challenge, "x"));
        assert!(pkce_matches("plain", verifier, verifier));
    }
}
