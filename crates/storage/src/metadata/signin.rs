//! What sign-in keeps: passwords, registered applications, authorization codes, refresh tokens,
//! device codes, signing keys and the identities of trusted providers' users.

use sqlx::FromRow;

use super::Tx;
use crate::Result;

/// A registered application (an OAuth client). Its principal has the client id as its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRecord {
    pub client_id: String,
    /// A public client holds no secret and must use PKCE.
    pub is_public: bool,
    /// SHA-256 (hex) of the secret of a confidential client.
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    /// Application permissions (e.g. `Files.ReadWrite.All`) its app-only tokens carry.
    pub roles: Vec<String>,
    pub created_at: i64,
}

#[derive(FromRow)]
struct ClientRow {
    client_id: String,
    is_public: i64,
    secret_hash: Option<String>,
    redirect_uris: String,
    roles: String,
    created_at: i64,
}

fn lines(s: &str) -> Vec<String> {
    s.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

impl From<ClientRow> for ClientRecord {
    fn from(r: ClientRow) -> Self {
        Self {
            client_id: r.client_id,
            is_public: r.is_public != 0,
            secret_hash: r.secret_hash,
            redirect_uris: lines(&r.redirect_uris),
            roles: lines(&r.roles),
            created_at: r.created_at,
        }
    }
}

/// An authorization code waiting to be redeemed (kept by its hash).
#[derive(Clone, Debug, FromRow)]
pub struct CodeRecord {
    pub code_hash: String,
    pub client_id: String,
    pub principal_id: String,
    pub redirect_uri: String,
    pub scopes: String,
    pub code_challenge: Option<String>,
    pub challenge_method: Option<String>,
    pub nonce: Option<String>,
    pub expires_at: i64,
}

/// A refresh token (kept by its hash) and the family it was rotated in.
#[derive(Clone, Debug, FromRow)]
pub struct RefreshRecord {
    pub token_hash: String,
    pub family_id: String,
    pub client_id: String,
    pub principal_id: String,
    pub scopes: String,
    pub issued_at: i64,
    pub expires_at: i64,
    /// When it was used (and replaced by the next token of its family).
    pub spent_at: Option<i64>,
}

/// A device-code sign-in in progress.
#[derive(Clone, Debug, FromRow)]
pub struct DeviceCodeRecord {
    pub device_hash: String,
    pub user_code: String,
    pub client_id: String,
    pub scopes: String,
    pub expires_at: i64,
    /// The user who approved it, once one has.
    pub principal_id: Option<String>,
    pub last_poll_at: Option<i64>,
}

/// A token-signing key.
#[derive(Clone, Debug, FromRow)]
pub struct SigningKeyRecord {
    pub kid: String,
    /// PKCS#1 DER of the RSA private key, base64.
    pub private_key: String,
    pub created_at: i64,
    /// From then on the key neither signs nor is accepted; before it, a key with a retire time
    /// is published and accepted but signs nothing new.
    pub retire_at: Option<i64>,
}

impl Tx {
    pub async fn set_password_hash(&mut self, principal_id: &str, hash: &str) -> Result<()> {
        sqlx::query("UPDATE principals SET password_hash = $2 WHERE id = $1")
            .bind(principal_id)
            .bind(hash)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn password_hash(&mut self, principal_id: &str) -> Result<Option<String>> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT password_hash FROM principals WHERE id = $1")
                .bind(principal_id)
                .fetch_optional(self.conn())
                .await?;
        Ok(row.and_then(|r| r.0))
    }

    pub async fn insert_client(&mut self, c: &ClientRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO oauth_clients \
             (client_id, is_public, secret_hash, redirect_uris, roles, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&c.client_id)
        .bind(i64::from(c.is_public))
        .bind(&c.secret_hash)
        .bind(c.redirect_uris.join("\n"))
        .bind(c.roles.join("\n"))
        .bind(c.created_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn client(&mut self, client_id: &str) -> Result<Option<ClientRecord>> {
        let row: Option<ClientRow> =
            sqlx::query_as("SELECT * FROM oauth_clients WHERE client_id = $1")
                .bind(client_id)
                .fetch_optional(self.conn())
                .await?;
        Ok(row.map(ClientRecord::from))
    }

    pub async fn clients(&mut self) -> Result<Vec<ClientRecord>> {
        let rows: Vec<ClientRow> =
            sqlx::query_as("SELECT * FROM oauth_clients ORDER BY created_at, client_id")
                .fetch_all(self.conn())
                .await?;
        Ok(rows.into_iter().map(ClientRecord::from).collect())
    }

    pub async fn set_client_secret(&mut self, client_id: &str, secret_hash: &str) -> Result<()> {
        sqlx::query("UPDATE oauth_clients SET secret_hash = $2 WHERE client_id = $1")
            .bind(client_id)
            .bind(secret_hash)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Removes an application's registration and every code and token issued through it.
    pub async fn remove_client(&mut self, client_id: &str) -> Result<()> {
        for table in [
            "oauth_codes",
            "refresh_tokens",
            "device_codes",
            "oauth_clients",
        ] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE client_id = $1"
            )))
            .bind(client_id)
            .execute(self.conn())
            .await?;
        }
        Ok(())
    }

    pub async fn insert_code(&mut self, c: &CodeRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO oauth_codes (code_hash, client_id, principal_id, redirect_uri, scopes, \
             code_challenge, challenge_method, nonce, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&c.code_hash)
        .bind(&c.client_id)
        .bind(&c.principal_id)
        .bind(&c.redirect_uri)
        .bind(&c.scopes)
        .bind(&c.code_challenge)
        .bind(&c.challenge_method)
        .bind(&c.nonce)
        .bind(c.expires_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Removes and returns a code: whoever takes it first is the only one who can redeem it.
    pub async fn take_code(&mut self, code_hash: &str) -> Result<Option<CodeRecord>> {
        Ok(
            sqlx::query_as("DELETE FROM oauth_codes WHERE code_hash = $1 RETURNING *")
                .bind(code_hash)
                .fetch_optional(self.conn())
                .await?,
        )
    }

    pub async fn insert_refresh(&mut self, r: &RefreshRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family_id, client_id, principal_id, scopes, \
             issued_at, expires_at, spent_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&r.token_hash)
        .bind(&r.family_id)
        .bind(&r.client_id)
        .bind(&r.principal_id)
        .bind(&r.scopes)
        .bind(r.issued_at)
        .bind(r.expires_at)
        .bind(r.spent_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn refresh_token(&mut self, token_hash: &str) -> Result<Option<RefreshRecord>> {
        Ok(
            sqlx::query_as("SELECT * FROM refresh_tokens WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(self.conn())
                .await?,
        )
    }

    /// Marks a refresh token used; false when it already was (by a concurrent request too).
    pub async fn spend_refresh(&mut self, token_hash: &str, at: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE refresh_tokens SET spent_at = $2 WHERE token_hash = $1 AND spent_at IS NULL",
        )
        .bind(token_hash)
        .bind(at)
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Revokes every refresh token of a family.
    pub async fn revoke_family(&mut self, family_id: &str) -> Result<u64> {
        let r = sqlx::query("DELETE FROM refresh_tokens WHERE family_id = $1")
            .bind(family_id)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected())
    }

    /// Revokes every refresh token issued to a principal (a new password, a removed user).
    pub async fn revoke_refresh_of(&mut self, principal_id: &str) -> Result<u64> {
        let r = sqlx::query("DELETE FROM refresh_tokens WHERE principal_id = $1")
            .bind(principal_id)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected())
    }

    pub async fn insert_device_code(&mut self, d: &DeviceCodeRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO device_codes (device_hash, user_code, client_id, scopes, expires_at, \
             principal_id, last_poll_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&d.device_hash)
        .bind(&d.user_code)
        .bind(&d.client_id)
        .bind(&d.scopes)
        .bind(d.expires_at)
        .bind(&d.principal_id)
        .bind(d.last_poll_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn device_code(&mut self, device_hash: &str) -> Result<Option<DeviceCodeRecord>> {
        Ok(
            sqlx::query_as("SELECT * FROM device_codes WHERE device_hash = $1")
                .bind(device_hash)
                .fetch_optional(self.conn())
                .await?,
        )
    }

    pub async fn device_code_by_user_code(
        &mut self,
        user_code: &str,
    ) -> Result<Option<DeviceCodeRecord>> {
        Ok(
            sqlx::query_as("SELECT * FROM device_codes WHERE user_code = $1")
                .bind(user_code)
                .fetch_optional(self.conn())
                .await?,
        )
    }

    /// Records who approved a device sign-in; false unless it was still waiting and unexpired.
    pub async fn approve_device_code(
        &mut self,
        user_code: &str,
        principal_id: &str,
        now: i64,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE device_codes SET principal_id = $2 \
             WHERE user_code = $1 AND principal_id IS NULL AND expires_at > $3",
        )
        .bind(user_code)
        .bind(principal_id)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn touch_device_poll(&mut self, device_hash: &str, at: i64) -> Result<()> {
        sqlx::query("UPDATE device_codes SET last_poll_at = $2 WHERE device_hash = $1")
            .bind(device_hash)
            .bind(at)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Removes a device code; false when another poll took it first.
    pub async fn remove_device_code(&mut self, device_hash: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM device_codes WHERE device_hash = $1")
            .bind(device_hash)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Removes expired codes, device codes and refresh tokens; returns how many.
    pub async fn remove_expired_sign_ins(&mut self, now: i64) -> Result<u64> {
        let mut n = 0;
        for table in ["oauth_codes", "device_codes", "refresh_tokens"] {
            n += sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE expires_at <= $1"
            )))
            .bind(now)
            .execute(self.conn())
            .await?
            .rows_affected();
        }
        Ok(n)
    }

    pub async fn insert_signing_key(&mut self, k: &SigningKeyRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, private_key, created_at, retire_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&k.kid)
        .bind(&k.private_key)
        .bind(k.created_at)
        .bind(k.retire_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Every signing key, newest first.
    pub async fn signing_keys(&mut self) -> Result<Vec<SigningKeyRecord>> {
        Ok(
            sqlx::query_as("SELECT * FROM signing_keys ORDER BY created_at DESC, kid")
                .fetch_all(self.conn())
                .await?,
        )
    }

    /// Sets when a key retires, unless it already retires sooner; false for an unknown key.
    pub async fn retire_signing_key(&mut self, kid: &str, at: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE signing_keys SET retire_at = $2 \
             WHERE kid = $1 AND (retire_at IS NULL OR retire_at > $2)",
        )
        .bind(kid)
        .bind(at)
        .execute(self.conn())
        .await?;
        if r.rows_affected() == 1 {
            return Ok(true);
        }
        let exists: Option<(String,)> =
            sqlx::query_as("SELECT kid FROM signing_keys WHERE kid = $1")
                .bind(kid)
                .fetch_optional(self.conn())
                .await?;
        Ok(exists.is_some())
    }

    pub async fn external_identity(
        &mut self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT principal_id FROM external_identities WHERE issuer = $1 AND subject = $2",
        )
        .bind(issuer)
        .bind(subject)
        .fetch_optional(self.conn())
        .await?;
        Ok(row.map(|r| r.0))
    }

    pub async fn insert_external_identity(
        &mut self,
        issuer: &str,
        subject: &str,
        principal_id: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO external_identities (issuer, subject, principal_id) VALUES ($1, $2, $3)",
        )
        .bind(issuer)
        .bind(subject)
        .bind(principal_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The (issuer, subject) pairs a principal is linked to.
    pub async fn external_links(&mut self, principal_id: &str) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT issuer, subject FROM external_identities WHERE principal_id = $1",
        )
        .bind(principal_id)
        .fetch_all(self.conn())
        .await?)
    }
}
