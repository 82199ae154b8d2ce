//! Copy jobs under stress: trees past Graph's 30,000-item cap, a source that changes while it is
//! copied, cancellation, a failure half-way, and a `kill -9` of the server mid-copy.

mod common;

use std::time::{Duration, Instant};

use common::{Api, Backend, TestServer};
use serde_json::{Value, json};

on_every_backend!(
    copies_past_the_graph_item_cap,
    copy_reads_the_source_as_accepted,
    cancel_removes_everything_the_copy_made,
    failure_half_way_leaves_nothing_behind,
    kill_during_copy_then_restart_completes,
    sigterm_during_copy_gives_it_back,
    copy_across_the_file_count_upgrade_recounts,
);

/// Starts a copy and returns its monitor URL.
async fn start_copy(api: &Api, source: &str, body: Value) -> String {
    let r = api.post(&format!("{source}/copy"), &body).await.expect(202);
    r.header("location").expect("Location")
}

/// Polls a monitor until the job ends; returns its last status.
async fn wait(monitor: &str) -> Value {
    common::wait_for_copy(monitor).await
}

/// Polls until the job has made some progress but is not finished.
async fn wait_until_running(monitor: &str) -> Value {
    wait_until_past(monitor, 0.0).await
}

/// Polls a monitor until the copy has done more than `percent` and is not done yet.
async fn wait_until_past(monitor: &str, percent: f64) -> Value {
    let anon = Api::new("http://unused", None);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = anon.get(monitor).await.json();
        assert_ne!(
            s["status"], "completed",
            "the copy finished before the test could act: {s}"
        );
        if s["status"] == "inProgress" && s["percentageComplete"].as_f64().unwrap() > percent {
            return s;
        }
        assert!(Instant::now() < deadline, "copy did not start: {s}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn copy_and_wait(api: &Api, source: &str, body: Value) -> Value {
    let s = wait(&start_copy(api, source, body).await).await;
    assert_eq!(s["status"], "completed", "{s}");
    s
}

/// A folder `name` at the root holding `files` small files.
async fn leaf_folder(api: &Api, name: &str, files: usize) {
    api.mkdir("/me/drive/root", name).await;
    for i in 0..files {
        api.upload(
            &format!("{name}/f{i:03}.txt"),
            format!("content of {name}/{i}").into_bytes(),
        )
        .await;
    }
}

/// Folder `name` at the root made of `copies` copies of the folder `part`.
async fn grow(api: &Api, name: &str, part: &str, copies: usize) {
    let folder = api.mkdir("/me/drive/root", name).await;
    for i in 0..copies {
        copy_and_wait(
            api,
            &format!("/me/drive/root:/{part}:"),
            json!({ "parentReference": { "id": folder["id"] }, "name": format!("{part}-{i}") }),
        )
        .await;
    }
}

/// Every item below a folder as (path, is folder, size, sha256), sorted; listed through the API.
async fn walk(api: &Api, folder_path: &str) -> Vec<(String, bool, i64, String)> {
    let mut out = vec![];
    let mut pending = vec![String::new()];
    while let Some(rel) = pending.pop() {
        let address = if rel.is_empty() {
            format!("/me/drive/root:/{folder_path}:/children?$top=1000")
        } else {
            format!("/me/drive/root:/{folder_path}/{rel}:/children?$top=1000")
        };
        let mut next = Some(address);
        while let Some(url) = next {
            let page = api.get(&url).await.expect(200).json();
            for item in page["value"].as_array().unwrap() {
                let path = if rel.is_empty() {
                    item["name"].as_str().unwrap().to_string()
                } else {
                    format!("{rel}/{}", item["name"].as_str().unwrap())
                };
                let is_folder = item["folder"].is_object();
                let hash = item["file"]["hashes"]["sha256Hash"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                if is_folder {
                    pending.push(path.clone());
                }
                out.push((path, is_folder, item["size"].as_i64().unwrap(), hash));
            }
            next = page["@odata.nextLink"].as_str().map(str::to_string);
        }
    }
    out.sort();
    out
}

/// PATCHes the item at a root-relative path (a move and/or rename).
async fn patch_path(api: &Api, path: &str, body: Value) {
    let item = api
        .get(&format!("/me/drive/root:/{path}"))
        .await
        .expect(200)
        .json();
    api.patch(
        &format!("/me/drive/items/{}", item["id"].as_str().unwrap()),
        &body,
    )
    .await
    .expect(200);
}

async fn file_count(api: &Api) -> i64 {
    api.get("/me/drive").await.expect(200).json()["quota"]["fileCount"]
        .as_i64()
        .unwrap()
}

async fn copies_past_the_graph_item_cap(backend: Backend) {
    let server = TestServer::start(backend).await;
    let api = server.new_user("alice");
    leaf_folder(&api, "leaf", 100).await; // 101 items
    grow(&api, "l1", "leaf", 10).await; // 1,011
    grow(&api, "l2", "l1", 10).await; // 10,111
    grow(&api, "big", "l2", 3).await; // 30,334
    let big = api.get("/me/drive/root:/big").await.expect(200).json();
    let s = copy_and_wait(&api, "/me/drive/root:/big:", json!({ "name": "big copy" })).await;
    assert_eq!(s["percentageComplete"], 100.0);
    let copy = api
        .get(&format!(
            "/me/drive/items/{}",
            s["resourceId"].as_str().unwrap()
        ))
        .await
        .expect(200)
        .json();
    assert_eq!(copy["name"], "big copy");
    assert_eq!(copy["size"], big["size"]);
    let (source, copied) = (walk(&api, "big").await, walk(&api, "big copy").await);
    assert_eq!(source.len(), 30_333, "items below the source");
    assert_eq!(copied, source);
    server.assert_store_consistent().await;
}

async fn copy_reads_the_source_as_accepted(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        &["--copy-batch-size", "20", "--copy-batch-pause-ms", "40"],
    )
    .await;
    let api = server.new_user("alice");
    leaf_folder(&api, "leaf", 20).await;
    grow(&api, "src", "leaf", 10).await;
    let before = walk(&api, "src").await;
    let src_size = api.get("/me/drive/root:/src").await.expect(200).json()["size"].clone();

    let monitor = start_copy(&api, "/me/drive/root:/src:", json!({ "name": "snapshot" })).await;
    wait_until_running(&monitor).await;
    // Change the source in every way while the copy runs.
    api.upload("src/leaf-3/new file.txt", b"arrived later".to_vec())
        .await;
    api.upload(
        "src/leaf-5/f000.txt",
        b"new content, longer than before".to_vec(),
    )
    .await;
    patch_path(
        &api,
        "src/leaf-7/f001.txt",
        json!({ "name": "renamed.txt" }),
    )
    .await;
    api.delete("/me/drive/root:/src/leaf-9").await.expect(204);
    let root = api.get("/me/drive/root").await.expect(200).json();
    patch_path(
        &api,
        "src/leaf-2/f002.txt",
        json!({ "parentReference": { "id": root["id"] } }),
    )
    .await;
    api.upload("outsider.txt", b"moved in later".to_vec()).await;
    let leaf1 = api
        .get("/me/drive/root:/src/leaf-1")
        .await
        .expect(200)
        .json();
    patch_path(
        &api,
        "outsider.txt",
        json!({ "parentReference": { "id": leaf1["id"] } }),
    )
    .await;
    // An item that leaves the source and comes back, and a folder that leaves and then changes.
    let leaf4 = api
        .get("/me/drive/root:/src/leaf-4")
        .await
        .expect(200)
        .json();
    patch_path(
        &api,
        "src/leaf-4/f003.txt",
        json!({ "parentReference": { "id": root["id"] } }),
    )
    .await;
    patch_path(
        &api,
        "f003.txt",
        json!({ "parentReference": { "id": leaf4["id"] } }),
    )
    .await;
    let moved_out = json!({ "parentReference": { "id": root["id"] }, "name": "moved out" });
    patch_path(&api, "src/leaf-6", moved_out).await;
    api.upload("moved out/late.txt", b"written after leaving".to_vec())
        .await;
    api.delete("/me/drive/root:/moved out/f000.txt")
        .await
        .expect(204);
    let mid = Api::new("http://unused", None).get(&monitor).await.json();
    assert_eq!(
        mid["status"], "inProgress",
        "the changes must land while the copy runs: {mid}"
    );

    let s = wait(&monitor).await;
    assert_eq!(s["status"], "completed", "{s}");
    assert_eq!(
        walk(&api, "snapshot").await,
        before,
        "the copy is the source as it was when accepted"
    );
    assert_eq!(
        api.get("/me/drive/root:/snapshot").await.expect(200).json()["size"],
        src_size
    );
    let after = walk(&api, "src").await;
    assert_ne!(after, before, "the source has its changes");
    assert!(after.iter().any(|e| e.0 == "leaf-3/new file.txt"));
    assert!(after.iter().any(|e| e.0 == "leaf-1/outsider.txt"));
    assert!(!after.iter().any(|e| e.0.starts_with("leaf-9")));
    server.assert_store_consistent().await;
}

/// A server whose copies crawl (10 items a batch, 30 ms apart), a `src` tree of 6 × 31 items
/// and an empty `dest` folder: time to act on a copy while it runs.
async fn slow_copy_setup(backend: Backend) -> (TestServer, Api, Value) {
    let server = TestServer::start_with(
        backend,
        &["--copy-batch-size", "10", "--copy-batch-pause-ms", "30"],
    )
    .await;
    let api = server.new_user("alice");
    leaf_folder(&api, "leaf", 30).await;
    grow(&api, "src", "leaf", 6).await;
    let dest = api.mkdir("/me/drive/root", "dest").await;
    (server, api, dest)
}

/// Starts the copy of `src` into `dest` that the slow-copy tests act on; returns its monitor.
async fn copy_src_into(api: &Api, dest: &Value) -> String {
    start_copy(
        api,
        "/me/drive/root:/src:",
        json!({ "parentReference": { "id": dest["id"] } }),
    )
    .await
}

async fn cancel_removes_everything_the_copy_made(backend: Backend) {
    let (server, api, dest) = slow_copy_setup(backend).await;
    let (files, used) = (
        file_count(&api).await,
        api.get("/me/drive").await.json()["quota"]["used"].clone(),
    );

    let monitor = copy_src_into(&api, &dest).await;
    // Half-way, the copy's files are in the store but not yet in the drive.
    wait_until_past(&monitor, 50.0).await;
    assert_eq!(
        file_count(&api).await,
        files,
        "files of a copy still being built are not counted"
    );
    let anon = Api::new("http://unused", None);
    anon.delete(&monitor).await.expect(204);
    let s = wait(&monitor).await;
    assert_eq!(s["status"], "failed");
    assert_eq!(s["errorCode"], "cancelled");
    assert_eq!(s["error"]["code"], "cancelled");
    assert_eq!(
        api.get("/me/drive/root:/dest:/children")
            .await
            .expect(200)
            .json()["value"],
        json!([])
    );
    assert_eq!(
        file_count(&api).await,
        files,
        "no file the copy made is left"
    );
    assert_eq!(api.get("/me/drive").await.json()["quota"]["used"], used);
    // A finished job cannot be cancelled again.
    anon.delete(&monitor)
        .await
        .expect_error(400, "invalidRequest");
    server.assert_store_consistent().await;
}

async fn failure_half_way_leaves_nothing_behind(backend: Backend) {
    let (server, api, dest) = slow_copy_setup(backend).await;
    let files = file_count(&api).await;

    let monitor = copy_src_into(&api, &dest).await;
    wait_until_running(&monitor).await;
    // The destination disappears while the copy runs: the copy cannot be published.
    api.delete(&format!("/me/drive/items/{}", dest["id"].as_str().unwrap()))
        .await
        .expect(204);
    let s = wait(&monitor).await;
    assert_eq!(s["status"], "failed", "{s}");
    assert_eq!(s["errorCode"], "itemNotFound");
    assert!(
        s["error"]["message"]
            .as_str()
            .unwrap()
            .contains("destination")
    );
    assert_eq!(file_count(&api).await, files, "no orphan item is left");
    let src = walk(&api, "src").await;
    assert_eq!(src.len(), 6 * 31, "the source is untouched");
    server.assert_store_consistent().await;
}

async fn kill_during_copy_then_restart_completes(backend: Backend) {
    let mut server = TestServer::start_with(
        backend,
        &["--copy-batch-size", "15", "--copy-batch-pause-ms", "25"],
    )
    .await;
    let api = server.new_user("alice");
    leaf_folder(&api, "leaf", 40).await;
    grow(&api, "src", "leaf", 8).await;
    let before = walk(&api, "src").await;
    let files = file_count(&api).await;

    let monitor = start_copy(&api, "/me/drive/root:/src:", json!({ "name": "survivor" })).await;
    let running = wait_until_running(&monitor).await;
    server.kill_and_restart();
    // The monitor URL answers across the restart, and the job picks up where it stopped.
    let after_restart = Api::new("http://unused", None).get(&monitor).await;
    assert!(
        after_restart.status == 200 || after_restart.status == 202,
        "{}",
        after_restart.text()
    );
    let s = wait(&monitor).await;
    assert_eq!(s["status"], "completed", "{s}");
    assert!(s["percentageComplete"].as_f64() >= running["percentageComplete"].as_f64());
    let api = server.client(api.token.as_deref().unwrap());
    assert_eq!(walk(&api, "survivor").await, before);
    let copied_files = before.iter().filter(|e| !e.1).count() as i64;
    assert_eq!(
        file_count(&api).await,
        files + copied_files,
        "each file copied exactly once"
    );
    server.assert_store_consistent().await;
}

/// SIGTERM during a copy: the process exits promptly (the batch in flight ends, the next does not
/// start), the job is given back, and the next node to start (here with a new node id, so not
/// the job's last owner) resumes it at once instead of waiting for its heartbeat to go stale.
async fn sigterm_during_copy_gives_it_back(backend: Backend) {
    let mut server = TestServer::start_opts(
        backend,
        common::Options {
            serve_args: &["--copy-batch-size", "15", "--copy-batch-pause-ms", "100"],
            env: &[("GRAPHDRIVE_LOG", "info")],
            log_to_file: true,
            ..Default::default()
        },
    )
    .await;
    let api = server.new_user("alice");
    leaf_folder(&api, "leaf", 40).await;
    grow(&api, "src", "leaf", 8).await;
    let before = walk(&api, "src").await;

    let monitor = start_copy(&api, "/me/drive/root:/src:", json!({ "name": "moved" })).await;
    let running = wait_until_running(&monitor).await;
    let took = server.terminate();
    assert!(took < Duration::from_secs(10), "shutdown took {took:?}");
    let log = server.log();
    for step in [
        "shutdown: SIGTERM received",
        "copy stopped at a batch boundary and given back",
        "shutdown: copy jobs stopped and given back",
        "shutdown: done",
    ] {
        assert!(log.contains(step), "no {step:?} in the log:\n{log}");
    }
    std::fs::remove_file(server.data_dir.path().join("node-id")).unwrap();
    let restarted = Instant::now();
    server.restart();
    let s = wait(&monitor).await;
    assert_eq!(s["status"], "completed", "{s}");
    assert!(s["percentageComplete"].as_f64() >= running["percentageComplete"].as_f64());
    // The whole copy is 329 items in batches of 15, 100 ms apart: about 2 s of work in all. A
    // job left to go stale would wait 15 s before anyone took it.
    assert!(
        restarted.elapsed() < Duration::from_secs(12),
        "the job was not resumed at once: {:?}",
        restarted.elapsed()
    );
    let api = server.client(api.token.as_deref().unwrap());
    assert_eq!(walk(&api, "moved").await, before);
    server.assert_store_consistent().await;
}

/// A copy running when the upgrade that added file counts (migration 0004) ran: the counts it
/// carries are not those of its source as it sees it, and it recounts before publishing.
async fn copy_across_the_file_count_upgrade_recounts(backend: Backend) {
    let (mut server, api, dest) = slow_copy_setup(backend).await;
    let monitor = copy_src_into(&api, &dest).await;
    wait_until_running(&monitor).await;
    // A file arriving in the source: the copy leaves it out and keeps the folders above it as
    // they were.
    api.upload("src/leaf-5/late.txt", b"late".to_vec()).await;
    let files = file_count(&api).await;
    wait_until_past(&monitor, 50.0).await;
    server.kill();
    // What the migration leaves for such a copy: the counts of its folders, built and kept, wrong.
    server
        .run_sql(&[
            "WITH RECURSIVE sub(id) AS (SELECT placeholder_id FROM copy_jobs \
             WHERE status = 'inProgress' AND placeholder_id IS NOT NULL \
             UNION ALL SELECT i.id FROM items i JOIN sub ON i.parent_id = sub.id) \
             UPDATE items SET descendant_files = 0 WHERE is_folder = 1 AND id IN (SELECT id FROM sub)",
            "UPDATE copy_preserved SET descendant_files = 0",
            "UPDATE copy_jobs SET recount_files = 1 WHERE status = 'inProgress'",
        ])
        .await;
    server.restart();
    let s = wait(&monitor).await;
    assert_eq!(s["status"], "completed", "{s}");
    let copied_files = 6 * 30;
    assert_eq!(
        file_count(&api).await,
        files + copied_files,
        "the copy's files are counted once each"
    );
    server.assert_store_consistent().await;
}
