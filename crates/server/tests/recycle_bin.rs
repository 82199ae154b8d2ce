//! The recycle bin: a delete moves an item (and all below it) out of the tree in one step; it can
//! be restored with its id, where it was or elsewhere; permanentDelete skips the bin; upkeep
//! purges what is past its retention and the bytes go with it.

mod common;

use common::delta::round;
use common::{Api, Backend, Options, TestServer, doubled_tree, get_ok};
use serde_json::{Value, json};

on_every_backend!(
    deleted_items_wait_until_restored,
    restore_names_places_and_refusals,
    permanent_delete_and_purge_release_the_bytes,
    a_large_folder_comes_back_whole,
);

async fn id_of(api: &Api, path: &str) -> String {
    get_ok(api, &format!("/me/drive/root:/{path}")).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn bin(api: &Api) -> Vec<Value> {
    get_ok(api, "/me/drive/recycleBin/items").await["value"]
        .as_array()
        .unwrap()
        .clone()
}

async fn quota(api: &Api) -> Value {
    get_ok(api, "/me/drive").await["quota"].clone()
}

async fn deleted_items_wait_until_restored(backend: Backend) {
    let server = TestServer::start(backend).await;
    let api = server.new_user("alice");
    api.upload("docs/a.txt", "alpha").await;
    api.upload("docs/sub/b.txt", "bravo!").await;
    let docs = id_of(&api, "docs").await;
    let b = id_of(&api, "docs/sub/b.txt").await;
    let (_, link, _) = round(&api, "/me/drive/root/delta").await;

    // A mismatched If-Match deletes nothing.
    api.send(
        reqwest::Method::DELETE,
        &format!("/me/drive/items/{docs}"),
        &[("if-match", "\"nope\"")],
        None,
    )
    .await
    .expect_error(412, "resourceModified");
    api.delete(&format!("/me/drive/items/{docs}"))
        .await
        .expect(204);
    // Gone from paths, listings and ids, down to the deepest item.
    api.get("/me/drive/root:/docs")
        .await
        .expect_error(404, "itemNotFound");
    api.get(&format!("/me/drive/items/{b}"))
        .await
        .expect_error(404, "itemNotFound");
    api.get(&format!("/me/drive/items/{docs}/children"))
        .await
        .expect_error(404, "itemNotFound");
    assert_eq!(
        get_ok(&api, "/me/drive/root/children").await["value"],
        json!([])
    );
    let q = quota(&api).await;
    assert_eq!(
        (
            q["used"].as_i64(),
            q["deleted"].as_i64(),
            q["fileCount"].as_i64()
        ),
        (Some(11), Some(11), Some(0))
    );

    let listed = bin(&api).await;
    assert_eq!(listed.len(), 1);
    let entry = &listed[0];
    assert_eq!(entry["id"], docs.as_str());
    assert_eq!(entry["name"], "docs");
    assert_eq!(entry["size"], 11);
    assert_eq!(entry["deletedFromLocation"], "/drive/root:");
    assert_eq!(entry["deletedBy"]["user"]["displayName"], "alice");
    assert!(entry["deletedDateTime"].is_string() && entry["folder"].is_object());

    // Delta shows the delete, then the restore with all it brings back.
    let (deleted, link, _) = round(&api, &link).await;
    assert_eq!(deleted.len(), 1);
    assert!(deleted[0]["deleted"].is_object());
    let restored = api
        .post(&format!("/me/drive/items/{docs}/restore"), &json!({}))
        .await
        .expect(200)
        .json();
    assert_eq!(restored["id"], docs.as_str());
    assert_eq!(restored["parentReference"]["path"], "/drive/root:");
    assert_eq!(
        get_ok(&api, "/me/drive/root:/docs/sub/b.txt").await["id"],
        b.as_str()
    );
    assert_eq!(
        api.download("/me/drive/root:/docs/sub/b.txt:/content")
            .await,
        b"bravo!"
    );
    assert!(bin(&api).await.is_empty());
    let q = quota(&api).await;
    assert_eq!(
        (
            q["used"].as_i64(),
            q["deleted"].as_i64(),
            q["fileCount"].as_i64()
        ),
        (Some(11), Some(0), Some(2))
    );
    let (back, _, _) = round(&api, &link).await;
    let mut names: Vec<&str> = back.iter().map(|v| v["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["a.txt", "b.txt", "docs", "sub"]);
    server.assert_store_consistent().await;
}

async fn restore_names_places_and_refusals(backend: Backend) {
    let server = TestServer::start(backend).await;
    let api = server.new_user("alice");
    api.upload("keep/note.txt", "one").await;
    api.mkdir("/me/drive/root", "elsewhere").await;
    let note = id_of(&api, "keep/note.txt").await;
    api.delete(&format!("/me/drive/items/{note}"))
        .await
        .expect(204);

    // The name is taken meanwhile: 409 by default, a new name with `rename`.
    api.upload("keep/note.txt", "two").await;
    api.post(&format!("/me/drive/items/{note}/restore"), &json!({}))
        .await
        .expect_error(409, "nameAlreadyExists");
    let renamed = api
        .post(
            &format!("/me/drive/items/{note}/restore?@microsoft.graph.conflictBehavior=rename"),
            &json!({}),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(renamed["name"], "note 1.txt");

    // Elsewhere, under another name, as the body asks.
    let elsewhere = id_of(&api, "elsewhere").await;
    api.delete(&format!("/me/drive/items/{note}"))
        .await
        .expect(204);
    let moved = api
        .post(
            &format!("/me/drive/items/{note}/restore"),
            &json!({ "parentReference": { "id": elsewhere }, "name": "kept.txt" }),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(moved["parentReference"]["path"], "/drive/root:/elsewhere");
    assert_eq!(
        api.download("/me/drive/root:/elsewhere/kept.txt:/content")
            .await,
        b"one"
    );

    // An item whose folder went to the bin after it comes back to the root.
    api.delete(&format!("/me/drive/items/{note}"))
        .await
        .expect(204);
    api.delete(&format!("/me/drive/items/{elsewhere}"))
        .await
        .expect(204);
    let home = api
        .post(&format!("/me/drive/items/{note}/restore"), &json!({}))
        .await
        .expect(200)
        .json();
    assert_eq!(home["parentReference"]["path"], "/drive/root:");

    // Only what is in the bin can be restored; bodies and names are checked.
    api.post(&format!("/me/drive/items/{note}/restore"), &json!({}))
        .await
        .expect_error(404, "itemNotFound");
    api.post("/me/drive/items/00000000000fffff/restore", &json!({}))
        .await
        .expect_error(404, "itemNotFound");
    api.post(
        &format!("/me/drive/items/{elsewhere}/restore"),
        &json!({ "name": "a/b" }),
    )
    .await
    .expect_error(400, "invalidRequest");
    api.post(
        &format!("/me/drive/items/{elsewhere}/restore"),
        &json!({ "parentReference": { "id": "00000000000fffff" } }),
    )
    .await
    .expect_error(404, "itemNotFound");
    api.send(
        reqwest::Method::POST,
        &format!("/me/drive/items/{elsewhere}/restore"),
        &[("content-type", "application/json")],
        Some(b"{".to_vec()),
    )
    .await
    .expect_error(400, "invalidRequest");
    // Another user's bin is out of reach.
    let bob = server.new_user("bob");
    bob.post(&format!("/me/drive/items/{elsewhere}/restore"), &json!({}))
        .await
        .expect_error(404, "itemNotFound");
    assert!(bin(&bob).await.is_empty());
    api.delete("/me/drive/root")
        .await
        .expect_error(400, "invalidRequest");
    server.assert_store_consistent().await;
}

async fn permanent_delete_and_purge_release_the_bytes(backend: Backend) {
    let server = TestServer::start_opts(
        backend,
        Options {
            serve_args: &[
                "--recycle-bin-days",
                "0",
                "--upkeep-interval-ms",
                "200",
                "--blob-grace-secs",
                "0",
            ],
            ..Options::default()
        },
    )
    .await;
    let api = server.new_user("alice");
    api.upload("a.txt", "alpha").await;
    api.upload("b.txt", "bravo").await;
    let mut stored = Vec::new();
    for bytes in ["alpha", "bravo"] {
        let at = server
            .blob_location(bytes.as_bytes())
            .await
            .expect("stored");
        assert!(
            at.exists().await,
            "the bytes of {bytes} are missing from {at:?}"
        );
        stored.push((bytes, at));
    }
    let a = id_of(&api, "a.txt").await;
    api.post(&format!("/me/drive/items/{a}/permanentDelete"), &json!({}))
        .await
        .expect(204);
    assert!(bin(&api).await.is_empty(), "permanentDelete skips the bin");
    api.post(&format!("/me/drive/items/{a}/permanentDelete"), &json!({}))
        .await
        .expect_error(404, "itemNotFound");

    // With no retention, upkeep purges the bin at its next round.
    let b = id_of(&api, "b.txt").await;
    api.delete(&format!("/me/drive/items/{b}"))
        .await
        .expect(204);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !bin(&api).await.is_empty() || quota(&api).await["used"] != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the bin was never purged"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    api.post(&format!("/me/drive/items/{b}/restore"), &json!({}))
        .await
        .expect_error(404, "itemNotFound");
    server.assert_store_consistent().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    for (bytes, at) in stored {
        while at.exists().await {
            assert!(
                std::time::Instant::now() < deadline,
                "the bytes of {bytes} stay"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

async fn a_large_folder_comes_back_whole(backend: Backend) {
    let server = TestServer::start(backend).await;
    let api = server.new_user("alice");
    let rounds = 16;
    let top = doubled_tree(&api, rounds).await;
    let files = 1i64 << rounds;
    assert_eq!(quota(&api).await["fileCount"], files);
    let (_, link, _) = round(&api, "/me/drive/root/delta?token=latest").await;

    api.delete(&format!("/me/drive/items/{top}"))
        .await
        .expect(204);
    assert_eq!(quota(&api).await["fileCount"], 0);
    let deep = format!("t{rounds}/{}f", "l/".repeat(rounds));
    api.get(&format!("/me/drive/root:/{deep}"))
        .await
        .expect_error(404, "itemNotFound");
    let (gone, link, _) = round(&api, &link).await;
    assert_eq!(gone.len(), 1, "one entry for the whole folder");

    api.post(&format!("/me/drive/items/{top}/restore"), &json!({}))
        .await
        .expect(200);
    assert_eq!(quota(&api).await["fileCount"], files);
    assert_eq!(
        get_ok(&api, &format!("/me/drive/root:/{deep}")).await["size"],
        1
    );
    // Delta brings the whole folder back to a client that saw it go.
    let (back, _, _) = round(&api, &format!("{link}&$top=1000&$select=id")).await;
    let alive = back.iter().filter(|v| !v["deleted"].is_object()).count() as i64;
    assert_eq!(
        alive,
        3 * files - 1,
        "the folder and every file and folder below it"
    );
    server.assert_store_consistent().await;
}
