//! Upload-session fragments: each kept as an object of its own in the blob store (so that
//! consecutive fragments may reach different nodes), joined into one staged blob at the end.

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};

use super::{BlobStore, StagedBlob};
use crate::{Result, StorageError};

fn part_dir(session: &str) -> String {
    format!("uploads/{session}/")
}

impl BlobStore {
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
        let mut writer = self.writer(&path).await?;
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
}
