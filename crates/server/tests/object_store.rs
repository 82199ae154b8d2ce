//! File contents in S3 (PostgreSQL metadata, contents in the suite's S3 server): what a crash
//! leaves in the bucket is swept, and a bucket that cannot be reached is a 503 with
//! `Retry-After` that ends by itself when the bucket is back. The rest of the suite runs on S3
//! as well (its `postgres_s3` modules).

mod common;

use std::time::{Duration, Instant};

use common::proxy::Proxy;
use common::{Backend, Options, TestServer, eventually, pattern, put_fragment, s3};
use serde_json::json;

const FRAGMENT: usize = 327_680;

/// Ages what the crash left, and adds beside it what a crash could leave in full and what must
/// stay (see the comments).
async fn age_and_add_leftovers(server: &TestServer, prefix: &str) {
    // As old as a crash an hour ago, beside an object written in full just before a crash (its
    // note as old), one being written just now (another node could be writing it), and the
    // fragments of a session that no longer exists.
    s3::put(
        prefix,
        "objects/written-then-crashed",
        b"whole, never named",
    )
    .await;
    s3::put(prefix, "objects/fresh", b"being written").await;
    s3::put(prefix, "uploads/NoSuchSession/part", b"left over").await;
    let hour_ago = "(CAST(EXTRACT(EPOCH FROM now()) AS BIGINT) - 3600) * 1000";
    server
        .run_sql(&[
            &format!("UPDATE staged_objects SET touched_at = {hour_ago}"),
            &format!(
                "INSERT INTO staged_objects (object, touched_at) VALUES \
                 ('objects/written-then-crashed', {hour_ago})"
            ),
            "INSERT INTO staged_objects (object, touched_at) VALUES \
             ('objects/fresh', CAST(EXTRACT(EPOCH FROM now()) AS BIGINT) * 1000)",
        ])
        .await;
}

/// An upload of `stalled.bin` that sends 2 MiB, then waits for more until the sender drops.
async fn stalled_upload(
    api: &common::Api,
) -> (
    tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
    tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    tx.send(Ok(pattern(2 << 20, 1))).await.unwrap();
    let url = api.url("/me/drive/root:/stalled.bin:/content");
    let token = api.token.clone().unwrap();
    let stalled = tokio::spawn(async move {
        let body =
            futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
        reqwest::Client::new()
            .put(url)
            .bearer_auth(token)
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await
    });
    (tx, stalled)
}

async fn staged_notes(server: &TestServer) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&server.metadata)
        .await
        .unwrap();
    let rows: Vec<(String,)> = sqlx::query_as("SELECT object FROM staged_objects ORDER BY object")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    rows.into_iter().map(|r| r.0).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_crash_leaves_in_the_bucket_is_swept() {
    let mut server =
        TestServer::start_with(Backend::PostgresS3, &["--upkeep-interval-ms", "200"]).await;
    let prefix = server.s3_prefix.clone().unwrap();
    let api = server.new_user("alice");
    // An upload that streams 2 MiB, then stalls: its object is noted while it is written.
    let (tx, stalled) = stalled_upload(&api).await;
    eventually(10, "the upload being noted", || {
        let server = &server;
        async move { !staged_notes(server).await.is_empty() }
    })
    .await;
    // A session with a fragment stored, which must survive upkeep.
    let session = api
        .post("/me/drive/root:/kept.bin:/createUploadSession", &json!({}))
        .await
        .expect(200)
        .json();
    let session_url = session["uploadUrl"].as_str().unwrap().to_string();
    let kept = pattern(FRAGMENT + 10, 2);
    let anon = server.anonymous();
    put_fragment(&anon, &session_url, &kept, 0, FRAGMENT)
        .await
        .expect(202);
    server.kill();
    drop(tx);
    let _ = stalled.await;
    let crashed = staged_notes(&server).await;
    assert_eq!(
        crashed.len(),
        1,
        "the crash left the note of its write: {crashed:?}"
    );

    age_and_add_leftovers(&server, &prefix).await;

    server.restart();
    eventually(10, "upkeep sweeping what the crash left", || {
        let (server, prefix) = (&server, &prefix);
        async move {
            let objects = s3::objects(prefix, "").await;
            staged_notes(server).await == ["objects/fresh"]
                && !objects.iter().any(|o| o.contains("written-then-crashed"))
                && !objects.iter().any(|o| o.contains("NoSuchSession"))
        }
    })
    .await;
    let objects = s3::objects(&prefix, "").await;
    assert!(
        objects.contains(&"objects/fresh".to_string()),
        "a write under way is left alone"
    );
    // The live session lost nothing, and completing it names a new object.
    let item = put_fragment(&anon, &session_url, &kept, FRAGMENT, kept.len())
        .await
        .expect(201)
        .json();
    common::assert_hashes(&item, &kept);
    assert!(server.blob_exists(&kept).await);
    assert_eq!(
        api.download("/me/drive/root:/kept.bin:/content").await,
        kept
    );
    api.get("/me/drive/root:/stalled.bin").await.expect(404);
    server.assert_store_consistent().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_bucket_is_503_until_it_is_back() {
    let s3_addr = s3::endpoint().trim_start_matches("http://").to_string();
    let proxy = Proxy::start(&s3_addr).await;
    let endpoint = format!("http://{}", proxy.addr);
    let server = TestServer::start_opts(
        Backend::PostgresS3,
        Options {
            env: &[("GRAPHDRIVE_S3_ENDPOINT", &endpoint)],
            ..Options::default()
        },
    )
    .await;
    let api = server.new_user("alice");
    let anon = server.anonymous();
    let ready = format!("{}/health/ready", server.url);
    api.upload("before.txt", "stored before").await;
    let link = api
        .get("/me/drive/root:/before.txt:/content")
        .await
        .expect(302)
        .header("location")
        .unwrap();

    proxy.down();
    let started = Instant::now();
    let r = anon.get(&link).await;
    assert!(r.header("retry-after").is_some(), "no Retry-After: {r:?}");
    r.expect_error(503, "serviceNotAvailable");
    api.put("/me/drive/root:/during.txt:/content", "written while away")
        .await
        .expect_error(503, "serviceNotAvailable");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "failing took {:?}",
        started.elapsed()
    );
    let r = anon.get(&ready).await.expect(503).json();
    assert_eq!(r["checks"]["blobs"]["status"], "failing", "{r}");
    assert_eq!(r["checks"]["metadata"]["status"], "ok", "{r}");
    // What needs no bytes still works.
    api.get("/me/drive/root/children").await.expect(200);
    api.get("/me/drive/root:/during.txt").await.expect(404);

    proxy.up();
    assert_eq!(anon.get(&link).await.expect(200).body, b"stored before");
    api.upload("after.txt", "written when back").await;
    assert_eq!(
        api.download("/me/drive/root:/after.txt:/content").await,
        b"written when back"
    );
    anon.get(&ready).await.expect(200);
    server.assert_store_consistent().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_can_come_straight_from_the_bucket() {
    let server = TestServer::start_with(Backend::PostgresS3, &["--downloads-from-s3"]).await;
    let api = server.new_user("alice");
    let bytes = pattern(300_000, 7);
    api.upload("report é.bin", bytes.clone()).await;
    let link = api
        .get("/me/drive/root:/report é.bin:/content")
        .await
        .expect(302)
        .header("location")
        .unwrap();
    assert!(
        link.starts_with(&server.url),
        "the download link is the node's: {link}"
    );
    let anon = server.anonymous();
    let r = anon.get(&link).await.expect(302);
    let signed = r.header("location").unwrap();
    assert!(
        signed.starts_with(&s3::endpoint()),
        "not the bucket's URL: {signed}"
    );
    assert!(signed.contains("X-Amz-Signature="), "{signed}");
    // The bucket serves the bytes, the file's name and type, and ranges, with no token.
    let whole = anon.get(&signed).await.expect(200);
    assert_eq!(whole.body, bytes);
    let disposition = whole.header("content-disposition").unwrap_or_default();
    assert_eq!(
        disposition,
        "attachment; filename*=UTF-8''report%20%C3%A9%2Ebin"
    );
    let part = anon
        .send(
            reqwest::Method::GET,
            &signed,
            &[("range", "bytes=1000-1999")],
            None,
        )
        .await
        .expect(206);
    assert_eq!(part.body, &bytes[1000..2000]);
    // A HEAD is still answered by the node.
    let head = anon
        .send(reqwest::Method::HEAD, &link, &[], None)
        .await
        .expect(200);
    assert_eq!(head.header("content-length").as_deref(), Some("300000"));
    server.assert_store_consistent().await;
}

#[test]
fn downloads_from_s3_need_a_bucket() {
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_graphdrive"))
        .args(["--data-dir", tmp.path().to_str().unwrap()])
        .args(["serve", "--listen", "127.0.0.1:0", "--downloads-from-s3"])
        .env("GRAPHDRIVE_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("it needs --blobs s3://BUCKET"), "{err}");
}
