//! Several nodes on one PostgreSQL database and one S3 bucket: any node answers any request (a
//! token, a download URL, an upload session, a monitor, a delta link issued by one works on the
//! others), a copy whose node is killed is finished by another exactly once, and the nodes ride
//! out the database and the bucket going away and coming back.

mod common;

use std::time::{Duration, Instant};

use common::proxy::Proxy;
use common::{
    Api, Backend, Options, TestServer, doubled_tree, pattern, put_fragment, s3, wait_for_copy,
};
use serde_json::{Value, json};

/// `url` (issued by some node) addressed to `node` instead.
fn on(node: &TestServer, url: &str) -> String {
    let rest = url.splitn(4, '/').nth(3).unwrap_or("");
    format!("{}/{rest}", node.url)
}

async fn three_nodes(serve_args: &[&str]) -> (TestServer, TestServer, TestServer) {
    let a = TestServer::start_with(Backend::PostgresS3, serve_args).await;
    let b = a.another_node(None, serve_args);
    let c = a.another_node(None, serve_args);
    (a, b, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_node_answers_any_request() {
    let (a, b, c) = three_nodes(&[]).await;
    let token = a.user_token("alice", &["Files.ReadWrite"]);
    let (api_a, api_b, api_c) = (a.client(&token), b.client(&token), c.client(&token));
    // A token minted on another node's storage works here too.
    let minted = c.token(&["--user", "alice"], &["Files.Read"]);
    a.client(&minted).get("/me/drive/root").await.expect(200);

    let small = pattern(70_000, 1);
    let item = api_a.upload("doc.bin", small.clone()).await;
    let id = item["id"].as_str().unwrap();
    assert_eq!(
        api_b
            .get(&format!("/me/drive/items/{id}"))
            .await
            .expect(200)
            .json()["size"],
        70_000
    );
    let link = api_c
        .get(&format!("/me/drive/items/{id}/content"))
        .await
        .expect(302)
        .header("location")
        .unwrap();
    assert_eq!(
        a.anonymous().get(&on(&a, &link)).await.expect(200).body,
        small
    );

    let bytes = session_across_nodes([&a, &b, &c], &api_a).await;
    copy_and_delta_across_nodes([&a, &b, &c], &token, &bytes).await;
    a.assert_store_consistent().await;
}

/// An upload session whose fragments reach the nodes in turn, then a range of the file read on
/// another node; returns the file's bytes (`big.bin`).
async fn session_across_nodes([a, b, c]: [&TestServer; 3], api_a: &Api) -> Vec<u8> {
    let api_c = c.client(api_a.token.as_deref().unwrap());
    let bytes = pattern(5 * 327_680 + 99, 2);
    let session = api_a
        .post("/me/drive/root:/big.bin:/createUploadSession", &json!({}))
        .await
        .expect(200)
        .json();
    let url = session["uploadUrl"].as_str().unwrap();
    let nodes = [b, c, a, b, c, a];
    let mut done = None;
    for (n, start) in (0..bytes.len()).step_by(327_680).enumerate() {
        let end = (start + 327_680).min(bytes.len());
        let node = nodes[n];
        let r = put_fragment(&node.anonymous(), &on(node, url), &bytes, start, end).await;
        if end == bytes.len() {
            done = Some(r.expect(201).json());
        } else {
            r.expect(202);
        }
    }
    common::assert_hashes(&done.unwrap(), &bytes);
    let r = api_c
        .send(
            reqwest::Method::GET,
            &on(
                c,
                &api_c
                    .get("/me/drive/root:/big.bin:/content")
                    .await
                    .header("location")
                    .unwrap(),
            ),
            &[("range", "bytes=400000-400999")],
            None,
        )
        .await
        .expect(206);
    assert_eq!(r.body, &bytes[400_000..401_000]);
    bytes
}

/// A copy accepted by one node and watched on another; a delta link from one node, followed on
/// another after a change made on a third.
async fn copy_and_delta_across_nodes([a, b, c]: [&TestServer; 3], token: &str, bytes: &[u8]) {
    let (api_a, api_b, api_c) = (a.client(token), b.client(token), c.client(token));
    let r = api_b
        .post(
            "/me/drive/root:/big.bin:/copy",
            &json!({ "name": "big copy.bin" }),
        )
        .await
        .expect(202);
    let monitor = on(c, &r.header("location").unwrap());
    assert_eq!(wait_for_copy(&monitor).await["status"], "completed");
    assert_eq!(
        api_a
            .download("/me/drive/root:/big copy.bin:/content")
            .await,
        bytes
    );

    let mut link = api_a.get("/me/drive/root/delta").await.expect(200).json();
    while let Some(next) = link["@odata.nextLink"].as_str() {
        link = api_a.get(next).await.expect(200).json();
    }
    let delta = link["@odata.deltaLink"].as_str().unwrap().to_string();
    api_c.upload("later.txt", "after the delta link").await;
    let page = api_b.get(&on(b, &delta)).await.expect(200).json();
    let names: Vec<&str> = page["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["name"].as_str())
        .collect();
    assert!(names.contains(&"later.txt"), "{names:?}");
}

async fn get_id(api: &Api, path: &str) -> String {
    let v: Value = api
        .get(&format!("/me/drive/root:/{path}"))
        .await
        .expect(200)
        .json();
    v["id"].as_str().unwrap().to_string()
}

/// Every item below the folder `root` (an item id), as (path, is folder, content hash), sorted.
async fn tree(server: &TestServer, root: &str) -> Vec<(String, i64, Option<String>)> {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&server.metadata)
        .await
        .unwrap();
    let root: i64 = i64::from_str_radix(root, 16).unwrap();
    let rows: Vec<(String, i64, Option<String>)> = sqlx::query_as(
        "WITH RECURSIVE t(id, path, is_folder, blob_hash) AS ( \
           SELECT id, name, is_folder, blob_hash FROM items WHERE parent_id = $1 \
           UNION ALL SELECT i.id, t.path || '/' || i.name, i.is_folder, i.blob_hash \
           FROM items i JOIN t ON i.parent_id = t.id) \
         SELECT path, CAST(is_folder AS BIGINT), blob_hash FROM t ORDER BY path",
    )
    .bind(root)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    rows
}

async fn running_owner(server: &TestServer) -> Option<String> {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&server.metadata)
        .await
        .unwrap();
    let row: Option<(Option<String>,)> = sqlx::query_as(
        "SELECT owner FROM copy_jobs WHERE status = 'inProgress' AND copied_items > 0",
    )
    .fetch_optional(&mut conn)
    .await
    .unwrap();
    row.and_then(|r| r.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_whose_node_is_killed_is_finished_by_another() {
    let slow = ["--copy-batch-size", "2000", "--copy-batch-pause-ms", "250"];
    let (a, b, c) = three_nodes(&slow).await;
    let mut nodes = [a, b, c];
    let token = nodes[0].user_token("alice", &["Files.ReadWrite"]);
    let api = nodes[1].client(&token);
    let source = doubled_tree(&api, 15).await; // 32,768 files in 65,534 folders
    let before = tree(&nodes[0], &source).await;
    assert_eq!(before.len(), 98_302);

    let r = api
        .post(
            &format!("/me/drive/items/{source}/copy"),
            &json!({ "name": "copy" }),
        )
        .await
        .expect(202);
    let monitor = r.header("location").unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let owner = loop {
        if let Some(owner) = running_owner(&nodes[0]).await {
            break owner;
        }
        assert!(Instant::now() < deadline, "the copy never got under way");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let victim = nodes
        .iter()
        .position(|n| n.node_id() == owner)
        .expect("a node runs it");
    nodes[victim].kill();
    let killed = Instant::now();
    let survivor = &nodes[(victim + 1) % 3];
    let s = wait_for_copy(&on(survivor, &monitor)).await;
    assert_eq!(s["status"], "completed", "{s}");
    // Taken over once the heartbeat is 15 s stale, then the rest at the pace set above.
    assert!(
        killed.elapsed() < Duration::from_secs(60),
        "took {:?}",
        killed.elapsed()
    );
    let taken_by = running_owner_of_finished(survivor).await;
    assert_ne!(taken_by, owner, "the killed node cannot have finished it");

    let api = survivor.client(&token);
    let copy = get_id(&api, "copy").await;
    assert_eq!(
        tree(survivor, &copy).await,
        before,
        "the copy is the tree, each item once"
    );
    let root: Value = api
        .get("/me/drive/root/children?$top=1000")
        .await
        .expect(200)
        .json();
    let copies = root["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["name"].as_str().unwrap().starts_with("copy"))
        .count();
    assert_eq!(copies, 1, "one copy: {root}");
    survivor.assert_store_consistent().await;
}

async fn running_owner_of_finished(server: &TestServer) -> String {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&server.metadata)
        .await
        .unwrap();
    let (owner,): (Option<String>,) = sqlx::query_as(
        "SELECT owner FROM copy_jobs WHERE status = 'completed' ORDER BY finished_at DESC LIMIT 1",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    owner.unwrap_or_default()
}

/// Polls `path` on `api` until it answers `status`, for 30 s at most; returns how long it took.
async fn until_status(api: &Api, path: &str, status: u16) -> Duration {
    let started = Instant::now();
    loop {
        let r = api.get(path).await;
        if r.status == status {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{path} still answers {}: {}",
            r.status,
            r.text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_ride_out_the_database_and_the_bucket_going_away() {
    let bucket = Proxy::start(s3::endpoint_addr().as_str()).await;
    let endpoint = format!("http://{}", bucket.addr);
    let a = TestServer::start_opts(
        Backend::PostgresS3,
        Options {
            env: &[("GRAPHDRIVE_S3_ENDPOINT", &endpoint)],
            ..Options::default()
        },
    )
    .await;
    let pg = a
        .metadata
        .split('@')
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let database = Proxy::start(&pg).await;
    let b = a.another_node(Some(&a.metadata.replace(&pg, &database.addr)), &[]);
    let token = a.user_token("alice", &["Files.ReadWrite"]);
    let (api_a, api_b) = (a.client(&token), b.client(&token));
    api_a.upload("kept.txt", "stored before").await;

    // The database goes away under node b (its connections cut, new ones refused).
    database.down();
    api_b
        .get("/me/drive/root:/kept.txt")
        .await
        .expect_error(503, "serviceNotAvailable");
    let ready = format!("{}/health/ready", b.url);
    b.anonymous().get(&ready).await.expect(503);
    api_a.get("/me/drive/root:/kept.txt").await.expect(200);
    database.up();
    until_status(&api_b, "/me/drive/root:/kept.txt", 200).await;
    api_b
        .upload("after-db.txt", "written when the database was back")
        .await;

    // The bucket goes away under both.
    bucket.down();
    for api in [&api_a, &api_b] {
        let link = api
            .get("/me/drive/root:/kept.txt:/content")
            .await
            .expect(302)
            .header("location")
            .unwrap();
        let r = api.get(&link).await;
        assert!(r.header("retry-after").is_some(), "{r:?}");
        r.expect_error(503, "serviceNotAvailable");
    }
    bucket.up();
    assert_eq!(
        api_b.download("/me/drive/root:/kept.txt:/content").await,
        b"stored before"
    );
    assert_eq!(
        api_a
            .download("/me/drive/root:/after-db.txt:/content")
            .await,
        b"written when the database was back"
    );
    a.assert_store_consistent().await;
}
