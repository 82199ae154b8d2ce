//! Opening what a command needs, with errors that say what failed and where: the data
//! directory, its lock, the metadata store (retried while it cannot be reached) and the blobs.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use graphdrive_drive::{DriveConfig, DriveService};
use graphdrive_storage::{BlobStore, BlobsConfig, MetadataStore, S3Config};

use crate::cli::StorageArgs;
use crate::redact;

/// How long one attempt to open the metadata store may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest pause between two attempts while the metadata store cannot be reached.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(10);

/// The metadata URL the storage arguments name.
pub fn metadata_url(storage: &StorageArgs) -> String {
    match &storage.metadata {
        Some(url) => url.clone(),
        None => format!(
            "sqlite://{}?mode=rwc",
            storage.data_dir.join("metadata.db").display()
        ),
    }
}

/// Opens the service. A server (`retry`) waits for a metadata store it cannot reach, saying so
/// at every attempt; a command gives up after one attempt.
pub async fn open_service(
    storage: &StorageArgs,
    config: DriveConfig,
    retry: bool,
) -> anyhow::Result<DriveService> {
    create_dir(&storage.data_dir, "data directory")?;
    let url = metadata_url(storage);
    let shown = redact::secrets(&url);
    if let Some(path) = sqlite_file(&url) {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = dir {
            create_dir(dir, "directory of the SQLite database")?;
        }
    }
    let mut pause = Duration::from_secs(1);
    let store = loop {
        let attempt = tokio::time::timeout(OPEN_TIMEOUT, MetadataStore::open(&url)).await;
        let failure = match attempt {
            Ok(Ok(store)) => break store,
            Ok(Err(e)) if e.is_missing_database() => bail!(missing_database(&url)),
            Ok(Err(e)) if e.is_unreachable() => redact::secrets(&e.to_string()),
            Ok(Err(e)) => {
                return Err(anyhow::Error::new(e))
                    .with_context(|| format!("cannot open the metadata store {shown}"));
            }
            Err(_) => format!("no answer within {} s", OPEN_TIMEOUT.as_secs()),
        };
        if !retry {
            bail!("cannot reach the metadata store {shown}: {failure}");
        }
        tracing::warn!(
            metadata = %shown,
            error = %failure,
            retry_in_secs = pause.as_secs(),
            "cannot reach the metadata store; retrying"
        );
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_RETRY_PAUSE);
    };
    let location = blobs_config(storage)?;
    let blobs = BlobStore::open(&location, storage.min_free_space, &store).map_err(|e| {
        anyhow::anyhow!("cannot use {} for file contents: {e}", describe(&location))
    })?;
    DriveService::new(store, blobs, config)
        .await
        .context("cannot start the drive service")
}

/// Where the storage arguments put file contents: `--blobs`, or `blobs` in the data dir.
pub fn blobs_config(storage: &StorageArgs) -> anyhow::Result<BlobsConfig> {
    let Some(url) = storage.blobs.as_deref().filter(|u| !u.is_empty()) else {
        return Ok(BlobsConfig::Local(storage.data_dir.join("blobs")));
    };
    let env = |name: &str| std::env::var(name).ok();
    let s3 = S3Config::settings(
        storage.s3_endpoint.clone(),
        env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")),
        env("AWS_ACCESS_KEY_ID"),
        env("AWS_SECRET_ACCESS_KEY"),
    );
    BlobsConfig::parse(url, s3).map_err(|e| anyhow::anyhow!("--blobs: {e}"))
}

fn describe(location: &BlobsConfig) -> String {
    match location {
        BlobsConfig::Local(dir) => dir.display().to_string(),
        BlobsConfig::S3(s3) => s3.describe(),
    }
}

fn create_dir(dir: &Path, what: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the {what} {}", dir.display()))
}

/// The file a `sqlite:` URL names, if it names one.
fn sqlite_file(url: &str) -> Option<&Path> {
    let rest = url
        .strip_prefix("sqlite://")
        .or(url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| Path::new(path))
}

/// How to fix a PostgreSQL URL whose database does not exist.
fn missing_database(url: &str) -> String {
    let parsed = url::Url::parse(url).ok();
    let db = parsed
        .as_ref()
        .map(|u| u.path().trim_start_matches('/').to_string())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "graphdrive".into());
    let host = parsed
        .as_ref()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "localhost".into());
    let user = parsed
        .as_ref()
        .map(|u| u.username().to_string())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres".into());
    format!(
        "the PostgreSQL database \"{db}\" does not exist on {host}; create it with \
         `createdb -h {host} -U {user} {db}` (or `CREATE DATABASE \"{db}\";` in psql), then start again"
    )
}

/// The exclusive lock a server holds on its data directory while it runs: a second server on
/// the same directory (which would share its node id and its SQLite file) refuses to start.
pub struct DataDirLock {
    _file: std::fs::File,
}

pub fn lock_data_dir(dir: &Path) -> anyhow::Result<DataDirLock> {
    create_dir(dir, "data directory")?;
    let path = dir.join("server.lock");
    lock_file(&path, || {
        format!(
            "another graphdrive server is running on the data directory {} (it holds {}); \
             stop it, or give this server its own --data-dir",
            dir.display(),
            path.display()
        )
    })
}

/// The lock a server holds on its SQLite database, wherever the file lies: SQLite serves one
/// node, so a second server on the same file (from another data directory) refuses to start.
pub fn lock_single_node(storage: &StorageArgs) -> anyhow::Result<Option<DataDirLock>> {
    let url = metadata_url(storage);
    let Some(db) = sqlite_file(&url) else {
        return Ok(None);
    };
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_dir(dir, "directory of the SQLite database")?;
    }
    let mut name = db.as_os_str().to_owned();
    name.push(".server-lock");
    let path = std::path::PathBuf::from(name);
    let lock = lock_file(&path, || {
        format!(
            "another graphdrive server is already serving the SQLite database {} (it holds {}). \
             SQLite serves a single node: to run several nodes, keep the metadata in PostgreSQL \
             (--metadata postgres://…) and the file contents in S3 (--blobs s3://BUCKET)",
            db.display(),
            path.display()
        )
    })?;
    Ok(Some(lock))
}

fn lock_file(path: &Path, held: impl FnOnce() -> String) -> anyhow::Result<DataDirLock> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(DataDirLock { _file: file }),
        Err(rustix::io::Errno::WOULDBLOCK) => bail!(held()),
        Err(e) => bail!("cannot lock {}: {e}", path.display()),
    }
}

/// This node's name, kept in the data directory so that after a restart the node takes back its
/// own unfinished copy jobs at once.
pub fn node_id(data_dir: &Path) -> anyhow::Result<String> {
    create_dir(data_dir, "data directory")?;
    let path = data_dir.join("node-id");
    if let Ok(id) = std::fs::read_to_string(&path)
        && !id.trim().is_empty()
    {
        return Ok(id.trim().to_string());
    }
    let id = graphdrive_drive::tokens::random_token(12);
    std::fs::write(&path, &id).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_sqlite_file() {
        assert_eq!(
            sqlite_file("sqlite://a/b.db?mode=rwc"),
            Some(Path::new("a/b.db"))
        );
        assert_eq!(sqlite_file("sqlite:x.db"), Some(Path::new("x.db")));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://h/db"), None);
    }

    #[test]
    fn says_how_to_make_a_missing_database() {
        let m = missing_database("postgres://app:pw@db.example:5432/drive");
        assert!(m.contains("\"drive\" does not exist on db.example"), "{m}");
        assert!(m.contains("createdb -h db.example -U app drive"), "{m}");
        assert!(!m.contains("pw"), "{m}");
    }
}
