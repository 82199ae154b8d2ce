//! Passwords: Argon2id hashes in the store, the check of a sign-in, and the limit on failed
//! attempts (per user name and per client address) that keeps passwords from being guessed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use graphdrive_storage::metadata::{PrincipalKind, PrincipalRecord};
use rand::RngCore;

use crate::error::{DriveError, Result};
use crate::identities::find_principal;

/// Failed sign-ins a user name may have in a window before further attempts are refused.
const FAILURES_PER_USER: u32 = 5;
/// Failed sign-ins one client address may have in a window.
const FAILURES_PER_ADDRESS: u32 = 20;
const WINDOW: Duration = Duration::from_secs(300);

pub const MIN_PASSWORD_LEN: usize = 8;

/// Why a sign-in did not succeed. The messages never tell whether a user name exists.
#[derive(Debug, thiserror::Error)]
pub enum SignInFailure {
    #[error("The username or password is incorrect.")]
    WrongCredentials,
    #[error("Too many failed sign-in attempts. Wait a few minutes and try again.")]
    TooManyAttempts,
    /// Told only to whoever gave the right password.
    #[error("This account is disabled. Ask the server's operator.")]
    Disabled,
    #[error("{0}")]
    Server(#[from] DriveError),
}

impl From<graphdrive_storage::StorageError> for SignInFailure {
    fn from(e: graphdrive_storage::StorageError) -> Self {
        SignInFailure::Server(e.into())
    }
}

pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| DriveError::Internal(format!("cannot make a salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| DriveError::Internal(format!("cannot hash the password: {e}")))
}

fn verify(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash no password matches, checked when there is no user, so that an unknown name takes as
/// long to refuse as a wrong password.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password(&crate::tokens::random_token(16)).unwrap_or_default())
}

struct Window {
    since: Instant,
    failures: u32,
}

/// Counts failed sign-ins per key (`user:…`, `addr:…`) in fixed windows, on this node.
#[derive(Default)]
pub(crate) struct FailureLimiter {
    windows: Mutex<HashMap<String, Window>>,
}

impl FailureLimiter {
    fn keys(username: &str, remote: Option<IpAddr>) -> Vec<(String, u32)> {
        let mut keys = vec![(
            format!("user:{}", username.to_lowercase()),
            FAILURES_PER_USER,
        )];
        if let Some(ip) = remote {
            keys.push((format!("addr:{ip}"), FAILURES_PER_ADDRESS));
        }
        keys
    }

    fn blocked(&self, username: &str, remote: Option<IpAddr>) -> bool {
        let mut windows = self.windows.lock().expect("not poisoned");
        windows.retain(|_, w| w.since.elapsed() < WINDOW);
        Self::keys(username, remote)
            .iter()
            .any(|(k, limit)| windows.get(k).is_some_and(|w| w.failures >= *limit))
    }

    fn failed(&self, username: &str, remote: Option<IpAddr>) {
        let mut windows = self.windows.lock().expect("not poisoned");
        for (k, _) in Self::keys(username, remote) {
            windows
                .entry(k)
                .or_insert_with(|| Window {
                    since: Instant::now(),
                    failures: 0,
                })
                .failures += 1;
        }
    }

    fn succeeded(&self, username: &str) {
        let key = format!("user:{}", username.to_lowercase());
        self.windows.lock().expect("not poisoned").remove(&key);
    }
}

impl crate::DriveService {
    /// Checks a user name and password (the sign-in page, the device page, the password grant).
    pub async fn check_password(
        &self,
        username: &str,
        password: &str,
        remote: Option<IpAddr>,
    ) -> Result<PrincipalRecord, SignInFailure> {
        let limiter = &self.sign_in().limiter;
        if limiter.blocked(username, remote) {
            return Err(SignInFailure::TooManyAttempts);
        }
        let mut tx = self.store().read().await?;
        let user = match username.trim() {
            "" => None,
            name => find_principal(&mut tx, PrincipalKind::User, name).await?,
        };
        let hash = match &user {
            Some(u) => tx.password_hash(&u.id).await?,
            None => None,
        };
        drop(tx);
        let password = password.to_string();
        let checked = hash.clone();
        let ok = tokio::task::spawn_blocking(move || {
            verify(
                checked.as_deref().unwrap_or_else(|| dummy_hash()),
                &password,
            )
        })
        .await
        .map_err(|e| DriveError::Internal(e.to_string()))?;
        match user {
            Some(u) if ok && hash.is_some() => {
                limiter.succeeded(username);
                if u.is_disabled() {
                    return Err(SignInFailure::Disabled);
                }
                Ok(u)
            }
            _ => {
                limiter.failed(username, remote);
                tracing::info!(
                    user = username,
                    "sign-in failed: wrong user name or password"
                );
                Err(SignInFailure::WrongCredentials)
            }
        }
    }

    /// Sets a user's password (`user add --password-stdin`, `user passwd`). Their refresh
    /// tokens are revoked: every sign-in made with the old password ends.
    pub async fn set_password(&self, user: &str, password: &str) -> Result<()> {
        let chars = password.chars().count();
        if !(MIN_PASSWORD_LEN..=1024).contains(&chars) {
            return Err(DriveError::InvalidRequest(format!(
                "A password has {MIN_PASSWORD_LEN} to 1024 characters."
            )));
        }
        let owned = password.to_string();
        let hash = tokio::task::spawn_blocking(move || hash_password(&owned))
            .await
            .map_err(|e| DriveError::Internal(e.to_string()))??;
        let mut tx = self.store().write().await?;
        let p = find_principal(&mut tx, PrincipalKind::User, user)
            .await?
            .ok_or_else(|| DriveError::NotFound(format!("There is no user named \"{user}\".")))?;
        tx.set_password_hash(&p.id, &hash).await?;
        tx.revoke_refresh_of(&p.id).await?;
        tx.commit().await?;
        Ok(())
    }
}
