//! Drives and items over real HTTP: the ground every client stands on.

mod common;

use common::{Backend, TestServer, hashes};
use serde_json::json;

on_every_backend!(
    upload_get_download_round_trip,
    folders_and_conflicts,
    my_drives_are_mine_then_my_groups,
);

async fn upload_get_download_round_trip(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let drive = alice.get("/me/drive").await.expect(200).json();
    assert_eq!(drive["driveType"], "business");
    assert_eq!(drive["quota"]["used"], 0);

    let bytes: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let item = alice.upload("docs/reports/data.bin", bytes.clone()).await;
    let (sha1, sha256, qx) = hashes(&bytes);
    assert_eq!(item["size"], 100_000);
    assert_eq!(item["file"]["hashes"]["sha1Hash"], sha1);
    assert_eq!(item["file"]["hashes"]["sha256Hash"], sha256);
    assert_eq!(item["file"]["hashes"]["quickXorHash"], qx);
    assert_eq!(item["parentReference"]["path"], "/drive/root:/docs/reports");
    assert_eq!(item["parentReference"]["driveId"], drive["id"]);

    let id = item["id"].as_str().unwrap();
    assert_eq!(
        alice
            .download(&format!("/me/drive/items/{id}/content"))
            .await,
        bytes
    );
    let docs = alice.get("/me/drive/root:/docs").await.expect(200).json();
    assert_eq!(
        docs["size"], 100_000,
        "a folder's size is the total of its descendants"
    );
    assert_eq!(docs["folder"]["childCount"], 1);
    let by_encoded = alice
        .get(&format!(
            "/drives/{}/items/root%3A%2Fdocs%2Freports%2Fdata.bin%3A",
            drive["id"].as_str().unwrap().replace('!', "%21")
        ))
        .await
        .expect(200)
        .json();
    assert_eq!(by_encoded["id"], item["id"]);
    let _ = json!({});
}

async fn folders_and_conflicts(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let f = alice.mkdir("/me/drive/root", "My Folder").await;
    assert_eq!(f["folder"]["childCount"], 0);
    alice
        .post(
            "/me/drive/root/children",
            &json!({ "name": "my folder", "folder": {} }),
        )
        .await
        .expect_error(409, "nameAlreadyExists");
    let renamed = alice
        .post("/me/drive/root/children", &json!({ "name": "My Folder", "folder": {}, "@microsoft.graph.conflictBehavior": "rename" }))
        .await
        .expect(201)
        .json();
    assert_eq!(renamed["name"], "My Folder 1");
}

/// `GET /me/drives`: the user's own drive, then one per group they are in (made on first use),
/// and no drive of a group they are not in; `/me` needs a user.
async fn my_drives_are_mine_then_my_groups(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    server.new_user("bob");
    let team = server.cli(&["group", "add", "team", "--member", "alice"]);
    server.cli(&["group", "add", "others", "--member", "bob"]);
    let own = alice.get("/me/drive").await.expect(200).json();
    let list = alice
        .get("/me/drives?$select=id,driveType,owner")
        .await
        .expect(200)
        .json();
    let drives = list["value"].as_array().unwrap();
    assert_eq!(drives.len(), 2, "{list}");
    assert_eq!(drives[0]["id"], own["id"]);
    assert_eq!(drives[1]["driveType"], "documentLibrary");
    assert_eq!(drives[1]["owner"]["group"]["id"], team.as_str());
    assert!(drives[0].get("quota").is_none(), "$select applies: {list}");
    let group = alice
        .get(&format!("/groups/{team}/drive"))
        .await
        .expect(200)
        .json();
    assert_eq!(drives[1]["id"], group["id"]);
    let app = server.token(&["--app", "backup"], &["Files.ReadWrite.All"]);
    server
        .client(&app)
        .get("/me/drives")
        .await
        .expect_error(400, "invalidRequest");
    alice
        .post("/me/drives", &serde_json::json!({}))
        .await
        .expect(405);
}
