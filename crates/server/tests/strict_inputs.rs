//! Inputs that used to be taken too loosely: tokens not valid yet, item ids with a sign or
//! spaces, and renames, moves and copies that would put paths past the 400-character limit.
//!
//! The path rule: an item's whole path (its folders and its name) is at most 400 characters.
//! It is checked wherever a path comes into being: a new item, and a rename, move or copy of a
//! folder, which checks the deepest item below it. Writing new content to an existing file makes
//! no path, so it is never refused for its path.

mod common;

use std::time::Duration;

use base64::Engine;
use common::{Api, Backend, TestServer, get_ok};
use serde_json::{Value, json};

on_every_backend!(
    tokens_not_yet_valid_are_401,
    item_ids_parse_strictly,
    renames_and_moves_keep_paths_short,
    copies_keep_paths_short,
);

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A token signed with the server's own key, with the given `nbf`.
async fn token_with_nbf(server: &TestServer, user_id: &str, nbf: i64) -> String {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&server.metadata)
        .await
        .unwrap();
    let (kid, key): (String, String) =
        sqlx::query_as("SELECT kid, private_key FROM signing_keys WHERE retire_at IS NULL")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    let (tenant,): (String,) = sqlx::query_as("SELECT value FROM settings WHERE key = 'tenant_id'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let key = base64::engine::general_purpose::STANDARD
        .decode(key)
        .unwrap();
    let now = unix_now();
    let claims = json!({
        "aud": "https://graph.microsoft.com", "iss": format!("{}/{tenant}/v2.0", server.url),
        "sub": user_id, "oid": user_id, "tid": tenant, "name": "alice", "idtyp": "user",
        "scp": "Files.ReadWrite", "ver": "2.0", "uti": "x", "iat": now, "nbf": nbf,
        "exp": now + 3600,
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid);
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_der(&key),
    )
    .unwrap()
}

async fn tokens_not_yet_valid_are_401(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.cli(&["user", "add", "alice"]);
    let now = unix_now();
    for (nbf, status) in [
        (now - 10, 200),
        // A small clock skew between issuer and server is tolerated.
        (now + 30, 200),
        (now + 600, 401),
        (now + 86_400, 401),
    ] {
        let token = token_with_nbf(&server, &alice, nbf).await;
        let r = server.client(&token).get("/me/drive").await;
        assert_eq!(
            r.status.as_u16(),
            status,
            "nbf now{:+}: {}",
            nbf - now,
            r.text()
        );
        if status == 401 {
            r.expect_error(401, "InvalidAuthenticationToken");
        }
    }
}

async fn item_ids_parse_strictly(backend: Backend) {
    let server = TestServer::start(backend).await;
    let api = server.new_user("alice");
    let file = api.upload("f.txt", b"x".to_vec()).await;
    let id = file["id"].as_str().unwrap().to_string();
    get_ok(&api, &format!("/me/drive/items/{id}")).await;
    get_ok(&api, &format!("/me/drive/items/{}", id.to_lowercase())).await;
    let root = get_ok(&api, "/me/drive/root").await;
    let root_id = root["id"].as_str().unwrap();
    for bad in [
        format!("+{}", &root_id[1..]),
        format!("%2B{}", &root_id[1..]),
        format!("%20{}", &root_id[1..]),
        format!("{}%20", &root_id[1..]),
        format!("-{}", &root_id[1..]),
        format!("0x{}", &root_id[2..]),
        format!("{root_id}0"),
    ] {
        api.get(&format!("/me/drive/items/{bad}"))
            .await
            .expect_error(404, "itemNotFound");
    }
}

/// Builds `top/` with `levels` nested folders of `name_len` characters and, at the bottom, a
/// file of `file_len` characters; returns the file's item.
async fn deep_tree(api: &Api, top: &str, levels: usize, name_len: usize, file_len: usize) -> Value {
    let mut path = top.to_string();
    for l in 0..levels {
        path.push('/');
        path.push_str(&((b'a' + l as u8) as char).to_string().repeat(name_len));
    }
    path.push('/');
    path.push_str(&"f".repeat(file_len));
    api.upload(&path, b"deep".to_vec()).await
}

fn path_too_long(r: common::Resp) {
    let body = r.expect_error(400, "invalidRequest");
    assert_eq!(
        body["error"]["innerError"]["code"], "pathIsTooLong",
        "{body}"
    );
}

async fn renames_and_moves_keep_paths_short(backend: Backend) {
    let mut server = TestServer::start(backend).await;
    let api = server.new_user("alice");
    // /t (2) + 3 × 101 + 81 = 386 characters.
    let file = deep_tree(&api, "t", 3, 100, 80).await;
    let top = get_ok(&api, "/me/drive/root:/t").await;
    let top_id = top["id"].as_str().unwrap().to_string();
    path_too_long(
        api.patch(
            &format!("/me/drive/items/{top_id}"),
            &json!({ "name": "t".repeat(20) }),
        )
        .await,
    );
    let mid = get_ok(&api, &format!("/me/drive/root:/t/{}", "a".repeat(100))).await;
    path_too_long(
        api.patch(
            &format!("/me/drive/items/{}", mid["id"].as_str().unwrap()),
            &json!({ "name": "a".repeat(120) }),
        )
        .await,
    );
    // Nothing moved; a rename that still fits works.
    get_ok(
        &api,
        &format!("/me/drive/items/{}", file["id"].as_str().unwrap()),
    )
    .await;
    api.patch(
        &format!("/me/drive/items/{top_id}"),
        &json!({ "name": "t".repeat(10) }),
    )
    .await
    .expect(200);
    // A move below a folder that makes the deepest path too long, and one that fits.
    let far = api.mkdir("/me/drive/root", &"x".repeat(30)).await;
    path_too_long(
        api.patch(
            &format!("/me/drive/items/{top_id}"),
            &json!({ "parentReference": { "id": far["id"] } }),
        )
        .await,
    );
    let near = api.mkdir("/me/drive/root", "n").await;
    api.patch(
        &format!("/me/drive/items/{top_id}"),
        &json!({ "parentReference": { "id": near["id"] } }),
    )
    .await
    .expect(200);
    server.assert_store_consistent().await;

    // A file whose path is already too long (a store written before the rule) can still be
    // written by id; only new paths are checked.
    server.kill();
    server
        .run_sql(&[&format!(
            "UPDATE items SET name = '{0}', name_key = '{0}' WHERE name = 'n'",
            "n".repeat(60)
        )])
        .await;
    server.restart();
    let file_id = file["id"].as_str().unwrap();
    api.put(&format!("/me/drive/items/{file_id}/content"), "new bytes")
        .await
        .expect(200);
    let folder = get_ok(&api, &format!("/me/drive/items/{file_id}")).await;
    let parent = folder["parentReference"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    path_too_long(
        api.put(
            &format!("/me/drive/items/{parent}:/{}:/content", "g".repeat(80)),
            "x",
        )
        .await,
    );
}

/// Polls a copy's monitor until it ends; returns its last status.
async fn copy_and_wait(api: &Api, source: &str, dest_id: &str) -> Value {
    let r = api
        .post(
            &format!("/me/drive/items/{source}/copy"),
            &json!({ "parentReference": { "id": dest_id } }),
        )
        .await
        .expect(202);
    let monitor = r.header("location").unwrap();
    let anon = Api::new(&api.server, None);
    for _ in 0..300 {
        let v = anon.get(&monitor).await.json();
        if v["status"] == "completed" || v["status"] == "failed" {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the copy did not end");
}

async fn copies_keep_paths_short(backend: Backend) {
    let server = TestServer::start(backend).await;
    let api = server.new_user("alice");
    deep_tree(&api, "t", 3, 100, 80).await;
    let top = get_ok(&api, "/me/drive/root:/t").await;
    let top_id = top["id"].as_str().unwrap();
    let far = api.mkdir("/me/drive/root", &"x".repeat(30)).await;
    let failed = copy_and_wait(&api, top_id, far["id"].as_str().unwrap()).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["error"]["message"]
            .as_str()
            .unwrap()
            .contains("400 characters"),
        "{failed}"
    );
    let far_now = get_ok(
        &api,
        &format!("/me/drive/items/{}", far["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(
        far_now["folder"]["childCount"], 0,
        "nothing was left behind"
    );
    // Into a folder as deep as the source's, the copy fits.
    let near = api.mkdir("/me/drive/root", "n").await;
    let done = copy_and_wait(&api, top_id, near["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed", "{done}");
    server.assert_store_consistent().await;
}
