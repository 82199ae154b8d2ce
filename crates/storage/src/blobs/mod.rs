//! The blob store: file contents, identified by their SHA-256, on the local disk (the default) or
//! in an S3 bucket, both through OpenDAL. A blob is written and hashed in one stream and made
//! durable (staged) before any metadata names it; identical bytes are stored once.
//!
//! Two layouts, because an object store cannot rename:
//! - on the local disk a blob is written under a temporary name, then renamed to its content
//!   address (`blobs/ab/cd/<sha256>`) inside the metadata transaction that references it, so that
//!   upkeep, which removes unreferenced content inside its own transaction, can never remove bytes
//!   a new reference was just taken on;
//! - in a bucket a blob stays in the object it was written to (`objects/<uuid>`), and its row
//!   names that object. Bytes written again for a blob that already has a row are removed; upkeep
//!   removes a blob's object only with its row. Objects being written are noted in the metadata
//!   store (`staged_objects`), so that what a crash leaves behind is found without listing.

mod config;
mod hashing;
mod parts;

pub use config::{BlobsConfig, S3Config};

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use opendal::Operator;

use crate::metadata::{MetadataStore, Tx};
use crate::{Result, StorageError};
use hashing::Hashers;

/// A blob that is durably stored, with the hashes Graph reports for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBlob {
    /// Lower-case hex SHA-256; also the blob's address on the local disk.
    pub sha256: String,
    /// Upper-case hex SHA-1, as OneDrive writes it.
    pub sha1: String,
    /// Base64 QuickXorHash.
    pub quickxor: String,
    pub size: u64,
    /// The object the bytes were written to, in a store that keeps each blob where it was
    /// written (a bucket); `None` on the local disk.
    pub object: Option<String>,
}

/// Content written and hashed, not yet named by any metadata: see [`BlobStore::place`] and
/// [`BlobStore::discard`]. While it exists, upkeep leaves its bytes alone.
#[derive(Debug)]
pub struct StagedBlob {
    pub blob: StoredBlob,
    /// The temporary name (local disk) or the object (bucket) the bytes were written to.
    path: String,
    /// In a bucket: set once the transaction that placed it found its object named by the
    /// blob's row (and not that of an earlier copy of the same bytes).
    named: AtomicBool,
    _live: LiveName,
}

/// Where a store keeps what, and what it must take care of.
#[derive(Clone)]
enum Layout {
    /// The local disk: directories are fsynced after a rename, and writes leave `min_free` bytes
    /// free so that the metadata store (and so a delete, which frees space) still has room.
    Local { root: PathBuf, min_free: u64 },
    /// A bucket: blobs stay where they were written; `ledger` notes the objects being written.
    Bucket { ledger: MetadataStore, name: String },
}

#[derive(Clone)]
pub struct BlobStore {
    op: Operator,
    layout: Layout,
    /// Temporary names and objects a request of this process is writing or holds.
    live: Arc<Mutex<HashSet<String>>>,
}

/// A name in use; dropping it (however the request ended) gives it up.
#[derive(Debug)]
struct LiveName {
    name: String,
    set: Arc<Mutex<HashSet<String>>>,
}

impl Drop for LiveName {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.name);
    }
}

/// How often, in bytes written, a long write to the local disk checks the free space again.
const ROOM_CHECK_EVERY: u64 = 4 << 20;
/// How often a long write to a bucket refreshes its note in the ledger.
const TOUCH_EVERY: Duration = Duration::from_secs(60);
/// The part size of a multipart write to a bucket (S3 wants at least 5 MiB but for the last).
const BUCKET_CHUNK: usize = 8 << 20;
/// Parts of one write a bucket receives at once.
const BUCKET_CONCURRENCY: usize = 4;

fn blob_path(sha256: &str) -> String {
    format!("blobs/{}/{}/{}", &sha256[0..2], &sha256[2..4], sha256)
}

pub(crate) fn unix_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl BlobStore {
    /// A blob store on the local disk under `dir`, whose writes leave `min_free` bytes free.
    pub fn local(dir: &Path, min_free: u64) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| StorageError::Stream(e.to_string()))?;
        let root = dir.to_string_lossy().to_string();
        let op = Operator::new(opendal::services::Fs::default().root(&root))?;
        Ok(Self {
            op,
            layout: Layout::Local {
                root: dir.to_path_buf(),
                min_free,
            },
            live: Arc::default(),
        })
    }

    /// A blob store in an S3 bucket, which notes the objects it is writing in `ledger`.
    pub fn s3(config: &S3Config, ledger: MetadataStore) -> Result<Self> {
        let op = config.operator()?;
        Ok(Self {
            op,
            layout: Layout::Bucket {
                ledger,
                name: config.describe(),
            },
            live: Arc::default(),
        })
    }

    /// The store [`BlobsConfig`] names; a bucket's ledger is `metadata`.
    pub fn open(config: &BlobsConfig, min_free: u64, metadata: &MetadataStore) -> Result<Self> {
        match config {
            BlobsConfig::Local(dir) => Self::local(dir, min_free),
            BlobsConfig::S3(s3) => Self::s3(s3, metadata.clone()),
        }
    }

    /// Where the bytes live, for the operator: `local:DIR` or `s3:BUCKET/PREFIX`.
    pub fn describe(&self) -> String {
        match &self.layout {
            Layout::Local { root, .. } => format!("local:{}", root.display()),
            Layout::Bucket { name, .. } => name.clone(),
        }
    }

    /// True when each blob's row names the object its bytes lie in (see [`Tx::blob_object`]),
    /// which reads and removals then need.
    pub fn names_objects(&self) -> bool {
        matches!(self.layout, Layout::Bucket { .. })
    }

    /// Answers when the store can be reached: the data directory is a directory, or the bucket
    /// answers a listing.
    pub async fn check(&self) -> Result<()> {
        let Layout::Local { root, .. } = &self.layout else {
            self.op
                .check()
                .await
                .map_err(|e| StorageError::BlobStoreUnavailable(e.to_string()))?;
            return Ok(());
        };
        let meta = tokio::fs::metadata(root)
            .await
            .map_err(|e| StorageError::BlobStoreUnavailable(format!("{}: {e}", root.display())))?;
        if !meta.is_dir() {
            return Err(StorageError::BlobStoreUnavailable(format!(
                "{} is not a directory",
                root.display()
            )));
        }
        Ok(())
    }

    fn live_name(&self, name: &str) -> LiveName {
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string());
        LiveName {
            name: name.to_string(),
            set: self.live.clone(),
        }
    }

    fn is_live(&self, name: &str) -> bool {
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(name)
    }

    /// A writer for `path`: in a bucket, a multipart upload of [`BUCKET_CHUNK`] parts.
    async fn writer(&self, path: &str) -> Result<opendal::Writer> {
        Ok(match self.layout {
            Layout::Local { .. } => self.op.writer(path).await?,
            Layout::Bucket { .. } => {
                self.op
                    .writer_with(path)
                    .chunk(BUCKET_CHUNK)
                    .concurrent(BUCKET_CONCURRENCY)
                    .await?
            }
        })
    }

    /// Fails with [`StorageError::StorageFull`] unless `coming` more bytes fit on the local
    /// disk with the floor still free.
    fn ensure_room(&self, coming: u64) -> Result<()> {
        let Layout::Local { root, min_free } = &self.layout else {
            return Ok(());
        };
        match free_bytes(root) {
            Some(free) if free < coming.saturating_add(*min_free) => Err(StorageError::StorageFull),
            _ => Ok(()),
        }
    }

    /// Writes a request body, failing with [`StorageError::TooLarge`] past `limit` bytes and
    /// with [`StorageError::BodyAborted`] when the body breaks off. When this returns, the bytes
    /// are durable; nothing is left behind when it fails.
    pub async fn stage_stream<S, E>(&self, stream: S, limit: u64) -> Result<StagedBlob>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        self.stage(stream, limit, StorageError::BodyAborted).await
    }

    async fn stage<S, E>(
        &self,
        stream: S,
        limit: u64,
        stream_error: fn(String) -> StorageError,
    ) -> Result<StagedBlob>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let id = uuid::Uuid::new_v4();
        let path = match &self.layout {
            Layout::Local { .. } => format!("tmp/{id}"),
            Layout::Bucket { ledger, .. } => {
                let path = format!("objects/{id}");
                note_staged(ledger, &path).await?;
                path
            }
        };
        let live = self.live_name(&path);
        match self.write_hashed(&path, stream, limit, stream_error).await {
            Ok(mut blob) => {
                if self.names_objects() {
                    blob.object = Some(path.clone());
                }
                Ok(StagedBlob {
                    blob,
                    path,
                    named: AtomicBool::new(false),
                    _live: live,
                })
            }
            Err(e) => {
                let _ = self.op.delete(&path).await;
                if let Layout::Bucket { ledger, .. } = &self.layout {
                    let _ = forget_staged(ledger, &path).await;
                }
                Err(e)
            }
        }
    }

    async fn write_hashed<S, E>(
        &self,
        path: &str,
        mut stream: S,
        limit: u64,
        stream_error: fn(String) -> StorageError,
    ) -> Result<StoredBlob>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let mut hashers = Hashers::new();
        self.ensure_room(ROOM_CHECK_EVERY.min(limit))?;
        let mut writer = self.writer(path).await?;
        let mut checked = 0u64;
        let mut touched = Instant::now();
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(stream_error(e.to_string()));
                }
            };
            let size = hashers.size() + chunk.len() as u64;
            let refused = if size > limit {
                Err(StorageError::TooLarge(limit))
            } else if size > checked + ROOM_CHECK_EVERY {
                checked = hashers.size();
                self.ensure_room(ROOM_CHECK_EVERY)
            } else {
                Ok(())
            };
            let refused = match (refused, &self.layout) {
                (Ok(()), Layout::Bucket { ledger, .. }) if touched.elapsed() > TOUCH_EVERY => {
                    touched = Instant::now();
                    note_staged(ledger, path).await
                }
                (r, _) => r,
            };
            if let Err(e) = refused {
                let _ = writer.abort().await;
                return Err(e);
            }
            hashers.update(&chunk);
            if let Err(e) = writer.write(chunk).await {
                let _ = writer.abort().await;
                return Err(e.into());
            }
        }
        // Closing the local-disk writer fsyncs the file; closing a bucket's completes the upload.
        writer.close().await?;
        Ok(hashers.finish())
    }

    /// Makes staged content the bytes of its blob. Call it in the metadata transaction that adds
    /// the blob's reference, after adding it. On the local disk it moves the content to its
    /// address, or drops it if those bytes are already there; in a bucket it notes whether the
    /// blob's row names this object (the row is new) or an earlier one (the bytes were there).
    pub async fn place(&self, staged: &StagedBlob, tx: &mut Tx) -> Result<()> {
        let Layout::Local { root, .. } = &self.layout else {
            let named = tx.blob_object(&staged.blob.sha256).await?.flatten();
            if named.as_deref() == Some(staged.path.as_str()) {
                tx.unstage_object(&staged.path).await?;
                staged.named.store(true, Ordering::Release);
            }
            return Ok(());
        };
        let target = blob_path(&staged.blob.sha256);
        if self.op.exists(&target).await? {
            self.op.delete(&staged.path).await?;
            return Ok(());
        }
        self.op.rename(&staged.path, &target).await?;
        let dir = root.join(&target).parent().map(Path::to_path_buf);
        if let Some(dir) = dir {
            tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
                .await
                .map_err(|e| StorageError::Stream(e.to_string()))?
                .map_err(|e| StorageError::Stream(e.to_string()))?;
        }
        Ok(())
    }

    /// Removes what is left of staged content once the transaction that was to name it ended:
    /// nothing when it was placed; in a bucket, the object unless a blob's row names it (the
    /// transaction committed although it reported a failure, or the content was recorded as
    /// unreferenced, for upkeep to remove).
    pub async fn discard(&self, staged: &StagedBlob) {
        let result = match &self.layout {
            Layout::Local { .. } => self.op.delete(&staged.path).await.map_err(Into::into),
            Layout::Bucket { .. } if staged.named.load(Ordering::Acquire) => Ok(()),
            Layout::Bucket { ledger, .. } => self.drop_unnamed(ledger, &staged.path).await,
        };
        if let Err(e) = result {
            tracing::warn!(path = %staged.path, error = %e, "could not remove staged content");
        }
    }

    /// Removes a bucket's object unless a blob's row names it, then its note in the ledger.
    async fn drop_unnamed(&self, ledger: &MetadataStore, object: &str) -> Result<()> {
        let mut tx = ledger.write().await?;
        if !tx.object_is_named(object).await? {
            self.op.delete(object).await?;
        }
        tx.unstage_object(object).await?;
        tx.commit().await
    }

    /// The bytes of a blob, or of the byte range `start..end` of it. `object` is what the blob's
    /// row names (see [`BlobStore::names_objects`]).
    pub async fn read(
        &self,
        sha256: &str,
        object: Option<&str>,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<impl Stream<Item = std::io::Result<Bytes>> + Send + 'static + use<>> {
        let path = object.map_or_else(|| blob_path(sha256), str::to_string);
        // Opening a reader does not touch the bytes; ask first, so that missing bytes fail here
        // and not in the middle of a response already under way.
        self.op.stat(&path).await?;
        let reader = self.op.reader(&path).await?;
        let stream = match range {
            Some(r) => reader.into_bytes_stream(r).await?,
            None => reader.into_bytes_stream(..).await?,
        };
        Ok(stream.map_err(std::io::Error::other))
    }

    /// A URL the bucket itself serves `object` at for `expire`, under the `Content-Disposition`
    /// and `Content-Type` given; `None` on the local disk, which has no such URL.
    pub async fn presigned_read(
        &self,
        object: &str,
        disposition: &str,
        mime: &str,
        expire: Duration,
    ) -> Result<Option<String>> {
        if !self.names_objects() {
            return Ok(None);
        }
        let signed = self
            .op
            .presign_read_with(object, expire)
            .override_content_disposition(disposition)
            .override_content_type(mime)
            .await?;
        Ok(Some(signed.uri().to_string()))
    }

    /// Removes a bucket's object whose blob row is gone, and its note in the ledger (see
    /// [`Tx::stage_object`]); an object a row names again is left alone.
    pub async fn remove_released(&self, object: &str) -> Result<()> {
        match &self.layout {
            Layout::Bucket { ledger, .. } => self.drop_unnamed(ledger, object).await,
            Layout::Local { .. } => Ok(()),
        }
    }

    /// Removes a blob's bytes (`object` as its row named it).
    pub async fn remove(&self, sha256: &str, object: Option<&str>) -> Result<()> {
        self.op.delete(object.unwrap_or(&blob_path(sha256))).await?;
        Ok(())
    }

    /// Removes staged content that no request of this process holds and that was last written
    /// before `before` (Unix milliseconds): what a crash or a request that broke off left behind.
    /// Returns how many files or objects went.
    pub async fn sweep_staged(&self, before: i64) -> Result<usize> {
        match &self.layout {
            Layout::Local { .. } => self.sweep_tmp(before).await,
            Layout::Bucket { ledger, .. } => self.sweep_ledger(ledger, before).await,
        }
    }

    async fn sweep_tmp(&self, before: i64) -> Result<usize> {
        let entries = match self.op.list("tmp/").await {
            Err(e) if e.kind() == opendal::ErrorKind::NotFound => return Ok(0),
            other => other?,
        };
        let mut removed = 0;
        for entry in entries.into_iter().filter(|e| e.metadata().is_file()) {
            let path = entry.path().to_string();
            if self.is_live(&path) {
                continue;
            }
            let written = match self.op.stat(&path).await {
                Ok(m) => m.last_modified().map(|t| t.into_inner().as_millisecond()),
                Err(e) if e.kind() == opendal::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            if written.is_some_and(|w| w < before) {
                self.op.delete(&path).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Objects noted in the ledger whose writer stopped refreshing the note before `before`: the
    /// unnamed ones are removed, and every such note is forgotten.
    async fn sweep_ledger(&self, ledger: &MetadataStore, before: i64) -> Result<usize> {
        let mut removed = 0;
        loop {
            let stale = ledger
                .read()
                .await?
                .stale_staged_objects(before, 500)
                .await?;
            let stale: Vec<_> = stale
                .into_iter()
                .filter(|(o, _)| !self.is_live(o))
                .collect();
            if stale.is_empty() {
                return Ok(removed);
            }
            for (object, named) in stale {
                if !named {
                    self.drop_unnamed(ledger, &object).await?;
                    removed += 1;
                } else {
                    forget_staged(ledger, &object).await?;
                }
            }
        }
    }
}

/// Notes (or refreshes the note of) an object being written to a bucket.
async fn note_staged(ledger: &MetadataStore, object: &str) -> Result<()> {
    let mut tx = ledger.write().await?;
    tx.stage_object(object, unix_millis()).await?;
    tx.commit().await
}

async fn forget_staged(ledger: &MetadataStore, object: &str) -> Result<()> {
    let mut tx = ledger.write().await?;
    tx.unstage_object(object).await?;
    tx.commit().await
}

/// Bytes an unprivileged writer may still use on the file system holding `dir`.
#[cfg(unix)]
fn free_bytes(dir: &Path) -> Option<u64> {
    let st = rustix::fs::statvfs(dir).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

#[cfg(not(unix))]
fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests;
