//! rclone keeping a tree in step with a drive, as people use it every day: `sync` after local
//! changes (also with `--track-renames`), `copy` over existing files, and `bisync` with changes
//! on both sides. Every changed file is re-uploaded through an upload session with no conflict
//! behaviour, which replaces the file in place.

mod common;

use std::path::Path;

use common::rclone::Rclone;
use common::{Backend, TestServer};

on_every_backend!(
    sync_after_local_changes,
    copy_over_existing_files,
    bisync_both_sides
);

/// Bytes of `len` that differ with `seed`.
fn bytes(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 11) as u8)
        .collect()
}

fn write(root: &Path, name: &str, content: &[u8]) {
    let p = root.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, content).unwrap();
}

/// Changes a file as an edit a while later does: new content and a later modification time
/// (rclone compares times to the second, and a test edits within one).
fn edit(root: &Path, name: &str, content: &[u8]) {
    write(root, name, content);
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(root.join(name))
        .unwrap()
        .set_modified(later)
        .unwrap();
}

/// A tree with nested folders and a file big enough for several upload fragments.
fn make_tree(root: &Path) {
    write(root, "a.txt", b"alpha\n");
    write(root, "b.txt", b"bravo\n");
    write(root, "dir1/c.txt", b"charlie\n");
    write(root, "dir1/sub/d.bin", &bytes(700_000, 1));
    write(root, "dir2/e.txt", b"echo\n");
}

struct Setup {
    server: TestServer,
    api: common::Api,
    rclone: Rclone,
    work: tempfile::TempDir,
}

async fn setup(backend: Backend) -> Setup {
    let server = TestServer::start(backend).await;
    let token = server.user_token("alice", &["Files.ReadWrite"]);
    let api = server.client(&token);
    let drive = api.get("/me/drive").await.expect(200).json();
    let work = tempfile::tempdir().unwrap();
    let rclone = Rclone::new(&server, &token, drive["id"].as_str().unwrap(), work.path());
    Setup {
        server,
        api,
        rclone,
        work,
    }
}

fn id_of(v: &serde_json::Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

async fn sync_after_local_changes(backend: Backend) {
    let s = setup(backend).await;
    let local = s.work.path().join("local");
    let l = local.to_string_lossy().to_string();
    make_tree(&local);
    s.rclone.run(&["sync", &l, "gd:s"]);
    s.rclone.run(&["check", "--download", &l, "gd:s"]);
    let a_before = s
        .api
        .get("/me/drive/root:/s/a.txt")
        .await
        .expect(200)
        .json();
    let d_before = s
        .api
        .get("/me/drive/root:/s/dir1/sub/d.bin")
        .await
        .expect(200)
        .json();

    // Modify (same size and a new size), delete, rename, add.
    edit(&local, "a.txt", b"ALPHA\n");
    edit(&local, "dir1/sub/d.bin", &bytes(1_000_000, 2));
    std::fs::remove_file(local.join("b.txt")).unwrap();
    std::fs::rename(local.join("dir2/e.txt"), local.join("dir2/e renamed.txt")).unwrap();
    write(&local, "new.txt", b"new file\n");
    s.rclone.run(&["sync", &l, "gd:s"]);
    s.rclone.run(&["check", "--download", &l, "gd:s"]);
    let a_after = s
        .api
        .get("/me/drive/root:/s/a.txt")
        .await
        .expect(200)
        .json();
    let d_after = s
        .api
        .get("/me/drive/root:/s/dir1/sub/d.bin")
        .await
        .expect(200)
        .json();
    assert_eq!(id_of(&a_after), id_of(&a_before), "replaced in place");
    assert_ne!(a_after["cTag"], a_before["cTag"]);
    assert_eq!(id_of(&d_after), id_of(&d_before), "replaced in place");
    assert_eq!(d_after["size"], 1_000_000);
    s.api.get("/me/drive/root:/s/b.txt").await.expect(404);
    s.api.get("/me/drive/root:/s/dir2/e.txt").await.expect(404);

    // A rename tracked by hash becomes a server-side move, and a changed file next to it is
    // replaced.
    std::fs::rename(local.join("dir1/c.txt"), local.join("dir1/c moved.txt")).unwrap();
    edit(&local, "new.txt", b"new file, changed\n");
    let c_before = s
        .api
        .get("/me/drive/root:/s/dir1/c.txt")
        .await
        .expect(200)
        .json();
    s.rclone.run(&["sync", "--track-renames", &l, "gd:s"]);
    s.rclone.run(&["check", "--download", &l, "gd:s"]);
    let c_after = s
        .api
        .get("/me/drive/root:/s/dir1/c moved.txt")
        .await
        .expect(200)
        .json();
    assert_eq!(
        id_of(&c_after),
        id_of(&c_before),
        "the rename moved the item"
    );
    s.server.assert_store_consistent().await;
}

async fn copy_over_existing_files(backend: Backend) {
    let s = setup(backend).await;
    let local = s.work.path().join("local");
    let l = local.to_string_lossy().to_string();
    make_tree(&local);
    s.rclone.run(&["copy", &l, "gd:c"]);
    // New content of the same size, and of new sizes, over every existing file.
    write(&local, "a.txt", b"ALPHA\n");
    write(&local, "b.txt", b"bravo, longer now\n");
    write(&local, "dir1/sub/d.bin", &bytes(400_000, 3));
    s.rclone.run(&["copy", "--ignore-times", &l, "gd:c"]);
    s.rclone.run(&["check", "--download", &l, "gd:c"]);
    // Copying the same bytes again changes nothing and fails nothing.
    s.rclone.run(&["copy", "--ignore-times", &l, "gd:c"]);
    s.rclone.run(&["check", "--download", &l, "gd:c"]);
    let listed = s
        .api
        .get("/me/drive/root:/c:/children")
        .await
        .expect(200)
        .json();
    let names: Vec<&str> = listed["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a.txt", "b.txt", "dir1", "dir2"], "no duplicates");
    s.server.assert_store_consistent().await;
}

async fn bisync_both_sides(backend: Backend) {
    let s = setup(backend).await;
    let local = s.work.path().join("local");
    let l = local.to_string_lossy().to_string();
    let workdir = s.work.path().join("bisync-state");
    let w = workdir.to_string_lossy().to_string();
    make_tree(&local);
    s.rclone.run(&["mkdir", "gd:b"]);
    s.rclone
        .run(&["bisync", &l, "gd:b", "--resync", "--workdir", &w]);
    s.rclone.run(&["check", "--download", &l, "gd:b"]);

    // Changes on both sides: a local edit and a local new file; a remote edit (by another
    // client, through the API), a remote new file and a remote delete.
    edit(&local, "a.txt", b"alpha, edited here\n");
    write(&local, "dir1/local new.txt", b"made locally\n");
    s.api
        .upload("b/dir2/e.txt", b"echo, edited remotely\n".to_vec())
        .await;
    s.api
        .upload("b/remote new.txt", b"made remotely\n".to_vec())
        .await;
    s.api
        .delete("/me/drive/root:/b/dir1/c.txt")
        .await
        .expect(204);
    s.rclone.run(&["bisync", &l, "gd:b", "--workdir", &w]);

    assert_eq!(
        std::fs::read(local.join("dir2/e.txt")).unwrap(),
        b"echo, edited remotely\n"
    );
    assert_eq!(
        std::fs::read(local.join("remote new.txt")).unwrap(),
        b"made remotely\n"
    );
    assert!(
        !local.join("dir1/c.txt").exists(),
        "the remote delete came down"
    );
    assert_eq!(
        s.api.download("/me/drive/root:/b/a.txt:/content").await,
        b"alpha, edited here\n"
    );
    assert_eq!(
        s.api
            .download("/me/drive/root:/b/dir1/local new.txt:/content")
            .await,
        b"made locally\n"
    );
    s.rclone.run(&["check", "--download", &l, "gd:b"]);
    s.server.assert_store_consistent().await;
}
