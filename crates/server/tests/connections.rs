//! Connections that would never end: slow or missing headers, idle keep-alive connections,
//! request bodies that stall or trickle, more connections than the cap, and bodies that end
//! before their `Content-Length`. Each is closed or answered with a 4xx in bounded time, and a
//! client that breaks off is logged as a client abort, not as a server error.

mod common;

use std::time::{Duration, Instant};

use common::raw_http::exchange;
use common::{Backend, Options, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

on_every_backend!(
    slow_and_idle_connections_are_closed,
    stalled_and_trickling_bodies_are_aborted,
    connections_past_the_cap_wait,
    truncated_bodies_are_client_errors,
);

fn addr(server: &TestServer) -> String {
    server.url.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection (or `limit` passes); returns what was read
/// and when the connection ended, if it did.
async fn read_to_close(conn: &mut TcpStream, limit: Duration) -> (Vec<u8>, Option<Duration>) {
    let start = Instant::now();
    let mut got = vec![];
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(start.elapsed());
        match tokio::time::timeout(left, conn.read(&mut buf)).await {
            Err(_) => return (got, None),
            Ok(Ok(0)) | Ok(Err(_)) => return (got, Some(start.elapsed())),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// The status of the first response in `bytes`, if there is one.
fn status_of(bytes: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(bytes);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

async fn slow_and_idle_connections_are_closed(backend: Backend) {
    let server = TestServer::start_with(backend, &["--header-timeout-secs", "2"]).await;

    // A connection that never sends a byte.
    let mut idle = TcpStream::connect(addr(&server)).await.unwrap();
    let (_, closed) = read_to_close(&mut idle, Duration::from_secs(8)).await;
    let closed = closed.expect("an idle connection is closed");
    assert!(
        closed >= Duration::from_millis(1500),
        "closed after {closed:?}"
    );

    // Headers sent a line every half second never complete in time.
    let conn = TcpStream::connect(addr(&server)).await.unwrap();
    let (mut rd, mut wr) = conn.into_split();
    let reader = tokio::spawn(async move {
        let start = Instant::now();
        let mut buf = [0u8; 1024];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => return start.elapsed(),
                Ok(_) => {}
            }
        }
    });
    let _ = wr.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").await;
    for i in 0..40 {
        if reader.is_finished() {
            break;
        }
        let _ = wr.write_all(format!("X-Slow-{i}: y\r\n").as_bytes()).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let cut = tokio::time::timeout(Duration::from_secs(1), reader)
        .await
        .expect("a trickle of headers is cut off")
        .unwrap();
    assert!(cut < Duration::from_secs(6), "cut off after {cut:?}");

    // A keep-alive connection left idle after a response.
    let mut kept = TcpStream::connect(addr(&server)).await.unwrap();
    let r = exchange(&mut kept, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let (_, closed) = read_to_close(&mut kept, Duration::from_secs(8)).await;
    assert!(closed.is_some(), "an idle keep-alive connection is closed");
}

/// A `PUT …/content` of `len` bytes whose body the caller sends.
fn put_head(token: &str, path: &str, len: usize) -> Vec<u8> {
    format!(
        "PUT /v1.0/me/drive/root:/{path}:/content HTTP/1.1\r\nHost: x\r\n\
         Authorization: Bearer {token}\r\nContent-Length: {len}\r\n\r\n"
    )
    .into_bytes()
}

async fn stalled_and_trickling_bodies_are_aborted(backend: Backend) {
    let server = TestServer::start_with(backend, &["--body-timeout-secs", "2"]).await;
    let api = server.new_user("alice");
    let token = api.token.clone().unwrap();

    // Ten bytes, then nothing.
    let mut conn = TcpStream::connect(addr(&server)).await.unwrap();
    conn.write_all(&put_head(&token, "stalled.bin", 100_000))
        .await
        .unwrap();
    conn.write_all(&[7u8; 10]).await.unwrap();
    let (got, closed) = read_to_close(&mut conn, Duration::from_secs(10)).await;
    assert!(closed.is_some(), "a stalled body is cut off");
    assert!(
        matches!(status_of(&got), None | Some(400)),
        "{}",
        String::from_utf8_lossy(&got)
    );

    // One byte every half second: never idle, but far below the minimum rate.
    let conn = TcpStream::connect(addr(&server)).await.unwrap();
    let (mut rd, mut wr) = conn.into_split();
    wr.write_all(&put_head(&token, "trickle.bin", 100_000))
        .await
        .unwrap();
    let reader = tokio::spawn(async move {
        let start = Instant::now();
        let mut got = vec![];
        let mut buf = [0u8; 4096];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => return (got, start.elapsed()),
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    });
    for _ in 0..40 {
        if reader.is_finished() || wr.write_all(b"x").await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (got, cut) = tokio::time::timeout(Duration::from_secs(2), reader)
        .await
        .expect("a trickling body is cut off")
        .unwrap();
    assert!(cut < Duration::from_secs(12), "cut off after {cut:?}");
    assert!(
        matches!(status_of(&got), None | Some(400)),
        "{}",
        String::from_utf8_lossy(&got)
    );

    for name in ["stalled.bin", "trickle.bin"] {
        api.get(&format!("/me/drive/root:/{name}"))
            .await
            .expect(404);
    }
    // The server serves on.
    api.upload("after.txt", b"fine".to_vec()).await;
}

async fn connections_past_the_cap_wait(backend: Backend) {
    let server = TestServer::start_with(backend, &["--max-connections", "3"]).await;
    let mut held = vec![];
    for _ in 0..3 {
        let mut c = TcpStream::connect(addr(&server)).await.unwrap();
        let r = exchange(&mut c, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(r.status, 200);
        held.push(c);
    }
    let health = format!("{}/health", server.url);
    let fresh = || {
        reqwest::Client::builder()
            .timeout(Duration::from_millis(1500))
            .build()
            .unwrap()
    };
    assert!(
        fresh().get(&health).send().await.is_err(),
        "a fourth connection waits while three are open"
    );
    drop(held.pop());
    let r = fresh()
        .get(&health)
        .send()
        .await
        .expect("served once a slot is free");
    assert_eq!(r.status(), 200);
}

async fn truncated_bodies_are_client_errors(backend: Backend) {
    let server = TestServer::start_opts(
        backend,
        Options {
            env: &[("GRAPHDRIVE_LOG", "info")],
            log_to_file: true,
            ..Options::default()
        },
    )
    .await;
    let api = server.new_user("alice");
    let token = api.token.clone().unwrap();
    let session = api
        .post(
            "/me/drive/root:/session.bin:/createUploadSession",
            &serde_json::json!({}),
        )
        .await
        .expect(200)
        .json();
    let upload_path = session["uploadUrl"]
        .as_str()
        .unwrap()
        .trim_start_matches(&server.url)
        .to_string();
    let json_head = format!(
        "POST /v1.0/me/drive/root/children HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n"
    );
    let fragment_head = format!(
        "PUT {upload_path} HTTP/1.1\r\nHost: x\r\nContent-Range: bytes 0-99/100\r\n\
         Content-Length: 100\r\n\r\n"
    );
    let cases: [(&str, Vec<u8>, &[u8]); 3] = [
        (
            "simple upload",
            put_head(&token, "cut.bin", 100),
            &[1u8; 50],
        ),
        (
            "JSON body",
            json_head.into_bytes(),
            b"{\"name\": \"cut\", \"fo",
        ),
        ("upload fragment", fragment_head.into_bytes(), &[2u8; 50]),
    ];
    for (what, head, partial) in cases {
        let mut conn = TcpStream::connect(addr(&server)).await.unwrap();
        conn.write_all(&head).await.unwrap();
        conn.write_all(partial).await.unwrap();
        conn.shutdown().await.unwrap();
        let (got, closed) = read_to_close(&mut conn, Duration::from_secs(10)).await;
        assert!(closed.is_some(), "{what}: the connection ends");
        let status = status_of(&got);
        assert!(
            matches!(status, None | Some(400)),
            "{what}: {}",
            String::from_utf8_lossy(&got)
        );
    }
    api.get("/me/drive/root:/cut.bin").await.expect(404);
    api.get("/me/drive/root:/cut").await.expect(404);
    // The session is untouched: its first fragment is still expected.
    let status = server
        .anonymous()
        .get(session["uploadUrl"].as_str().unwrap())
        .await;
    assert_eq!(
        status.expect(200).json()["nextExpectedRanges"],
        serde_json::json!(["0-"])
    );

    // A client that goes away in the middle of an upload.
    let mut conn = TcpStream::connect(addr(&server)).await.unwrap();
    conn.write_all(&put_head(&token, "gone.bin", 1 << 20))
        .await
        .unwrap();
    conn.write_all(&vec![3u8; 200_000]).await.unwrap();
    drop(conn);
    tokio::time::sleep(Duration::from_millis(500)).await;
    api.get("/me/drive/root:/gone.bin").await.expect(404);
    let log = server.log();
    assert!(log.contains("client aborted the request body"), "{log}");
    assert!(
        !log.contains("ERROR"),
        "a client abort is no server error:\n{log}"
    );
}
