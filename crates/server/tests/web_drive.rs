//! The web drive in a real browser: Debian's Chromium, driven by playwright-core
//! (`tests/web/drive.mjs`), against a server on 127.0.0.1:0. This side makes the user, their
//! group and a folder of 10,000 files, runs the browser's scenarios, and then checks on the
//! server what the person did there.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Backend, TestServer};
use futures::StreamExt;

const USER: &str = "alice";
const PASSWORD: &str = "a long password for alice";
const BIG: &str = "big";
const BIG_COUNT: usize = 10_000;

fn chromium() -> PathBuf {
    let path = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "Chromium is not at {}: run scripts/test (it installs Debian's chromium) or set CHROMIUM",
        path.display()
    );
    path
}

/// Where the scenarios write their screenshots: `WEB_SCREENSHOTS`, or under `target/`.
fn screenshots() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    match std::env::var_os("WEB_SCREENSHOTS") {
        Some(dir) => root.join(dir),
        None => root.join("target/web-screenshots"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_in_the_web_drive() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web");
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run scripts/test (npm ci in {})",
        dir.display()
    );
    // Small copy batches with a pause between them, so that the copy's progress shows.
    let server = TestServer::start_with(
        Backend::Sqlite,
        &["--copy-batch-size", "500", "--copy-batch-pause-ms", "40"],
    )
    .await;
    server.add_user_with_password(USER, PASSWORD);
    server.cli(&["group", "add", "team", "--member", USER]);
    let api = server.client(&server.user_token(USER, &["Files.ReadWrite"]));
    api.mkdir("/me/drive/root", BIG).await;
    futures::stream::iter(0..BIG_COUNT)
        .map(|i| {
            let api = &api;
            async move {
                api.upload(&format!("{BIG}/f{i:05}"), vec![b'x'; i % 97])
                    .await
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;

    let work = tempfile::tempdir().unwrap();
    let status = Command::new("node")
        .arg("drive.mjs")
        .current_dir(&dir)
        .env("GRAPHDRIVE_URL", &server.url)
        .env("WEB_USER", USER)
        .env("WEB_PASSWORD", PASSWORD)
        .env("BIG_FOLDER", BIG)
        .env("BIG_COUNT", BIG_COUNT.to_string())
        .env("GROUP", "team")
        .env("CHROMIUM", chromium())
        .env("SCREENSHOTS", screenshots())
        .env("WORK", work.path())
        .status()
        .expect("run node");
    assert!(
        status.success(),
        "the browser scenarios failed (screenshots in {}; server log {})",
        screenshots().display(),
        server.log_path().display()
    );

    // What the person did is on the server, as any client sees it.
    let copy = api
        .get(&format!("/me/drive/root:/Projects/{BIG}"))
        .await
        .expect(200)
        .json();
    assert_eq!(copy["folder"]["childCount"], BIG_COUNT);
    for (path, want) in [
        ("Projects/greeting.txt", &b"hello from the browser\n"[..]),
        ("Projects/notes.txt", b"first draft\n"),
    ] {
        let got = api
            .download(&format!("/me/drive/root:/{path}:/content"))
            .await;
        assert_eq!(got, want, "{path}");
    }
    let large = api
        .get("/me/drive/root:/large.bin")
        .await
        .expect(200)
        .json();
    assert_eq!(large["size"], 30 * 1024 * 1024);
    api.get("/groups/team/drive/root:/greeting.txt")
        .await
        .expect(200);
    // The cancelled upload left nothing behind.
    api.get("/me/drive/root:/cancelled.bin")
        .await
        .expect_error(404, "itemNotFound");
    server.assert_store_consistent().await;
}
