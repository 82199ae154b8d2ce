//! The RSA keys access and ID tokens are signed with (RS256, as Entra ID). They live in the
//! metadata store, so every node signs and accepts the same keys; each node keeps them in memory
//! and reads them again every few seconds, or at once when a token names a key it does not know.
//!
//! Rotating makes a new key the signer; the old one stays published and accepted until the tokens
//! it signed have expired (its retire time), then it is neither.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use graphdrive_storage::metadata::SigningKeyRecord;
use graphdrive_storage::{MetadataStore, Tx};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;

use crate::error::{DriveError, Result};

/// How stale a node's copy of the keys may grow before it reads them again.
const RELOAD_EVERY: Duration = Duration::from_secs(5);
/// How often an unknown `kid` may make a node read the keys again.
const UNKNOWN_KID_RELOAD: Duration = Duration::from_secs(1);

/// A public key as the JWKS publishes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: String,
    /// Modulus and exponent, base64url without padding.
    pub n: String,
    pub e: String,
    /// The X.509 thumbprint Entra also publishes as `x5t` (here: of the key's DER, as an id).
    pub x5t: String,
}

pub(crate) struct LoadedKey {
    pub public: PublicKey,
    encoding: EncodingKey,
    pub decoding: DecodingKey,
    pub retire_at: Option<i64>,
}

impl LoadedKey {
    fn from_record(r: &SigningKeyRecord) -> Result<Self> {
        let bad = |e: String| DriveError::Internal(format!("signing key {}: {e}", r.kid));
        let der = STANDARD
            .decode(&r.private_key)
            .map_err(|e| bad(e.to_string()))?;
        let key = <rsa::PrivateKey as rsa::pkcs1::DecodeRsaPrivateKey>::from_pkcs1_der(&der)
            .map_err(|e| bad(e.to_string()))?;
        let n = URL_SAFE_NO_PAD.encode(trimmed(&key.n().to_be_bytes()));
        let e = URL_SAFE_NO_PAD.encode(trimmed(&key.e().to_be_bytes()));
        let decoding = DecodingKey::from_rsa_components(&n, &e).map_err(|e| bad(e.to_string()))?;
        let x5t = URL_SAFE_NO_PAD.encode(&super::digest(&r.kid).as_bytes()[..20]);
        Ok(Self {
            public: PublicKey {
                kid: r.kid.clone(),
                n,
                e,
                x5t,
            },
            encoding: EncodingKey::from_rsa_der(&der),
            decoding,
            retire_at: r.retire_at,
        })
    }

    fn live(&self, now_ms: i64) -> bool {
        self.retire_at.is_none_or(|t| t > now_ms)
    }
}

fn trimmed(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

struct KeySet {
    loaded: Instant,
    /// Newest first.
    keys: Vec<Arc<LoadedKey>>,
}

pub(crate) struct KeyRing {
    set: RwLock<Arc<KeySet>>,
    last_forced: RwLock<Option<Instant>>,
}

/// A fresh 2048-bit RSA key, stored and ready to sign.
pub(crate) fn new_key_record(now_ms: i64) -> Result<SigningKeyRecord> {
    let key = <rsa::PrivateKey as rsa::Generate>::generate();
    let der = key
        .to_pkcs1_der()
        .map_err(|e| DriveError::Internal(format!("cannot encode a signing key: {e}")))?;
    Ok(SigningKeyRecord {
        kid: crate::tokens::random_token(18),
        private_key: STANDARD.encode(der.as_bytes()),
        created_at: now_ms,
        retire_at: None,
    })
}

/// Makes a signing key when the store has none that signs.
pub(crate) async fn ensure_signing_key(tx: &mut Tx, now_ms: i64) -> Result<()> {
    if tx
        .signing_keys()
        .await?
        .iter()
        .all(|k| k.retire_at.is_some())
    {
        tx.insert_signing_key(&new_key_record(now_ms)?).await?;
    }
    Ok(())
}

async fn load(store: &MetadataStore) -> Result<KeySet> {
    let mut tx = store.read().await?;
    let records = tx.signing_keys().await?;
    drop(tx);
    let keys = records
        .iter()
        .map(|r| LoadedKey::from_record(r).map(Arc::new))
        .collect::<Result<Vec<_>>>()?;
    Ok(KeySet {
        loaded: Instant::now(),
        keys,
    })
}

impl KeyRing {
    pub(crate) async fn open(store: &MetadataStore) -> Result<Self> {
        Ok(Self {
            set: RwLock::new(Arc::new(load(store).await?)),
            last_forced: RwLock::new(None),
        })
    }

    fn current(&self) -> Arc<KeySet> {
        self.set.read().expect("not poisoned").clone()
    }

    async fn reload(&self, store: &MetadataStore) -> Result<Arc<KeySet>> {
        let set = Arc::new(load(store).await?);
        *self.set.write().expect("not poisoned") = set.clone();
        Ok(set)
    }

    /// The keys, read again when they are older than [`RELOAD_EVERY`].
    async fn fresh(&self, store: &MetadataStore) -> Result<Arc<KeySet>> {
        let set = self.current();
        if set.loaded.elapsed() < RELOAD_EVERY {
            return Ok(set);
        }
        self.reload(store).await
    }

    /// The live key named `kid`, reading the keys again (now and then) if it is not known.
    pub(crate) async fn find(
        &self,
        store: &MetadataStore,
        kid: &str,
        now_ms: i64,
    ) -> Result<Option<Arc<LoadedKey>>> {
        let set = self.fresh(store).await?;
        if let Some(k) = set.keys.iter().find(|k| k.public.kid == kid) {
            return Ok(k.live(now_ms).then(|| k.clone()));
        }
        let may_force = self
            .last_forced
            .read()
            .expect("not poisoned")
            .is_none_or(|t| t.elapsed() >= UNKNOWN_KID_RELOAD);
        if !may_force {
            return Ok(None);
        }
        *self.last_forced.write().expect("not poisoned") = Some(Instant::now());
        let set = self.reload(store).await?;
        Ok(set
            .keys
            .iter()
            .find(|k| k.public.kid == kid && k.live(now_ms))
            .cloned())
    }

    /// Signs claims with the newest key that is not retiring.
    pub(crate) async fn sign<T: serde::Serialize>(
        &self,
        store: &MetadataStore,
        claims: &T,
    ) -> Result<String> {
        let set = self.fresh(store).await?;
        let key = match set.keys.iter().find(|k| k.retire_at.is_none()) {
            Some(k) => k.clone(),
            None => {
                // Every key is retiring (rotated by another node a moment ago): read again.
                let set = self.reload(store).await?;
                set.keys
                    .iter()
                    .find(|k| k.retire_at.is_none())
                    .cloned()
                    .ok_or_else(|| DriveError::Internal("no token-signing key".into()))?
            }
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(key.public.kid.clone());
        header.typ = Some("JWT".into());
        jsonwebtoken::encode(&header, claims, &key.encoding)
            .map_err(|e| DriveError::Internal(format!("cannot sign a token: {e}")))
    }

    /// The keys to publish: every live one.
    pub(crate) async fn published(
        &self,
        store: &MetadataStore,
        now_ms: i64,
    ) -> Result<Vec<PublicKey>> {
        let set = self.fresh(store).await?;
        Ok(set
            .keys
            .iter()
            .filter(|k| k.live(now_ms))
            .map(|k| k.public.clone())
            .collect())
    }
}

/// What `graphdrive keys list` shows of a key.
#[derive(Clone, Debug)]
pub struct KeySummary {
    pub kid: String,
    pub created_at: i64,
    pub retire_at: Option<i64>,
}

impl crate::DriveService {
    /// The public keys of the JWKS.
    pub async fn published_keys(&self) -> Result<Vec<PublicKey>> {
        self.sign_in()
            .keys
            .published(self.store(), crate::service::now_millis())
            .await
    }

    pub async fn signing_keys(&self) -> Result<Vec<KeySummary>> {
        let mut tx = self.store().read().await?;
        Ok(tx
            .signing_keys()
            .await?
            .into_iter()
            .map(|k| KeySummary {
                kid: k.kid,
                created_at: k.created_at,
                retire_at: k.retire_at,
            })
            .collect())
    }

    /// Makes a new signing key; the keys that signed until now retire after `keep_secs` (the
    /// lifetime of the tokens they signed). Returns the new key's id.
    pub async fn rotate_keys(&self, keep_secs: i64) -> Result<String> {
        let now = crate::service::now_millis();
        let record = new_key_record(now)?;
        let mut tx = self.store().write().await?;
        for old in tx.signing_keys().await? {
            tx.retire_signing_key(&old.kid, now + keep_secs.max(0) * 1000)
                .await?;
        }
        tx.insert_signing_key(&record).await?;
        tx.commit().await?;
        Ok(record.kid)
    }

    /// Retires one key now: it neither signs nor is accepted from the next key reload (a few
    /// seconds) on every node. A new key is made if it was the only one that signed.
    pub async fn retire_key(&self, kid: &str) -> Result<()> {
        let now = crate::service::now_millis();
        let mut tx = self.store().write().await?;
        if !tx.retire_signing_key(kid, now).await? {
            return Err(DriveError::NotFound(format!(
                "There is no signing key \"{kid}\"."
            )));
        }
        ensure_signing_key(&mut tx, now + 1).await?;
        tx.commit().await?;
        Ok(())
    }
}
