//! The blob store: file contents addressed by their SHA-256, on any OpenDAL backend (local disk
//! by default). A blob is written once under a temporary name while its hashes are computed in the
//! stream and made durable (staged), then renamed into place; identical bytes are stored once.
//! The caller places a staged blob inside the metadata transaction that references it, so that
//! upkeep, which removes unreferenced content inside its own transaction, can never remove bytes
//! a new reference was just taken on.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine;
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use opendal::Operator;
use sha1::Digest;

use crate::{Result, StorageError};

/// A blob that is durably stored, with the hashes Graph reports for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBlob {
    /// Lower-case hex SHA-256; also the blob's address.
    pub sha256: String,
    /// Upper-case hex SHA-1, as OneDrive writes it.
    pub sha1: String,
    /// Base64 QuickXorHash.
    pub quickxor: String,
    pub size: u64,
}

/// Content written and hashed under a temporary name, not yet at its address: see
/// [`BlobStore::place`] and [`BlobStore::discard`]. While it exists, upkeep leaves its
/// temporary file alone.
#[derive(Debug)]
pub struct StagedBlob {
    pub blob: StoredBlob,
    tmp: String,
    _live: LiveName,
}

#[derive(Clone)]
pub struct BlobStore {
    op: Operator,
    /// Set for the local-disk backend, whose directories must be fsynced after a rename.
    local_root: Option<PathBuf>,
    /// Bytes a write must leave free on the local disk, so that the metadata store (and so a
    /// delete, which frees space) still has room when uploads are refused.
    min_free: u64,
    /// Temporary names a request of this process is writing or holds.
    live: Arc<Mutex<HashSet<String>>>,
}

/// A temporary name in use; dropping it (however the request ended) gives it up.
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

/// How often, in bytes written, a long write checks the free space again.
const ROOM_CHECK_EVERY: u64 = 4 << 20;

/// The three hashes, fed together as bytes stream by.
struct Hashers {
    sha256: sha2::Sha256,
    sha1: sha1::Sha1,
    quickxor: quickxorhash::QuickXorHash,
    size: u64,
}

impl Hashers {
    fn new() -> Self {
        Self {
            sha256: sha2::Sha256::new(),
            sha1: sha1::Sha1::new(),
            quickxor: quickxorhash::QuickXorHash::new(),
            size: 0,
        }
    }

    fn update(&mut self, chunk: &[u8]) {
        self.sha256.update(chunk);
        self.sha1.update(chunk);
        self.quickxor.update(chunk);
        self.size += chunk.len() as u64;
    }

    fn finish(mut self) -> StoredBlob {
        StoredBlob {
            sha256: hex::encode(self.sha256.finalize()),
            sha1: hex::encode_upper(self.sha1.finalize()),
            quickxor: base64::engine::general_purpose::STANDARD.encode(self.quickxor.finalize()),
            size: self.size,
        }
    }
}

fn blob_path(sha256: &str) -> String {
    format!("blobs/{}/{}/{}", &sha256[0..2], &sha256[2..4], sha256)
}

fn part_dir(session: &str) -> String {
    format!("uploads/{session}/")
}

impl BlobStore {
    /// A blob store on the local disk under `dir`, whose writes leave `min_free` bytes free.
    pub fn local(dir: &Path, min_free: u64) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| StorageError::Stream(e.to_string()))?;
        let root = dir.to_string_lossy().to_string();
        let op = Operator::new(opendal::services::Fs::default().root(&root))?;
        Ok(Self {
            op,
            local_root: Some(dir.to_path_buf()),
            min_free,
            live: Arc::default(),
        })
    }

    /// Where the bytes live, for the operator: `local:DIR`.
    pub fn describe(&self) -> String {
        match &self.local_root {
            Some(root) => format!("local:{}", root.display()),
            None => format!("{}:{}", self.op.info().scheme(), self.op.info().root()),
        }
    }

    /// Answers when the store can be reached: a stat of its root finds a directory.
    pub async fn check(&self) -> Result<()> {
        if let Some(root) = &self.local_root {
            let meta = tokio::fs::metadata(root).await.map_err(|e| {
                StorageError::BlobStoreUnavailable(format!("{}: {e}", root.display()))
            })?;
            if !meta.is_dir() {
                return Err(StorageError::BlobStoreUnavailable(format!(
                    "{} is not a directory",
                    root.display()
                )));
            }
            return Ok(());
        }
        self.op.check().await?;
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

    /// Fails with [`StorageError::StorageFull`] unless `coming` more bytes fit on the disk with
    /// the floor still free.
    fn ensure_room(&self, coming: u64) -> Result<()> {
        let Some(root) = &self.local_root else {
            return Ok(());
        };
        match free_bytes(root) {
            Some(free) if free < coming.saturating_add(self.min_free) => {
                Err(StorageError::StorageFull)
            }
            _ => Ok(()),
        }
    }

    /// Writes a request body under a temporary name, failing with [`StorageError::TooLarge`]
    /// past `limit` bytes and with [`StorageError::BodyAborted`] when the body breaks off. When
    /// this returns, the bytes are durable; nothing is left behind when it fails.
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
        let tmp = format!("tmp/{}", uuid::Uuid::new_v4());
        let live = self.live_name(&tmp);
        match self.write_hashed(&tmp, stream, limit, stream_error).await {
            Ok(blob) => Ok(StagedBlob {
                blob,
                tmp,
                _live: live,
            }),
            Err(e) => {
                let _ = self.op.delete(&tmp).await;
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
        let mut writer = self.op.writer(path).await?;
        let mut checked = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(stream_error(e.to_string()));
                }
            };
            let size = hashers.size + chunk.len() as u64;
            let refused = if size > limit {
                Err(StorageError::TooLarge(limit))
            } else if size > checked + ROOM_CHECK_EVERY {
                checked = hashers.size;
                self.ensure_room(ROOM_CHECK_EVERY)
            } else {
                Ok(())
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
        // Closing the local-disk writer fsyncs the file.
        writer.close().await?;
        Ok(hashers.finish())
    }

    /// Moves staged content to its address, or drops it if those bytes are already there. Call it
    /// while holding the metadata transaction that adds the blob's reference.
    pub async fn place(&self, staged: &StagedBlob) -> Result<()> {
        let target = blob_path(&staged.blob.sha256);
        if self.op.exists(&target).await? {
            self.op.delete(&staged.tmp).await?;
            return Ok(());
        }
        self.op.rename(&staged.tmp, &target).await?;
        if let Some(root) = &self.local_root {
            let dir = root.join(&target).parent().map(Path::to_path_buf);
            if let Some(dir) = dir {
                tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
                    .await
                    .map_err(|e| StorageError::Stream(e.to_string()))?
                    .map_err(|e| StorageError::Stream(e.to_string()))?;
            }
        }
        Ok(())
    }

    /// Removes what is left of staged content (nothing once it was placed).
    pub async fn discard(&self, staged: &StagedBlob) {
        if let Err(e) = self.op.delete(&staged.tmp).await {
            tracing::warn!(tmp = %staged.tmp, error = %e, "could not remove staged content");
        }
    }

    /// The bytes of a blob, or of the byte range `start..end` of it.
    pub async fn read(
        &self,
        sha256: &str,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<impl Stream<Item = std::io::Result<Bytes>> + Send + 'static + use<>> {
        let path = blob_path(sha256);
        // Opening a reader does not touch the file; ask first, so that missing bytes fail here
        // and not in the middle of a response already under way.
        self.op.stat(&path).await?;
        let reader = self.op.reader(&path).await?;
        let stream = match range {
            Some(r) => reader.into_bytes_stream(r).await?,
            None => reader.into_bytes_stream(..).await?,
        };
        Ok(stream.map_err(std::io::Error::other))
    }

    pub async fn remove(&self, sha256: &str) -> Result<()> {
        self.op.delete(&blob_path(sha256)).await?;
        Ok(())
    }

    /// Stores one fragment of an upload session under a fresh object name, which it returns with
    /// the number of bytes the fragment held.
    pub async fn put_part<S, E>(
        &self,
        session: &str,
        mut stream: S,
        limit: u64,
    ) -> Result<(String, u64)>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let path = format!("{}{}", part_dir(session), uuid::Uuid::new_v4());
        self.ensure_room(limit)?;
        let mut writer = self.op.writer(&path).await?;
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(StorageError::BodyAborted(e.to_string()));
                }
            };
            size += chunk.len() as u64;
            if size > limit {
                let _ = writer.abort().await;
                return Err(StorageError::TooLarge(limit));
            }
            if let Err(e) = writer.write(chunk).await {
                let _ = writer.abort().await;
                return Err(e.into());
            }
        }
        writer.close().await?;
        Ok((path, size))
    }

    /// Removes a fragment that was stored but not accepted.
    pub async fn remove_part(&self, object: &str) -> Result<()> {
        self.op.delete(object).await?;
        Ok(())
    }

    /// Joins the accepted fragments (`parts`, in order) of a finished upload session into one
    /// staged blob. The fragments stay until the caller removes them ([`BlobStore::remove_parts`]).
    pub async fn stage_parts(&self, parts: Vec<String>, size_limit: u64) -> Result<StagedBlob> {
        let op = self.op.clone();
        let stream = futures::stream::iter(parts)
            .then(move |p| {
                let op = op.clone();
                async move { op.reader(&p).await?.into_bytes_stream(..).await }
            })
            .try_flatten();
        self.stage(Box::pin(stream), size_limit, StorageError::Stream)
            .await
    }

    pub async fn remove_parts(&self, session: &str) -> Result<()> {
        self.op
            .delete_with(&part_dir(session))
            .recursive(true)
            .await?;
        Ok(())
    }

    /// The upload sessions that have fragments stored.
    pub async fn part_sessions(&self) -> Result<Vec<String>> {
        let entries = match self.op.list("uploads/").await {
            Err(e) if e.kind() == opendal::ErrorKind::NotFound => return Ok(vec![]),
            other => other?,
        };
        Ok(entries
            .into_iter()
            .filter(|e| e.metadata().is_dir())
            .filter_map(|e| {
                let name = e.name().trim_end_matches('/');
                (!name.is_empty() && name != "uploads").then(|| name.to_string())
            })
            .collect())
    }

    /// Removes staged content that no request of this process holds and that was last written
    /// before `before` (Unix milliseconds): what a crash or a request that broke off left behind.
    /// Returns how many files went.
    pub async fn sweep_staged(&self, before: i64) -> Result<usize> {
        let entries = match self.op.list("tmp/").await {
            Err(e) if e.kind() == opendal::ErrorKind::NotFound => return Ok(0),
            other => other?,
        };
        let mut removed = 0;
        for entry in entries.into_iter().filter(|e| e.metadata().is_file()) {
            let path = entry.path().to_string();
            if self
                .live
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&path)
            {
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
mod tests {
    use super::*;

    #[test]
    fn hashes_of_known_inputs() {
        let empty = Hashers::new().finish();
        assert_eq!(
            empty.sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(empty.sha1, "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709");
        assert_eq!(empty.quickxor, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        let mut h = Hashers::new();
        h.update(b"hello ");
        h.update(b"world");
        let b = h.finish();
        assert_eq!(b.size, 11);
        assert_eq!(b.sha1, "2AAE6C35C94FCFB415DBE95F408B9CE91EE846ED");
        // As `rclone hashsum quickxor` reports it (hex of the same 20 bytes).
        assert_eq!(b.quickxor, "aCgDG9jwBhDc4Q1yawMZAAAAAAA=");
    }

    #[tokio::test]
    async fn identical_bytes_are_stored_once() {
        let dir = std::env::temp_dir().join(format!("gd-blobs-{}", uuid::Uuid::new_v4()));
        let store = BlobStore::local(&dir, 0).unwrap();
        let chunks =
            || futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"same bytes"))]);
        let mut stored = vec![];
        for _ in 0..2 {
            let staged = store.stage_stream(chunks(), 100).await.unwrap();
            store.place(&staged).await.unwrap();
            stored.push(staged.blob.clone());
            store.discard(&staged).await;
        }
        assert_eq!(stored[0], stored[1]);
        let files: Vec<_> = walk(&dir.join("blobs"));
        assert_eq!(files.len(), 1);
        assert!(
            walk(&dir.join("tmp")).is_empty(),
            "no temporary file is left behind"
        );
        let unplaced = store.stage_stream(chunks(), 100).await.unwrap();
        store.discard(&unplaced).await;
        assert!(
            walk(&dir.join("tmp")).is_empty(),
            "discarded content is gone"
        );
        let too_big = store.stage_stream(chunks(), 5).await;
        assert!(matches!(too_big, Err(StorageError::TooLarge(5))));
        assert!(walk(&dir.join("tmp")).is_empty());
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return vec![];
        };
        entries
            .flatten()
            .flat_map(|e| {
                if e.path().is_dir() {
                    walk(&e.path())
                } else {
                    vec![e.path()]
                }
            })
            .collect()
    }
}
