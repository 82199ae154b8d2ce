//! What an operator sees: the request log (ids, principal, redacted secrets, JSON format), the
//! health endpoints, the metrics, and a shutdown that does not wait on a slow client.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use common::{Api, Backend, Options, TestServer, put_fragment};
use serde_json::{Value, json};

on_every_backend!(
    request_log_lines,
    json_logs,
    metrics_count_what_happened,
    slow_upload_does_not_hold_shutdown;
    local disk:
    health_endpoints,
);

async fn logged_server(backend: Backend, serve_args: &[&str]) -> TestServer {
    TestServer::start_opts(
        backend,
        Options {
            serve_args,
            env: &[("GRAPHDRIVE_LOG", "info")],
            log_to_file: true,
            ..Options::default()
        },
    )
    .await
}

/// Waits until the log holds `needle` (lines are written as things happen, not at once).
async fn log_with(server: &TestServer, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = server.log();
        if log.contains(needle) {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in the log:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One line per request with its id, the client's id, the route, status and principal; the
/// secrets of download and upload URLs never appear; the start-up line says what runs where;
/// copies log their start and end; no colour codes go to a file.
async fn request_log_lines(backend: Backend) {
    let server = logged_server(backend, &[]).await;
    let api = server.new_user("alice");
    let user_id = server.cli(&["user", "show", "alice", "--json"]);
    let user_id = serde_json::from_str::<Value>(&user_id).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = api
        .send(
            reqwest::Method::PUT,
            "/me/drive/root:/a.txt:/content",
            &[("client-request-id", "client-42")],
            Some(b"hello".to_vec()),
        )
        .await
        .expect(201);
    let request_id = r.header("request-id").unwrap();
    let log = log_with(&server, &format!("id={request_id}")).await;
    let line = log
        .lines()
        .find(|l| l.contains(&format!("id={request_id}")) && l.contains("status="))
        .expect("the request's line")
        .to_string();
    for part in [
        "client_id=\"client-42\"",
        "method=PUT",
        "path=/v1.0/me/drive/root:/a.txt:/content",
        "status=201",
        "route=\"content\"",
        &format!("principal=\"{user_id}\""),
        "latency_ms=",
    ] {
        assert!(line.contains(part), "no {part} in {line}");
    }

    // Pre-authenticated URLs: neither the download token nor the session id is logged.
    let dl = api
        .get("/me/drive/root:/a.txt:/content")
        .await
        .expect(302)
        .header("location")
        .unwrap();
    let anon = Api::new("http://unused", None);
    assert_eq!(anon.get(&dl).await.expect(200).text(), "hello");
    let session = api
        .post("/me/drive/root:/b.bin:/createUploadSession", &json!({}))
        .await
        .expect(200)
        .json();
    let upload = session["uploadUrl"].as_str().unwrap().to_string();
    put_fragment(&anon, &upload, b"0123456789", 0, 10).await;
    let token = dl.rsplit('/').next().unwrap();
    let secret = upload.rsplit('/').next().unwrap();
    let log = log_with(&server, "path=/upload/").await;
    assert!(!log.contains(token), "a download token was logged");
    assert!(!log.contains(secret), "an upload session id was logged");
    assert!(log.contains("path=/dl/"), "{log}");

    // A copy's monitor id is a secret too; the copy logs its start and end.
    let monitor = api
        .post("/me/drive/root:/a.txt:/copy", &json!({ "name": "c.txt" }))
        .await
        .expect(202)
        .header("location")
        .unwrap();
    assert_eq!(common::wait_for_copy(&monitor).await["status"], "completed");
    let log = log_with(&server, "copy finished").await;
    assert!(log.contains("copy accepted"), "{log}");
    let job = monitor.rsplit('/').next().unwrap();
    assert!(!log.contains(job), "a monitor id was logged whole");
    let finished = log.lines().find(|l| l.contains("copy finished")).unwrap();
    assert!(
        finished.contains("items=1") && finished.contains("seconds="),
        "{finished}"
    );

    let start = log
        .lines()
        .find(|l| l.contains("graphdrive started"))
        .unwrap();
    let blobs = if backend.blobs_in_s3() {
        "blobs=s3:graphdrive/"
    } else {
        "blobs=local:"
    };
    for part in [
        "version=",
        "metadata=",
        blobs,
        "data_dir=",
        "listen=127.0.0.1:",
        "public_url=http://127.0.0.1:",
    ] {
        assert!(start.contains(part), "no {part} in {start}");
    }
    assert!(!log.contains('\u{1b}'), "colour codes in a log file");
}

/// `--log-format json`: every line is a JSON object; a request's fields are in its span.
async fn json_logs(backend: Backend) {
    let server = logged_server(backend, &["--log-format", "json"]).await;
    let api = server.new_user("alice");
    let r = api.get("/me/drive/root").await.expect(200);
    let request_id = r.header("request-id").unwrap();
    let log = log_with(&server, &request_id).await;
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let line = lines
        .iter()
        .find(|l| l["span"]["id"] == request_id.as_str() && l["fields"]["message"] == "request")
        .expect("the request's line");
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["fields"]["status"], 200);
    assert_eq!(line["fields"]["route"], "item");
    assert_eq!(line["span"]["method"], "GET");
    assert_eq!(line["span"]["path"], "/v1.0/me/drive/root");
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "graphdrive started")
    );
}

async fn health_endpoints(backend: Backend) {
    let server = TestServer::start(backend).await;
    let anon = server.anonymous();
    let live = format!("{}/health/live", server.url);
    let ready = format!("{}/health/ready", server.url);
    assert_eq!(anon.get(&live).await.expect(200).json()["status"], "ok");
    let r = anon.get(&ready).await.expect(200).json();
    assert_eq!(r["status"], "ready");
    assert_eq!(r["checks"]["metadata"]["status"], "ok");
    assert_eq!(r["checks"]["blobs"]["status"], "ok");

    // The blob store goes away: not ready, and the answer says which part fails.
    let blobs = server.data_dir.path().join("blobs");
    let aside = server.data_dir.path().join("blobs-aside");
    std::fs::rename(&blobs, &aside).unwrap();
    std::fs::write(&blobs, b"not a directory").unwrap();
    let r = anon.get(&ready).await.expect(503).json();
    assert_eq!(r["status"], "unavailable");
    assert_eq!(r["checks"]["blobs"]["status"], "failing", "{r}");
    assert_eq!(r["checks"]["metadata"]["status"], "ok", "{r}");
    assert_eq!(anon.get(&live).await.status, 200);
    std::fs::remove_file(&blobs).unwrap();
    std::fs::rename(&aside, &blobs).unwrap();
    assert_eq!(anon.get(&ready).await.status, 200);

    if backend == Backend::Postgres {
        // The database refuses connections: not ready until it takes them again.
        let db = server.metadata.rsplit('/').next().unwrap().to_string();
        admin_sql(&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS false")).await;
        admin_sql(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'"
        ))
        .await;
        let r = anon.get(&ready).await.expect(503).json();
        assert_eq!(r["checks"]["metadata"]["status"], "failing", "{r}");
        admin_sql(&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS true")).await;
        assert_eq!(anon.get(&ready).await.status, 200);
    }
}

async fn admin_sql(statement: &str) {
    sqlx::any::install_default_drivers();
    let mut conn =
        <sqlx::AnyConnection as sqlx::Connection>::connect(&common::postgres_admin_url())
            .await
            .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// The samples of a Prometheus text page, by series (name with labels).
async fn scrape(server: &TestServer) -> HashMap<String, f64> {
    let url = format!("{}/metrics", server.url);
    let r = server.anonymous().get(&url).await.expect(200);
    assert!(
        r.header("content-type").unwrap().starts_with("text/plain"),
        "{:?}",
        r.header("content-type")
    );
    r.text()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            (series.to_string(), value.parse().unwrap())
        })
        .collect()
}

fn sample(m: &HashMap<String, f64>, series: &str) -> f64 {
    *m.get(series)
        .unwrap_or_else(|| panic!("no {series} among {:?}", m.keys()))
}

/// The counters match what the test did, and the gauges what is there.
async fn metrics_count_what_happened(backend: Backend) {
    let server = TestServer::start(backend).await;
    let api = server.new_user("alice");
    let body = vec![7u8; 3000];
    api.upload("a.bin", body.clone()).await;
    api.upload("b.bin", b"12345".to_vec()).await;
    assert_eq!(api.download("/me/drive/root:/a.bin:/content").await, body);
    api.get("/me/drive/items/00000000000fffff")
        .await
        .expect(404);
    let session = api
        .post("/me/drive/root:/big.bin:/createUploadSession", &json!({}))
        .await
        .expect(200)
        .json();
    let anon = server.anonymous();
    let fragment = put_fragment(
        &anon,
        session["uploadUrl"].as_str().unwrap(),
        &[1u8; 1000],
        0,
        100,
    );
    assert_eq!(fragment.await.status, 202);
    api.mkdir("/me/drive/root", "f").await;
    for i in 0..4 {
        api.upload(&format!("f/{i}.txt"), b"x".to_vec()).await;
    }
    let monitor = api
        .post("/me/drive/root:/f:/copy", &json!({ "name": "g" }))
        .await
        .expect(202)
        .header("location")
        .unwrap();
    assert_eq!(common::wait_for_copy(&monitor).await["status"], "completed");

    let m = scrape(&server).await;
    let req = |route: &str, method: &str, status: u16| {
        format!(
            "graphdrive_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}}"
        )
    };
    assert_eq!(sample(&m, &req("content", "PUT", 201)), 6.0);
    assert_eq!(sample(&m, &req("item", "GET", 404)), 1.0);
    assert_eq!(sample(&m, &req("content", "GET", 302)), 1.0);
    assert_eq!(sample(&m, &req("download", "GET", 200)), 1.0);
    assert_eq!(sample(&m, &req("uploadSession", "PUT", 202)), 1.0);
    assert_eq!(sample(&m, &req("copy", "POST", 202)), 1.0);
    assert_eq!(
        sample(
            &m,
            "graphdrive_http_request_duration_seconds_count{route=\"content\"}"
        ),
        7.0
    );
    assert_eq!(
        sample(&m, "graphdrive_upload_bytes_total"),
        (3000 + 5 + 100 + 4) as f64
    );
    assert_eq!(sample(&m, "graphdrive_download_bytes_total"), 3000.0);
    assert_eq!(sample(&m, "graphdrive_copy_jobs_accepted_total"), 1.0);
    assert_eq!(sample(&m, "graphdrive_copy_jobs_completed_total"), 1.0);
    assert_eq!(sample(&m, "graphdrive_copy_items_total"), 5.0);
    // The monitor says completed when the copy is published; the job's task ends a moment later,
    // once it dropped its working state.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sample(&scrape(&server).await, "graphdrive_copy_jobs_running") != 0.0 {
        assert!(
            Instant::now() < deadline,
            "the copy job still counts as running"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sample(&m, "graphdrive_upload_sessions_open"), 1.0);
    assert!(sample(&m, "graphdrive_db_connections") >= 1.0);
    assert!(sample(&m, "graphdrive_db_connections_in_use") >= 0.0);
    assert!(sample(&m, "graphdrive_blob_gc_runs_total") >= 1.0);
    assert_eq!(sample(&m, "graphdrive_blob_gc_freed_bytes_total"), 0.0);
}

/// An upload that trickles in does not keep the process alive past `--shutdown-timeout`.
async fn slow_upload_does_not_hold_shutdown(backend: Backend) {
    let mut server = logged_server(backend, &["--shutdown-timeout", "2"]).await;
    let token = server.user_token("alice", &["Files.ReadWrite"]);
    let addr = server.url.trim_start_matches("http://").to_string();
    // 1 MB announced, sent at about 2 KB/s: fast enough for the rate guard, far too slow to end.
    let sender = std::thread::spawn(move || {
        let mut conn = std::net::TcpStream::connect(&addr).unwrap();
        let head = format!(
            "PUT /v1.0/me/drive/root:/slow.bin:/content HTTP/1.1\r\nHost: {addr}\r\n\
             Authorization: Bearer {token}\r\nContent-Length: 1000000\r\n\r\n"
        );
        conn.write_all(head.as_bytes()).unwrap();
        let chunk = [b'x'; 200];
        for _ in 0..600 {
            if conn.write_all(&chunk).is_err() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    let took = server.terminate();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(8),
        "shutdown took {took:?} with a 2 s timeout"
    );
    assert!(sender.join().unwrap(), "the slow upload was cut off");
    let log = server.log();
    assert!(
        log.contains("shutdown: requests still in flight at the timeout"),
        "{log}"
    );
}
