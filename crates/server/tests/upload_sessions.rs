//! Graph resumable upload (upload sessions) over real HTTP: creating a session, sending the
//! fragments to the pre-authenticated upload URL, status, errors and resuming, cancelling,
//! conflicts, client times and permissions.

mod common;

use common::raw_http::{exchange, raw_request};
use common::{Api, Backend, Resp, TestServer, hashes, put_fragment};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::net::TcpStream;

on_every_backend!(
    create_session_response,
    fragmented_upload_round_trip,
    session_status_mid_way,
    resent_fragment_is_416_then_resumes,
    skipped_fragment_is_416_then_resumes,
    short_fragment_body_is_400_then_resumes,
    long_fragment_body_is_400_then_resumes,
    missing_content_range_is_400_then_resumes,
    rejected_fragments_leave_the_connection_usable,
    stray_authorization_header_is_ignored,
    cancel_session,
    session_conflicts,
    session_file_system_info,
    permissions_and_unknown_sessions,
    failed_completion_can_be_retried,
);

/// Fragments must be multiples of 320 KiB.
const FRAGMENT: usize = 327_680;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Deterministic bytes of a given length.
fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(13).wrapping_add(i >> 9).wrapping_add(seed) % 253) as u8)
        .collect()
}

fn text(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key:?} in {v}"))
        .to_string()
}

/// `POST {item}:/createUploadSession` that must succeed; returns the session JSON.
async fn create_session(api: &Api, item: &str, body: &Value) -> Value {
    let r = api.post(&format!("{item}/createUploadSession"), body).await;
    assert_eq!(r.status, 200, "createUploadSession {item}: {}", r.text());
    r.json()
}

/// The `uploadUrl` of a session, checked to be absolute.
fn upload_url(session: &Value, server: &TestServer) -> String {
    let url = text(session, "uploadUrl");
    assert!(
        url.starts_with(&format!("{}/", server.url)),
        "uploadUrl must be an absolute URL on the server: {url}"
    );
    url
}

/// PUTs raw bytes to an upload URL with the given `Content-Range` (or none).
async fn put_raw(client: &Api, url: &str, content_range: Option<&str>, body: &[u8]) -> Resp {
    let headers: Vec<(&str, &str)> = content_range
        .map(|c| vec![("content-range", c)])
        .unwrap_or_default();
    client
        .send(Method::PUT, url, &headers, Some(body.to_vec()))
        .await
}

/// Sends `bytes[from..]` in fragments of [`FRAGMENT`], checking every intermediate `202`;
/// returns the response to the last fragment.
async fn send_from(client: &Api, url: &str, bytes: &[u8], from: usize) -> Resp {
    let total = bytes.len();
    let mut start = from;
    loop {
        let end = (start + FRAGMENT).min(total);
        let r = put_fragment(client, url, bytes, start, end).await;
        if end == total {
            return r;
        }
        let r = r.expect(202);
        let status = r.json();
        assert_eq!(
            status["nextExpectedRanges"],
            json!([format!("{end}-")]),
            "after bytes {start}-{}: {status}",
            end - 1
        );
        assert!(status["expirationDateTime"].is_string(), "{status}");
        start = end;
    }
}

/// The first byte a session expects next, read from its status.
async fn next_expected(client: &Api, url: &str) -> usize {
    let status = client.get(url).await.expect(200).json();
    let ranges = status["nextExpectedRanges"]
        .as_array()
        .unwrap_or_else(|| panic!("no nextExpectedRanges: {status}"));
    assert_eq!(ranges.len(), 1, "{status}");
    let first = ranges[0].as_str().expect("a range string");
    let start = first
        .strip_suffix('-')
        .unwrap_or_else(|| panic!("an open range \"n-\": {first}"));
    start.parse().expect("a byte offset")
}

/// Asserts the size and `file.hashes` of an item match `bytes`.
#[track_caller]
fn assert_content(item: &Value, bytes: &[u8]) {
    let (sha1, sha256, qx) = hashes(bytes);
    assert_eq!(item["size"], bytes.len(), "size of {item}");
    let h = &item["file"]["hashes"];
    assert_eq!(h["sha1Hash"], sha1, "sha1Hash of {item}");
    assert_eq!(h["sha256Hash"], sha256, "sha256Hash of {item}");
    assert_eq!(h["quickXorHash"], qx, "quickXorHash of {item}");
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SS`.
fn utc_now_seconds() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3_600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Asserts an `expirationDateTime` is an RFC 3339 UTC time in the future.
#[track_caller]
fn assert_future(v: &Value) {
    let exp = text(v, "expirationDateTime");
    assert!(
        exp.len() >= 20 && exp.ends_with('Z') && exp.as_bytes()[10] == b'T',
        "expirationDateTime is RFC 3339 UTC: {exp}"
    );
    assert!(
        &exp[..19] > utc_now_seconds().as_str(),
        "expirationDateTime {exp} is in the future"
    );
}

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

async fn create_session_response(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let session = create_session(
        &alice,
        "/me/drive/root:/big/file.bin:",
        &json!({ "item": { "@microsoft.graph.conflictBehavior": "rename" } }),
    )
    .await;
    upload_url(&session, &server);
    assert_future(&session);
    assert_eq!(session["nextExpectedRanges"], json!(["0-"]), "{session}");

    // The status at the upload URL says the same.
    let url = upload_url(&session, &server);
    let status = server.anonymous().get(&url).await.expect(200).json();
    assert_eq!(status["nextExpectedRanges"], json!(["0-"]));
    assert_future(&status);

    // Two sessions for one path are two upload URLs.
    let other = create_session(
        &alice,
        "/me/drive/root:/big/file.bin:",
        &json!({ "item": { "@microsoft.graph.conflictBehavior": "rename" } }),
    )
    .await;
    assert_ne!(upload_url(&other, &server), url);
}

async fn fragmented_upload_round_trip(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let bytes = pattern(1_000_000, 1);
    let session = create_session(
        &alice,
        "/me/drive/root:/big/parts/file.bin:",
        &json!({ "item": { "@microsoft.graph.conflictBehavior": "rename" } }),
    )
    .await;
    let url = upload_url(&session, &server);

    // Without Authorization: four fragments (3 × 320 KiB + the rest).
    let anon = server.anonymous();
    let last = send_from(&anon, &url, &bytes, 0).await.expect(201);
    let item = last.json();
    assert_eq!(item["name"], "file.bin");
    assert_content(&item, &bytes);
    assert_eq!(item["parentReference"]["path"], "/drive/root:/big/parts");
    let id = text(&item, "id");

    let fetched = alice
        .get("/me/drive/root:/big/parts/file.bin")
        .await
        .expect(200)
        .json();
    assert_eq!(fetched["id"], id.as_str());
    assert_content(&fetched, &bytes);
    assert_eq!(
        alice
            .download(&format!("/me/drive/items/{id}/content"))
            .await,
        bytes
    );

    // The missing folders on the path were made, and carry the size.
    for (folder, count) in [("/me/drive/root:/big", 1), ("/me/drive/root:/big/parts", 1)] {
        let f = alice.get(folder).await.expect(200).json();
        assert!(f["folder"].is_object(), "{folder}: {f}");
        assert_eq!(f["folder"]["childCount"], count, "{folder}");
        assert_eq!(f["size"], 1_000_000, "{folder}");
    }
    let drive = alice.get("/me/drive").await.expect(200).json();
    assert_eq!(drive["quota"]["used"], 1_000_000);
    server.assert_store_consistent().await;
}

/// A session for `/me/drive/root:/resume/{name}` of a `3 × 320 KiB + 1,234`-byte file whose first
/// fragment is accepted; returns the upload URL and the file's bytes.
async fn half_sent(
    server: &TestServer,
    api: &Api,
    anon: &Api,
    name: &str,
    seed: u32,
) -> (String, Vec<u8>) {
    let bytes = pattern(3 * FRAGMENT + 1_234, seed);
    let session = create_session(api, &format!("/me/drive/root:/resume/{name}:"), &json!({})).await;
    let url = upload_url(&session, server);
    let first = put_fragment(anon, &url, &bytes, 0, FRAGMENT)
        .await
        .expect(202)
        .json();
    assert_eq!(first["nextExpectedRanges"], json!([format!("{FRAGMENT}-")]));
    (url, bytes)
}

/// Resumes from the session's `nextExpectedRanges` and checks the completed file.
async fn resume_and_check(api: &Api, anon: &Api, url: &str, bytes: &[u8], name: &str) {
    let from = next_expected(anon, url).await;
    assert_eq!(from, FRAGMENT, "the rejected fragment changed nothing");
    let item = send_from(anon, url, bytes, from).await.expect(201).json();
    assert_eq!(item["name"], name);
    assert_eq!(item["parentReference"]["path"], "/drive/root:/resume");
    assert_content(&item, bytes);
    assert_eq!(
        api.download(&format!("/me/drive/items/{}/content", text(&item, "id")))
            .await,
        bytes
    );
    // The finished session is gone.
    anon.get(url).await.expect(404);
}

async fn session_status_mid_way(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let anon = server.anonymous();
    let (url, bytes) = half_sent(&server, &alice, &anon, "status.bin", 1).await;

    let status = anon.get(&url).await.expect(200).json();
    assert_eq!(
        status["nextExpectedRanges"],
        json!([format!("{FRAGMENT}-")])
    );
    assert_future(&status);
    assert!(
        status
            .get("uploadUrl")
            .is_none_or(|u| u.as_str() == Some(url.as_str()))
    );

    put_fragment(&anon, &url, &bytes, FRAGMENT, 2 * FRAGMENT)
        .await
        .expect(202);
    let status = anon.get(&url).await.expect(200).json();
    assert_eq!(
        status["nextExpectedRanges"],
        json!([format!("{}-", 2 * FRAGMENT)])
    );
    resume_and_check_from(&alice, &anon, &url, &bytes, 2 * FRAGMENT).await;
}

/// Like [`resume_and_check`], from a known offset.
async fn resume_and_check_from(api: &Api, anon: &Api, url: &str, bytes: &[u8], at: usize) {
    assert_eq!(next_expected(anon, url).await, at);
    let item = send_from(anon, url, bytes, at).await.expect(201).json();
    assert_content(&item, bytes);
    assert_eq!(
        api.download(&format!("/me/drive/items/{}/content", text(&item, "id")))
            .await,
        bytes
    );
}

async fn resent_fragment_is_416_then_resumes(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let anon = server.anonymous();
    let (url, bytes) = half_sent(&server, &alice, &anon, "resent.bin", 2).await;

    // The same fragment again.
    let overlap = put_fragment(&anon, &url, &bytes, 0, FRAGMENT)
        .await
        .expect_error(416, "invalidRange");
    assert_eq!(
        overlap["error"]["innerError"]["code"], "fragmentOverlap",
        "{overlap}"
    );
    assert_eq!(next_expected(&anon, &url).await, FRAGMENT);

    // A fragment that starts inside the accepted bytes and reaches past them.
    put_fragment(&anon, &url, &bytes, FRAGMENT / 2, FRAGMENT + FRAGMENT / 2)
        .await
        .expect_error(416, "invalidRange");

    resume_and_check(&alice, &anon, &url, &bytes, "resent.bin").await;
}

async fn skipped_fragment_is_416_then_resumes(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let anon = server.anonymous();
    let (url, bytes) = half_sent(&server, &alice, &anon, "skipped.bin", 3).await;

    put_fragment(&anon, &url, &bytes, 2 * FRAGMENT, 3 * FRAGMENT)
        .await
        .expect_error(416, "invalidRange");
    assert_eq!(next_expected(&anon, &url).await, FRAGMENT);
    // The last fragment, too early.
    put_fragment(&anon, &url, &bytes, 3 * FRAGMENT, bytes.len())
        .await
        .expect_error(416, "invalidRange");

    resume_and_check(&alice, &anon, &url, &bytes, "skipped.bin").await;
}

async fn short_fragment_body_is_400_then_resumes(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let anon = server.anonymous();
    let (url, bytes) = half_sent(&server, &alice, &anon, "short.bin", 4).await;
    let total = bytes.len();

    // Content-Range announces 320 KiB; the body holds 1,000 bytes.
    let range = format!("bytes {FRAGMENT}-{}/{total}", 2 * FRAGMENT - 1);
    put_raw(
        &anon,
        &url,
        Some(&range),
        &bytes[FRAGMENT..FRAGMENT + 1_000],
    )
    .await
    .expect_error(400, "invalidRequest");

    resume_and_check(&alice, &anon, &url, &bytes, "short.bin").await;
}

async fn long_fragment_body_is_400_then_resumes(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let anon = server.anonymous();
    let (url, bytes) = half_sent(&server, &alice, &anon, "long.bin", 5).await;
    let total = bytes.len();

    // Content-Range announces 10 bytes; the body holds 20.
    let range = format!("bytes {FRAGMENT}-{}/{total}", FRAGMENT + 9);
    put_raw(&anon, &url, Some(&range), &bytes[FRAGMENT..FRAGMENT + 20])
        .await
        .expect_error(400, "invalidRequest");

    resume_and_check(&alice, &anon, &url, &bytes, "long.bin").await;
}

async fn missing_content_range_is_400_then_resumes(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let anon = server.anonymous();
    let (url, bytes) = half_sent(&server, &alice, &anon, "norange.bin", 6).await;

    put_raw(&anon, &url, None, &bytes[FRAGMENT..2 * FRAGMENT])
        .await
        .expect_error(400, "invalidRequest");

    resume_and_check(&alice, &anon, &url, &bytes, "norange.bin").await;
}

/// A client keeps one connection for a session's fragments. A rejected fragment must come back
/// as a readable error, and the connection must then serve the next request — or the response
/// must say `Connection: close`.
async fn rejected_fragments_leave_the_connection_usable(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let anon = server.anonymous();
    let (url, bytes) = half_sent(&server, &alice, &anon, "conn.bin", 7).await;
    let total = bytes.len();
    let host = server.url.trim_start_matches("http://").to_string();
    let path = url.trim_start_matches(&server.url).to_string();
    let mut conn = TcpStream::connect(&host).await.expect("connect");

    // Each a real 320 KiB fragment: the first one again, and one that skips ahead.
    let rejected = [(0, FRAGMENT), (2 * FRAGMENT, 3 * FRAGMENT)];
    for round in 0..2 {
        for (start, end) in rejected {
            let range = format!("bytes {start}-{}/{total}", end - 1);
            let put = raw_request(
                "PUT",
                &path,
                &host,
                &[("Content-Range", &range)],
                &bytes[start..end],
            );
            let r = exchange(&mut conn, &put).await.unwrap_or_else(|e| {
                panic!("round {round}, fragment {range}: no readable answer: {e}")
            });
            assert_eq!(
                r.status,
                416,
                "{range}: {}",
                String::from_utf8_lossy(&r.body)
            );
            let closing = r
                .header("connection")
                .is_some_and(|c| c.eq_ignore_ascii_case("close"));
            if closing {
                conn = TcpStream::connect(&host).await.expect("reconnect");
            }
            let get = raw_request("GET", &path, &host, &[], b"");
            let status = exchange(&mut conn, &get).await.unwrap_or_else(|e| {
                panic!(
                    "round {round}: after the 416 for {range} (sent without `Connection: close`) \
                     the connection did not serve the next request: {e}"
                )
            });
            assert_eq!(status.status, 200);
            let v: Value = serde_json::from_slice(&status.body).expect("JSON status");
            assert_eq!(v["nextExpectedRanges"], json!([format!("{FRAGMENT}-")]));
        }
    }
    resume_and_check(&alice, &anon, &url, &bytes, "conn.bin").await;
}

async fn stray_authorization_header_is_ignored(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let junk = Api::new(&server.url, Some("junk".to_string()));
    let bytes = pattern(FRAGMENT + 4_321, 3);
    let session = create_session(&alice, "/me/drive/root:/stray.bin:", &json!({})).await;
    let url = upload_url(&session, &server);

    put_fragment(&junk, &url, &bytes, 0, FRAGMENT)
        .await
        .expect(202);
    let status = junk.get(&url).await.expect(200).json();
    assert_eq!(
        status["nextExpectedRanges"],
        json!([format!("{FRAGMENT}-")])
    );
    let item = put_fragment(&junk, &url, &bytes, FRAGMENT, bytes.len())
        .await
        .expect(201)
        .json();
    assert_content(&item, &bytes);
    assert_eq!(
        alice.download("/me/drive/root:/stray.bin:/content").await,
        bytes
    );

    // Cancelling with a junk token works too.
    let session = create_session(&alice, "/me/drive/root:/stray2.bin:", &json!({})).await;
    let url = upload_url(&session, &server);
    junk.delete(&url).await.expect(204);
}

async fn cancel_session(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let anon = server.anonymous();
    let bytes = pattern(2 * FRAGMENT, 4);
    let session = create_session(&alice, "/me/drive/root:/cancel/me.bin:", &json!({})).await;
    let url = upload_url(&session, &server);
    put_fragment(&anon, &url, &bytes, 0, FRAGMENT)
        .await
        .expect(202);

    anon.delete(&url).await.expect(204);
    anon.get(&url).await.expect(404);
    anon.delete(&url).await.expect(404);
    alice
        .get("/me/drive/root:/cancel/me.bin")
        .await
        .expect_error(404, "itemNotFound");
    let drive = alice.get("/me/drive").await.expect(200).json();
    assert_eq!(drive["quota"]["used"], 0);
    // Fragments to a cancelled session: the next one, and the first one again.
    put_fragment(&anon, &url, &bytes, FRAGMENT, 2 * FRAGMENT)
        .await
        .expect(404);
    put_fragment(&anon, &url, &bytes, 0, FRAGMENT)
        .await
        .expect(404);
}

async fn session_conflicts(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let anon = server.anonymous();
    let original = b"the original".to_vec();
    let existing = alice.upload("c/existing.txt", original.clone()).await;
    let existing_id = text(&existing, "id");

    // fail, when asked for, refuses at creation; names match without regard to case.
    for path in ["c/existing.txt", "c/EXISTING.TXT"] {
        alice
            .post(
                &format!("/me/drive/root:/{path}:/createUploadSession"),
                &json!({ "item": { "@microsoft.graph.conflictBehavior": "fail" } }),
            )
            .await
            .expect_error(409, "nameAlreadyExists");
        alice
            .post(
                &format!(
                    "/me/drive/root:/{path}:/createUploadSession?@microsoft.graph.conflictBehavior=fail"
                ),
                &json!({}),
            )
            .await
            .expect_error(409, "nameAlreadyExists");
    }

    // No conflict behaviour (what rclone sends): the file is replaced, keeping its id, as
    // `PUT …/content` does.
    for (n, body) in [json!({}), json!({ "item": {} })].iter().enumerate() {
        let bytes = pattern(FRAGMENT + 10 * n, 40 + n as u32);
        let session = create_session(&alice, "/me/drive/root:/c/existing.txt:", body).await;
        let url = upload_url(&session, &server);
        let item = send_from(&anon, &url, &bytes, 0).await.expect(200).json();
        assert_eq!(item["id"], existing_id.as_str(), "{item}");
        assert_content(&item, &bytes);
    }

    // replace: 200, the same item, the new content.
    let replacement = pattern(FRAGMENT + 77, 5);
    let session = create_session(
        &alice,
        "/me/drive/root:/c/existing.txt:",
        &json!({ "item": { "@microsoft.graph.conflictBehavior": "replace" } }),
    )
    .await;
    let url = upload_url(&session, &server);
    let replaced = send_from(&anon, &url, &replacement, 0)
        .await
        .expect(200)
        .json();
    assert_eq!(replaced["id"], existing_id.as_str());
    assert_eq!(replaced["name"], "existing.txt");
    assert_content(&replaced, &replacement);
    assert_ne!(replaced["eTag"], existing["eTag"]);
    assert_ne!(replaced["cTag"], existing["cTag"]);
    assert_eq!(
        alice
            .download(&format!("/me/drive/items/{existing_id}/content"))
            .await,
        replacement
    );

    // rename: a new item `existing 1.txt`; the original stays.
    let renamed_bytes = pattern(1_000, 6);
    let session = create_session(
        &alice,
        "/me/drive/root:/c/existing.txt:",
        &json!({ "item": { "@microsoft.graph.conflictBehavior": "rename" } }),
    )
    .await;
    let url = upload_url(&session, &server);
    let renamed = send_from(&anon, &url, &renamed_bytes, 0)
        .await
        .expect(201)
        .json();
    assert_eq!(renamed["name"], "existing 1.txt");
    assert_ne!(renamed["id"], existing_id.as_str());
    assert_content(&renamed, &renamed_bytes);
    assert_eq!(
        alice
            .download("/me/drive/root:/c/existing 1.txt:/content")
            .await,
        renamed_bytes
    );
    assert_eq!(
        alice
            .download(&format!("/me/drive/items/{existing_id}/content"))
            .await,
        replacement
    );
    let folder = alice.get("/me/drive/root:/c").await.expect(200).json();
    assert_eq!(folder["folder"]["childCount"], 2);
    assert_eq!(folder["size"], replacement.len() + renamed_bytes.len());

    // The query parameter works like the body's annotation.
    let session = alice
        .post(
            "/me/drive/root:/c/existing.txt:/createUploadSession?@microsoft.graph.conflictBehavior=rename",
            &json!({}),
        )
        .await
        .expect(200)
        .json();
    let url = upload_url(&session, &server);
    let third = send_from(&anon, &url, b"third", 0).await.expect(201).json();
    assert_eq!(third["name"], "existing 2.txt");
}

async fn session_file_system_info(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let anon = server.anonymous();
    let modified = "2021-06-07T08:09:10Z";
    let session = create_session(
        &alice,
        "/me/drive/root:/times/photo.jpg:",
        &json!({ "item": {
            "@microsoft.graph.conflictBehavior": "replace",
            "name": "photo.jpg",
            "fileSystemInfo": { "lastModifiedDateTime": modified }
        } }),
    )
    .await;
    let url = upload_url(&session, &server);
    let bytes = pattern(FRAGMENT + 10, 7);
    let item = send_from(&anon, &url, &bytes, 0).await.expect(201).json();
    assert_eq!(item["fileSystemInfo"]["lastModifiedDateTime"], modified);
    let read = alice
        .get(&format!("/me/drive/items/{}", text(&item, "id")))
        .await
        .expect(200)
        .json();
    assert_eq!(read["fileSystemInfo"]["lastModifiedDateTime"], modified);
    assert_content(&read, &bytes);

    // Replacing through another session with other times takes those.
    let modified2 = "2022-02-03T04:05:06Z";
    let created2 = "2001-01-01T00:00:00Z";
    let session = create_session(
        &alice,
        "/me/drive/root:/times/photo.jpg:",
        &json!({ "item": {
            "@microsoft.graph.conflictBehavior": "replace",
            "fileSystemInfo": { "createdDateTime": created2, "lastModifiedDateTime": modified2 }
        } }),
    )
    .await;
    let url = upload_url(&session, &server);
    let again = send_from(&anon, &url, b"new", 0).await.expect(200).json();
    assert_eq!(again["id"], item["id"]);
    assert_eq!(again["fileSystemInfo"]["lastModifiedDateTime"], modified2);
    assert_eq!(again["fileSystemInfo"]["createdDateTime"], created2);
}

async fn permissions_and_unknown_sessions(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    // Provision the drive with a writer first, then try with a reader.
    alice.get("/me/drive").await.expect(200);
    let reader = server.client(&server.user_token("alice", &["Files.Read"]));
    reader.get("/me/drive/root").await.expect(200);
    reader
        .post(
            "/me/drive/root:/nope.bin:/createUploadSession",
            &json!({ "item": { "@microsoft.graph.conflictBehavior": "rename" } }),
        )
        .await
        .expect_error(403, "accessDenied");
    alice
        .get("/me/drive/root:/nope.bin")
        .await
        .expect_error(404, "itemNotFound");

    // Unknown session URLs.
    let anon = server.anonymous();
    let unknown = format!("{}/upload/nonexistent", server.url);
    anon.get(&unknown).await.expect(404);
    put_raw(&anon, &unknown, Some("bytes 0-4/5"), b"hello")
        .await
        .expect(404);
    anon.delete(&unknown).await.expect(404);
    alice.get(&unknown).await.expect(404);
}

/// When completing fails (here: the name was taken meanwhile and the session says `fail`), the
/// last fragment can be sent again once the clash is gone; the earlier fragments are kept.
async fn failed_completion_can_be_retried(backend: Backend) {
    let server = TestServer::start(backend).await;
    let api = server.new_user("alice");
    let anon = server.anonymous();
    let bytes = pattern(3 * FRAGMENT + 1000, 9);
    let session = create_session(
        &api,
        "/me/drive/root:/race/file.bin:",
        &json!({ "item": { "@microsoft.graph.conflictBehavior": "fail" } }),
    )
    .await;
    let url = upload_url(&session, &server);
    put_fragment(&anon, &url, &bytes, 0, FRAGMENT)
        .await
        .expect(202);
    api.upload("race/file.bin", b"taken meanwhile".to_vec())
        .await;
    let last = bytes.len() - 1000;
    put_fragment(&anon, &url, &bytes, FRAGMENT, last)
        .await
        .expect(202);
    put_fragment(&anon, &url, &bytes, last, bytes.len())
        .await
        .expect_error(409, "nameAlreadyExists");
    let status = anon.get(&url).await.expect(200).json();
    assert_eq!(
        status["nextExpectedRanges"],
        json!([format!("{last}-")]),
        "{status}"
    );
    api.delete("/me/drive/root:/race/file.bin")
        .await
        .expect(204);
    let item = put_fragment(&anon, &url, &bytes, last, bytes.len())
        .await
        .expect(201)
        .json();
    assert_content(&item, &bytes);
    let downloaded = api
        .download(&format!("/me/drive/items/{}/content", text(&item, "id")))
        .await;
    assert_eq!(downloaded, bytes);
}
