//! The operator's commands against a running server: users (list, show, disable, enable,
//! remove), groups and their members, drive quotas (enforced on uploads, upload sessions and
//! copies), tokens, and start-up errors that say what is wrong.

mod common;

use common::{Backend, TestServer, put_fragment};
use serde_json::{Value, json};

on_every_backend!(
    users_listed_shown_disabled_and_removed,
    group_members_come_and_go,
    quota_counts_uploads_sessions_and_copies,
    token_scopes_are_checked,
    second_server_on_a_data_dir_refuses,
);

fn cli_json(server: &TestServer, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = server.cli(&all);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn cli_fails(server: &TestServer, args: &[&str]) -> String {
    let out = server.cli_output(args);
    assert!(!out.status.success(), "graphdrive {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).to_string()
}

async fn users_listed_shown_disabled_and_removed(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let bob = server.new_user("bob");
    server.cli(&["user", "add", "carol", "--display-name", "Carol C"]);
    alice.upload("a.txt", b"hello".to_vec()).await;
    bob.get("/me/drive").await.expect(200);

    let users = cli_json(&server, &["user", "list"]);
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob", "carol"]);
    assert_eq!(users[0]["drive"]["used"], 5);
    assert_eq!(users[0]["drive"]["files"], 1);
    assert_eq!(users[2]["drive"], Value::Null, "carol never used her drive");
    assert_eq!(users[2]["displayName"], "Carol C");
    let table = server.cli(&["user", "list"]);
    let header = table.lines().next().unwrap();
    assert!(
        header.starts_with("NAME") && header.contains("USED"),
        "{table}"
    );
    assert!(
        table.lines().nth(1).unwrap().starts_with("alice"),
        "{table}"
    );
    let shown = server.cli(&["user", "show", "alice"]);
    assert!(
        shown.contains("enabled") && shown.contains("5 B"),
        "{shown}"
    );

    // Disabled: the token already issued stops at once, and no new one is issued.
    let disabled = cli_json(&server, &["user", "disable", "alice"]);
    assert_eq!(disabled["enabled"], false);
    alice
        .get("/me/drive")
        .await
        .expect_error(401, "InvalidAuthenticationToken");
    let refused = cli_fails(
        &server,
        &["token", "--user", "alice", "--scope", "Files.Read"],
    );
    assert!(refused.contains("disabled"), "{refused}");
    assert_eq!(
        cli_json(&server, &["user", "enable", "alice"])["enabled"],
        true
    );
    alice.get("/me/drive").await.expect(200);

    // Removal: refused while the drive holds data, unless the drive goes too.
    let refused = cli_fails(&server, &["user", "remove", "alice"]);
    assert!(refused.contains("--delete-drive"), "{refused}");
    alice.get("/me/drive").await.expect(200);
    let removed = cli_json(&server, &["user", "remove", "alice", "--delete-drive"]);
    assert!(removed["drive"].is_string(), "{removed}");
    alice
        .get("/me/drive")
        .await
        .expect_error(401, "InvalidAuthenticationToken");
    // An empty drive goes with its user without asking.
    server.cli(&["user", "remove", "bob"]);
    let names: Vec<Value> = cli_json(&server, &["user", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].clone())
        .collect();
    assert_eq!(names, [json!("carol")]);
    let missing = cli_fails(&server, &["user", "show", "alice"]);
    assert!(missing.contains("no user named \"alice\""), "{missing}");
    // The name can be taken again, with a new, empty drive.
    let again = server.new_user("alice");
    let root = again
        .get("/me/drive/root/children")
        .await
        .expect(200)
        .json();
    assert_eq!(root["value"], json!([]));
    server.assert_store_consistent().await;
}

async fn group_members_come_and_go(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let bob = server.new_user("bob");
    server.cli(&["group", "add", "team", "--member", "alice"]);
    alice
        .put(
            "/groups/team/drive/root:/plan.txt:/content",
            b"plan".to_vec(),
        )
        .await
        .expect(201);
    bob.get("/groups/team/drive/root").await.expect(403);

    let team = cli_json(&server, &["group", "add-member", "team", "bob"]);
    assert_eq!(team["members"], json!(["alice", "bob"]));
    bob.get("/groups/team/drive/root:/plan.txt")
        .await
        .expect(200);
    let groups = cli_json(&server, &["group", "list"]);
    assert_eq!(groups[0]["name"], "team");
    assert_eq!(groups[0]["drive"]["used"], 4);
    assert_eq!(
        cli_json(&server, &["user", "show", "bob"])["groups"],
        json!(["team"])
    );

    let team = cli_json(&server, &["group", "remove-member", "team", "alice"]);
    assert_eq!(team["members"], json!(["bob"]));
    alice.get("/groups/team/drive/root").await.expect(403);
    let err = cli_fails(&server, &["group", "remove-member", "team", "alice"]);
    assert!(err.contains("not a member"), "{err}");
    let err = cli_fails(&server, &["group", "add-member", "team", "nobody"]);
    assert!(err.contains("no user named \"nobody\""), "{err}");
}

/// `drive quota set`: a write that would pass the quota is `507 quotaLimitReached`, whether it
/// is a simple upload, an upload session (its declared size counts from its creation) or a copy.
async fn quota_counts_uploads_sessions_and_copies(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let set = cli_json(&server, &["drive", "quota", "set", "alice", "3MB"]);
    assert_eq!(set["quota"], 3_000_000);
    let drive = alice.get("/me/drive").await.expect(200).json();
    assert_eq!(drive["quota"]["total"], 3_000_000);

    alice.upload("one.bin", vec![1u8; 1_000_000]).await;
    alice
        .put("/me/drive/root:/big.bin:/content", vec![2u8; 2_500_000])
        .await
        .expect_error(507, "quotaLimitReached");

    // Sessions hold room for what they announce: 1.9 MB fits once, not twice.
    let session = |name: &str, size: i64| {
        let alice = &alice;
        let body = json!({ "item": { "@microsoft.graph.conflictBehavior": "replace" } });
        let path = format!("/me/drive/root:/{name}:/createUploadSession");
        async move {
            let mut body = body;
            body["item"]["fileSize"] = json!(size);
            alice.post(&path, &body).await
        }
    };
    let first = session("s1.bin", 1_900_000).await.expect(200).json();
    session("s2.bin", 1_900_000)
        .await
        .expect_error(507, "quotaLimitReached");
    alice
        .put("/me/drive/root:/small.bin:/content", vec![3u8; 200_000])
        .await
        .expect_error(507, "quotaLimitReached");
    let used = cli_json(&server, &["user", "show", "alice"]);
    assert_eq!(used["drive"]["reserved"], 1_900_000);
    // Cancelling the session gives its room back.
    let anon = server.anonymous();
    let url = first["uploadUrl"].as_str().unwrap();
    let bytes = vec![4u8; 1_900_000];
    assert_eq!(put_fragment(&anon, url, &bytes, 0, 1000).await.status, 202);
    anon.delete(url).await.expect(204);
    let s2 = session("s2.bin", 1_900_000).await.expect(200).json();
    let url = s2["uploadUrl"].as_str().unwrap();
    assert_eq!(
        put_fragment(&anon, url, &bytes, 0, bytes.len())
            .await
            .status,
        201
    );

    // 2.9 MB used: a copy of the 1 MB file does not fit.
    alice
        .post(
            "/me/drive/root:/one.bin:/copy",
            &json!({ "name": "two.bin" }),
        )
        .await
        .expect_error(507, "quotaLimitReached");
    cli_json(&server, &["drive", "quota", "set", "alice", "10MB"]);
    let monitor = alice
        .post(
            "/me/drive/root:/one.bin:/copy",
            &json!({ "name": "two.bin" }),
        )
        .await
        .expect(202)
        .header("location")
        .unwrap();
    assert_eq!(common::wait_for_copy(&monitor).await["status"], "completed");
    let err = cli_fails(&server, &["drive", "quota", "set", "alice", "lots"]);
    assert!(err.contains("not a size"), "{err}");
    let err = cli_fails(&server, &["drive", "quota", "set", "nobody", "1GB"]);
    assert!(err.contains("no user or group \"nobody\""), "{err}");
    server.assert_store_consistent().await;
}

async fn token_scopes_are_checked(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.cli(&["user", "add", "alice"]);
    let err = cli_fails(
        &server,
        &["token", "--user", "alice", "--scope", "Files.Write"],
    );
    assert!(err.contains("Unknown scope Files.Write"), "{err}");
    assert!(
        err.contains("Files.ReadWrite.All"),
        "the valid scopes are listed: {err}"
    );
    // Known scopes are taken in any case, as Entra ID does.
    server.cli(&["token", "--user", "alice", "--scope", "files.readwrite"]);
}

async fn second_server_on_a_data_dir_refuses(backend: Backend) {
    let server = TestServer::start(backend).await;
    let out = server.cli_output(&["serve", "--listen", "127.0.0.1:0"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another graphdrive server is running on the data directory"),
        "{err}"
    );
    // Commands still work beside the server.
    server.cli(&["user", "list"]);
}
