//! The pre-authenticated download links: HS256 JWTs signed with a key kept in the metadata store,
//! so every node of a deployment accepts them. (Access tokens are RS256, see `signin::keys`.)

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::{DriveError, Result};

const DOWNLOAD_AUDIENCE: &str = "graphdrive-download";
pub(crate) const SIGNING_KEY_SETTING: &str = "token_signing_key";

#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

/// What a download link grants: the bytes of one blob, served under a name.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DownloadGrant {
    pub blob: String,
    pub size: i64,
    pub name: String,
    pub mime: String,
}

#[derive(Serialize, Deserialize)]
struct DownloadClaims {
    aud: String,
    exp: i64,
    /// 128 random bits, so no two links are alike.
    jti: String,
    #[serde(flatten)]
    grant: DownloadGrant,
}

/// 32 random bytes, base64: a fresh signing key.
pub(crate) fn new_signing_key() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    base64::engine::general_purpose::STANDARD.encode(key)
}

/// `bytes` random bytes as URL-safe text.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

impl TokenKeys {
    pub(crate) fn from_setting(key_b64: &str) -> Result<Self> {
        let key = base64::engine::general_purpose::STANDARD
            .decode(key_b64)
            .map_err(|e| DriveError::Internal(format!("bad signing key: {e}")))?;
        let bad =
            |e: jsonwebtoken::errors::Error| DriveError::Internal(format!("bad signing key: {e}"));
        Ok(Self {
            encoding: EncodingKey::from_secret(&key).map_err(bad)?,
            decoding: DecodingKey::from_secret(&key).map_err(bad)?,
        })
    }

    fn sign<T: Serialize>(&self, claims: &T) -> Result<String> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| DriveError::Internal(e.to_string()))
    }

    fn verify<T: serde::de::DeserializeOwned>(&self, token: &str, audience: &str) -> Option<T> {
        let mut v = Validation::new(Algorithm::HS256);
        v.set_audience(&[audience]);
        v.leeway = 0;
        jsonwebtoken::decode::<T>(token, &self.decoding, &v)
            .ok()
            .map(|d| d.claims)
    }

    pub fn issue_download(&self, grant: DownloadGrant, now: i64, ttl_secs: i64) -> Result<String> {
        self.sign(&DownloadClaims {
            aud: DOWNLOAD_AUDIENCE.into(),
            exp: now + ttl_secs,
            jti: random_token(16),
            grant,
        })
    }

    pub fn open_download(&self, token: &str) -> Result<DownloadGrant> {
        self.verify::<DownloadClaims>(token, DOWNLOAD_AUDIENCE)
            .map(|c| c.grant)
            .ok_or_else(|| {
                DriveError::NotFound("The download link is invalid or has expired.".into())
            })
    }
}
