//! Storage for graphdrive: the metadata store (SQLite or PostgreSQL, one interface) and the
//! content-addressed blob store. Nothing here knows about HTTP or JSON.

pub mod blobs;
pub mod metadata;

pub use blobs::{BlobStore, StagedBlob, StoredBlob};
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
    #[error("upload stream failed: {0}")]
    Stream(String),
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
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;
