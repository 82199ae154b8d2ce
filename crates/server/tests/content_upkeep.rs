//! Upkeep of stored content over real HTTP: bytes no item references any more are removed once
//! the grace period is over, bytes an item still references stay, and an upload of the same bytes
//! racing with their removal keeps its content.

mod common;

use std::time::{Duration, Instant};

use common::{Api, Backend, BlobLocation, TestServer};

on_every_backend!(
    unreferenced_content_is_removed,
    content_within_grace_is_kept,
    reupload_racing_removal_keeps_content,
);

/// No grace period, and upkeep as often as it can run.
const EAGER_UPKEEP: &[&str] = &["--blob-grace-secs", "0", "--upkeep-interval-ms", "1"];

/// Where the server keeps the bytes of `content`, which it must hold now.
async fn stored_at(server: &TestServer, content: &[u8]) -> BlobLocation {
    let at = server.blob_location(content).await;
    let at = at.unwrap_or_else(|| panic!("no blob holds {:?}", String::from_utf8_lossy(content)));
    assert!(at.exists().await, "the bytes are missing from {at:?}");
    at
}

/// Deletes an item for good (a plain delete keeps it, and its bytes, in the recycle bin).
async fn delete(api: &Api, path: &str) {
    api.post(
        &format!("/me/drive/root:/{path}:/permanentDelete"),
        &serde_json::json!({}),
    )
    .await
    .expect(204);
}

async fn unreferenced_content_is_removed(backend: Backend) {
    let server = TestServer::start_with(backend, EAGER_UPKEEP).await;
    let alice = server.new_user("alice");
    let lone = b"bytes only a.txt holds".to_vec();
    let shared = b"bytes b.txt and c.txt share".to_vec();
    alice.upload("a.txt", lone.clone()).await;
    alice.upload("b.txt", shared.clone()).await;
    alice.upload("c.txt", shared.clone()).await;
    let lone_at = stored_at(&server, &lone).await;
    let shared_at = stored_at(&server, &shared).await;
    let link = alice
        .get("/me/drive/root:/a.txt:/content")
        .await
        .expect(302)
        .header("location")
        .expect("Location");

    delete(&alice, "a.txt").await;
    delete(&alice, "b.txt").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while lone_at.exists().await {
        assert!(
            Instant::now() < deadline,
            "unreferenced bytes still stored after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        shared_at.exists().await,
        "bytes c.txt still references were removed"
    );
    // A link issued before the delete now finds nothing, and says so.
    server
        .anonymous()
        .get(&link)
        .await
        .expect_error(404, "itemNotFound");
    assert_eq!(
        alice.download("/me/drive/root:/c.txt:/content").await,
        shared
    );
    server.assert_store_consistent().await;
}

async fn content_within_grace_is_kept(backend: Backend) {
    let server = TestServer::start_with(backend, &["--upkeep-interval-ms", "1"]).await;
    let alice = server.new_user("alice");
    let bytes = b"kept for the default hour".to_vec();
    alice.upload("a.txt", bytes.clone()).await;
    delete(&alice, "a.txt").await;
    // Many rounds of upkeep run meanwhile; the default grace period spares the bytes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stored_at(&server, &bytes).await;
    // Uploading the same bytes again references them anew.
    alice.upload("again.txt", bytes.clone()).await;
    assert_eq!(
        alice.download("/me/drive/root:/again.txt:/content").await,
        bytes
    );
    server.assert_store_consistent().await;
}

/// Each round makes bytes unreferenced (upkeep may take them at once) and uploads them again: the
/// new file must keep its content whichever comes first.
async fn reupload_racing_removal_keeps_content(backend: Backend) {
    let server = TestServer::start_with(backend, EAGER_UPKEEP).await;
    let alice = server.new_user("alice");
    let clients = 4;
    let rounds = 80;
    let mut tasks = vec![];
    for c in 0..clients {
        let alice = alice.clone();
        tasks.push(tokio::spawn(async move {
            for r in 0..rounds {
                let bytes = format!("client {c} round {r}").into_bytes();
                alice
                    .upload(&format!("old-{c}-{r}.txt"), bytes.clone())
                    .await;
                delete(&alice, &format!("old-{c}-{r}.txt")).await;
                alice.upload(&format!("new-{c}-{r}.txt"), bytes).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("client task");
    }
    // Let upkeep run a while longer: content it could have taken would be gone by now.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for c in 0..clients {
        for r in 0..rounds {
            let bytes = format!("client {c} round {r}").into_bytes();
            assert!(
                server.blob_exists(&bytes).await,
                "the bytes of new-{c}-{r}.txt were removed"
            );
            let path = format!("/me/drive/root:/new-{c}-{r}.txt:/content");
            assert_eq!(alice.download(&path).await, bytes);
        }
    }
    server.assert_store_consistent().await;
}
