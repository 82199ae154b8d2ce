//! The metadata store: one interface over SQLite (embedded default) and PostgreSQL.
//!
//! Both backends run the same SQL through sqlx's `Any` driver (`$1` placeholders work on both);
//! each has its own versioned migrations, applied at start, and the few statements whose dialects
//! differ branch on [`Backend`].

mod bin;
mod blobs;
mod changes;
pub mod copies;
mod drives;
mod items;
mod principals;
mod records;
mod signin;
mod uploads;
mod versions;

pub use bin::BinEntry;
pub use blobs::CollectedBlob;
pub use changes::{ChangeKind, ChangeRecord, ItemChange, JournalState};
pub use records::*;
pub use signin::{ClientRecord, CodeRecord, DeviceCodeRecord, RefreshRecord, SigningKeyRecord};
pub use versions::VersionRecord;

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Connection, Executor};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::{Result, StorageError};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct MetadataStore {
    pool: AnyPool,
    backend: Backend,
    /// SQLite has one writer at a time; queueing writers here is fairer and faster than letting
    /// them poll the database lock.
    sqlite_writer: Arc<Mutex<()>>,
}

impl MetadataStore {
    /// Opens (creating if needed) the store named by `url` and applies pending migrations.
    pub async fn open(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StorageError::UnsupportedUrl(url.to_string()));
        };
        let url = match backend {
            Backend::Sqlite => sqlite_url(url),
            Backend::Postgres => url.to_string(),
        };
        let options: AnyConnectOptions = url.parse()?;
        let pool = match backend {
            Backend::Sqlite => {
                pool_options()
                    .max_connections(8)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA busy_timeout = 30000; PRAGMA foreign_keys = ON;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?
            }
            Backend::Postgres => {
                // One connection first: the pool retries a refused connection until its acquire
                // timeout, while this reports it (or a missing database) at once.
                sqlx::AnyConnection::connect_with(&options)
                    .await?
                    .close()
                    .await?;
                pool_options()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(options)
                    .await?
            }
        };
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        Ok(Self {
            pool,
            backend,
            sqlite_writer: Arc::new(Mutex::new(())),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A transaction for reading; it sees one consistent snapshot.
    pub async fn read(&self) -> Result<Tx> {
        Ok(Tx {
            inner: self.pool.begin().await?,
            _writer: None,
            backend: self.backend,
            active_copies: None,
        })
    }

    /// A transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so it can never fail half-way on a lock upgrade.
    pub async fn write(&self) -> Result<Tx> {
        match self.backend {
            Backend::Sqlite => {
                let guard = self.sqlite_writer.clone().lock_owned().await;
                Ok(Tx {
                    inner: self.pool.begin_with("BEGIN IMMEDIATE").await?,
                    _writer: Some(guard),
                    backend: self.backend,
                    active_copies: None,
                })
            }
            Backend::Postgres => self.read().await,
        }
    }

    /// Answers when the database does: one query on a pooled connection.
    pub async fn ping(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query("SELECT 1").execute(&mut *conn).await?;
        Ok(())
    }

    /// Connections the pool holds, and how many of them are in use.
    pub fn pool_usage(&self) -> (u32, u32) {
        let size = self.pool.size();
        let idle = u32::try_from(self.pool.num_idle()).unwrap_or(size);
        (size, size.saturating_sub(idle))
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A SQLite URL that creates the database file when it is missing (`mode=rwc`), unless the URL
/// says otherwise: `sqlite://graphdrive.db` opens or makes `graphdrive.db`.
fn sqlite_url(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// Pool settings both backends share. A connection whose transaction could not be rolled back
/// (SQLite ends a transaction by itself on a full disk, and the later `ROLLBACK` then fails) is
/// still counted as inside one: it is closed instead of being handed out, so no request ever
/// begins on a connection that is mid-transaction.
fn pool_options() -> AnyPoolOptions {
    AnyPoolOptions::new().before_acquire(|conn, _| {
        Box::pin(async move {
            let clean = !conn.is_in_transaction();
            if !clean {
                tracing::warn!("closing a database connection left inside a transaction");
            }
            Ok(clean)
        })
    })
}

/// One database transaction. Dropping it without [`Tx::commit`] rolls it back.
pub struct Tx {
    inner: sqlx::Transaction<'static, Any>,
    _writer: Option<OwnedMutexGuard<()>>,
    backend: Backend,
    /// The running copies (job id, source root) as this transaction saw them first.
    active_copies: Option<Vec<(String, i64)>>,
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        self.inner.commit().await?;
        Ok(())
    }

    fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.inner
    }
}
