//! Storage for graphdrive: the metadata store (SQLite or PostgreSQL, one interface) and the
//! blob store (local disk or S3). Nothing here knows about HTTP or JSON.

pub mod blobs;
pub mod metadata;

pub use blobs::{BlobStore, BlobsConfig, S3Config, StagedBlob, StoredBlob};
pub use metadata::{Backend, MetadataStore, Tx};

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("blob store error: {0}")]
    Blob(#[from] opendal::Error),
    #[error("unsupported metadata URL `{0}` (expected sqlite:… or postgres://…)")]
    UnsupportedUrl(String),
    #[error("the blob store cannot be used: {0}")]
    BlobStoreUnavailable(String),
    #[error("upload stream failed: {0}")]
    Stream(String),
    /// The request body broke off (the client went away or stalled, or sent less than it
    /// announced): the client's doing, not the server's.
    #[error("the request body broke off: {0}")]
    BodyAborted(String),
    /// The disk (or the database) has no room for what is being written, or writing it would
    /// take the free space below the floor kept for metadata.
    #[error("no space left to store the data")]
    StorageFull,
    #[error("upload exceeds the limit of {0} bytes")]
    TooLarge(u64),
}

impl StorageError {
    /// True when a write lost a race on a unique key (e.g. two items with the same name).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StorageError::Database(sqlx::Error::Database(e)) => e.is_unique_violation(),
            _ => false,
        }
    }

    /// True when the database could not be reached (refused, timed out, a network error): a
    /// fault that may pass, unlike a wrong URL or a missing database.
    pub fn is_unreachable(&self) -> bool {
        match self {
            StorageError::Database(
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_),
            ) => true,
            // PostgreSQL's connection exceptions (class 08), and a server shutting down or
            // starting up (57P01, 57P02, 57P03).
            StorageError::Database(sqlx::Error::Database(e)) => e
                .code()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57P0")),
            _ => false,
        }
    }

    /// True when a store could not be reached for a reason that may pass: the database is
    /// unreachable, or the bucket kept failing (or timing out) after retries, as a server that
    /// is down or restarting does.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StorageError::BlobStoreUnavailable(_) => true,
            StorageError::Blob(e) => e.is_temporary() || e.is_persistent(),
            e => e.is_unreachable(),
        }
    }

    /// True when PostgreSQL answered that the database in the URL does not exist.
    pub fn is_missing_database(&self) -> bool {
        match self {
            StorageError::Database(sqlx::Error::Database(e)) => {
                e.code().as_deref() == Some("3D000")
            }
            _ => false,
        }
    }

    /// True when the write failed for want of space: our own floor, SQLite's `SQLITE_FULL`,
    /// PostgreSQL's `disk_full`, or an I/O error `ENOSPC` anywhere in the chain of causes.
    pub fn is_storage_full(&self) -> bool {
        match self {
            StorageError::StorageFull => true,
            StorageError::Database(sqlx::Error::Database(e)) => {
                let code = e.code();
                let code = code.as_deref().unwrap_or("");
                // SQLite reports its result code, 13 being SQLITE_FULL; PostgreSQL's disk_full
                // is 53100 (the rest of class 53 is memory and connection limits, not space).
                code == "13" || code == "53100" || io_full(e.message())
            }
            StorageError::Database(sqlx::Error::Io(e)) => is_enospc(e),
            StorageError::Blob(e) => {
                let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
                while let Some(c) = cause {
                    if let Some(io) = c.downcast_ref::<std::io::Error>()
                        && is_enospc(io)
                    {
                        return true;
                    }
                    cause = c.source();
                }
                io_full(&e.to_string())
            }
            _ => false,
        }
    }
}

pub(crate) fn is_enospc(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(28)
}

/// Some drivers only keep the operating system's words for it.
fn io_full(message: &str) -> bool {
    message.contains("No space left on device") || message.contains("database or disk is full")
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;
