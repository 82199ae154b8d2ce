//! The integration-test harness: starts the real `graphdrive` binary on 127.0.0.1:0 against a
//! fresh SQLite file or a fresh PostgreSQL database, and talks to it over real HTTP.
#![allow(dead_code)]

pub mod api;
pub mod delta;
pub mod idp;
pub mod oauth;
pub mod proxy;
pub mod raw_http;
pub mod rclone;
pub mod s3;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

pub use api::*;

/// Runs each named scenario `async fn name(backend: Backend)` once per backend: SQLite and
/// PostgreSQL with contents on the local disk, and PostgreSQL with contents in S3. Scenarios
/// about the local disk itself (a full disk, files under the data directory) follow
/// `local disk:` and run on the first two only.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)? $(; local disk: $($disk:ident),* $(,)?)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
            )*
            $($(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $disk() {
                    super::$disk($crate::common::Backend::Sqlite).await
                }
            )*)?
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Postgres).await
                }
            )*
            $($(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $disk() {
                    super::$disk($crate::common::Backend::Postgres).await
                }
            )*)?
        }
        mod postgres_s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::PostgresS3).await
                }
            )*
        }
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    /// PostgreSQL, with file contents in the suite's S3 server (see [`s3`]).
    PostgresS3,
}

impl Backend {
    pub fn is_postgres(self) -> bool {
        matches!(self, Backend::Postgres | Backend::PostgresS3)
    }

    pub fn blobs_in_s3(self) -> bool {
        self == Backend::PostgresS3
    }
}

/// The PostgreSQL server the suite makes its throwaway databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("GRAPHDRIVE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub struct TestServer {
    pub url: String,
    pub data_dir: tempfile::TempDir,
    pub metadata: String,
    child: Option<Child>,
    pg_database: Option<String>,
    /// The bucket prefix this server keeps file contents under (removed on drop), with S3.
    pub s3_prefix: Option<String>,
    serve_args: Vec<String>,
    /// Environment of the server process (e.g. `FAILPOINTS`), kept across restarts until changed.
    pub env: Vec<(String, String)>,
    /// Set when the data directory is a tmpfs this harness mounted (unmounted on drop).
    tmpfs: bool,
    log_to_file: bool,
    /// False for a further node on another server's storage (see [`TestServer::another_node`]):
    /// the first server removes the database and the bucket prefix.
    owns_storage: bool,
}

/// How a test server is started beyond the defaults.
#[derive(Default)]
pub struct Options<'a> {
    pub serve_args: &'a [&'a str],
    pub env: &'a [(&'a str, &'a str)],
    /// Mount a tmpfs of this many MiB as the data directory (needs root, as in CI), to run out
    /// of disk space on purpose.
    pub tmpfs_mib: Option<u64>,
    /// Write the server's log (stderr) to [`TestServer::log_path`] instead of the test's output.
    pub log_to_file: bool,
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, &[]).await
    }

    /// Starts a server with extra `serve` arguments.
    pub async fn start_with(backend: Backend, serve_args: &[&str]) -> Self {
        Self::start_opts(
            backend,
            Options {
                serve_args,
                ..Options::default()
            },
        )
        .await
    }

    pub async fn start_opts(backend: Backend, opts: Options<'_>) -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        if let Some(mib) = opts.tmpfs_mib {
            let out = Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
                .arg(data_dir.path())
                .output()
                .expect("run mount");
            assert!(
                out.status.success(),
                "mounting a tmpfs needs root: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let (metadata, pg_database) = match backend {
            Backend::Sqlite => (
                format!(
                    "sqlite://{}?mode=rwc",
                    data_dir.path().join("metadata.db").display()
                ),
                None,
            ),
            Backend::Postgres | Backend::PostgresS3 => {
                let name = format!("gdtest_{}", uuid::Uuid::new_v4().simple());
                create_database(&name).await;
                let admin = postgres_admin_url();
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                (format!("{base}/{name}"), Some(name))
            }
        };
        let mut server = TestServer {
            url: String::new(),
            data_dir,
            metadata,
            child: None,
            pg_database,
            s3_prefix: backend
                .blobs_in_s3()
                .then(|| format!("t{}", uuid::Uuid::new_v4().simple())),
            serve_args: opts.serve_args.iter().map(|s| s.to_string()).collect(),
            env: opts
                .env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            tmpfs: opts.tmpfs_mib.is_some(),
            log_to_file: opts.log_to_file,
            owns_storage: true,
        };
        server.launch("127.0.0.1:0");
        server
    }

    /// Starts the server process and waits until it prints the address it listens on.
    fn launch(&mut self, listen: &str) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_graphdrive"))
            .args(self.storage_args())
            .envs(self.storage_env())
            .args(["serve", "--listen", listen])
            .args(&self.serve_args)
            .env("GRAPHDRIVE_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(self.log_output())
            .spawn()
            .expect("start graphdrive");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read server banner");
        let addr = line
            .split_whitespace()
            .find(|w| w.starts_with("http://") || w.starts_with("https://"))
            .unwrap_or_else(|| panic!("unexpected server banner: {line:?}"))
            .to_string();
        self.url = addr;
        self.child = Some(child);
    }

    /// Asserts what the store keeps up to date on every write (no copy may be running): every
    /// blob's reference count is the number of items and versions holding it, which blob collection relies on
    /// to never lose or leak content, and every folder's totals are those of what lies below it.
    pub async fn assert_store_consistent(&self) {
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&self.metadata)
            .await
            .expect("open the metadata database");
        let (wrong, dangling): (i64, i64) = sqlx::query_as(
            "SELECT \
             (SELECT COUNT(*) FROM blobs b LEFT JOIN (SELECT blob_hash, COUNT(*) AS n FROM \
              (SELECT blob_hash FROM items WHERE blob_hash IS NOT NULL \
               UNION ALL SELECT blob_hash FROM item_versions) r GROUP BY blob_hash) c \
              ON c.blob_hash = b.hash \
              WHERE b.refcount <> COALESCE(c.n, 0)), \
             (SELECT COUNT(*) FROM items i WHERE i.blob_hash IS NOT NULL \
              AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.hash = i.blob_hash))",
        )
        .fetch_one(&mut conn)
        .await
        .expect("count blob references");
        assert_eq!(
            (wrong, dangling),
            (0, 0),
            "blobs with a wrong reference count, items naming a missing blob"
        );
        // Every folder's totals, recounted from the rows below it.
        let (wrong_totals,): (i64,) = sqlx::query_as(
            "WITH RECURSIVE up(folder, size, is_file) AS ( \
               SELECT parent_id, size * (1 - is_folder), 1 - is_folder FROM items \
               WHERE parent_id IS NOT NULL \
               UNION ALL SELECT i.parent_id, up.size, up.is_file FROM up \
               JOIN items i ON i.id = up.folder WHERE i.parent_id IS NOT NULL), \
             t AS (SELECT folder, SUM(size) AS size, COUNT(*) AS items, SUM(is_file) AS files \
               FROM up GROUP BY folder) \
             SELECT CAST(COUNT(*) AS BIGINT) FROM items f LEFT JOIN t ON t.folder = f.id \
             WHERE f.is_folder = 1 AND (f.size <> COALESCE(t.size, 0) \
               OR f.descendants <> COALESCE(t.items, 0) \
               OR f.descendant_files <> COALESCE(t.files, 0) \
               OR f.child_count <> (SELECT COUNT(*) FROM items c WHERE c.parent_id = f.id))",
        )
        .fetch_one(&mut conn)
        .await
        .expect("recount folder totals");
        assert_eq!(wrong_totals, 0, "folders with wrong totals");
    }

    /// The global arguments that name this server's storage.
    pub fn storage_args(&self) -> Vec<String> {
        let mut args = vec![
            "--data-dir".to_string(),
            self.data_dir.path().to_string_lossy().into_owned(),
            "--metadata".into(),
            self.metadata.clone(),
        ];
        if let Some(prefix) = &self.s3_prefix {
            args.extend(["--blobs".into(), format!("s3://{}/{prefix}", s3::BUCKET)]);
        }
        args
    }

    /// The environment that goes with [`TestServer::storage_args`]: the S3 endpoint and keys.
    pub fn storage_env(&self) -> Vec<(String, String)> {
        match &self.s3_prefix {
            Some(_) => s3::server_env(),
            None => Vec::new(),
        }
    }

    /// Where the store keeps the bytes of `content` now: the file in the local layout, or the
    /// object its blob row names in the bucket (`None` with S3 when no row holds them).
    pub async fn blob_location(&self, content: &[u8]) -> Option<BlobLocation> {
        let Some(prefix) = &self.s3_prefix else {
            return Some(BlobLocation::File(self.blob_file(content)));
        };
        let sha256 = hashes(content).1.to_lowercase();
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&self.metadata)
            .await
            .expect("open the metadata database");
        let object: Option<(Option<String>,)> =
            sqlx::query_as("SELECT object FROM blobs WHERE hash = $1")
                .bind(&sha256)
                .fetch_optional(&mut conn)
                .await
                .expect("read the blob row");
        let name = object?.0.expect("a blob row in a bucket names its object");
        Some(BlobLocation::Object {
            prefix: prefix.clone(),
            name,
        })
    }

    /// True while the store holds the bytes of `content` where its row says they are.
    pub async fn blob_exists(&self, content: &[u8]) -> bool {
        match self.blob_location(content).await {
            Some(at) => at.exists().await,
            None => false,
        }
    }

    /// Where the server keeps the bytes of `content` (the local blob store's layout).
    pub fn blob_file(&self, content: &[u8]) -> std::path::PathBuf {
        let sha256 = hashes(content).1.to_lowercase();
        self.data_dir
            .path()
            .join("blobs/blobs")
            .join(&sha256[0..2])
            .join(&sha256[2..4])
            .join(&sha256)
    }

    /// Starts another node on this server's metadata store and blob store, with a data
    /// directory (and so a node id) of its own; `metadata` replaces the metadata URL (to reach
    /// the same database another way, such as through a [`proxy::Proxy`]).
    pub fn another_node(&self, metadata: Option<&str>, serve_args: &[&str]) -> TestServer {
        let mut node = TestServer {
            url: String::new(),
            data_dir: tempfile::tempdir().expect("temp dir"),
            metadata: metadata.map_or_else(|| self.metadata.clone(), str::to_string),
            child: None,
            pg_database: None,
            s3_prefix: self.s3_prefix.clone(),
            serve_args: serve_args.iter().map(|s| s.to_string()).collect(),
            env: self.env.clone(),
            tmpfs: false,
            log_to_file: self.log_to_file,
            owns_storage: false,
        };
        node.launch("127.0.0.1:0");
        node
    }

    /// This node's id (kept in its data directory).
    pub fn node_id(&self) -> String {
        std::fs::read_to_string(self.data_dir.path().join("node-id"))
            .expect("read the node id")
            .trim()
            .to_string()
    }

    /// Kills the server with SIGKILL and starts it again on the same port and data.
    pub fn kill_and_restart(&mut self) {
        self.kill();
        self.restart();
    }

    /// Kills the server with SIGKILL; [`TestServer::restart`] starts it again.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the server with SIGTERM, as an operator does; returns how long it took to exit
    /// (it must exit, and successfully, within a minute).
    pub fn terminate(&mut self) -> std::time::Duration {
        let mut child = self.child.take().expect("the server runs");
        let started = std::time::Instant::now();
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success());
        loop {
            if let Some(status) = child.try_wait().expect("wait for the server") {
                assert!(status.success(), "the server exited with {status}");
                return started.elapsed();
            }
            if started.elapsed() > std::time::Duration::from_secs(60) {
                let _ = child.kill();
                panic!("the server did not exit within a minute of SIGTERM");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Where the server's log goes with [`Options::log_to_file`].
    pub fn log_path(&self) -> std::path::PathBuf {
        self.data_dir.path().join("server.log")
    }

    /// What the server logged so far (with [`Options::log_to_file`]).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_output(&self) -> Stdio {
        if !self.log_to_file {
            return Stdio::inherit();
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open the server log");
        Stdio::from(file)
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts the server again on the same port and data.
    pub fn restart(&mut self) {
        let listen = self
            .url
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .to_string();
        self.launch(&listen);
    }

    /// Runs statements straight on the metadata database (with the server stopped), to set up a
    /// state no request makes, such as what an upgrade leaves behind.
    pub async fn run_sql(&self, statements: &[&str]) {
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&self.metadata)
            .await
            .expect("open the metadata database");
        for s in statements {
            sqlx::query(sqlx::AssertSqlSafe(s.to_string()))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{s}: {e}"));
        }
    }

    /// A `graphdrive` command against this server's storage, not yet run.
    pub fn cli_command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_graphdrive"));
        c.args(self.storage_args())
            .envs(self.storage_env())
            .args(args)
            .env("GRAPHDRIVE_LOG", "warn");
        c
    }

    /// Runs a `graphdrive` command against this server's storage.
    pub fn cli_output(&self, args: &[&str]) -> Output {
        self.cli_command(args).output().expect("run graphdrive")
    }

    /// Runs a command that must succeed; returns its trimmed stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        succeeded(args, self.cli_output(args))
    }

    /// Adds a user and returns a token for them with the given scopes.
    pub fn user_token(&self, name: &str, scopes: &[&str]) -> String {
        // The user may exist already; the token command fails below if it does not.
        let _ = self.cli_output(&["user", "add", name]);
        self.token(&["--user", name], scopes)
    }

    pub fn token(&self, who: &[&str], scopes: &[&str]) -> String {
        let mut args = vec!["token"];
        args.extend_from_slice(who);
        for s in scopes {
            args.extend_from_slice(&["--scope", s]);
        }
        self.cli(&args)
    }

    /// A client for a new user with `Files.ReadWrite`.
    pub fn new_user(&self, name: &str) -> Api {
        self.client(&self.user_token(name, &["Files.ReadWrite"]))
    }

    pub fn client(&self, token: &str) -> Api {
        Api::new(&self.url, Some(token.to_string()))
    }

    pub fn anonymous(&self) -> Api {
        Api::new(&self.url, None)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if self.tmpfs {
            let _ = Command::new("umount").arg(self.data_dir.path()).status();
        }
        if let Some(prefix) = self.s3_prefix.take().filter(|_| self.owns_storage) {
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(s3::remove_prefix(&prefix));
            })
            .join();
        }
        if let Some(name) = self.pg_database.take() {
            // Drop runs inside the test's runtime: use a thread with a runtime of its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(drop_database(&name));
            })
            .join();
        }
    }
}

/// Where a blob's bytes lie, to look again later (after they should have gone).
#[derive(Clone, Debug)]
pub enum BlobLocation {
    File(std::path::PathBuf),
    Object { prefix: String, name: String },
}

impl BlobLocation {
    pub async fn exists(&self) -> bool {
        match self {
            BlobLocation::File(path) => path.exists(),
            BlobLocation::Object { prefix, name } => {
                s3::objects(prefix, "").await.iter().any(|o| o == name)
            }
        }
    }
}

async fn admin_connection() -> sqlx::PgConnection {
    use sqlx::Connection;
    let url = postgres_admin_url();
    sqlx::PgConnection::connect(&url).await.unwrap_or_else(|e| {
        panic!("PostgreSQL is needed at {url} (set GRAPHDRIVE_TEST_POSTGRES): {e}")
    })
}

async fn create_database(name: &str) {
    let mut conn = admin_connection().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await
        .expect("create test database");
}

async fn drop_database(name: &str) {
    let mut conn = admin_connection().await;
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await;
}
