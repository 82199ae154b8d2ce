//! The device-code grant (RFC 8628) for machines without a browser: the device asks for a code,
//! its user enters the short user code on the verification page and signs in there, and the
//! device's polls of the token endpoint then get the tokens.

use graphdrive_storage::metadata::{DeviceCodeRecord, PrincipalRecord};
use rand::Rng;

use super::clients::Client;
use super::scopes;
use super::tokens::TokenSet;
use super::{OAuthCode, OAuthError, digest};
use crate::error::{DriveError, Result};
use crate::service::now_millis;

/// Letters and digits that cannot be mistaken for one another.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ23456789";
const USER_CODE_LEN: usize = 9;

/// What `POST …/devicecode` answers.
#[derive(Clone, Debug)]
pub struct DeviceStart {
    pub device_code: String,
    pub user_code: String,
    pub expires_in: i64,
    pub interval: i64,
}

fn user_code() -> String {
    let mut rng = rand::rng();
    (0..USER_CODE_LEN)
        .map(|_| USER_CODE_ALPHABET[rng.random_range(0..USER_CODE_ALPHABET.len())] as char)
        .collect()
}

/// A user code as typed: case, spaces and dashes do not matter.
pub fn normalize_user_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

impl crate::DriveService {
    /// Starts a device sign-in for a client, with the scopes it will get.
    pub async fn start_device_sign_in(
        &self,
        client_id: &str,
        scope: &str,
    ) -> Result<DeviceStart, OAuthError> {
        let client = self.client(client_id).await?.ok_or_else(|| {
            OAuthError::client(
                700016,
                format!("Application with identifier '{client_id}' was not found on this server."),
            )
        })?;
        let granted = scopes::delegated(scope)?;
        let config = self.sign_in_config();
        let device_code = crate::tokens::random_token(32);
        let record = DeviceCodeRecord {
            device_hash: digest(&device_code),
            user_code: user_code(),
            client_id: client.id,
            scopes: granted.stored(),
            expires_at: now_millis() + config.device_code_ttl_secs * 1000,
            principal_id: None,
            last_poll_at: None,
        };
        let mut tx = self.store().write().await?;
        tx.insert_device_code(&record).await?;
        tx.commit().await?;
        Ok(DeviceStart {
            device_code,
            user_code: record.user_code,
            expires_in: config.device_code_ttl_secs,
            interval: config.device_poll_interval_secs,
        })
    }

    /// The name of the app a user code signs in to, while it waits for its user.
    pub async fn device_sign_in_app(&self, typed: &str) -> Result<Option<String>> {
        let mut tx = self.store().read().await?;
        let Some(d) = tx
            .device_code_by_user_code(&normalize_user_code(typed))
            .await?
        else {
            return Ok(None);
        };
        drop(tx);
        if d.principal_id.is_some() || d.expires_at <= now_millis() {
            return Ok(None);
        }
        Ok(self.client(&d.client_id).await?.map(|c| c.name))
    }

    /// Approves a device sign-in for a signed-in user; returns the app's name.
    pub async fn approve_device(&self, typed: &str, user: &PrincipalRecord) -> Result<String> {
        let code = normalize_user_code(typed);
        let app = self.device_sign_in_app(&code).await?;
        let mut tx = self.store().write().await?;
        let approved = tx
            .approve_device_code(&code, &user.id, now_millis())
            .await?;
        tx.commit().await?;
        match (approved, app) {
            (true, Some(app)) => {
                tracing::info!(user = %user.name, client = %app, "signed in: device code approved");
                Ok(app)
            }
            _ => Err(DriveError::NotFound(
                "That code is wrong, was already used or has expired. Check it and try again, or ask the device for a new one."
                    .into(),
            )),
        }
    }

    /// A device's poll: pending, too soon, expired, or the tokens.
    pub(crate) async fn poll_device(
        &self,
        client: &Client,
        device_code: &str,
    ) -> Result<TokenSet, OAuthError> {
        let hash = digest(device_code);
        let now = now_millis();
        let mut tx = self.store().write().await?;
        let expired = || {
            OAuthError::new(
                OAuthCode::ExpiredToken,
                Some(70020),
                "The device code has expired or was already used; start the sign-in again.",
            )
        };
        let record = tx.device_code(&hash).await?.ok_or_else(expired)?;
        if record.client_id != client.id {
            return Err(OAuthError::grant(
                70000,
                "The device code was issued to another application.",
            ));
        }
        if record.expires_at <= now {
            tx.remove_device_code(&hash).await?;
            tx.commit().await?;
            return Err(expired());
        }
        let Some(principal_id) = record.principal_id else {
            let interval_ms = self.sign_in_config().device_poll_interval_secs * 1000;
            let too_soon = record
                .last_poll_at
                .is_some_and(|t| now - t < interval_ms - interval_ms / 4);
            tx.touch_device_poll(&hash, now).await?;
            tx.commit().await?;
            return Err(match too_soon {
                true => OAuthError::new(
                    OAuthCode::SlowDown,
                    None,
                    "The device polls too often; wait the interval between polls.",
                ),
                false => OAuthError::new(
                    OAuthCode::AuthorizationPending,
                    Some(70016),
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                ),
            });
        };
        if !tx.remove_device_code(&hash).await? {
            return Err(expired());
        }
        let granted = scopes::from_stored(&record.scopes);
        self.finish_delegated(tx, &principal_id, client, &granted, None, None)
            .await
    }
}
