//! Delta: a first sync of the whole tree, then exactly what changed since a token, in pages whose
//! parents come first; tokens that survive restarts; a mirror kept by delta alone stays equal to
//! the tree through every kind of change.

mod common;

use common::delta::{Mirror, Rng, Tree, crawl, round};
use common::{Api, Backend, TestServer, get_ok, wait_for_copy};
use serde_json::{Value, json};

on_every_backend!(
    pages_links_and_scopes,
    old_and_bad_tokens,
    a_mirror_kept_by_delta_stays_equal_to_the_tree,
);

fn ids(entries: &[Value]) -> Vec<&str> {
    entries.iter().map(|v| v["id"].as_str().unwrap()).collect()
}

fn names(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .filter(|v| !v["deleted"].is_object())
        .map(|v| v["name"].as_str().unwrap())
        .collect()
}

async fn id_of(api: &Api, path: &str) -> String {
    get_ok(api, &format!("/me/drive/root:/{path}")).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// root/{a/{b/{c.txt}, b2.txt}, d.txt, e/{f.txt}}
async fn small_tree(api: &Api) {
    api.upload("a/b/c.txt", "c").await;
    api.upload("a/b2.txt", "b2").await;
    api.upload("d.txt", "d").await;
    api.upload("e/f.txt", "f").await;
}

async fn pages_links_and_scopes(backend: Backend) {
    let server = TestServer::start(backend).await;
    let api = server.new_user("alice");
    small_tree(&api).await;

    // A first sync pages like a listing, the root first, $select kept in every link.
    let (all, link, pages) = round(
        &api,
        "/me/drive/root/delta?$top=2&$select=name,parentReference,folder,deleted",
    )
    .await;
    assert!(pages >= 4, "{pages} pages");
    assert_eq!(all[0]["name"], "root");
    let mut seen = names(&all);
    seen.sort();
    assert_eq!(
        seen,
        ["a", "b", "b2.txt", "c.txt", "d.txt", "e", "f.txt", "root"]
    );
    assert!(
        all.iter().all(|v| v.get("eTag").is_none()),
        "$select is kept"
    );
    assert!(link.contains("select=") && link.contains("top=2"), "{link}");

    // Nothing changed: nothing to say.
    let (none, same, _) = round(&api, &link).await;
    assert!(none.is_empty(), "{none:?}");

    // token=latest, and the delta() and delta(token='…') spellings.
    let latest = get_ok(&api, "/me/drive/root/delta()?token=latest").await;
    assert_eq!(latest["value"], json!([]));
    let token = same.split("token=").nth(1).unwrap().to_string();
    let called = get_ok(
        &api,
        &format!("/me/drive/root/microsoft.graph.delta(token='{token}')"),
    )
    .await;
    assert_eq!(called["value"], json!([]));

    // Changes since the token: in their latest state, with the folders between the followed
    // folder and each of them.
    api.upload("a/b/new.txt", "n").await;
    let c = id_of(&api, "a/b/c.txt").await;
    api.patch(
        &format!("/me/drive/items/{c}"),
        &json!({ "name": "c2.txt" }),
    )
    .await
    .expect(200);
    api.patch(
        &format!("/me/drive/items/{c}"),
        &json!({ "name": "c3.txt" }),
    )
    .await
    .expect(200);
    let d = id_of(&api, "d.txt").await;
    api.delete(&format!("/me/drive/items/{d}"))
        .await
        .expect(204);
    let (changes, _, _) = round(&api, &same).await;
    let mut changed = names(&changes);
    changed.sort();
    changed.dedup();
    assert_eq!(changed, ["a", "b", "c3.txt", "new.txt"], "{changes:?}");
    let gone: Vec<&Value> = changes
        .iter()
        .filter(|v| v["deleted"].is_object())
        .collect();
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0]["id"], d.as_str());
    assert!(gone[0]["file"].is_object());

    // A folder's own delta, in every address form, sees its tree only.
    let a = id_of(&api, "a").await;
    let (by_path, a_link, _) = round(&api, "/me/drive/root:/a:/delta").await;
    let (by_id, _, _) = round(&api, &format!("/me/drive/items/{a}/delta()")).await;
    assert_eq!(ids(&by_path), ids(&by_id));
    let mut in_a = names(&by_path);
    in_a.sort();
    assert_eq!(in_a, ["a", "b", "b2.txt", "c3.txt", "new.txt"]);
    api.upload("outside.txt", "o").await;
    api.upload("a/b/inside.txt", "i").await;
    // A folder moved in from outside brings what it holds; one moved out leaves as deleted.
    let e = id_of(&api, "e").await;
    api.patch(
        &format!("/me/drive/items/{e}"),
        &json!({ "parentReference": { "id": a } }),
    )
    .await
    .expect(200);
    let (in_changes, a_link, _) = round(&api, &a_link).await;
    let mut n = names(&in_changes);
    n.sort();
    assert_eq!(n, ["b", "e", "f.txt", "inside.txt"], "{in_changes:?}");
    let root = id_of(&api, "").await;
    api.patch(
        &format!("/me/drive/items/{e}"),
        &json!({ "parentReference": { "id": root } }),
    )
    .await
    .expect(200);
    let (out, _, _) = round(&api, &a_link).await;
    assert_eq!(ids(&out), [e.as_str()]);
    assert!(
        out[0]["deleted"].is_object() && out[0]["folder"].is_object(),
        "{out:?}"
    );

    // Delta follows folders, not files.
    api.get("/me/drive/root:/outside.txt:/delta")
        .await
        .expect_error(400, "invalidRequest");
}

async fn old_and_bad_tokens(backend: Backend) {
    let mut server = TestServer::start(backend).await;
    let token = server.user_token("alice", &["Files.ReadWrite"]);
    let api = server.client(&token);
    small_tree(&api).await;
    let (_, link, _) = round(&api, "/me/drive/root/delta").await;

    // A token survives a restart, and reads what changed meanwhile.
    server.kill_and_restart();
    let api = server.client(&token);
    api.upload("after restart.txt", "r").await;
    let (after, link, _) = round(&api, &link).await;
    assert_eq!(names(&after), ["after restart.txt"]);

    for bad in ["nonsense", "e30", "%00"] {
        api.get(&format!("/me/drive/root/delta?token={bad}"))
            .await
            .expect_error(400, "invalidRequest");
    }
    // A token of one folder does not follow another.
    let a_token = round(&api, "/me/drive/root:/a:/delta").await.1;
    let a_token = a_token.split("token=").nth(1).unwrap();
    api.get(&format!("/me/drive/root:/e:/delta?token={a_token}"))
        .await
        .expect_error(400, "invalidRequest");

    // Once the journal has forgotten the changes a token needs, the client starts over.
    server
        .run_sql(&["UPDATE drives SET journal_floor = change_seq + 1, change_seq = change_seq + 1"])
        .await;
    let r = api.get(&link).await;
    let e = r.json();
    assert_eq!(r.status, 410, "{e}");
    assert_eq!(e["error"]["code"], "resyncRequired");
    let location = r.header("location").expect("Location");
    assert!(!location.contains("token="), "{location}");
    let (fresh, _, _) = round(&api, &location).await;
    assert!(names(&fresh).contains(&"after restart.txt"));
}

/// The items of the mirror: folders, files, and everything but the root.
fn candidates(mirror: &Mirror) -> (Vec<String>, Vec<String>, Vec<String>) {
    let root = mirror.root.as_deref();
    let of = |folder: bool| -> Vec<String> {
        let mut v: Vec<String> = mirror
            .items
            .iter()
            .filter(|(_, s)| s.folder == folder)
            .map(|(id, _)| id.clone())
            .collect();
        v.sort();
        v
    };
    let mut others: Vec<String> = mirror
        .items
        .keys()
        .filter(|k| Some(k.as_str()) != root)
        .cloned()
        .collect();
    others.sort();
    (of(true), of(false), others)
}

/// One random change through the API; failures a client would see (a name taken, an item moved
/// below itself, one already gone) are fine, as long as they are clean.
async fn random_change(
    api: &Api,
    rng: &mut Rng,
    mirror: &Mirror,
    binned: &mut Vec<String>,
    step: usize,
) {
    let root = mirror.root.clone().unwrap();
    let (folders, files, others) = candidates(mirror);
    let folder = rng.pick(&folders).cloned().unwrap_or(root.clone());
    let ok = |r: &common::Resp| {
        assert!(r.status.as_u16() < 500, "{} {}", r.status, r.text());
    };
    match rng.below(10) {
        0 => ok(&api
            .post(&format!("/me/drive/items/{folder}/children"), &json!({ "name": format!("dir{step}"), "folder": {}, "@microsoft.graph.conflictBehavior": "rename" }))
            .await),
        1 | 2 => ok(&api
            .put(&format!("/me/drive/items/{folder}:/file{}.txt:/content", rng.below(8)), format!("bytes {step}"))
            .await),
        3 => {
            if let Some(f) = rng.pick(&files) {
                ok(&api.put(&format!("/me/drive/items/{f}/content"), format!("new {step}")).await);
            }
        }
        4 => {
            if let Some(i) = rng.pick(&others) {
                ok(&api.patch(&format!("/me/drive/items/{i}"), &json!({ "name": format!("renamed{step}") })).await);
            }
        }
        5 => {
            if let Some(i) = rng.pick(&others) {
                ok(&api.patch(&format!("/me/drive/items/{i}"), &json!({ "parentReference": { "id": folder } })).await);
            }
        }
        6 => {
            if let Some(i) = rng.pick(&others) {
                let r = api.delete(&format!("/me/drive/items/{i}")).await;
                ok(&r);
                if r.status == 204 {
                    binned.push(i.clone());
                }
            }
        }
        7 => {
            if !binned.is_empty() {
                let i = binned.remove(rng.below(binned.len()));
                ok(&api.post(&format!("/me/drive/items/{i}/restore?@microsoft.graph.conflictBehavior=rename"), &json!({})).await);
            }
        }
        8 => {
            if let Some(i) = rng.pick(&others) {
                let r = api
                    .post(&format!("/me/drive/items/{i}/copy?@microsoft.graph.conflictBehavior=rename"), &json!({ "parentReference": { "id": folder } }))
                    .await;
                ok(&r);
                if r.status == 202 {
                    wait_for_copy(&r.header("location").unwrap()).await;
                }
            }
        }
        _ => {
            if let Some(f) = rng.pick(&files) {
                let versions = api.get(&format!("/me/drive/items/{f}/versions")).await;
                ok(&versions);
                if let Some(old) = versions.json()["value"].as_array().and_then(|v| v.last().cloned()) {
                    let id = old["id"].as_str().unwrap();
                    ok(&api.post(&format!("/me/drive/items/{f}/versions/{id}/restoreVersion"), &json!({})).await);
                }
            }
        }
    }
}

async fn a_mirror_kept_by_delta_stays_equal_to_the_tree(backend: Backend) {
    let mut server = TestServer::start(backend).await;
    let token = server.user_token("alice", &["Files.ReadWrite"]);
    let mut api = server.client(&token);
    let drive = get_ok(&api, "/me/drive").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    small_tree(&api).await;
    // Small pages, so that rounds span pages.
    let mut mirror = Mirror::new("/me/drive/root/delta?$top=7");
    mirror.sync(&api).await;
    let mut rng = Rng::new(0x5eed);
    let mut binned = vec![];
    for step in 0..480 {
        random_change(&api, &mut rng, &mirror, &mut binned, step).await;
        if step % 8 == 7 {
            mirror.sync(&api).await;
            let truth: Tree = crawl(&api, &drive).await;
            assert_eq!(mirror.tree(), truth, "after step {step}");
        }
        if step == 240 {
            server.kill_and_restart();
            api = server.client(&token);
        }
    }
    server.assert_store_consistent().await;
}
