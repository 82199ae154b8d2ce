//! Faults the server must come through by itself: a full disk (its own floor, and a disk filled
//! by someone else), `kill -9` while an upload session completes, staged bytes a crash left,
//! and panics inside a copy job.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Backend, Options, TestServer, eventually, pattern, put_fragment};
use serde_json::json;

on_every_backend!(
    kill_during_upload_completion,
    copy_job_panics_are_survived;
    local disk:
    uploads_past_the_free_space_floor_are_507,
    disk_filled_from_outside_then_freed,
    staged_bytes_left_by_a_crash_are_removed,
);

const MIB: usize = 1 << 20;
const FRAGMENT: usize = 327_680;

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return vec![];
    };
    entries
        .flatten()
        .flat_map(|e| {
            if e.path().is_dir() {
                files_under(&e.path())
            } else {
                vec![e.path()]
            }
        })
        .collect()
}

async fn uploads_past_the_free_space_floor_are_507(backend: Backend) {
    let server = TestServer::start_opts(
        backend,
        Options {
            serve_args: &[
                "--min-free-space",
                "8388608",
                "--blob-grace-secs",
                "0",
                "--upkeep-interval-ms",
                "200",
            ],
            tmpfs_mib: Some(48),
            ..Options::default()
        },
    )
    .await;
    let api = server.new_user("alice");
    let mut stored = vec![];
    let mut refused = None;
    for i in 0..20 {
        let r = api
            .put(
                &format!("/me/drive/root:/fill/{i}.bin:/content"),
                pattern(4 * MIB, i),
            )
            .await;
        match r.status.as_u16() {
            201 => stored.push(i),
            _ => {
                refused = Some(r);
                break;
            }
        }
    }
    let refused = refused.expect("the disk filled up");
    refused.expect_error(507, "insufficientStorage");
    assert!(stored.len() >= 3, "uploads were stored before: {stored:?}");
    // An upload session's fragment is refused the same way, before any byte is kept.
    let session = api
        .post(
            "/me/drive/root:/fill/big.bin:/createUploadSession",
            &json!({}),
        )
        .await
        .expect(200)
        .json();
    let url = session["uploadUrl"].as_str().unwrap().to_string();
    let big = pattern(60 * FRAGMENT, 99);
    let anon = server.anonymous();
    let r = put_fragment(&anon, &url, &big, 0, big.len()).await;
    r.expect_error(507, "insufficientStorage");
    // Reads and deletes still work (into the recycle bin, and out of it for good); once upkeep
    // has freed the bytes, uploads work again.
    common::get_ok(&api, "/me/drive/root:/fill:/children").await;
    api.delete("/me/drive/root:/fill/0.bin").await.expect(204);
    api.post("/me/drive/root:/fill/1.bin:/permanentDelete", &json!({}))
        .await
        .expect(204);
    let binned = common::get_ok(&api, "/me/drive/recycleBin/items").await;
    let zero = binned["value"][0]["id"].as_str().unwrap().to_string();
    api.post(
        &format!("/me/drive/items/{zero}/permanentDelete"),
        &json!({}),
    )
    .await
    .expect(204);
    eventually(10, "an upload after space was freed", || {
        let api = api.clone();
        async move {
            api.put(
                "/me/drive/root:/fill/again.bin:/content",
                pattern(4 * MIB, 77),
            )
            .await
            .status
                == 201
        }
    })
    .await;
    server.assert_store_consistent().await;
}

/// Fills the file system holding `dir` up with a file of zeros; returns its path.
fn fill_disk(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 64 << 10];
    while f.write_all(&block).is_ok() {}
    // The last bytes a block at a time would not fit.
    while f.write_all(&[0u8; 512]).is_ok() {}
    let _ = f.sync_all();
    path
}

async fn disk_filled_from_outside_then_freed(backend: Backend) {
    let server = TestServer::start_opts(
        backend,
        Options {
            serve_args: &["--min-free-space", "0"],
            tmpfs_mib: Some(24),
            ..Options::default()
        },
    )
    .await;
    let api = server.new_user("alice");
    api.upload("before.txt", b"stored before".to_vec()).await;
    let filler = fill_disk(server.data_dir.path());

    // Every write fails cleanly: never a 500, never a request left hanging.
    let mut statuses = vec![];
    for i in 0..150 {
        let r = api
            .post(
                "/me/drive/root/children",
                &json!({ "name": format!("folder {i}"), "folder": {} }),
            )
            .await;
        statuses.push(r.status.as_u16());
        if r.status != 201 {
            r.expect_error(507, "insufficientStorage");
        }
    }
    let upload = api
        .put("/me/drive/root:/during.bin:/content", pattern(2 * MIB, 3))
        .await;
    upload.expect_error(507, "insufficientStorage");
    if backend == Backend::Sqlite {
        assert!(
            statuses.contains(&507),
            "the database itself ran out of room: {statuses:?}"
        );
    }
    // Reads work while the disk is full.
    assert_eq!(
        api.download("/me/drive/root:/before.txt:/content").await,
        b"stored before"
    );

    // Space returns: every connection of the pool works again, with no restart.
    std::fs::remove_file(filler).unwrap();
    for i in 0..40 {
        api.post(
            "/me/drive/root/children",
            &json!({ "name": format!("after {i}"), "folder": {} }),
        )
        .await
        .expect(201);
        api.upload(&format!("after/{i}.bin"), pattern(64 << 10, i))
            .await;
    }
    api.get("/me/drive/root:/after:/children").await.expect(200);
    server.assert_store_consistent().await;
}

async fn kill_during_upload_completion(backend: Backend) {
    let mut server = TestServer::start_opts(
        backend,
        Options {
            env: &[("FAILPOINTS", "upload-before-complete=pause")],
            ..Options::default()
        },
    )
    .await;
    let api = server.new_user("alice");
    api.upload("up/file.bin", b"the old content".to_vec()).await;
    let bytes = pattern(3 * FRAGMENT + 1234, 5);
    let session = api
        .post(
            "/me/drive/root:/up/file.bin:/createUploadSession",
            &json!({}),
        )
        .await
        .expect(200)
        .json();
    let url = session["uploadUrl"].as_str().unwrap().to_string();
    let anon = server.anonymous();
    let last = 3 * FRAGMENT;
    for start in (0..last).step_by(FRAGMENT) {
        put_fragment(&anon, &url, &bytes, start, start + FRAGMENT)
            .await
            .expect(202);
    }
    // The last fragment is accepted, then the server is killed before the file is written.
    let (a, u, b) = (anon.clone(), url.clone(), bytes.clone());
    let last_put = tokio::spawn(async move { put_fragment(&a, &u, &b, last, b.len()).await });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !last_put.is_finished(),
        "the completion is held at the fail point"
    );
    server.kill();
    let _ = last_put.await;
    server.env.clear();
    server.restart();

    // The session asks for its last fragment again; sent, it completes the upload.
    let status = anon.get(&url).await.expect(200).json();
    assert_eq!(
        status["nextExpectedRanges"],
        json!([format!("{last}-")]),
        "{status}"
    );
    // Any other fragment is out of order.
    put_fragment(&anon, &url, &bytes, 0, FRAGMENT)
        .await
        .expect_error(416, "invalidRange");
    let item = put_fragment(&anon, &url, &bytes, last, bytes.len())
        .await
        .expect(200)
        .json();
    common::assert_hashes(&item, &bytes);
    assert_eq!(
        api.download("/me/drive/root:/up/file.bin:/content").await,
        bytes
    );
    anon.get(&url).await.expect(404);
    server.assert_store_consistent().await;
}

async fn staged_bytes_left_by_a_crash_are_removed(backend: Backend) {
    let mut server = TestServer::start_with(backend, &["--upkeep-interval-ms", "200"]).await;
    let api = server.new_user("alice");
    let blobs = server.data_dir.path().join("blobs");
    // An upload that streams 2 MiB, then stalls; the server is killed while it is staged.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    tx.send(Ok(pattern(2 * MIB, 1))).await.unwrap();
    let token = api.token.clone().unwrap();
    let url = api.url("/me/drive/root:/stalled.bin:/content");
    let stalled = tokio::spawn(async move {
        let body = reqwest::Body::wrap_stream(tokio_stream_from(rx));
        reqwest::Client::new()
            .put(url)
            .bearer_auth(token)
            .body(body)
            .send()
            .await
    });
    eventually(10, "the upload being staged", || {
        let blobs = blobs.clone();
        async move {
            files_under(&blobs.join("tmp"))
                .iter()
                .any(|f| f.metadata().map(|m| m.len()).unwrap_or(0) >= MIB as u64)
        }
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
    let crashed = files_under(&blobs.join("tmp"));
    assert_eq!(
        crashed.len(),
        1,
        "the crash left the staged upload: {crashed:?}"
    );
    let crashed = crashed[0].clone();
    // As old as a crash an hour ago; beside it, staged content written just now (another writer
    // could hold it) and fragments of a session that no longer exists.
    let aged = std::process::Command::new("touch")
        .args(["-d", "1 hour ago"])
        .arg(&crashed)
        .status()
        .unwrap();
    assert!(aged.success());
    let fresh = blobs.join("tmp/fresh");
    std::fs::write(&fresh, b"just written").unwrap();
    let orphan = blobs.join("uploads/NoSuchSession/part");
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, b"left over").unwrap();

    server.restart();
    eventually(10, "upkeep removing what the crash left", || {
        let (crashed, orphan) = (crashed.clone(), orphan.clone());
        async move { !crashed.exists() && !orphan.parent().unwrap().exists() }
    })
    .await;
    assert!(fresh.exists(), "recent staged content is left alone");
    // The live session lost nothing.
    let item = put_fragment(&anon, &session_url, &kept, FRAGMENT, kept.len())
        .await
        .expect(201)
        .json();
    common::assert_hashes(&item, &kept);
    api.get("/me/drive/root:/stalled.bin").await.expect(404);
}

/// The receiving end of a channel as a stream, for a request body that is sent bit by bit.
fn tokio_stream_from(
    rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) })
}

async fn copy_job_panics_are_survived(backend: Backend) {
    // The job's task panics once as it starts (it must be given back and taken up again), then
    // two of its batches panic (each counts as a failed attempt and is retried).
    let server = TestServer::start_opts(
        backend,
        Options {
            serve_args: &["--copy-batch-size", "10"],
            env: &[("FAILPOINTS", "copy-job=1*panic;copy-batch=2*panic")],
            ..Options::default()
        },
    )
    .await;
    let api = server.new_user("alice");
    for i in 0..12 {
        api.upload(
            &format!("src/d{}/f{i}.txt", i % 3),
            format!("{i}").into_bytes(),
        )
        .await;
    }
    let root = common::get_ok(&api, "/me/drive/root").await;
    let r = api
        .post(
            "/me/drive/root:/src:/copy",
            &json!({ "parentReference": { "id": root["id"] }, "name": "dst" }),
        )
        .await
        .expect(202);
    let monitor = r.header("location").expect("a monitor");
    let anon = server.anonymous();
    let until = Instant::now() + Duration::from_secs(30);
    let done = loop {
        let v = anon.get(&monitor).await.json();
        if v["status"] == "completed" || v["status"] == "failed" || Instant::now() > until {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(done["status"], "completed", "{done}");
    let copied = common::get_ok(&api, "/me/drive/root:/dst").await;
    assert_eq!(copied["folder"]["childCount"], 3);
    assert_eq!(
        copied["size"],
        common::get_ok(&api, "/me/drive/root:/src").await["size"]
    );
    server.assert_store_consistent().await;
}
