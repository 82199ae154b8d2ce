use graphdrive_storage::StorageError;

/// What can go wrong in a drive operation, in the terms the wire layer maps to Graph errors.
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    NameConflict(String),
    #[error("{0}")]
    InvalidRequest(String),
    /// A name or path that the drive cannot hold; `detail` is Graph's inner code.
    #[error("{message}")]
    InvalidName {
        message: String,
        detail: &'static str,
    },
    #[error("The resource has changed since the caller last read it.")]
    PreconditionFailed,
    #[error("The upload exceeds the maximum allowed size of {0} bytes.")]
    TooLarge(u64),
    /// A fragment that does not start where the upload session expects.
    #[error("{message}")]
    InvalidRange {
        message: String,
        detail: &'static str,
    },
    #[error("Insufficient space available.")]
    QuotaExceeded,
    /// The server's own storage is full (not the drive's quota).
    #[error("The server has no space left to store this; try again after space was freed.")]
    InsufficientStorage,
    /// The request body broke off before its end: the client went away, stalled, or sent less
    /// than it announced.
    #[error("The request body ended before all its bytes arrived.")]
    BodyAborted(String),
    /// A delta token older than the changes its drive keeps (or from a drive's other life).
    #[error(
        "The delta token is older than the changes this drive keeps; start over without a token."
    )]
    ResyncRequired,
    /// The database or the blob store cannot be reached for now: try again shortly.
    #[error("The service is temporarily unavailable; try again shortly.")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StorageError> for DriveError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::TooLarge(limit) => DriveError::TooLarge(limit),
            StorageError::BodyAborted(why) => DriveError::BodyAborted(why),
            e if e.is_storage_full() => DriveError::InsufficientStorage,
            e if e.is_unavailable() => DriveError::Unavailable(e.to_string()),
            e if e.is_unique_violation() => {
                DriveError::NameConflict("The specified item name already exists.".into())
            }
            e => DriveError::Internal(e.to_string()),
        }
    }
}

pub type Result<T, E = DriveError> = std::result::Result<T, E>;

pub(crate) fn not_found() -> DriveError {
    DriveError::NotFound("The resource could not be found.".into())
}
