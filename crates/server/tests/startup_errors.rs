//! Start-up errors say what is wrong and where, within seconds, and never print a password.

mod common;

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn graphdrive(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_graphdrive"))
        .current_dir(dir)
        .args(args)
        .env("GRAPHDRIVE_LOG", "warn")
        .output()
        .expect("run graphdrive")
}

fn stderr(out: &Output) -> String {
    assert!(!out.status.success(), "it succeeded");
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn a_data_dir_that_cannot_be_made_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("file"), b"x").unwrap();
    let dir = tmp.path().join("file/data");
    let err = stderr(&graphdrive(
        tmp.path(),
        &["--data-dir", dir.to_str().unwrap(), "user", "list"],
    ));
    assert!(
        err.contains(&format!(
            "cannot create the data directory {}",
            dir.display()
        )),
        "{err}"
    );
    assert!(err.contains("Not a directory"), "the cause is given: {err}");
}

#[test]
fn the_sqlite_url_form_help_shows_works() {
    let tmp = tempfile::tempdir().unwrap();
    let out = graphdrive(
        tmp.path(),
        &[
            "--metadata",
            "sqlite://graphdrive.db",
            "user",
            "add",
            "alice",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(tmp.path().join("graphdrive.db").exists());
    let out = graphdrive(
        tmp.path(),
        &["--metadata", "sqlite://graphdrive.db", "user", "list"],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("alice"));
}

const UNREACHABLE: &str = "postgres://postgres:hunter2@127.0.0.1:1/graphdrive";

#[test]
fn an_unreachable_database_is_reported_at_once_without_its_password() {
    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let err = stderr(&graphdrive(
        tmp.path(),
        &["--metadata", UNREACHABLE, "user", "list"],
    ));
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert!(
        err.contains(
            "cannot reach the metadata store postgres://postgres:***@127.0.0.1:1/graphdrive"
        ),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "the password was printed: {err}");
}

#[test]
fn a_server_retries_an_unreachable_database_visibly() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_graphdrive"))
        .args([
            "--data-dir",
            tmp.path().to_str().unwrap(),
            "--metadata",
            UNREACHABLE,
        ])
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("GRAPHDRIVE_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let _ = child.kill();
    let _ = child.wait();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    let retries = log
        .matches("cannot reach the metadata store; retrying")
        .count();
    assert!(retries >= 2, "{log}");
    assert!(
        log.contains("postgres://postgres:***@127.0.0.1:1/graphdrive"),
        "{log}"
    );
    assert!(!log.contains("hunter2"), "the password was printed: {log}");
}

#[test]
fn a_missing_postgres_database_says_how_to_make_it() {
    let tmp = tempfile::tempdir().unwrap();
    let admin = common::postgres_admin_url();
    let base = admin.rsplit_once('/').unwrap().0;
    let url = format!("{base}/gd_missing_{}", uuid::Uuid::new_v4().simple());
    let name = url.rsplit('/').next().unwrap();
    let err = stderr(&graphdrive(
        tmp.path(),
        &["--metadata", &url, "user", "list"],
    ));
    assert!(
        err.contains(&format!(
            "the PostgreSQL database \"{name}\" does not exist"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("createdb -h 127.0.0.1 -U postgres {name}")),
        "{err}"
    );
}

#[tokio::test]
async fn a_second_node_on_one_sqlite_file_refuses() {
    let server = common::TestServer::start(common::Backend::Sqlite).await;
    let other = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_graphdrive"))
        .args(["--data-dir", other.path().to_str().unwrap()])
        .args(["--metadata", &server.metadata])
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("GRAPHDRIVE_LOG", "warn")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(
        err.contains("another graphdrive server is already serving the SQLite database"),
        "{err}"
    );
    assert!(err.contains("SQLite serves a single node"), "{err}");
    assert!(err.contains("--metadata postgres://"), "{err}");
    // Commands still work beside the server.
    server.cli(&["user", "list"]);
}

#[test]
fn a_blob_store_url_that_cannot_be_used_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    for (url, says) in [
        (
            "ftp://host/dir",
            "unsupported blob store URL `ftp://host/dir`",
        ),
        (
            "s3://Not_A_Bucket/x",
            "`Not_A_Bucket` is not an S3 bucket name",
        ),
        ("file://", "a file:// URL needs a directory"),
    ] {
        let err = stderr(&graphdrive(tmp.path(), &["--blobs", url, "user", "list"]));
        assert!(err.contains(says), "{url}: {err}");
    }
}
