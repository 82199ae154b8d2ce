//! The web drive in a real browser: Debian's Chromium, driven by playwright-core
//! (`tests/web/drive.mjs`), against a server on 127.0.0.1:0. This side makes the user, their
//! group and a folder of 10,000 files, runs the browser's scenarios, and then checks on the
//! server what the person did there.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::api::get_ok;
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
    let copy = get_ok(&api, &format!("/me/drive/root:/Projects/{BIG}")).await;
    assert_eq!(copy["folder"]["childCount"], BIG_COUNT);
    for (path, want) in [
        ("Projects/greeting.txt", &b"hello from the browser\n"[..]),
        ("Projects/notes.txt", b"first draft\n"),
        ("Holiday/plan.txt", b"pack\n"),
        ("dropped-2.txt", b"dropped two\n"),
    ] {
        let got = api
            .download(&format!("/me/drive/root:/{path}:/content"))
            .await;
        assert_eq!(got, want, "{path}");
    }
    for (path, size) in [("large.bin", 30 << 20), ("Holiday/day 1/photo.jpg", 1000)] {
        let item = get_ok(&api, &format!("/me/drive/root:/{path}")).await;
        assert_eq!(item["size"], size, "{path}");
    }
    api.get("/groups/team/drive/root:/greeting.txt")
        .await
        .expect(200);
    // The cancelled upload left nothing behind.
    api.get("/me/drive/root:/cancelled.bin")
        .await
        .expect_error(404, "itemNotFound");
    server.assert_store_consistent().await;
}

/// The page and its files: the page is asked for again each time, its files (named under a
/// version) are kept for good, everything carries a strict Content-Security-Policy, and the
/// built-in client signs in only back to the server's own URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_is_cached_and_locked_down() {
    let server = TestServer::start(Backend::Sqlite).await;
    let anon = server.anonymous();
    let page = anon.get(&format!("{}/", server.url)).await.expect(200);
    assert_eq!(
        page.header("content-type").unwrap(),
        "text/html; charset=utf-8"
    );
    assert_eq!(page.header("cache-control").unwrap(), "no-cache");
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.starts_with("default-src 'none'; script-src 'self';"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(page.header("x-content-type-options").unwrap(), "nosniff");
    assert_eq!(page.header("referrer-policy").unwrap(), "no-referrer");
    let html = page.text();
    let script = html
        .split("src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the page loads a script");
    assert!(
        script.starts_with("/web/") && script.ends_with("/app.js"),
        "{script}"
    );
    let version = script.split('/').nth(2).unwrap();

    let file = anon
        .get(&format!("{}{script}", server.url))
        .await
        .expect(200);
    assert_eq!(file.header("content-type").unwrap(), "text/javascript");
    assert_eq!(
        file.header("cache-control").unwrap(),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(file.header("content-security-policy").unwrap(), csp);
    let etag = file.header("etag").unwrap();
    let again = anon
        .send(
            reqwest::Method::GET,
            &format!("{}{script}", server.url),
            &[("If-None-Match", &etag)],
            None,
        )
        .await
        .expect(304);
    assert!(again.body.is_empty());
    // A page of another version (a node not yet upgraded) gets this one's file, not to keep.
    let other = anon
        .get(&format!("{}/web/0000000000000000/app.js", server.url))
        .await
        .expect(200);
    assert_eq!(other.header("cache-control").unwrap(), "no-cache");
    assert_eq!(other.body, file.body);
    let missing = anon
        .get(&format!("{}/web/{version}/nothing.js", server.url))
        .await
        .expect(404)
        .json();
    assert_eq!(missing["error"]["code"], "itemNotFound");
    assert!(
        missing["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nothing.js")
    );

    // The built-in client's one redirect URI is the server's URL.
    let url = |redirect: &str| {
        common::oauth::authorize_url(
            &server.url,
            &[
                ("client_id", graphdrive_client_id()),
                ("response_type", "code"),
                ("redirect_uri", redirect),
                ("scope", "openid offline_access Files.ReadWrite"),
                ("code_challenge", &"c".repeat(43)),
                ("code_challenge_method", "S256"),
            ],
        )
    };
    let ok = anon
        .get(&url(&format!("{}/", server.url)))
        .await
        .expect(200);
    assert!(ok.text().contains("graphdrive"), "{}", ok.text());
    let elsewhere = anon.get(&url("http://localhost:9999/")).await;
    assert_eq!(elsewhere.status, 400, "{}", elsewhere.text());
    assert!(
        elsewhere.text().contains("AADSTS50011"),
        "{}",
        elsewhere.text()
    );
}

/// The web drive's client id, as the page has it.
fn graphdrive_client_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let auth = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/assets/auth.js"),
        )
        .unwrap();
        let line = auth
            .lines()
            .find(|l| l.starts_with("export const CLIENT_ID"))
            .expect("auth.js names its client id");
        line.split('"').nth(1).unwrap().to_string()
    })
}
