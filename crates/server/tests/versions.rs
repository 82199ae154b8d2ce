//! File versions: replacing content keeps the old content as a version (names and times make
//! none); versions are listed newest first, downloaded, restored and deleted; only the newest
//! `--max-versions` stay; a copy keeps them when asked (`includeAllVersionHistory`).

mod common;

use common::{Api, Backend, TestServer, get_ok, wait_for_copy};
use serde_json::{Value, json};

on_every_backend!(replaced_content_is_kept, only_the_newest_versions_stay);

async fn versions(api: &Api, path: &str) -> Vec<Value> {
    get_ok(api, &format!("/me/drive/root:/{path}:/versions")).await["value"]
        .as_array()
        .unwrap()
        .clone()
}

fn version_ids(list: &[Value]) -> Vec<&str> {
    list.iter().map(|v| v["id"].as_str().unwrap()).collect()
}

async fn copy(api: &Api, id: &str, body: Value) {
    let r = api
        .post(&format!("/me/drive/items/{id}/copy"), &body)
        .await
        .expect(202);
    assert_eq!(
        wait_for_copy(&r.header("location").unwrap()).await["status"],
        "completed"
    );
}

async fn replaced_content_is_kept(backend: Backend) {
    let server = TestServer::start(backend).await;
    let api = server.new_user("alice");
    for content in ["one", "two!", "three"] {
        api.upload("f.txt", content).await;
    }
    let list = versions(&api, "f.txt").await;
    assert_eq!(version_ids(&list), ["3.0", "2.0", "1.0"]);
    assert_eq!(
        list.iter()
            .map(|v| v["size"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [5, 4, 3]
    );
    assert_eq!(list[2]["lastModifiedBy"]["user"]["displayName"], "alice");

    // Times and names make no version.
    let id = get_ok(&api, "/me/drive/root:/f.txt").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    api.patch(
        &format!("/me/drive/items/{id}"),
        &json!({ "fileSystemInfo": { "lastModifiedDateTime": "2020-01-01T00:00:00Z" } }),
    )
    .await
    .expect(200);
    api.patch(
        &format!("/me/drive/items/{id}"),
        &json!({ "name": "g.txt" }),
    )
    .await
    .expect(200);
    assert_eq!(
        version_ids(&versions(&api, "g.txt").await),
        ["3.0", "2.0", "1.0"]
    );

    // One version, its bytes, and bringing it back.
    let one = get_ok(&api, &format!("/me/drive/items/{id}/versions/1.0")).await;
    assert_eq!(one["size"], 3);
    assert_eq!(
        api.download(&format!("/me/drive/items/{id}/versions/1.0/content"))
            .await,
        b"one"
    );
    api.post(
        &format!("/me/drive/items/{id}/versions/1.0/restoreVersion"),
        &json!({}),
    )
    .await
    .expect(204);
    assert_eq!(api.download("/me/drive/root:/g.txt:/content").await, b"one");
    assert_eq!(
        version_ids(&versions(&api, "g.txt").await),
        ["4.0", "3.0", "2.0", "1.0"]
    );

    // Deleting versions: an earlier one goes; the current one, or one that is not there, cannot.
    api.delete(&format!("/me/drive/items/{id}/versions/2.0"))
        .await
        .expect(204);
    assert_eq!(
        version_ids(&versions(&api, "g.txt").await),
        ["4.0", "3.0", "1.0"]
    );
    api.delete(&format!("/me/drive/items/{id}/versions/4.0"))
        .await
        .expect_error(400, "invalidRequest");
    api.delete(&format!("/me/drive/items/{id}/versions/2.0"))
        .await
        .expect_error(404, "itemNotFound");
    api.get(&format!("/me/drive/items/{id}/versions/bogus"))
        .await
        .expect_error(404, "itemNotFound");
    api.mkdir("/me/drive/root", "folder").await;
    api.get("/me/drive/root:/folder:/versions")
        .await
        .expect_error(400, "invalidRequest");

    // A copy carries the current content only.
    let r = api
        .post(
            &format!("/me/drive/items/{id}/copy"),
            &json!({ "name": "copy.txt" }),
        )
        .await
        .expect(202);
    assert_eq!(
        wait_for_copy(&r.header("location").unwrap()).await["status"],
        "completed"
    );
    assert_eq!(versions(&api, "copy.txt").await.len(), 1);
    assert_eq!(
        api.download("/me/drive/root:/copy.txt:/content").await,
        b"one"
    );

    // With includeAllVersionHistory, a copy keeps the earlier versions (numbered anew), of a
    // file and of the files in a folder.
    copy(
        &api,
        &id,
        json!({ "name": "with history.txt", "includeAllVersionHistory": true }),
    )
    .await;
    let kept = versions(&api, "with history.txt").await;
    assert_eq!(version_ids(&kept), ["3.0", "2.0", "1.0"]);
    let copied = get_ok(&api, "/me/drive/root:/with history.txt").await;
    let copied = copied["id"].as_str().unwrap();
    assert_eq!(
        api.download(&format!("/me/drive/items/{copied}/versions/2.0/content"))
            .await,
        b"three"
    );
    assert_eq!(
        api.download(&format!("/me/drive/items/{copied}/versions/1.0/content"))
            .await,
        b"one"
    );
    api.upload("box/h.txt", "h1").await;
    api.upload("box/h.txt", "h2").await;
    let bx = get_ok(&api, "/me/drive/root:/box").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    copy(
        &api,
        &bx,
        json!({ "name": "box copy", "includeAllVersionHistory": true }),
    )
    .await;
    assert_eq!(
        version_ids(&versions(&api, "box copy/h.txt").await),
        ["2.0", "1.0"]
    );
    copy(&api, &bx, json!({ "name": "box plain" })).await;
    assert_eq!(
        version_ids(&versions(&api, "box plain/h.txt").await),
        ["1.0"]
    );
    server.assert_store_consistent().await;

    // Deleting the file for good releases every version's bytes.
    api.post(&format!("/me/drive/items/{id}/permanentDelete"), &json!({}))
        .await
        .expect(204);
    server.assert_store_consistent().await;
}

async fn only_the_newest_versions_stay(backend: Backend) {
    let server = TestServer::start_with(backend, &["--max-versions", "3"]).await;
    let api = server.new_user("alice");
    for n in 1..=6 {
        api.upload("f.txt", format!("content {n}")).await;
    }
    assert_eq!(
        version_ids(&versions(&api, "f.txt").await),
        ["6.0", "5.0", "4.0"]
    );
    let id = get_ok(&api, "/me/drive/root:/f.txt").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    api.get(&format!("/me/drive/items/{id}/versions/3.0"))
        .await
        .expect_error(404, "itemNotFound");
    assert_eq!(
        api.download(&format!("/me/drive/items/{id}/versions/4.0/content"))
            .await,
        b"content 4"
    );
    server.assert_store_consistent().await;
}
