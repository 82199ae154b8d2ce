//! Real clients on the change journal: rclone's delta listing, `cleanup` of old versions and a
//! delete restored from the recycle bin; the Graph SDK for Python following a drive by delta.

mod common;

use common::rclone::{Rclone, run_sdk_script};
use common::{Backend, TestServer, get_ok};
use serde_json::{Value, json};

on_every_backend!(rclone_on_the_journal, python_sdk_delta_round_trip);

fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(str::to_string).collect();
    v.sort();
    v
}

/// `GET …/delta` requests the server answered, from its metrics.
async fn delta_requests(server: &TestServer) -> f64 {
    let page = server
        .anonymous()
        .get(&format!("{}/metrics", server.url))
        .await
        .expect(200)
        .text();
    page.lines()
        .filter(|l| {
            l.starts_with("graphdrive_http_requests_total{") && l.contains("route=\"delta\"")
        })
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

async fn rclone_on_the_journal(backend: Backend) {
    let server = TestServer::start(backend).await;
    let token = server.user_token("alice", &["Files.ReadWrite"]);
    let api = server.client(&token);
    let drive = get_ok(&api, "/me/drive").await;
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("local");
    for (path, bytes) in [
        ("top.txt", "top"),
        ("a/one.txt", "one"),
        ("a/b/two.txt", "two two"),
        ("a/b/c/three.txt", "three three three"),
        ("d/four.txt", "four"),
    ] {
        let p = local.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    let rclone = Rclone::new(&server, &token, drive["id"].as_str().unwrap(), work.path());
    rclone.run(&["copy", &local.to_string_lossy(), "gd:tree"]);
    api.upload("elsewhere/x.txt", "x").await;

    // A recursive listing by delta is the plain one, at the top and in a folder.
    let before = delta_requests(&server).await;
    for dir in ["gd:", "gd:tree", "gd:tree/a"] {
        let plain = rclone.run(&["lsf", "-R", dir]);
        let by_delta = rclone.run(&["lsf", "-R", "--fast-list", "--onedrive-delta", dir]);
        assert_eq!(sorted_lines(&by_delta), sorted_lines(&plain), "{dir}");
        let size = rclone.run(&["size", "--json", dir]);
        let size_by_delta = rclone.run(&["size", "--json", "--fast-list", "--onedrive-delta", dir]);
        assert_eq!(size_by_delta, size, "{dir}");
    }
    assert!(
        delta_requests(&server).await >= before + 6.0,
        "rclone listed by delta"
    );

    // Replaced content is kept as versions; `rclone cleanup` removes them.
    std::fs::write(local.join("top.txt"), "top, again").unwrap();
    rclone.run(&[
        "copyto",
        &local.join("top.txt").to_string_lossy(),
        "gd:tree/top.txt",
    ]);
    std::fs::write(local.join("top.txt"), "top, a third time").unwrap();
    rclone.run(&[
        "copyto",
        &local.join("top.txt").to_string_lossy(),
        "gd:tree/top.txt",
    ]);
    let versions = |v: Value| v["value"].as_array().unwrap().len();
    assert_eq!(
        versions(get_ok(&api, "/me/drive/root:/tree/top.txt:/versions").await),
        3
    );
    rclone.run(&["cleanup", "gd:tree"]);
    assert_eq!(
        versions(get_ok(&api, "/me/drive/root:/tree/top.txt:/versions").await),
        1
    );
    assert_eq!(rclone.run(&["cat", "gd:tree/top.txt"]), "top, a third time");

    // What rclone deletes waits in the bin, and comes back through the API.
    let two = get_ok(&api, "/me/drive/root:/tree/a/b/two.txt").await;
    rclone.run(&["delete", "gd:tree/a/b/two.txt"]);
    api.get("/me/drive/root:/tree/a/b/two.txt")
        .await
        .expect(404);
    let bin = get_ok(&api, "/me/drive/recycleBin/items").await;
    assert_eq!(bin["value"][0]["id"], two["id"]);
    api.post(
        &format!("/me/drive/items/{}/restore", two["id"].as_str().unwrap()),
        &json!({}),
    )
    .await
    .expect(200);
    assert_eq!(rclone.run(&["cat", "gd:tree/a/b/two.txt"]), "two two");
    server.assert_store_consistent().await;
}

async fn python_sdk_delta_round_trip(backend: Backend) {
    let server = TestServer::start(backend).await;
    let token = server.user_token("carol", &["Files.ReadWrite"]);
    let api = server.client(&token);
    for path in ["tree/a.txt", "tree/b.txt", "tree/sub/c.txt"] {
        api.upload(path, path).await;
    }
    let seen = run_sdk_script("delta_sync.py", &server, &token);

    let mut initial: Vec<&str> = seen["initial"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    initial.sort();
    assert_eq!(initial, ["a.txt", "b.txt", "c.txt", "root", "sub", "tree"]);
    assert!(
        seen["initial_pages"].as_u64().unwrap() >= 3,
        "$top=2 pages: {seen}"
    );

    // The deltaLink shows exactly what the script changed.
    let changes = seen["changes"].as_array().unwrap();
    let alive: Vec<(&str, &str)> = changes
        .iter()
        .filter(|e| e["deleted"] == false)
        .map(|e| (e["id"].as_str().unwrap(), e["parent"].as_str().unwrap()))
        .collect();
    assert_eq!(
        alive,
        [
            (
                seen["made_id"].as_str().unwrap(),
                seen["root_id"].as_str().unwrap()
            ),
            (
                seen["uploaded_id"].as_str().unwrap(),
                seen["made_id"].as_str().unwrap()
            ),
        ],
        "{seen}"
    );
    let gone: Vec<&Value> = changes.iter().filter(|e| e["deleted"] == true).collect();
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0]["id"], seen["gone_id"]);
    assert_eq!(seen["quiet"], json!([]));
}
