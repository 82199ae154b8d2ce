//! Who may do what, and what a client gets when it may not or when it sends something the
//! server cannot take: bearer tokens and scopes, isolation between drives, group and
//! application access, pre-authenticated download URLs, the Graph error envelope, and clear
//! 4xx answers (never 500) for bad input.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine;
use common::{Api, Backend, Resp, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

on_every_backend!(
    missing_and_invalid_tokens_are_401,
    expired_token_is_401,
    read_only_scope_cannot_write,
    token_without_files_scope_cannot_read,
    users_cannot_reach_each_others_drives,
    group_drive_follows_membership,
    application_tokens,
    download_urls_are_pre_authenticated,
    error_envelope_and_request_ids,
    invalid_names_for_new_folders,
    invalid_names_in_upload_paths,
    malformed_json_bodies,
    unknown_paths_versions_and_methods,
    invalid_query_options,
    simple_upload_size_limit,
);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Percent-encodes everything but RFC 3986 unreserved characters, so that a name travels as
/// exactly one path segment.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `2023-12-11T04:26:35`, the shape of `innerError.date`.
fn is_graph_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

/// Checks the Graph error envelope of an error response, and that its `request-id` header is
/// the one in `innerError`. Returns the body.
#[track_caller]
fn envelope(r: &Resp) -> Value {
    assert!(
        r.status.is_client_error() || r.status.is_server_error(),
        "not an error: {} {}",
        r.status,
        r.text()
    );
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "error content type: {:?}",
        r.header("content-type")
    );
    let body = r.json();
    let err = &body["error"];
    assert!(err.is_object(), "no error object: {body}");
    assert!(
        err["code"].as_str().is_some_and(|c| !c.is_empty()),
        "no code: {body}"
    );
    assert!(
        err["message"].as_str().is_some_and(|m| !m.is_empty()),
        "no message: {body}"
    );
    let inner = &err["innerError"];
    assert!(inner.is_object(), "no innerError: {body}");
    assert!(
        inner["date"].as_str().is_some_and(is_graph_date),
        "innerError.date: {body}"
    );
    let request_id = inner["request-id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| panic!("innerError.request-id: {body}"));
    assert!(
        inner["client-request-id"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "innerError.client-request-id: {body}"
    );
    assert_eq!(
        r.header("request-id").as_deref(),
        Some(request_id),
        "the request-id header is the one in innerError: {body}"
    );
    body
}

/// Asserts an error with this status and top-level code, in a complete envelope.
#[track_caller]
fn graph_error(r: Resp, status: u16, code: &str) -> Value {
    let r = r.expect(status);
    envelope(&r);
    r.expect_error(status, code)
}

/// `403 accessDenied`.
#[track_caller]
fn denied(r: Resp) {
    graph_error(r, 403, "accessDenied");
}

/// `404 itemNotFound`.
#[track_caller]
fn not_found(r: Resp) {
    graph_error(r, 404, "itemNotFound");
}

/// A `401 InvalidAuthenticationToken` with a Bearer challenge.
#[track_caller]
fn unauthenticated(r: Resp) {
    let challenge = r.header("www-authenticate");
    graph_error(r, 401, "InvalidAuthenticationToken");
    assert!(
        challenge
            .as_deref()
            .is_some_and(|c| c.starts_with("Bearer ")),
        "WWW-Authenticate: {challenge:?}"
    );
}

/// A `400 invalidRequest` whose `innerError.code` is `inner`; `Err` describes any difference,
/// so that a whole matrix of inputs can be checked before failing.
fn check_invalid(r: &Resp, inner: &str) -> Result<(), String> {
    if r.status.as_u16() != 400 {
        return Err(format!("status {} body {}", r.status, r.text()));
    }
    let body: Value = serde_json::from_slice(&r.body).map_err(|e| format!("not JSON: {e}"))?;
    if body["error"]["code"] != "invalidRequest" || body["error"]["innerError"]["code"] != inner {
        return Err(format!("expected invalidRequest/{inner}, got {body}"));
    }
    if !body["error"]["innerError"]["request-id"].is_string() {
        return Err(format!("no request-id: {body}"));
    }
    Ok(())
}

#[track_caller]
fn assert_no_failures(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

/// The names in a children listing.
async fn child_names(api: &Api, folder: &str) -> BTreeSet<String> {
    api.get(&format!("{folder}/children"))
        .await
        .expect(200)
        .json()["value"]
        .as_array()
        .expect("value")
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The drive id with its `!` percent-encoded, as SDKs send it.
fn encoded_drive_id(drive_id: &str) -> String {
    drive_id.replace('!', "%21")
}

/// The token part of a pre-authenticated download URL, with one character changed at
/// `position` (counted from the start of the token; negative counts from its end).
fn tamper(url: &str, position: isize) -> String {
    let (base, token) = url.rsplit_once('/').expect("a URL with a token");
    let mut chars: Vec<char> = token.chars().collect();
    let mut i = if position < 0 {
        (chars.len() as isize + position) as usize
    } else {
        position as usize
    };
    while !chars[i].is_ascii_alphanumeric() {
        i += 1;
    }
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    format!("{base}/{}", chars.into_iter().collect::<String>())
}

fn b64url(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

// ---------------------------------------------------------------------------------------------
// 1. Authentication and scopes
// ---------------------------------------------------------------------------------------------

async fn missing_and_invalid_tokens_are_401(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let drive = alice.get("/me/drive").await.expect(200).json();
    let alice_id = drive["owner"]["user"]["id"]
        .as_str()
        .expect("owner.user.id")
        .to_string();
    let file = alice.upload("a.txt", "hello").await;
    let file_id = id(&file);

    // No Authorization header at all.
    let anon = server.anonymous();
    let reads = [
        "/me/drive".to_string(),
        "/me/drive/root".to_string(),
        "/me/drive/root/children".to_string(),
        format!("/me/drive/items/{file_id}"),
        format!("/me/drive/items/{file_id}/content"),
        format!("/drives/{}", encoded_drive_id(&id(&drive))),
        "/users/alice/drive".to_string(),
    ];
    for path in &reads {
        unauthenticated(anon.get(path).await);
    }
    let body = anon.get("/me/drive").await.expect(401).json();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    unauthenticated(anon.put("/me/drive/root:/anon.txt:/content", "x").await);
    unauthenticated(
        anon.post(
            "/me/drive/root/children",
            &json!({ "name": "anon", "folder": {} }),
        )
        .await,
    );
    unauthenticated(anon.delete(&format!("/me/drive/items/{file_id}")).await);

    // Tokens that are not ours, not tokens, or not Bearer.
    let valid = alice.token.clone().unwrap();
    let now = unix_now();
    let forged_none = format!(
        "{}.{}.",
        b64url(&json!({ "alg": "none", "typ": "JWT" })),
        b64url(&json!({
            "aud": "graphdrive", "sub": alice_id, "name": "alice", "idtyp": "user",
            "scp": "Files.ReadWrite", "iat": now, "exp": now + 3600,
        }))
    );
    // Alice's signature on a payload that claims to be an all-powerful application.
    let resigned = {
        let parts: Vec<&str> = valid.split('.').collect();
        assert_eq!(parts.len(), 3, "an access token is a JWT");
        format!(
            "{}.{}.{}",
            parts[0],
            b64url(&json!({
                "aud": "graphdrive", "sub": alice_id, "name": "alice", "idtyp": "app",
                "scp": "Files.ReadWrite.All", "iat": now, "exp": now + 3600,
            })),
            parts[2]
        )
    };
    let other_server = TestServer::start(backend).await;
    let foreign = other_server.user_token("alice", &["Files.ReadWrite"]);
    let download_url = file["@microsoft.graph.downloadUrl"]
        .as_str()
        .expect("downloadUrl");
    let download_token = download_url.rsplit_once('/').unwrap().1.to_string();
    let bad_tokens = [
        "garbage".to_string(),
        "a.b.c".to_string(),
        format!("{valid}x"),
        valid[..valid.len() - 2].to_string(),
        forged_none,
        resigned,
        foreign,
        download_token,
    ];
    for token in &bad_tokens {
        let api = server.client(token);
        unauthenticated(api.get("/me/drive").await);
        unauthenticated(api.put("/me/drive/root:/bad.txt:/content", "x").await);
    }
    for header in [
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("alice:pw")
        ),
        "Bearer".to_string(),
        "Bearer ".to_string(),
        valid.clone(),
    ] {
        unauthenticated(
            anon.send(
                Method::GET,
                "/me/drive",
                &[("authorization", &header)],
                None,
            )
            .await,
        );
    }
    // The scheme is case-insensitive (RFC 7235).
    anon.send(
        Method::GET,
        "/me/drive",
        &[("authorization", &format!("bearer {valid}"))],
        None,
    )
    .await
    .expect(200);

    // Nothing was written by any of the rejected requests.
    assert_eq!(
        child_names(&alice, "/me/drive/root").await,
        names(&["a.txt"])
    );
}

async fn expired_token_is_401(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.cli(&["user", "add", "alice"]);
    // A long-lived token works, so a 401 below is about expiry only.
    server.new_user("alice").get("/me/drive").await.expect(200);
    let token = server.cli(&[
        "token",
        "--user",
        "alice",
        "--scope",
        "Files.ReadWrite",
        "--ttl",
        "1",
    ]);
    let short = server.client(&token);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    unauthenticated(short.get("/me/drive").await);
    unauthenticated(short.get("/me/drive/root/children").await);
    unauthenticated(short.put("/me/drive/root:/late.txt:/content", "x").await);
    server
        .new_user("alice")
        .get("/me/drive/root:/late.txt")
        .await
        .expect(404);
}

async fn read_only_scope_cannot_write(backend: Backend) {
    let server = TestServer::start(backend).await;
    let rw = server.new_user("alice");
    let drive = rw.get("/me/drive").await.expect(200).json();
    let folder = rw.mkdir("/me/drive/root", "docs").await;
    let file = rw.upload("docs/a.txt", "hello").await;
    let (folder_id, file_id) = (id(&folder), id(&file));

    let ro = server.client(&server.user_token("alice", &["Files.Read"]));
    let d = ro.get("/me/drive").await.expect(200).json();
    assert_eq!(d["id"], drive["id"]);
    ro.get("/me/drive/root").await.expect(200);
    assert_eq!(child_names(&ro, "/me/drive/root").await, names(&["docs"]));
    let got = ro
        .get(&format!("/me/drive/items/{file_id}"))
        .await
        .expect(200)
        .json();
    assert_eq!(got["size"], 5);
    ro.get("/me/drive/root:/docs/a.txt").await.expect(200);
    ro.get(&format!("/drives/{}/items/{file_id}", id(&drive)))
        .await
        .expect(200);
    assert_eq!(
        ro.download(&format!("/me/drive/items/{file_id}/content"))
            .await,
        b"hello"
    );

    denied(
        ro.post(
            "/me/drive/root/children",
            &json!({ "name": "new", "folder": {} }),
        )
        .await,
    );
    denied(
        ro.post(
            &format!("/me/drive/items/{folder_id}/children"),
            &json!({ "name": "new", "folder": {} }),
        )
        .await,
    );
    denied(ro.put("/me/drive/root:/new.txt:/content", "x").await);
    denied(
        ro.put("/me/drive/root:/docs/a.txt:/content", "changed")
            .await,
    );
    denied(
        ro.put(&format!("/me/drive/items/{file_id}/content"), "changed")
            .await,
    );
    denied(
        ro.patch(
            &format!("/me/drive/items/{file_id}"),
            &json!({ "name": "renamed.txt" }),
        )
        .await,
    );
    denied(
        ro.patch(
            &format!("/me/drive/items/{file_id}"),
            &json!({ "parentReference": { "path": "/drive/root:" } }),
        )
        .await,
    );
    denied(ro.delete(&format!("/me/drive/items/{file_id}")).await);
    denied(ro.delete(&format!("/me/drive/items/{folder_id}")).await);
    denied(
        ro.post(
            "/me/drive/root:/big.bin:/createUploadSession",
            &json!({ "item": { "@microsoft.graph.conflictBehavior": "rename" } }),
        )
        .await,
    );

    // Nothing changed.
    let after = rw
        .get(&format!("/me/drive/items/{file_id}"))
        .await
        .expect(200)
        .json();
    assert_eq!(after["name"], "a.txt");
    assert_eq!(after["eTag"], file["eTag"]);
    assert_eq!(after["parentReference"]["id"], folder_id);
    assert_eq!(child_names(&rw, "/me/drive/root").await, names(&["docs"]));
    assert_eq!(
        child_names(&rw, "/me/drive/root:/docs:").await,
        names(&["a.txt"])
    );
    assert_eq!(
        rw.download(&format!("/me/drive/items/{file_id}/content"))
            .await,
        b"hello"
    );
}

async fn token_without_files_scope_cannot_read(backend: Backend) {
    let server = TestServer::start(backend).await;
    let rw = server.new_user("alice");
    let drive = rw.get("/me/drive").await.expect(200).json();
    let file_id = id(&rw.upload("a.txt", "hello").await);
    for scopes in [&["User.Read"][..], &["openid", "profile", "User.Read"][..]] {
        let api = server.client(&server.user_token("alice", scopes));
        for path in [
            "/me/drive".to_string(),
            "/me/drive/root".to_string(),
            "/me/drive/root/children".to_string(),
            "/me/drive/root:/a.txt".to_string(),
            format!("/me/drive/items/{file_id}"),
            format!("/me/drive/items/{file_id}/content"),
            format!("/drives/{}", id(&drive)),
            format!("/drives/{}/root/children", id(&drive)),
            "/users/alice/drive".to_string(),
        ] {
            denied(api.get(&path).await);
        }
        denied(api.put("/me/drive/root:/b.txt:/content", "x").await);
        denied(api.delete(&format!("/me/drive/items/{file_id}")).await);
    }
    assert_eq!(child_names(&rw, "/me/drive/root").await, names(&["a.txt"]));
}

// ---------------------------------------------------------------------------------------------
// 2. Isolation between users
// ---------------------------------------------------------------------------------------------

async fn users_cannot_reach_each_others_drives(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let bob = server.new_user("bob");
    let alice_drive = alice.get("/me/drive").await.expect(200).json();
    let bob_drive = bob.get("/me/drive").await.expect(200).json();
    let (alice_drive_id, bob_drive_id) = (id(&alice_drive), id(&bob_drive));
    assert_ne!(alice_drive_id, bob_drive_id);
    assert!(bob_drive_id.contains('!'), "drive ids look like b!…");
    let bob_user_id = bob_drive["owner"]["user"]["id"]
        .as_str()
        .expect("owner.user.id")
        .to_string();

    let bob_folder = bob.mkdir("/me/drive/root", "private").await;
    let bob_file = bob.upload("private/secret.txt", "bob's secret").await;
    let (bob_folder_id, bob_file_id) = (id(&bob_folder), id(&bob_file));
    let alice_file = alice.upload("mine.txt", "alice").await;
    let alice_file_id = id(&alice_file);

    // Bob's drive by id, raw and with the `!` encoded: 403 for every operation.
    for d in [bob_drive_id.clone(), encoded_drive_id(&bob_drive_id)] {
        for path in [
            format!("/drives/{d}"),
            format!("/drives/{d}/root"),
            format!("/drives/{d}/root/children"),
            format!("/drives/{d}/items/{bob_file_id}"),
            format!("/drives/{d}/items/{bob_file_id}/content"),
            format!("/drives/{d}/items/{bob_folder_id}/children"),
            format!("/drives/{d}/root:/private/secret.txt"),
            format!("/drives/{d}/root:/private/secret.txt:/content"),
            format!("/drives/{d}/items/root%3A%2Fprivate%2Fsecret.txt%3A"),
        ] {
            denied(alice.get(&path).await);
        }
        denied(
            alice
                .put(
                    &format!("/drives/{d}/root:/private/secret.txt:/content"),
                    "overwritten",
                )
                .await,
        );
        denied(
            alice
                .put(
                    &format!("/drives/{d}/items/{bob_file_id}/content"),
                    "overwritten",
                )
                .await,
        );
        denied(
            alice
                .put(&format!("/drives/{d}/root:/dropped.txt:/content"), "x")
                .await,
        );
        denied(
            alice
                .post(
                    &format!("/drives/{d}/root/children"),
                    &json!({ "name": "intruder", "folder": {} }),
                )
                .await,
        );
        denied(
            alice
                .post(
                    &format!("/drives/{d}/items/{bob_folder_id}/children"),
                    &json!({ "name": "intruder", "folder": {} }),
                )
                .await,
        );
        denied(
            alice
                .patch(
                    &format!("/drives/{d}/items/{bob_file_id}"),
                    &json!({ "name": "pwned.txt" }),
                )
                .await,
        );
        denied(
            alice
                .delete(&format!("/drives/{d}/items/{bob_file_id}"))
                .await,
        );
        denied(
            alice
                .delete(&format!("/drives/{d}/items/{bob_folder_id}"))
                .await,
        );
        denied(
            alice
                .post(
                    &format!("/drives/{d}/root:/big.bin:/createUploadSession"),
                    &json!({}),
                )
                .await,
        );
    }

    // Bob's drive by his user name or id.
    for u in ["bob".to_string(), bob_user_id.clone()] {
        denied(alice.get(&format!("/users/{u}/drive")).await);
        denied(alice.get(&format!("/users/{u}/drive/root/children")).await);
        denied(
            alice
                .get(&format!("/users/{u}/drive/items/{bob_file_id}"))
                .await,
        );
        denied(
            alice
                .put(&format!("/users/{u}/drive/root:/dropped.txt:/content"), "x")
                .await,
        );
        denied(
            alice
                .delete(&format!("/users/{u}/drive/items/{bob_file_id}"))
                .await,
        );
    }

    // Bob's item ids are unknown in Alice's own drive.
    for path in [
        format!("/me/drive/items/{bob_file_id}"),
        format!("/me/drive/items/{bob_file_id}/content"),
        format!("/me/drive/items/{bob_folder_id}/children"),
        format!("/me/drive/items/{bob_folder_id}:/secret.txt"),
        format!("/drives/{alice_drive_id}/items/{bob_file_id}"),
    ] {
        not_found(alice.get(&path).await);
    }
    not_found(
        alice
            .patch(
                &format!("/me/drive/items/{bob_file_id}"),
                &json!({ "name": "pwned.txt" }),
            )
            .await,
    );
    not_found(
        alice
            .delete(&format!("/me/drive/items/{bob_file_id}"))
            .await,
    );
    not_found(
        alice
            .put(&format!("/me/drive/items/{bob_file_id}/content"), "x")
            .await,
    );
    not_found(
        alice
            .post(
                &format!("/me/drive/items/{bob_folder_id}/children"),
                &json!({ "name": "intruder", "folder": {} }),
            )
            .await,
    );
    // Moving her own file into Bob's folder, by the folder's id alone…
    not_found(
        alice
            .patch(
                &format!("/me/drive/items/{alice_file_id}"),
                &json!({ "parentReference": { "id": bob_folder_id } }),
            )
            .await,
    );
    // …or naming Bob's drive too: refused one way or another.
    let r = alice
        .patch(
            &format!("/me/drive/items/{alice_file_id}"),
            &json!({ "parentReference": { "driveId": bob_drive_id, "id": bob_folder_id } }),
        )
        .await;
    assert!(
        matches!(r.status.as_u16(), 400 | 403 | 404),
        "a move into another user's drive: {} {}",
        r.status,
        r.text()
    );
    envelope(&r);

    // Bob's files are as he left them, and Alice's too.
    let after = bob
        .get(&format!("/me/drive/items/{bob_file_id}"))
        .await
        .expect(200)
        .json();
    assert_eq!(after["name"], "secret.txt");
    assert_eq!(after["eTag"], bob_file["eTag"]);
    assert_eq!(after["cTag"], bob_file["cTag"]);
    assert_eq!(after["size"], 12);
    assert_eq!(
        bob.download(&format!("/me/drive/items/{bob_file_id}/content"))
            .await,
        b"bob's secret"
    );
    assert_eq!(
        child_names(&bob, "/me/drive/root").await,
        names(&["private"])
    );
    assert_eq!(
        child_names(&bob, &format!("/me/drive/items/{bob_folder_id}")).await,
        names(&["secret.txt"])
    );
    let bob_view = bob.get("/me/drive").await.expect(200).json();
    assert_eq!(bob_view["quota"]["used"], 12);
    assert_eq!(
        child_names(&alice, "/me/drive/root").await,
        names(&["mine.txt"])
    );
    let mine = alice
        .get(&format!("/me/drive/items/{alice_file_id}"))
        .await
        .expect(200)
        .json();
    assert_eq!(mine["parentReference"]["driveId"], alice_drive_id);
    assert_eq!(mine["eTag"], alice_file["eTag"]);
}

// ---------------------------------------------------------------------------------------------
// 3. Group drives
// ---------------------------------------------------------------------------------------------

async fn group_drive_follows_membership(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let bob = server.new_user("bob");
    let alice_own = alice.get("/me/drive").await.expect(200).json();
    let gid = server.cli(&["group", "add", "team", "--member", "alice"]);
    assert!(
        !gid.is_empty() && !gid.contains(char::is_whitespace),
        "group add prints the group id: {gid:?}"
    );

    let gd = alice
        .get(&format!("/groups/{gid}/drive"))
        .await
        .expect(200)
        .json();
    assert_eq!(gd["driveType"], "documentLibrary");
    assert_eq!(gd["owner"]["group"]["id"], gid.as_str());
    let gdid = id(&gd);
    assert_ne!(gdid, id(&alice_own));

    let plan = alice
        .put(
            &format!("/groups/{gid}/drive/root:/plans/q3.txt:/content"),
            "plan",
        )
        .await
        .expect(201)
        .json();
    assert_eq!(plan["parentReference"]["driveId"], gdid.as_str());
    assert_eq!(plan["parentReference"]["driveType"], "documentLibrary");
    let plan_id = id(&plan);
    assert_eq!(
        child_names(&alice, &format!("/groups/{gid}/drive/root")).await,
        names(&["plans"])
    );
    assert_eq!(
        child_names(&alice, &format!("/drives/{gdid}/root:/plans:")).await,
        names(&["q3.txt"])
    );
    assert_eq!(
        alice
            .download(&format!("/groups/{gid}/drive/items/{plan_id}/content"))
            .await,
        b"plan"
    );
    // The group's files are not in Alice's own drive.
    not_found(alice.get("/me/drive/root:/plans").await);
    not_found(alice.get(&format!("/me/drive/items/{plan_id}")).await);

    // A member with a read-only token reads but does not write.
    let alice_ro = server.client(&server.user_token("alice", &["Files.Read"]));
    alice_ro
        .get(&format!("/groups/{gid}/drive/root/children"))
        .await
        .expect(200);
    denied(
        alice_ro
            .put(&format!("/groups/{gid}/drive/root:/ro.txt:/content"), "x")
            .await,
    );

    // Bob is not a member.
    denied(bob.get(&format!("/groups/{gid}/drive")).await);
    denied(bob.get(&format!("/groups/{gid}/drive/root/children")).await);
    denied(
        bob.put(&format!("/groups/{gid}/drive/root:/bob.txt:/content"), "x")
            .await,
    );
    for d in [gdid.clone(), encoded_drive_id(&gdid)] {
        denied(bob.get(&format!("/drives/{d}")).await);
        denied(bob.get(&format!("/drives/{d}/root/children")).await);
        denied(bob.get(&format!("/drives/{d}/items/{plan_id}")).await);
        denied(
            bob.get(&format!("/drives/{d}/items/{plan_id}/content"))
                .await,
        );
        denied(
            bob.put(&format!("/drives/{d}/root:/bob.txt:/content"), "x")
                .await,
        );
        denied(
            bob.post(
                &format!("/drives/{d}/root/children"),
                &json!({ "name": "bob", "folder": {} }),
            )
            .await,
        );
        denied(
            bob.patch(
                &format!("/drives/{d}/items/{plan_id}"),
                &json!({ "name": "bob.txt" }),
            )
            .await,
        );
        denied(bob.delete(&format!("/drives/{d}/items/{plan_id}")).await);
    }
    not_found(bob.get(&format!("/me/drive/items/{plan_id}")).await);
    assert_eq!(
        child_names(&alice, &format!("/drives/{gdid}/root:/plans:")).await,
        names(&["q3.txt"])
    );

    // Adding Bob gives him access.
    let again = server.cli(&["group", "add", "team", "--member", "bob"]);
    assert_eq!(again, gid, "adding a member keeps the group");
    let gd_bob = bob
        .get(&format!("/groups/{gid}/drive"))
        .await
        .expect(200)
        .json();
    assert_eq!(gd_bob["id"], gdid.as_str());
    assert_eq!(
        child_names(&bob, &format!("/drives/{gdid}/root")).await,
        names(&["plans"])
    );
    assert_eq!(
        bob.download(&format!(
            "/drives/{}/items/{plan_id}/content",
            encoded_drive_id(&gdid)
        ))
        .await,
        b"plan"
    );
    bob.put(
        &format!("/drives/{gdid}/root:/plans/bob.txt:/content"),
        "from bob",
    )
    .await
    .expect(201);
    assert_eq!(
        child_names(&alice, &format!("/groups/{gid}/drive/root:/plans:")).await,
        names(&["bob.txt", "q3.txt"])
    );
    alice.get(&format!("/groups/{gid}/drive")).await.expect(200);
}

// ---------------------------------------------------------------------------------------------
// 4. Application tokens
// ---------------------------------------------------------------------------------------------

async fn application_tokens(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let bob = server.new_user("bob");
    let alice_drive = id(&alice.get("/me/drive").await.expect(200).json());
    let bob_drive = id(&bob.get("/me/drive").await.expect(200).json());
    let alice_file = id(&alice.upload("a.txt", "alice data").await);
    let bob_file = id(&bob.upload("b.txt", "bob data").await);

    let app = server.client(&server.token(&["--app", "backup"], &["Files.ReadWrite.All"]));
    for (user, drive, file, name, bytes) in [
        (
            "alice",
            &alice_drive,
            &alice_file,
            "a.txt",
            &b"alice data"[..],
        ),
        ("bob", &bob_drive, &bob_file, "b.txt", &b"bob data"[..]),
    ] {
        let d = app
            .get(&format!("/drives/{drive}"))
            .await
            .expect(200)
            .json();
        assert_eq!(&id(&d), drive);
        let d = app
            .get(&format!("/drives/{}", encoded_drive_id(drive)))
            .await
            .expect(200)
            .json();
        assert_eq!(&id(&d), drive);
        let d = app
            .get(&format!("/users/{user}/drive"))
            .await
            .expect(200)
            .json();
        assert_eq!(&id(&d), drive);
        assert_eq!(
            child_names(&app, &format!("/drives/{drive}/root")).await,
            names(&[name])
        );
        assert_eq!(
            app.download(&format!("/drives/{drive}/items/{file}/content"))
                .await,
            bytes
        );
    }

    // Writes into users' drives.
    let restored = app
        .put(
            "/users/alice/drive/root:/backup/restored.txt:/content",
            "restored",
        )
        .await
        .expect(201)
        .json();
    assert_eq!(
        restored["createdBy"]["application"]["displayName"], "backup",
        "an application's write is attributed to it: {restored}"
    );
    assert_eq!(
        alice
            .download("/me/drive/root:/backup/restored.txt:/content")
            .await,
        b"restored"
    );
    app.post(
        &format!("/drives/{bob_drive}/root/children"),
        &json!({ "name": "archive", "folder": {} }),
    )
    .await
    .expect(201);
    app.patch(
        &format!("/drives/{bob_drive}/items/{bob_file}"),
        &json!({ "name": "b2.txt" }),
    )
    .await
    .expect(200);
    app.delete(&format!("/drives/{bob_drive}/root:/archive"))
        .await
        .expect(204);
    assert_eq!(
        child_names(&bob, "/me/drive/root").await,
        names(&["b2.txt"])
    );

    // A user who never used the drive gets one; an unknown user is not found.
    server.cli(&["user", "add", "carol"]);
    let carol = app.get("/users/carol/drive").await.expect(200).json();
    assert_eq!(carol["driveType"], "business");
    let r = app.get("/users/nobody/drive").await.expect(404);
    envelope(&r);

    // Group drives too.
    let gid = server.cli(&["group", "add", "team", "--member", "alice"]);
    let gd = app
        .get(&format!("/groups/{gid}/drive"))
        .await
        .expect(200)
        .json();
    assert_eq!(gd["driveType"], "documentLibrary");

    // `/me` means nothing for an application.
    graph_error(app.get("/me/drive").await, 400, "invalidRequest");
    graph_error(
        app.get("/me/drive/root/children").await,
        400,
        "invalidRequest",
    );
    graph_error(
        app.put("/me/drive/root:/x.txt:/content", "x").await,
        400,
        "invalidRequest",
    );

    // Files.Read.All: reads everywhere, writes nowhere.
    let ro = server.client(&server.token(&["--app", "auditor"], &["Files.Read.All"]));
    ro.get(&format!("/drives/{alice_drive}")).await.expect(200);
    ro.get("/users/bob/drive/root/children").await.expect(200);
    ro.get(&format!("/drives/{alice_drive}/items/{alice_file}"))
        .await
        .expect(200);
    assert_eq!(
        ro.download(&format!("/drives/{alice_drive}/items/{alice_file}/content"))
            .await,
        b"alice data"
    );
    denied(
        ro.put(&format!("/drives/{alice_drive}/root:/x.txt:/content"), "x")
            .await,
    );
    denied(
        ro.put(
            &format!("/drives/{alice_drive}/items/{alice_file}/content"),
            "x",
        )
        .await,
    );
    denied(
        ro.post(
            &format!("/drives/{alice_drive}/root/children"),
            &json!({ "name": "audit", "folder": {} }),
        )
        .await,
    );
    denied(
        ro.patch(
            &format!("/drives/{alice_drive}/items/{alice_file}"),
            &json!({ "name": "renamed.txt" }),
        )
        .await,
    );
    denied(
        ro.delete(&format!("/drives/{alice_drive}/items/{alice_file}"))
            .await,
    );
    denied(ro.put("/users/bob/drive/root:/x.txt:/content", "x").await);
    assert_eq!(
        child_names(&alice, "/me/drive/root").await,
        names(&["a.txt", "backup"])
    );

    // An application without an `.All` scope reaches no drive.
    let narrow = server.client(&server.token(&["--app", "narrow"], &["Files.ReadWrite"]));
    denied(narrow.get(&format!("/drives/{alice_drive}")).await);
    denied(narrow.get("/users/alice/drive").await);
}

// ---------------------------------------------------------------------------------------------
// 5. Pre-authenticated download URLs
// ---------------------------------------------------------------------------------------------

async fn download_urls_are_pre_authenticated(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let bytes: Vec<u8> = (0..5000u32).map(|i| (i % 253) as u8).collect();
    let item = alice.upload("docs/report.bin", bytes.clone()).await;
    let item_id = id(&item);

    let from_item = item["@microsoft.graph.downloadUrl"]
        .as_str()
        .expect("downloadUrl on upload")
        .to_string();
    let fetched = alice
        .get(&format!("/me/drive/items/{item_id}"))
        .await
        .expect(200)
        .json();
    let from_get = fetched["@microsoft.graph.downloadUrl"]
        .as_str()
        .expect("downloadUrl on get")
        .to_string();
    let redirect = alice
        .get(&format!("/me/drive/items/{item_id}/content"))
        .await
        .expect(302)
        .header("location")
        .expect("Location");

    let anon = server.anonymous();
    let junk = Api::new(&server.url, Some("junk".into()));
    let alice_token = alice.token.clone().unwrap();
    for url in [&from_item, &from_get, &redirect] {
        let r = anon.get(url).await.expect(200);
        assert_eq!(r.body, bytes, "anonymous download of {url}");
        assert!(r.header("request-id").is_some());
        assert_eq!(junk.get(url).await.expect(200).body, bytes);
        // A valid bearer token changes nothing either: the URL is the credential.
        assert_eq!(alice.get(url).await.expect(200).body, bytes);
    }

    for url in [&from_item, &redirect] {
        let token_len = url.rsplit_once('/').unwrap().1.len() as isize;
        for position in [token_len / 2, -5, 3] {
            let tampered = tamper(url, position);
            assert_ne!(&tampered, url);
            not_found(anon.get(&tampered).await);
            not_found(junk.get(&tampered).await);
        }
        not_found(anon.get(&url[..url.len() - 1]).await);
    }
    let base = redirect.rsplit_once('/').unwrap().0.to_string();
    not_found(anon.get(&format!("{base}/garbage")).await);
    // An access token is not a download token.
    not_found(anon.get(&format!("{base}/{alice_token}")).await);
}

// ---------------------------------------------------------------------------------------------
// 6. The error envelope and request ids
// ---------------------------------------------------------------------------------------------

async fn error_envelope_and_request_ids(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let bob = server.new_user("bob");
    let bob_drive = id(&bob.get("/me/drive").await.expect(200).json());
    let anon = server.anonymous();

    // Successes carry a request-id, a different one each time.
    let mut ids = BTreeSet::new();
    let mut seen = |r: &Resp| {
        let rid = r
            .header("request-id")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| panic!("no request-id header on {}", r.status));
        assert!(ids.insert(rid), "request ids repeat");
    };
    let r = alice.get("/me/drive").await.expect(200);
    seen(&r);
    let r = alice
        .put("/me/drive/root:/a.txt:/content", "hello")
        .await
        .expect(201);
    seen(&r);
    let file = r.json();
    let file_id = id(&file);
    let r = alice
        .get(&format!("/me/drive/items/{file_id}"))
        .await
        .expect(200);
    seen(&r);
    let r = alice.get("/me/drive/root/children").await.expect(200);
    seen(&r);
    let r = alice
        .send(
            Method::GET,
            &format!("/me/drive/items/{file_id}"),
            &[("if-none-match", file["eTag"].as_str().unwrap())],
            None,
        )
        .await
        .expect(304);
    seen(&r);
    let r = alice
        .get(&format!("/me/drive/items/{file_id}/content"))
        .await
        .expect(302);
    seen(&r);
    let r = anon.get(&r.header("location").unwrap()).await.expect(200);
    seen(&r);
    let r = alice.mkdir("/me/drive/root", "tmp").await;
    let r = alice
        .delete(&format!("/me/drive/items/{}", id(&r)))
        .await
        .expect(204);
    seen(&r);

    // Errors: the full envelope, whatever produced them.
    let garbage = server.client("garbage");
    let cases: Vec<(Resp, u16, &str)> = vec![
        (
            anon.get("/me/drive").await,
            401,
            "InvalidAuthenticationToken",
        ),
        (
            garbage.get("/me/drive").await,
            401,
            "InvalidAuthenticationToken",
        ),
        (
            alice.get(&format!("/drives/{bob_drive}")).await,
            403,
            "accessDenied",
        ),
        (
            alice.get("/me/drive/root:/missing.txt").await,
            404,
            "itemNotFound",
        ),
        (
            alice
                .post(
                    "/me/drive/root/children",
                    &json!({ "name": "a.txt", "folder": {} }),
                )
                .await,
            409,
            "nameAlreadyExists",
        ),
        (alice.put("/me/drive", "x").await, 405, "notAllowed"),
        (alice.get("/foo").await, 400, "invalidRequest"),
        (
            alice.get(&format!("{}/v9/me/drive", server.url)).await,
            400,
            "invalidRequest",
        ),
        (
            alice.get("/me/drive/root/children?$top=abc").await,
            400,
            "invalidRequest",
        ),
        (
            alice
                .post(
                    "/me/drive/root/children",
                    &json!({ "name": "a*b", "folder": {} }),
                )
                .await,
            400,
            "invalidRequest",
        ),
        (
            anon.get(&format!("{}/dl/garbage", server.url)).await,
            404,
            "itemNotFound",
        ),
    ];
    for (r, status, code) in cases {
        let r = r.expect(status);
        let body = envelope(&r);
        assert_eq!(body["error"]["code"], code, "{body}");
        seen(&r);
        // Without a client-request-id, innerError still has one (Graph uses the request id).
        let inner = &body["error"]["innerError"];
        assert!(inner["client-request-id"].is_string());
    }

    // A client-request-id is echoed, in the header and in innerError.
    let cri = uuid::Uuid::new_v4().to_string();
    let r = alice
        .send(
            Method::GET,
            "/me/drive",
            &[("client-request-id", &cri)],
            None,
        )
        .await
        .expect(200);
    assert_eq!(r.header("client-request-id").as_deref(), Some(cri.as_str()));
    assert!(r.header("request-id").is_some_and(|rid| rid != cri));
    let echo = |path: String, api: Api, status: u16| {
        let cri = cri.clone();
        async move {
            let r = api
                .send(Method::GET, &path, &[("client-request-id", &cri)], None)
                .await
                .expect(status);
            assert_eq!(r.header("client-request-id").as_deref(), Some(cri.as_str()));
            let body = envelope(&r);
            assert_eq!(
                body["error"]["innerError"]["client-request-id"],
                cri.as_str()
            );
            assert_ne!(body["error"]["innerError"]["request-id"], cri.as_str());
        }
    };
    echo("/me/drive/root:/missing.txt".into(), alice.clone(), 404).await;
    echo("/me/drive".into(), anon.clone(), 401).await;
    echo(format!("/drives/{bob_drive}"), alice.clone(), 403).await;
    echo("/me/drive/bogus".into(), alice.clone(), 400).await;
    echo(format!("{}/dl/garbage", server.url), anon.clone(), 404).await;
    let r = alice
        .send(
            Method::PUT,
            "/me/drive",
            &[("client-request-id", "custom-id-42")],
            Some(b"x".to_vec()),
        )
        .await
        .expect(405);
    assert_eq!(
        r.header("client-request-id").as_deref(),
        Some("custom-id-42")
    );
    assert_eq!(
        envelope(&r)["error"]["innerError"]["client-request-id"],
        "custom-id-42"
    );
}

// ---------------------------------------------------------------------------------------------
// 7. Bad input: a clear 4xx, never a 500
// ---------------------------------------------------------------------------------------------

/// Names no drive item may have (JSON can carry every one of them).
const INVALID_NAMES: &[&str] = &[
    "a/b",
    "a\\b",
    "a*b",
    "a<b",
    "a>b",
    "a?b",
    "a:b",
    "a|b",
    "a\"b",
    "a\u{0}b",
    "a\u{1}b",
    "a\tb",
    "a\nb",
    "a\rb",
    "a\u{1f}b",
    "a\u{7f}b",
    " lead",
    "trail ",
    " ",
    ".",
    "..",
    "CON",
    "con",
    "con.txt",
    "PRN",
    "AUX",
    "NUL",
    "COM1",
    "LPT9",
    "desktop.ini",
    "Desktop.INI",
    ".lock",
    "x_vti_y",
    "",
];

async fn invalid_names_for_new_folders(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let ok = alice.mkdir("/me/drive/root", "ok").await;
    let ok_id = id(&ok);
    let mut failures = vec![];
    for name in INVALID_NAMES {
        let r = alice
            .post(
                "/me/drive/root/children",
                &json!({ "name": name, "folder": {} }),
            )
            .await;
        if let Err(e) = check_invalid(&r, "invalidPath") {
            failures.push(format!("POST children name {name:?}: {e}"));
        }
        let r = alice
            .post(
                &format!("/me/drive/items/{ok_id}/children"),
                &json!({ "name": name, "folder": {}, "@microsoft.graph.conflictBehavior": "rename" }),
            )
            .await;
        if let Err(e) = check_invalid(&r, "invalidPath") {
            failures.push(format!("POST children (rename) name {name:?}: {e}"));
        }
        let r = alice
            .patch(
                &format!("/me/drive/items/{ok_id}"),
                &json!({ "name": name }),
            )
            .await;
        if let Err(e) = check_invalid(&r, "invalidPath") {
            failures.push(format!("PATCH rename to {name:?}: {e}"));
        }
    }
    // Too long: one name over 400 characters, and a path over 400 characters.
    let r = alice
        .post(
            "/me/drive/root/children",
            &json!({ "name": "x".repeat(401), "folder": {} }),
        )
        .await;
    if let Err(e) = check_invalid(&r, "pathIsTooLong") {
        failures.push(format!("POST children with a 401-character name: {e}"));
    }
    let deep = alice.mkdir("/me/drive/root", &"d".repeat(250)).await;
    let r = alice
        .post(
            &format!("/me/drive/items/{}/children", id(&deep)),
            &json!({ "name": "e".repeat(200), "folder": {} }),
        )
        .await;
    if let Err(e) = check_invalid(&r, "pathIsTooLong") {
        failures.push(format!("POST children making a 452-character path: {e}"));
    }
    let r = alice
        .patch(
            &format!("/me/drive/items/{ok_id}"),
            &json!({ "parentReference": { "id": id(&deep) }, "name": "f".repeat(200) }),
        )
        .await;
    if let Err(e) = check_invalid(&r, "pathIsTooLong") {
        failures.push(format!("PATCH moving to a 452-character path: {e}"));
    }
    assert_no_failures(&failures);

    // None of it left anything behind.
    assert_eq!(
        child_names(&alice, "/me/drive/root").await,
        names(&["ok", &"d".repeat(250)])
    );
    assert!(child_names(&alice, "/me/drive/root:/ok:").await.is_empty());
    assert!(
        child_names(&alice, &format!("/me/drive/items/{}", id(&deep)))
            .await
            .is_empty()
    );
}

async fn invalid_names_in_upload_paths(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    alice.get("/me/drive").await.expect(200);
    // `/` and `:` cannot be part of a name in a URL path: once decoded they are the path's own
    // separators. Every other invalid name can be sent percent-encoded.
    let url_names: Vec<&str> = INVALID_NAMES
        .iter()
        .copied()
        .filter(|n| !n.contains('/') && !n.contains(':') && !n.is_empty())
        .collect();
    let mut failures = vec![];
    for name in &url_names {
        let e = enc(name);
        let mut paths = vec![
            format!("/me/drive/root:/{e}:/content"),
            format!("/me/drive/root:/folder/{e}:/content"),
            format!("/me/drive/root:/{e}:/createUploadSession"),
        ];
        // A dot segment is removed by URL normalisation before it is sent; only a name that
        // ends in `:` survives as one.
        if *name != "." && *name != ".." {
            paths.push(format!("/me/drive/root:/{e}/file.txt:/content"));
            paths.push(format!("/me/drive/items/root/children/{e}/content"));
        }
        for path in paths {
            let r = if path.ends_with("createUploadSession") {
                alice.post(&path, &json!({})).await
            } else {
                alice.put(&path, "x").await
            };
            if let Err(err) = check_invalid(&r, "invalidPath") {
                failures.push(format!("{name:?} in {path}: {err}"));
            }
        }
    }
    // Too long.
    let long_name = "x".repeat(401);
    let long_path = vec!["y".repeat(90); 5].join("/");
    let deep = format!("{}/{}", "d".repeat(300), "f".repeat(120));
    for path in [&long_name, &long_path, &deep] {
        let r = alice
            .put(&format!("/me/drive/root:/{path}:/content"), "x")
            .await;
        if let Err(err) = check_invalid(&r, "pathIsTooLong") {
            failures.push(format!("a {}-character path: {err}", path.len()));
        }
    }
    assert_no_failures(&failures);

    // A path that is not UTF-8 once decoded.
    let r = alice.put("/me/drive/root:/a%FFb:/content", "x").await;
    graph_error(r, 400, "invalidRequest");

    // Nothing was stored, not even the folders on the way.
    assert!(child_names(&alice, "/me/drive/root").await.is_empty());
    let drive = alice.get("/me/drive").await.expect(200).json();
    assert_eq!(drive["quota"]["used"], 0);
}

async fn malformed_json_bodies(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let file = alice.upload("a.txt", "hello").await;
    let file_id = id(&file);
    let send = |method: Method, path: String, body: Vec<u8>| {
        let alice = alice.clone();
        async move {
            alice
                .send(
                    method,
                    &path,
                    &[("content-type", "application/json")],
                    Some(body),
                )
                .await
        }
    };
    let children = "/me/drive/root/children".to_string();
    let item = format!("/me/drive/items/{file_id}");
    let session = "/me/drive/root:/big.bin:/createUploadSession".to_string();

    let bad_bodies: Vec<(Method, &String, &str)> = vec![
        (Method::POST, &children, r#"{"name": "x", "folder": {"#),
        (Method::POST, &children, "not json"),
        (Method::POST, &children, r#"{"name": 5, "folder": {}}"#),
        (Method::POST, &children, r#"{"name": ["x"], "folder": {}}"#),
        (Method::POST, &children, r#"{"name": null, "folder": {}}"#),
        (Method::POST, &children, r#"[]"#),
        (Method::POST, &children, r#""x""#),
        (Method::POST, &children, r#"{"name": "x"}"#),
        (Method::POST, &children, r#"{"name": "x", "file": {}}"#),
        (
            Method::POST,
            &children,
            r#"{"name": "x", "folder": {}, "file": {}}"#,
        ),
        (Method::POST, &children, r#"{"folder": {}}"#),
        (Method::POST, &children, "{}"),
        (Method::POST, &children, ""),
        (
            Method::POST,
            &children,
            r#"{"name": "x", "folder": {}, "fileSystemInfo": {"createdDateTime": "yesterday"}}"#,
        ),
        (
            Method::POST,
            &children,
            r#"{"name": "x", "folder": {}, "@microsoft.graph.conflictBehavior": "maybe"}"#,
        ),
        (Method::PATCH, &item, r#"{"name": "#),
        (Method::PATCH, &item, r#"{"name": 5}"#),
        (
            Method::PATCH,
            &item,
            r#"{"fileSystemInfo": {"lastModifiedDateTime": "yesterday"}}"#,
        ),
        (Method::PATCH, &item, r#"{"parentReference": "root"}"#),
        (Method::POST, &session, r#"{"item": "#),
        (Method::POST, &session, r#"{"item": {"fileSize": "big"}}"#),
    ];
    let mut failures = vec![];
    for (method, path, body) in bad_bodies {
        let r = send(method.clone(), path.clone(), body.as_bytes().to_vec()).await;
        let ok = r.status.as_u16() == 400
            && serde_json::from_slice::<Value>(&r.body)
                .is_ok_and(|b| b["error"]["code"] == "invalidRequest");
        if !ok {
            failures.push(format!(
                "{method} {path} {body:?}: {} {}",
                r.status,
                r.text()
            ));
        } else {
            envelope(&r);
        }
    }
    assert_no_failures(&failures);

    // A JSON body over 1 MiB.
    let big = json!({ "name": "big", "folder": {}, "description": "x".repeat(1_100_000) })
        .to_string()
        .into_bytes();
    for (method, path) in [
        (Method::POST, children.clone()),
        (Method::PATCH, item.clone()),
        (Method::POST, session.clone()),
    ] {
        let r = send(method, path, big.clone()).await.expect(413);
        envelope(&r);
    }

    // Nothing changed.
    assert_eq!(
        child_names(&alice, "/me/drive/root").await,
        names(&["a.txt"])
    );
    let after = alice.get(&item).await.expect(200).json();
    assert_eq!(after["eTag"], file["eTag"]);
    assert_eq!(after["name"], "a.txt");
}

async fn unknown_paths_versions_and_methods(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let file_id = id(&alice.upload("a.txt", "hello").await);

    for path in [
        "/foo",
        "/foo/bar",
        "/me",
        "/me/drive/bogus",
        "/me/drive/root/bogus",
        "/me/drive/root/children/a.txt/bogus",
        "/me/drive/root/content/children",
        "/me/drive/items",
        "/drives",
        "/users/alice",
        "/users/alice/bogus",
        "/groups",
    ] {
        graph_error(alice.get(path).await, 400, "invalidRequest");
    }
    for prefix in ["/v9", "/v1", "/v1.00", "/v2", "", "/api/v1.0"] {
        let url = format!("{}{prefix}/me/drive", server.url);
        graph_error(alice.get(&url).await, 400, "invalidRequest");
    }
    graph_error(
        alice.get(&format!("{}/v9/me/drive", server.url)).await,
        400,
        "invalidRequest",
    );

    let item = format!("/me/drive/items/{file_id}");
    let content = format!("{item}/content");
    let (drive, item_methods) = ("GET, HEAD", "GET, HEAD, PATCH, DELETE");
    let (children, content_methods) = ("GET, HEAD, POST", "GET, HEAD, PUT");
    let cases: Vec<(Method, &str, &str)> = vec![
        (Method::PUT, "/me/drive", drive),
        (Method::POST, "/me/drive", drive),
        (Method::PATCH, "/me/drive", drive),
        (Method::DELETE, "/me/drive", drive),
        (Method::POST, "/me/drive/root", item_methods),
        (Method::PUT, "/me/drive/root/children", children),
        (Method::DELETE, "/me/drive/root/children", children),
        (Method::PATCH, "/me/drive/root/children", children),
        (Method::POST, &item, item_methods),
        (Method::PUT, &item, item_methods),
        (Method::POST, &content, content_methods),
        (Method::PATCH, &content, content_methods),
        (Method::DELETE, &content, content_methods),
        (
            Method::GET,
            "/me/drive/root:/a.txt:/createUploadSession",
            "POST",
        ),
        (Method::GET, "/me/drive/root:/a.txt:/copy", "POST"),
    ];
    for (method, path, allow) in cases {
        let r = alice
            .send(method.clone(), path, &[], Some(b"{}".to_vec()))
            .await;
        assert_eq!(r.status.as_u16(), 405, "{method} {path}: {}", r.text());
        assert_eq!(
            r.header("allow").as_deref(),
            Some(allow),
            "{method} {path} names the methods it takes"
        );
        graph_error(r, 405, "notAllowed");
    }
    // The download URL takes GET and HEAD only.
    let location = alice
        .get(&content)
        .await
        .expect(302)
        .header("location")
        .unwrap();
    let r = server
        .anonymous()
        .send(Method::POST, &location, &[], None)
        .await;
    assert_eq!(r.header("allow").as_deref(), Some("GET, HEAD"));
    graph_error(r, 405, "notAllowed");
    // Nothing was touched.
    assert_eq!(alice.download(&content).await, b"hello");
    assert_eq!(
        child_names(&alice, "/me/drive/root").await,
        names(&["a.txt"])
    );

    // An upload session's URL and a copy's monitor name their methods too.
    let session = alice
        .post("/me/drive/root:/b.txt:/createUploadSession", &json!({}))
        .await
        .expect(200)
        .json()["uploadUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let r = server
        .anonymous()
        .send(Method::POST, &session, &[], None)
        .await;
    assert_eq!(r.header("allow").as_deref(), Some("GET, PUT, DELETE"));
    graph_error(r, 405, "notAllowed");
    let monitor = alice
        .post(&format!("{item}/copy"), &json!({ "name": "c.txt" }))
        .await
        .expect(202)
        .header("location")
        .unwrap();
    let r = server
        .anonymous()
        .send(Method::PUT, &monitor, &[], None)
        .await;
    assert_eq!(r.header("allow").as_deref(), Some("GET, HEAD, DELETE"));
    graph_error(r, 405, "notAllowed");
}

async fn invalid_query_options(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    for n in ["1.txt", "2.txt", "3.txt"] {
        alice.upload(&format!("f/{n}"), "x").await;
    }
    let list = "/me/drive/root:/f:/children";

    let mut failures = vec![];
    for q in [
        "$top=abc",
        "$top=0",
        "$top=-1",
        "$top=1.5",
        "$top=",
        "top=abc",
        "%24top=0",
        "$orderby=size",
        "$orderby=size desc",
        "$orderby=name sideways",
        "$expand=bogus",
    ] {
        let r = alice.get(&format!("{list}?{q}")).await;
        if let Err(e) = check_invalid(&r, "invalidQueryOption") {
            failures.push(format!("?{q}: {e}"));
        }
    }
    for q in [
        "$skiptoken=garbage",
        "$skiptoken=%00%FF",
        "skiptoken=garbage",
    ] {
        let r = alice.get(&format!("{list}?{q}")).await;
        if r.status.as_u16() != 400 {
            failures.push(format!("?{q}: {} {}", r.status, r.text()));
        }
    }
    assert_no_failures(&failures);
    graph_error(
        alice.get(&format!("{list}?$skiptoken=garbage")).await,
        400,
        "invalidRequest",
    );

    // The valid forms work, so the 400s above are about the values.
    let page = alice
        .get(&format!("{list}?$top=2"))
        .await
        .expect(200)
        .json();
    assert_eq!(page["value"].as_array().unwrap().len(), 2);
    let next = page["@odata.nextLink"].as_str().expect("nextLink");
    let rest = alice.get(next).await.expect(200).json();
    assert_eq!(rest["value"].as_array().unwrap().len(), 1);
    alice
        .get(&format!("{list}?$orderby=name desc"))
        .await
        .expect(200);

    // An unknown conflict behaviour, in the query or the body, creates nothing.
    let mut failures = vec![];
    for q in [
        "@microsoft.graph.conflictBehavior=maybe",
        "%40microsoft.graph.conflictBehavior=maybe",
    ] {
        let r = alice
            .post(
                &format!("/me/drive/root/children?{q}"),
                &json!({ "name": "new", "folder": {} }),
            )
            .await;
        if let Err(e) = check_invalid(&r, "invalidQueryOption") {
            failures.push(format!("POST children ?{q}: {e}"));
        }
        let r = alice
            .put(&format!("/me/drive/root:/new.txt:/content?{q}"), "x")
            .await;
        if let Err(e) = check_invalid(&r, "invalidQueryOption") {
            failures.push(format!("PUT content ?{q}: {e}"));
        }
        let r = alice
            .put(&format!("/me/drive/root:/f/1.txt:/content?{q}"), "changed")
            .await;
        if let Err(e) = check_invalid(&r, "invalidQueryOption") {
            failures.push(format!("PUT content over an existing file ?{q}: {e}"));
        }
    }
    assert_no_failures(&failures);
    graph_error(
        alice
            .post(
                "/me/drive/root/children",
                &json!({ "name": "new", "folder": {}, "@microsoft.graph.conflictBehavior": "maybe" }),
            )
            .await,
        400,
        "invalidRequest",
    );
    assert_eq!(child_names(&alice, "/me/drive/root").await, names(&["f"]));
    assert_eq!(
        alice.download("/me/drive/root:/f/1.txt:/content").await,
        b"x"
    );
}

async fn simple_upload_size_limit(backend: Backend) {
    let server = TestServer::start_with(backend, &["--max-upload-size", "1000"]).await;
    let alice = server.new_user("alice");
    let folder = alice.mkdir("/me/drive/root", "up").await;
    let folder_id = id(&folder);

    // Exactly the limit is accepted.
    let exact = alice
        .put("/me/drive/root:/up/exact.bin:/content", vec![1u8; 1000])
        .await
        .expect(201)
        .json();
    assert_eq!(exact["size"], 1000);

    let too_big = vec![7u8; 2000];
    for path in [
        "/me/drive/root:/up/big.bin:/content".to_string(),
        format!("/me/drive/items/{folder_id}:/big2.bin:/content"),
        "/me/drive/root:/big.bin:/content".to_string(),
        "/me/drive/root:/newdir/big.bin:/content".to_string(),
    ] {
        let r = alice.put(&path, too_big.clone()).await.expect(413);
        let body = envelope(&r);
        assert_eq!(
            body["error"]["innerError"]["code"], "maxFileSizeExceeded",
            "{body}"
        );
    }
    not_found(alice.get("/me/drive/root:/up/big.bin").await);
    not_found(alice.get("/me/drive/root:/up/big2.bin").await);
    not_found(alice.get("/me/drive/root:/big.bin").await);
    not_found(alice.get("/me/drive/root:/newdir").await);
    assert_eq!(
        child_names(&alice, "/me/drive/root:/up:").await,
        names(&["exact.bin"])
    );
    assert_eq!(child_names(&alice, "/me/drive/root").await, names(&["up"]));

    // Replacing an existing file with too much keeps the old content.
    let r = alice
        .put(&format!("/me/drive/items/{}/content", id(&exact)), too_big)
        .await
        .expect(413);
    envelope(&r);
    let after = alice
        .get(&format!("/me/drive/items/{}", id(&exact)))
        .await
        .expect(200)
        .json();
    assert_eq!(after["size"], 1000);
    assert_eq!(after["eTag"], exact["eTag"]);
    assert_eq!(
        alice
            .download(&format!("/me/drive/items/{}/content", id(&exact)))
            .await,
        vec![1u8; 1000]
    );
    let drive = alice.get("/me/drive").await.expect(200).json();
    assert_eq!(drive["quota"]["used"], 1000);
    let up = alice.get("/me/drive/root:/up").await.expect(200).json();
    assert_eq!(up["folder"]["childCount"], 1);
    assert_eq!(up["size"], 1000);
}
