//! The drive service: the one handle the wire layer holds, and the helpers every operation
//! shares (the clock, item lookup by address, item views).

use std::sync::Arc;

use graphdrive_storage::metadata::{ItemRecord, Tx};
use graphdrive_storage::{BlobStore, MetadataStore};

use crate::drives::Drive;
use crate::error::{Result, not_found};
use crate::tokens::{SIGNING_KEY_SETTING, TokenKeys, new_signing_key};
use crate::{ids, names};

#[derive(Clone, Debug)]
pub struct DriveConfig {
    /// Largest body a simple `PUT …/content` accepts.
    pub max_simple_upload: u64,
    /// Largest file an upload session accepts.
    pub max_file_size: u64,
    /// Largest fragment one upload-session `PUT` may carry (Graph: 60 MiB).
    pub max_fragment: u64,
    pub upload_session_ttl_secs: i64,
    pub download_link_ttl_secs: i64,
    /// Quota of a new drive, in bytes.
    pub default_quota: i64,
    /// Names this server among the nodes sharing a metadata store (copy jobs are claimed by node).
    pub node_id: String,
    /// Items one copy batch (one transaction) copies at most.
    pub copy_batch_items: i64,
    /// Pause between two batches of a copy, to leave room to other work (0: none).
    pub copy_batch_pause_ms: u64,
    /// Copy jobs one node runs at once.
    pub max_concurrent_copies: usize,
    /// How long content no item references is kept before upkeep removes its bytes.
    pub blob_grace_millis: i64,
    pub sign_in: crate::signin::SignInConfig,
    /// Versions kept per file, the current one included (older ones are dropped first).
    pub max_versions: u32,
    /// How long deleted items stay in the recycle bin before upkeep purges them.
    pub recycle_bin_millis: i64,
    /// How long the change journal keeps a change; an older delta token must start over.
    pub journal_millis: i64,
    /// Downloads are sent to a URL the bucket signs and serves (see
    /// [`DriveService::direct_download`]) instead of passing through the node.
    pub downloads_from_bucket: bool,
}

pub const DAY_MILLIS: i64 = 24 * 3600 * 1000;

impl Default for DriveConfig {
    fn default() -> Self {
        Self {
            max_simple_upload: 250 * 1000 * 1000,
            max_file_size: 250 * 1024 * 1024 * 1024,
            max_fragment: 60 * 1024 * 1024,
            upload_session_ttl_secs: 24 * 3600,
            download_link_ttl_secs: 3600,
            default_quota: 1 << 40,
            node_id: crate::tokens::random_token(12),
            copy_batch_items: 20_000,
            copy_batch_pause_ms: 0,
            max_concurrent_copies: 2,
            blob_grace_millis: 3600 * 1000,
            sign_in: crate::signin::SignInConfig::default(),
            max_versions: 500,
            recycle_bin_millis: 93 * DAY_MILLIS,
            journal_millis: 93 * DAY_MILLIS,
            downloads_from_bucket: false,
        }
    }
}

#[derive(Clone)]
pub struct DriveService {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub store: MetadataStore,
    pub blobs: BlobStore,
    pub config: DriveConfig,
    pub keys: TokenKeys,
    pub sign_in: crate::signin::SignIn,
    pub runner: crate::jobs::CopyRunner,
}

/// Where an item is: the drive root or an item id, then an optional path below it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemRef {
    pub base: ItemBase,
    pub path: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemBase {
    Root,
    Id(String),
}

impl ItemRef {
    pub fn root() -> Self {
        Self {
            base: ItemBase::Root,
            path: vec![],
        }
    }
}

/// An item with what its wire form needs besides its row: its drive and its parent's path.
#[derive(Clone, Debug)]
pub struct ItemView {
    pub record: ItemRecord,
    pub drive_id: String,
    pub drive_type: String,
    /// Names from the root down to the item's parent; `None` for the root itself.
    pub parent_path: Option<Vec<String>>,
}

impl ItemView {
    pub fn id(&self) -> String {
        ids::item_id(self.record.id)
    }
    pub fn etag(&self) -> String {
        ids::etag(&self.record)
    }
    pub fn ctag(&self) -> String {
        ids::ctag(&self.record)
    }
}

pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl DriveService {
    pub async fn new(store: MetadataStore, blobs: BlobStore, config: DriveConfig) -> Result<Self> {
        let mut tx = store.write().await?;
        let key = tx
            .setting_or_insert(SIGNING_KEY_SETTING, &new_signing_key())
            .await?;
        let tenant_id = tx
            .setting_or_insert(
                crate::signin::TENANT_SETTING,
                &uuid::Uuid::new_v4().to_string(),
            )
            .await?;
        let public_url = tx
            .setting(crate::signin::PUBLIC_URL_SETTING)
            .await?
            .unwrap_or_else(|| "http://127.0.0.1:8080".into());
        crate::signin::keys::ensure_signing_key(&mut tx, now_millis()).await?;
        tx.commit().await?;
        let keys = TokenKeys::from_setting(&key)?;
        let sign_in = crate::signin::SignIn {
            tenant_id,
            public_url: std::sync::RwLock::new(public_url),
            keys: crate::signin::keys::KeyRing::open(&store).await?,
            limiter: Default::default(),
            external: crate::signin::external::TrustedIssuers::new(&config.sign_in.trusted_issuers),
            verified: Default::default(),
            config: config.sign_in.clone(),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                blobs,
                config,
                keys,
                sign_in,
                runner: crate::jobs::CopyRunner::new(),
            }),
        })
    }

    pub fn config(&self) -> &DriveConfig {
        &self.inner.config
    }

    pub fn keys(&self) -> &TokenKeys {
        &self.inner.keys
    }

    pub(crate) fn store(&self) -> &MetadataStore {
        &self.inner.store
    }

    pub(crate) fn blobs(&self) -> &BlobStore {
        &self.inner.blobs
    }
}

/// Finds the item an address names inside `drive`, or `404 itemNotFound`.
pub(crate) async fn resolve(tx: &mut Tx, drive: &Drive, at: &ItemRef) -> Result<ItemRecord> {
    resolve_opt(tx, drive, at).await?.ok_or_else(not_found)
}

pub(crate) async fn resolve_opt(
    tx: &mut Tx,
    drive: &Drive,
    at: &ItemRef,
) -> Result<Option<ItemRecord>> {
    let Some(mut item) = resolve_base(tx, drive, &at.base).await? else {
        return Ok(None);
    };
    for name in &at.path {
        if !item.is_folder() {
            return Ok(None);
        }
        match tx.child_by_name(item.id, &names::key(name)).await? {
            Some(child) => item = child,
            None => return Ok(None),
        }
    }
    Ok(Some(item))
}

async fn resolve_base(tx: &mut Tx, drive: &Drive, base: &ItemBase) -> Result<Option<ItemRecord>> {
    let id = match base {
        ItemBase::Root => drive.record.root_id,
        ItemBase::Id(s) if s.eq_ignore_ascii_case("root") => drive.record.root_id,
        ItemBase::Id(s) => match ids::parse_item_id(s) {
            Some(id) => id,
            None => return Ok(None),
        },
    };
    // An id from another drive is as unknown here as an id that does not exist, and so is an item
    // of a copy still being built (no path from the root leads to it yet).
    let Some(item) = tx.item(id).await?.filter(|i| i.drive_id == drive.record.id) else {
        return Ok(None);
    };
    if item.id != drive.record.root_id
        && tx.ancestors(item.id).await?.last().map(|a| a.id) != Some(drive.record.root_id)
    {
        return Ok(None);
    }
    Ok(Some(item))
}

/// Builds the view of an item, reading its parent's path.
pub(crate) async fn view(tx: &mut Tx, drive: &Drive, record: ItemRecord) -> Result<ItemView> {
    let parent_path = match record.parent_id {
        None => None,
        Some(parent) => Some(folder_path(tx, parent).await?),
    };
    Ok(view_with_parent_path(drive, record, parent_path))
}

pub(crate) fn view_with_parent_path(
    drive: &Drive,
    record: ItemRecord,
    parent_path: Option<Vec<String>>,
) -> ItemView {
    ItemView {
        record,
        drive_id: drive.record.id.clone(),
        drive_type: drive.record.drive_type.clone(),
        parent_path,
    }
}

/// Names from the root down to `folder` (empty for the root).
pub(crate) async fn folder_path(tx: &mut Tx, folder: i64) -> Result<Vec<String>> {
    let mut chain = tx.ancestors(folder).await?;
    chain.pop(); // the root
    Ok(chain.into_iter().rev().map(|a| a.name).collect())
}
