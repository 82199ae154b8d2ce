//! The integration-test harness: starts the real `graphdrive` binary on 127.0.0.1:0 against a
//! fresh SQLite file or a fresh PostgreSQL database, and talks to it over real HTTP.
#![allow(dead_code)]

pub mod delta;
pub mod idp;
pub mod oauth;
pub mod raw_http;
pub mod rclone;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Runs each named scenario `async fn name(backend: Backend)` once per metadata backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Postgres).await
                }
            )*
        }
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
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
    serve_args: Vec<String>,
    /// Environment of the server process (e.g. `FAILPOINTS`), kept across restarts until changed.
    pub env: Vec<(String, String)>,
    /// Set when the data directory is a tmpfs this harness mounted (unmounted on drop).
    tmpfs: bool,
    log_to_file: bool,
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
            Backend::Postgres => {
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
            serve_args: opts.serve_args.iter().map(|s| s.to_string()).collect(),
            env: opts
                .env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            tmpfs: opts.tmpfs_mib.is_some(),
            log_to_file: opts.log_to_file,
        };
        server.launch("127.0.0.1:0");
        server
    }

    /// Starts the server process and waits until it prints the address it listens on.
    fn launch(&mut self, listen: &str) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_graphdrive"))
            .args([
                "--data-dir",
                &self.data_dir.path().to_string_lossy(),
                "--metadata",
                &self.metadata,
            ])
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
        c.args([
            "--data-dir",
            &self.data_dir.path().to_string_lossy(),
            "--metadata",
            &self.metadata,
        ])
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

/// A Graph client: paths are relative to `/v1.0`; absolute URLs are used as they are.
#[derive(Clone)]
pub struct Api {
    pub server: String,
    pub token: Option<String>,
    http: reqwest::Client,
}

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// Asserts the status; shows the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text()
        );
        self
    }

    /// Asserts a Graph error with this status and code.
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Value {
        let body = self.expect(status).json();
        assert_eq!(body["error"]["code"], code, "unexpected error: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "no message: {body}"
        );
        assert!(
            body["error"]["innerError"]["request-id"].is_string(),
            "no request-id: {body}"
        );
        body
    }
}

impl Api {
    pub fn new(server: &str, token: Option<String>) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            server: server.to_string(),
            token,
            http,
        }
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}/v1.0{}", self.server, path)
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Resp {
        let mut rb = self.http.request(method, self.url(path));
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.body(b);
        }
        let res = rb.send().await.expect("request");
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.bytes().await.expect("body").to_vec();
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, &[], None).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, &[], None).await
    }

    pub async fn put(&self, path: &str, bytes: impl Into<Vec<u8>>) -> Resp {
        self.send(Method::PUT, path, &[], Some(bytes.into())).await
    }

    pub async fn post(&self, path: &str, json: &Value) -> Resp {
        self.send(
            Method::POST,
            path,
            &[("content-type", "application/json")],
            Some(json.to_string().into_bytes()),
        )
        .await
    }

    pub async fn patch(&self, path: &str, json: &Value) -> Resp {
        self.send(
            Method::PATCH,
            path,
            &[("content-type", "application/json")],
            Some(json.to_string().into_bytes()),
        )
        .await
    }

    /// Creates a folder under the folder at `parent` (an item path such as `/me/drive/root`).
    pub async fn mkdir(&self, parent: &str, name: &str) -> Value {
        self.post(
            &format!("{parent}/children"),
            &serde_json::json!({ "name": name, "folder": {} }),
        )
        .await
        .expect(201)
        .json()
    }

    /// Uploads bytes to `/me/drive/root:/{path}:/content`.
    pub async fn upload(&self, path: &str, bytes: impl Into<Vec<u8>>) -> Value {
        let r = self
            .put(&format!("/me/drive/root:/{path}:/content"), bytes)
            .await;
        assert!(
            r.status == 201 || r.status == 200,
            "upload failed: {} {}",
            r.status,
            r.text()
        );
        r.json()
    }

    /// Follows a download (`GET …/content` → 302) without sending the token to the target.
    pub async fn download(&self, path: &str) -> Vec<u8> {
        let r = self.get(path).await.expect(302);
        let location = r.header("location").expect("Location");
        let anon = Api::new(&self.server, None);
        anon.get(&location).await.expect(200).body
    }
}

/// The hashes Graph reports, computed here independently of the server.
pub fn hashes(bytes: &[u8]) -> (String, String, String) {
    use base64::Engine;
    use sha1::Digest;
    let sha1 = hex::encode_upper(sha1::Sha1::digest(bytes));
    let sha256 = hex::encode_upper(sha2::Sha256::digest(bytes));
    let mut q = quickxorhash::QuickXorHash::new();
    q.update(bytes);
    let qx = base64::engine::general_purpose::STANDARD.encode(q.finalize());
    (sha1, sha256, qx)
}

/// PUTs `bytes[start..end]` of a file of `bytes.len()` bytes to an upload URL, with the matching
/// `Content-Range`.
pub async fn put_fragment(client: &Api, url: &str, bytes: &[u8], start: usize, end: usize) -> Resp {
    let range = format!("bytes {start}-{}/{}", end - 1, bytes.len());
    client
        .send(
            Method::PUT,
            url,
            &[("content-range", &range)],
            Some(bytes[start..end].to_vec()),
        )
        .await
}

/// Polls a copy's monitor (without a token) until the job ends; returns its last status.
pub async fn wait_for_copy(monitor: &str) -> Value {
    let anon = Api::new("http://unused", None);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let s = anon.get(monitor).await.json();
        if s["status"] == "completed" || s["status"] == "failed" {
            return s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "copy did not finish: {s}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// GET that must answer 200; returns the JSON.
pub async fn get_ok(api: &Api, path: &str) -> Value {
    let r = api.get(path).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r.json()
}

/// A folder's `size` and `folder.childCount`.
pub async fn totals(api: &Api, path: &str) -> (i64, i64) {
    let v = get_ok(api, path).await;
    let size = v["size"].as_i64().unwrap_or_else(|| panic!("no size: {v}"));
    let count = v["folder"]["childCount"]
        .as_i64()
        .unwrap_or_else(|| panic!("no folder.childCount: {v}"));
    (size, count)
}

/// Asserts the `file.hashes` of an item match `bytes`.
#[track_caller]
pub fn assert_hashes(item: &Value, bytes: &[u8]) {
    let (sha1, sha256, qx) = hashes(bytes);
    let h = &item["file"]["hashes"];
    assert_eq!(h["sha1Hash"], sha1, "sha1Hash of {item}");
    assert_eq!(h["sha256Hash"], sha256, "sha256Hash of {item}");
    assert_eq!(h["quickXorHash"], qx, "quickXorHash of {item}");
}

/// The trimmed stdout of a command that must have succeeded.
pub fn succeeded(args: &[&str], out: Output) -> String {
    assert!(
        out.status.success(),
        "graphdrive {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
