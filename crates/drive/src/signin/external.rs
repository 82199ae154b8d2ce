//! Trusted identity providers (`serve --trusted-issuer URL`): their access tokens are checked
//! against the keys their OpenID configuration publishes, and their users and groups become
//! principals here on first sight (never merged with a local user of the same name).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use graphdrive_storage::metadata::{PrincipalKind, PrincipalRecord};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::Deserialize;

use super::tokens::{CLOCK_SKEW_SECS, check_nbf, unauthenticated, validation_message};
use crate::access::{Caller, CallerKind, Scopes};
use crate::error::Result;
use crate::identities::{new_principal, valid_name_char, valid_principal_name};

/// How long a provider's keys are used before they are fetched again.
const KEYS_FOR: Duration = Duration::from_secs(3600);
/// How often an unknown `kid` may make the keys be fetched again.
const REFETCH_AFTER: Duration = Duration::from_secs(10);
/// How long a user's mapping (and groups) is trusted before the store is asked again.
const MAPPING_FOR: Duration = Duration::from_secs(60);

/// Who a provider's token names: (issuer, subject, groups).
type MappingKey = (String, String, Vec<String>);

struct ProviderKeys {
    fetched: Instant,
    keys: JwkSet,
}

pub(crate) struct TrustedIssuers {
    issuers: Vec<String>,
    http: reqwest::Client,
    keys: tokio::sync::Mutex<HashMap<String, ProviderKeys>>,
    /// (issuer, subject, groups) → principal id, and when it was checked.
    mapped: Mutex<HashMap<MappingKey, (String, Instant)>>,
}

#[derive(Deserialize)]
struct ExternalClaims {
    sub: Option<String>,
    oid: Option<String>,
    preferred_username: Option<String>,
    upn: Option<String>,
    email: Option<String>,
    name: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    scp: Option<String>,
    /// What providers that follow RFC 9068 call `scp`.
    scope: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    idtyp: Option<String>,
    azp: Option<String>,
    client_id: Option<String>,
    nbf: Option<i64>,
    exp: i64,
}

#[derive(Deserialize)]
struct Discovery {
    jwks_uri: String,
}

fn trim(url: &str) -> &str {
    url.trim_end_matches('/')
}

impl TrustedIssuers {
    pub(crate) fn new(issuers: &[String]) -> Self {
        Self {
            issuers: issuers.iter().map(|i| trim(i).to_string()).collect(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            keys: tokio::sync::Mutex::new(HashMap::new()),
            mapped: Mutex::new(HashMap::new()),
        }
    }

    async fn fetch(&self, issuer: &str) -> Result<JwkSet> {
        let fail = |e: String| {
            tracing::warn!(issuer, error = %e, "cannot fetch a trusted issuer's keys");
            unauthenticated(&format!(
                "Access token validation failure. The keys of the issuer {issuer} cannot be fetched."
            ))
        };
        let discovery: Discovery = self
            .http
            .get(format!("{issuer}/.well-known/openid-configuration"))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| fail(e.to_string()))?
            .json()
            .await
            .map_err(|e| fail(e.to_string()))?;
        self.http
            .get(&discovery.jwks_uri)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| fail(e.to_string()))?
            .json()
            .await
            .map_err(|e| fail(e.to_string()))
    }

    /// The key `kid` of `issuer`, fetching the keys when they are old or do not have it.
    async fn key(&self, issuer: &str, kid: Option<&str>) -> Result<Option<jsonwebtoken::jwk::Jwk>> {
        let mut cache = self.keys.lock().await;
        let find = |set: &JwkSet| match kid {
            Some(k) => set.find(k).cloned(),
            None => (set.keys.len() == 1).then(|| set.keys[0].clone()),
        };
        if let Some(p) = cache.get(issuer) {
            let found = find(&p.keys);
            let age = p.fetched.elapsed();
            if (found.is_some() && age < KEYS_FOR) || (found.is_none() && age < REFETCH_AFTER) {
                return Ok(found);
            }
        }
        let keys = self.fetch(issuer).await?;
        let found = find(&keys);
        cache.insert(
            issuer.to_string(),
            ProviderKeys {
                fetched: Instant::now(),
                keys,
            },
        );
        Ok(found)
    }
}

fn allowed(alg: Algorithm) -> bool {
    use Algorithm::*;
    matches!(
        alg,
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 | ES256 | ES384 | EdDSA
    )
}

impl crate::DriveService {
    /// The trusted issuer a token names, if it names one.
    pub(crate) fn trusted_issuer(&self, iss: &str) -> Option<String> {
        let iss = trim(iss);
        self.sign_in()
            .external
            .issuers
            .iter()
            .find(|i| *i == iss)
            .cloned()
    }

    pub(crate) async fn external_caller(
        &self,
        issuer: &str,
        token: &str,
        header: &Header,
    ) -> Result<(Caller, i64)> {
        if !allowed(header.alg) {
            return Err(unauthenticated(
                "Access token validation failure. The token's signing algorithm is not accepted.",
            ));
        }
        let trusted = &self.sign_in().external;
        let jwk = trusted
            .key(issuer, header.kid.as_deref())
            .await?
            .ok_or_else(|| {
                unauthenticated("Access token validation failure. The token's signing key is not published by its issuer.")
            })?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| {
            unauthenticated("Access token validation failure. Unusable signing key.")
        })?;
        let mut v = Validation::new(header.alg);
        v.set_audience(&self.accepted_audiences());
        v.set_issuer(&[issuer, &format!("{issuer}/")]);
        v.leeway = CLOCK_SKEW_SECS as u64;
        v.validate_nbf = false;
        let claims = jsonwebtoken::decode::<ExternalClaims>(token, &key, &v)
            .map_err(|e| unauthenticated(&validation_message(&e)))?
            .claims;
        if let Some(nbf) = claims.nbf {
            check_nbf(nbf)?;
        }
        let subject = claims.oid.clone().or(claims.sub.clone()).ok_or_else(|| {
            unauthenticated(
                "Access token validation failure. The token names no subject (oid or sub).",
            )
        })?;
        let delegated = claims.scp.as_deref().or(claims.scope.as_deref());
        let is_app = claims.idtyp.as_deref() == Some("app")
            || (delegated.is_none() && !claims.roles.is_empty());
        let (kind, scopes) = match is_app {
            true => (CallerKind::App, Scopes::parse(&claims.roles.join(" "))),
            false => (CallerKind::User, Scopes::parse(delegated.unwrap_or(""))),
        };
        let display = claims
            .name
            .clone()
            .or(claims.preferred_username.clone())
            .unwrap_or_else(|| subject.clone());
        let wanted = match kind {
            CallerKind::App => claims.azp.clone().or(claims.client_id.clone()),
            CallerKind::User => claims
                .preferred_username
                .clone()
                .or(claims.upn.clone())
                .or(claims.email.clone()),
        }
        .unwrap_or_else(|| subject.clone());
        let groups = match kind {
            CallerKind::User => claims.groups.clone(),
            CallerKind::App => vec![],
        };
        let id = self
            .map_external(issuer, &subject, kind, &wanted, &display, groups)
            .await?;
        let caller = Caller {
            id,
            kind,
            display_name: display,
            scopes,
            client_id: None,
        };
        // The mapping (and the user's groups) is looked at again after a while, whatever the
        // token's lifetime.
        let recheck = crate::service::now_millis() / 1000 + MAPPING_FOR.as_secs() as i64;
        Ok((caller, claims.exp.min(recheck)))
    }

    /// The principal of a provider's user or app (made on first sight), with the user's groups
    /// as the token lists them.
    async fn map_external(
        &self,
        issuer: &str,
        subject: &str,
        kind: CallerKind,
        wanted_name: &str,
        display: &str,
        mut groups: Vec<String>,
    ) -> Result<String> {
        groups.sort();
        groups.dedup();
        let key = (issuer.to_string(), subject.to_string(), groups.clone());
        let trusted = &self.sign_in().external;
        if let Some((id, at)) = trusted.mapped.lock().expect("not poisoned").get(&key)
            && at.elapsed() < MAPPING_FOR
        {
            return Ok(id.clone());
        }
        let pkind = match kind {
            CallerKind::User => PrincipalKind::User,
            CallerKind::App => PrincipalKind::App,
        };
        let mut tx = self.store().write().await?;
        let user = self
            .linked(&mut tx, issuer, subject, pkind, wanted_name, display)
            .await?;
        if kind == CallerKind::User {
            let mut wanted_groups = vec![];
            for g in &groups {
                let group = self
                    .linked(
                        &mut tx,
                        issuer,
                        &format!("group:{g}"),
                        PrincipalKind::Group,
                        g,
                        g,
                    )
                    .await?;
                tx.add_group_member(&group.id, &user.id).await?;
                wanted_groups.push(group.id);
            }
            for g in tx.groups_of(&user.id).await? {
                let from_issuer = tx
                    .external_links(&g.id)
                    .await?
                    .iter()
                    .any(|(iss, _)| iss == issuer);
                if from_issuer && !wanted_groups.contains(&g.id) {
                    tx.remove_group_member(&g.id, &user.id).await?;
                }
            }
        }
        tx.commit().await?;
        let mut mapped = trusted.mapped.lock().expect("not poisoned");
        mapped.retain(|_, (_, at)| at.elapsed() < MAPPING_FOR);
        mapped.insert(key, (user.id.clone(), Instant::now()));
        Ok(user.id)
    }

    /// The principal linked to (issuer, subject), made and linked when there is none. Its name
    /// is the one the provider gives when that is free, else that name with a suffix.
    async fn linked(
        &self,
        tx: &mut graphdrive_storage::Tx,
        issuer: &str,
        subject: &str,
        kind: PrincipalKind,
        wanted: &str,
        display: &str,
    ) -> Result<PrincipalRecord> {
        if let Some(id) = tx.external_identity(issuer, subject).await?
            && let Some(p) = tx.principal(&id).await?
        {
            return Ok(p);
        }
        let base: String = wanted
            .chars()
            .map(|c| if valid_name_char(c) { c } else { '-' })
            .take(200)
            .collect();
        let suffix = &super::digest(&format!("{issuer}\n{subject}"))[..8];
        let name = match tx.principal_by_name(kind.as_str(), &base).await? {
            None if valid_principal_name(&base) => base,
            _ => format!("{base}-{suffix}"),
        };
        let p = new_principal(kind, &name, display);
        tx.insert_principal(&p).await?;
        tx.insert_external_identity(issuer, subject, &p.id).await?;
        tracing::info!(issuer, kind = kind.as_str(), name = %p.name, "a trusted issuer's principal seen first: added");
        Ok(p)
    }
}
