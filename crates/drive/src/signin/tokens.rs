//! Access and ID tokens shaped like Entra ID's v2.0 tokens, and the check of a bearer token
//! (this server's, or a trusted provider's) that makes it a [`Caller`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use graphdrive_storage::metadata::PrincipalRecord;
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};

use super::scopes::Granted;
use crate::access::{Caller, CallerKind, Scopes};
use crate::error::{DriveError, Result};
use crate::service::now_millis;

/// Clock difference tolerated between a token's issuer and this server, for `nbf`.
pub(crate) const CLOCK_SKEW_SECS: i64 = 60;

#[derive(Serialize, Deserialize)]
pub(crate) struct AccessClaims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub sub: String,
    pub oid: String,
    pub tid: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// `user` or `app`.
    pub idtyp: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scp: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// The client the token was issued to.
    #[serde(default)]
    pub azp: String,
    #[serde(default)]
    pub appid: String,
    pub ver: String,
    pub uti: String,
}

#[derive(Serialize)]
struct IdClaims<'a> {
    aud: &'a str,
    iss: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    sub: &'a str,
    oid: &'a str,
    tid: &'a str,
    name: &'a str,
    preferred_username: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    ver: &'static str,
}

/// What a token endpoint returns.
#[derive(Clone, Debug)]
pub struct TokenSet {
    pub access_token: String,
    pub expires_in: i64,
    pub scope: String,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    /// base64url of `{"uid":…,"utid":…}`, which MSAL asks for with `client_info=1`.
    pub client_info: String,
}

/// Who a token is for.
pub(crate) enum Subject<'a> {
    User(&'a PrincipalRecord),
    App(&'a PrincipalRecord),
}

impl crate::DriveService {
    /// Signs an access token for a user (delegated, `scp`) or an application (`roles`).
    pub(crate) async fn sign_access(
        &self,
        subject: Subject<'_>,
        client_id: &str,
        scp: &[String],
        roles: &[String],
        ttl_secs: i64,
    ) -> Result<String> {
        let now = now_millis() / 1000;
        let (p, idtyp) = match subject {
            Subject::User(p) => (p, "user"),
            Subject::App(p) => (p, "app"),
        };
        let claims = AccessClaims {
            aud: super::GRAPH_RESOURCE.into(),
            iss: self.issuer(),
            iat: now,
            nbf: now,
            exp: now + ttl_secs,
            sub: p.id.clone(),
            oid: p.id.clone(),
            tid: self.tenant_id().to_string(),
            name: p.display_name.clone(),
            preferred_username: (idtyp == "user").then(|| p.name.clone()),
            idtyp: idtyp.into(),
            scp: scp.join(" "),
            roles: roles.to_vec(),
            azp: client_id.into(),
            appid: client_id.into(),
            ver: "2.0".into(),
            uti: crate::tokens::random_token(16),
        };
        self.sign_in().keys.sign(self.store(), &claims).await
    }

    /// The tokens of a delegated sign-in: the access token, an ID token with `openid`, and the
    /// refresh token the caller made (with `offline_access`).
    pub(crate) async fn user_tokens(
        &self,
        user: &PrincipalRecord,
        client_id: &str,
        granted: &Granted,
        nonce: Option<&str>,
        refresh_token: Option<String>,
    ) -> Result<TokenSet> {
        let ttl = self.sign_in_config().access_token_ttl_secs;
        let access_token = self
            .sign_access(Subject::User(user), client_id, &granted.scp, &[], ttl)
            .await?;
        let id_token = match granted.openid {
            false => None,
            true => {
                let now = now_millis() / 1000;
                let claims = IdClaims {
                    aud: client_id,
                    iss: self.issuer(),
                    iat: now,
                    nbf: now,
                    exp: now + ttl,
                    sub: &user.id,
                    oid: &user.id,
                    tid: self.tenant_id(),
                    name: &user.display_name,
                    preferred_username: &user.name,
                    nonce,
                    ver: "2.0",
                };
                Some(self.sign_in().keys.sign(self.store(), &claims).await?)
            }
        };
        Ok(TokenSet {
            access_token,
            expires_in: ttl,
            scope: granted.stored(),
            refresh_token,
            id_token,
            client_info: self.client_info(&user.id),
        })
    }

    pub(crate) fn client_info(&self, oid: &str) -> String {
        let info = serde_json::json!({ "uid": oid, "utid": self.tenant_id() });
        URL_SAFE_NO_PAD.encode(info.to_string())
    }

    /// The caller a bearer token stands for: this server's own token, or a trusted identity
    /// provider's. Anything else (another issuer, a wrong audience, a retired key, an expired
    /// token) is `401`.
    pub async fn authenticate(&self, token: Option<&str>) -> Result<Caller> {
        let token = match token.map(str::trim) {
            None | Some("") => return Err(unauthenticated("Access token is empty.")),
            Some(t) => t,
        };
        let now = now_millis();
        let cache = &self.sign_in().verified;
        let key = super::digest(token);
        if let Some(hit) = cache.get(&key, now) {
            // A retired key's tokens stop at once here too, not only when checked afresh.
            let live = match &hit.kid {
                Some(kid) => self
                    .sign_in()
                    .keys
                    .find(self.store(), kid, now)
                    .await?
                    .is_some(),
                None => true,
            };
            if live {
                return Ok(hit.caller);
            }
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| {
            unauthenticated("CompactToken parsing failed with error code: 80049217")
        })?;
        let kid = header.kid.as_deref().unwrap_or("");
        if let Some(signing) = self.sign_in().keys.find(self.store(), kid, now).await? {
            let (caller, exp) = self.own_caller(token, &signing.decoding)?;
            cache.put(key, caller.clone(), Some(kid.to_string()), exp, now);
            return Ok(caller);
        }
        let issuer = peek_issuer(token).unwrap_or_default();
        if let Some(trusted) = self.trusted_issuer(&issuer) {
            let (caller, exp) = self.external_caller(&trusted, token, &header).await?;
            cache.put(key, caller.clone(), None, exp, now);
            return Ok(caller);
        }
        Err(unauthenticated(
            "Access token validation failure. The token was not issued by this server or a trusted issuer, or its signing key was retired.",
        ))
    }

    /// The caller of one of this server's tokens, and when the token expires (seconds).
    fn own_caller(&self, token: &str, key: &jsonwebtoken::DecodingKey) -> Result<(Caller, i64)> {
        let mut v = Validation::new(Algorithm::RS256);
        v.set_audience(&self.accepted_audiences());
        v.leeway = 0;
        v.validate_nbf = false;
        let claims = jsonwebtoken::decode::<AccessClaims>(token, key, &v)
            .map_err(|e| unauthenticated(&validation_message(&e)))?
            .claims;
        if claims.tid != self.tenant_id() {
            return Err(unauthenticated(
                "Access token validation failure. The token is for another tenant.",
            ));
        }
        check_nbf(claims.nbf)?;
        let (kind, scopes) = match claims.idtyp.as_str() {
            "user" => (CallerKind::User, Scopes::parse(&claims.scp)),
            "app" => (CallerKind::App, Scopes::parse(&claims.roles.join(" "))),
            _ => return Err(unauthenticated("Access token validation failure.")),
        };
        let caller = Caller {
            id: claims.oid,
            kind,
            display_name: claims.name,
            scopes,
            client_id: (!claims.azp.is_empty()).then_some(claims.azp),
        };
        Ok((caller, claims.exp))
    }
}

pub(crate) fn check_nbf(nbf: i64) -> Result<()> {
    if nbf > now_millis() / 1000 + CLOCK_SKEW_SECS {
        return Err(unauthenticated(
            "Access token validation failure. The token is not valid yet (nbf).",
        ));
    }
    Ok(())
}

pub(crate) fn unauthenticated(msg: &str) -> DriveError {
    DriveError::Unauthenticated(msg.to_string())
}

pub(crate) fn validation_message(e: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match e.kind() {
        ErrorKind::ExpiredSignature => {
            "Lifetime validation failed, the token is expired.".to_string()
        }
        ErrorKind::InvalidAudience => "Invalid audience.".to_string(),
        ErrorKind::InvalidIssuer => "Invalid issuer.".to_string(),
        ErrorKind::InvalidSignature => "Access token validation failure. Invalid signature.".into(),
        _ => "Access token validation failure. Invalid or expired token.".to_string(),
    }
}

/// The `iss` of a token, read without checking anything: it only says whose keys to check with.
pub(crate) fn peek_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("iss")?.as_str().map(str::to_string)
}

/// Tokens already checked, by their SHA-256, until they expire: checking an RS256 signature
/// costs far more than the rest of a small request. Whether the caller is still enabled is not
/// cached (each request asks the store), nor is a key's retirement (checked on every hit).
#[derive(Default)]
pub(crate) struct VerifiedTokens {
    entries: std::sync::Mutex<std::collections::HashMap<String, Verified>>,
}

#[derive(Clone)]
struct Verified {
    caller: Caller,
    kid: Option<String>,
    /// Milliseconds.
    expires_at: i64,
}

/// Tokens kept at most; past it the cache starts again empty.
const VERIFIED_CAPACITY: usize = 50_000;

impl VerifiedTokens {
    fn get(&self, digest: &str, now_ms: i64) -> Option<Verified> {
        let entries = self.entries.lock().expect("not poisoned");
        entries
            .get(digest)
            .filter(|v| v.expires_at > now_ms)
            .cloned()
    }

    fn put(&self, digest: String, caller: Caller, kid: Option<String>, exp_secs: i64, now_ms: i64) {
        let mut entries = self.entries.lock().expect("not poisoned");
        if entries.len() >= VERIFIED_CAPACITY {
            entries.retain(|_, v| v.expires_at > now_ms);
            if entries.len() >= VERIFIED_CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            digest,
            Verified {
                caller,
                kid,
                expires_at: exp_secs.saturating_mul(1000),
            },
        );
    }
}
