//! What the operator asks of a running node: whether its stores answer, what they are, and the
//! figures that are read from them rather than counted as things happen.

use graphdrive_storage::Backend;

use crate::error::Result;
use crate::service::{DriveService, now_millis};

/// Figures read at the time they are asked for.
#[derive(Clone, Copy, Debug, Default)]
pub struct Gauges {
    /// Upload sessions not yet expired (every node's).
    pub open_upload_sessions: i64,
    /// Database connections this node's pool holds, and those of them in use.
    pub pool_connections: u32,
    pub pool_in_use: u32,
    /// Copy jobs this node runs now.
    pub running_copies: usize,
}

impl DriveService {
    /// Answers when the metadata store answers a query.
    pub async fn check_metadata(&self) -> Result<()> {
        Ok(self.store().ping().await?)
    }

    /// Answers when the blob store can be reached.
    pub async fn check_blobs(&self) -> Result<()> {
        Ok(self.blobs().check().await?)
    }

    /// `sqlite` or `postgres`.
    pub fn metadata_backend(&self) -> &'static str {
        match self.store().backend() {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// Where file contents live, e.g. `local:/var/lib/graphdrive/blobs`.
    pub fn blob_store(&self) -> String {
        self.blobs().describe()
    }

    /// True when every node on the same metadata store reads the same file contents (a bucket).
    pub fn blobs_shared(&self) -> bool {
        self.blobs().names_objects()
    }

    /// Closes the metadata store's connections, once they are given back.
    pub async fn close(&self) {
        self.store().close().await;
    }

    pub async fn gauges(&self) -> Result<Gauges> {
        let (pool_connections, pool_in_use) = self.store().pool_usage();
        let open_upload_sessions = {
            let mut tx = self.store().read().await?;
            tx.open_upload_sessions(now_millis()).await?
        };
        Ok(Gauges {
            open_upload_sessions,
            pool_connections,
            pool_in_use,
            running_copies: self.running_copies(),
        })
    }
}
