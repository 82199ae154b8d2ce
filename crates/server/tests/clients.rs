//! Real clients against a real server: rclone's onedrive backend and the Microsoft Graph SDK for
//! Python. `scripts/test` installs both into `.venv`; `GRAPHDRIVE_RCLONE` and `GRAPHDRIVE_PYTHON`
//! point elsewhere.

mod common;

use std::path::Path;

use base64::Engine;
use common::rclone::{Rclone, run_sdk_script};
use common::{Backend, TestServer, hashes};
use serde_json::Value;

on_every_backend!(rclone_end_to_end, python_sdk_end_to_end);

/// A local tree with a file large enough for a multi-fragment upload session, an empty file,
/// and names with spaces and non-ASCII letters.
fn make_tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let files: Vec<(String, Vec<u8>)> = vec![
        ("a.txt".into(), b"alpha\n".to_vec()),
        ("empty.txt".into(), vec![]),
        (
            "big.bin".into(),
            (0..700_000u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect(),
        ),
        (
            "sub dir/ünïcode file.txt".into(),
            "grüße\n".as_bytes().to_vec(),
        ),
        (
            "sub dir/deep/x.dat".into(),
            (0..100_000u32).map(|i| (i % 253) as u8).collect(),
        ),
    ];
    for (name, bytes) in &files {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    files
}

fn quickxor_hex(bytes: &[u8]) -> String {
    let b64 = hashes(bytes).2;
    hex::encode(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
}

async fn rclone_end_to_end(backend: Backend) {
    let server = TestServer::start(backend).await;
    let token = server.user_token("alice", &["Files.ReadWrite"]);
    let api = server.client(&token);
    let drive = api.get("/me/drive").await.expect(200).json();
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("local");
    let files = make_tree(&local);
    let local_s = local.to_string_lossy().to_string();
    let rclone = Rclone::new(&server, &token, drive["id"].as_str().unwrap(), work.path());

    rclone.run(&["mkdir", "gd:made"]);
    assert!(api.get("/me/drive/root:/made").await.expect(200).json()["folder"].is_object());

    rclone.run(&["copy", &local_s, "gd:tree"]);
    let listing: Vec<Value> =
        serde_json::from_str(&rclone.run(&["lsjson", "-R", "--hash", "gd:tree"])).unwrap();
    for (name, bytes) in &files {
        let entry = listing
            .iter()
            .find(|e| e["Path"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} missing from {listing:?}"));
        assert_eq!(entry["Size"], bytes.len(), "{name}");
        assert_eq!(entry["Hashes"]["quickxor"], quickxor_hex(bytes), "{name}");
    }
    assert_eq!(listing.iter().filter(|e| e["IsDir"] == true).count(), 2);

    rclone.run(&["check", "--download", &local_s, "gd:tree"]);
    assert_eq!(rclone.run(&["cat", "gd:tree/a.txt"]), "alpha\n");

    // Personal-style addressing (`items/{parent}:/name:`) sees the same tree.
    let personal: Vec<Value> = serde_json::from_str(&rclone.run(&[
        "--onedrive-drive-type",
        "personal",
        "lsjson",
        "-R",
        "gd:tree",
    ]))
    .unwrap();
    assert_eq!(personal.len(), listing.len());

    // Server-side copy: rclone posts `copy` with conflictBehavior=replace and polls the monitor
    // without a token. No bytes go through the client.
    rclone.run(&["copyto", "gd:tree/big.bin", "gd:tree/big copy.bin"]);
    let original = api
        .get("/me/drive/root:/tree/big.bin")
        .await
        .expect(200)
        .json();
    let copied = api
        .get("/me/drive/root:/tree/big copy.bin")
        .await
        .expect(200)
        .json();
    assert_ne!(copied["id"], original["id"]);
    assert_eq!(copied["file"]["hashes"], original["file"]["hashes"]);
    rclone.run(&[
        "copyto",
        "gd:tree/sub dir/deep/x.dat",
        "gd:tree/big copy.bin",
    ]);
    let replaced = api
        .get("/me/drive/root:/tree/big copy.bin")
        .await
        .expect(200)
        .json();
    assert_eq!(
        replaced["size"], 100_000,
        "copyto over an existing file replaces it"
    );
    rclone.run(&["copy", "gd:tree/sub dir", "gd:tree copy"]);
    rclone.run(&[
        "check",
        &local.join("sub dir").to_string_lossy(),
        "gd:tree copy",
    ]);
    rclone.run(&["purge", "gd:tree copy"]);
    rclone.run(&["delete", "gd:tree/big copy.bin"]);

    rclone.run(&["moveto", "gd:tree/a.txt", "gd:tree/sub dir/moved.txt"]);
    api.get("/me/drive/root:/tree/a.txt").await.expect(404);
    let moved = api
        .get("/me/drive/root:/tree/sub dir/moved.txt")
        .await
        .expect(200)
        .json();
    assert_eq!(moved["size"], 6);

    let about: Value = serde_json::from_str(&rclone.run(&["about", "--json", "gd:"])).unwrap();
    let total: usize = files.iter().map(|(_, b)| b.len()).sum();
    // What rclone deleted waits in the recycle bin, which counts as used (rclone's "trashed").
    let trashed = about["trashed"].as_u64().unwrap();
    assert_eq!(about["total"], 1u64 << 40);
    assert!(trashed > 0, "{about}");
    assert_eq!(about["used"].as_u64().unwrap(), total as u64 + trashed);

    rclone.run(&["purge", "gd:tree"]);
    api.get("/me/drive/root:/tree").await.expect(404);
    let quota = &api.get("/me/drive").await.expect(200).json()["quota"];
    assert_eq!(quota["used"], quota["deleted"]);
    assert_eq!(quota["fileCount"], 0);
}

async fn python_sdk_end_to_end(backend: Backend) {
    let server = TestServer::start(backend).await;
    let token = server.user_token("carol", &["Files.ReadWrite"]);
    let seen = run_sdk_script("sdk_smoke.py", &server, &token);

    let api = server.client(&token);
    let drive = api.get("/me/drive").await.expect(200).json();
    assert_eq!(seen["drive_id"], drive["id"]);
    assert_eq!(seen["drive_type"], "business");
    assert_eq!(seen["folder_name"], "sdk folder");
    assert_eq!(seen["uploaded_size"], 18);
    assert_eq!(seen["uploaded_quickxor"], hashes(b"hello from the sdk").2);
    assert_eq!(
        seen["nested_parent_path"],
        "/drive/root:/sdk%20folder/deeper"
    );
    assert_eq!(seen["children"], serde_json::json!(["deeper", "hello.txt"]));
    assert_eq!(seen["by_path_id"], seen["uploaded_id"]);
    assert_eq!(seen["copy_status"], "completed");
    assert_eq!(seen["copy_name"], "sdk copy");
    assert_eq!(
        seen["copy_children"],
        serde_json::json!(["deeper", "hello.txt"])
    );
    let listed = api
        .get(&format!(
            "/me/drive/items/{}/children",
            seen["folder_id"].as_str().unwrap()
        ))
        .await
        .expect(200)
        .json();
    assert_eq!(listed["value"].as_array().unwrap().len(), 2);
}
