//! Server-side copy over real HTTP: `POST …/copy` → `202 Accepted` + `Location`, the monitor
//! URL that reports the job without a token, and the copies themselves — compared item by item
//! with their sources — for files, folder trees, children-only copies, name conflicts,
//! cross-drive copies, idempotent retries and trees larger than one copy batch.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use common::{Api, Backend, Resp, TestServer, assert_hashes, get_ok, totals};
use reqwest::Method;
use serde_json::{Value, json};

on_every_backend!(
    file_copy_destination_forms,
    file_copy_source_forms_and_spellings,
    folder_tree_copy_matches_source,
    copy_without_parent_reference,
    top_level_conflicts,
    synchronous_rejections,
    children_only_copies,
    cross_drive_copies,
    monitor_contract,
    monitor_reports_failures,
    idempotent_retries,
    concurrent_retries_make_one_copy,
    reused_request_id_is_not_a_retry,
    big_tree_in_small_batches,
);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const RENAME: &str = "@microsoft.graph.conflictBehavior=rename";
const REPLACE: &str = "@microsoft.graph.conflictBehavior=replace";
const FAIL: &str = "@microsoft.graph.conflictBehavior=fail";

/// How long a copy may take before the test gives up on it.
const COPY_DEADLINE: Duration = Duration::from_secs(60);
/// How often the monitor is polled.
const POLL_EVERY: Duration = Duration::from_millis(50);

/// The `id` of a driveItem (or drive).
fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

/// The string at `key` of a JSON object.
fn text(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key:?} in {v}"))
        .to_string()
}

/// Deterministic bytes of a given length.
fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(31).wrapping_add(seed.wrapping_mul(7)) % 251) as u8)
        .collect()
}

/// `path` with `query` appended (nothing when `query` is empty).
fn with_query(path: &str, query: &str) -> String {
    match (query.is_empty(), path.contains('?')) {
        (true, _) => path.to_string(),
        (false, true) => format!("{path}&{query}"),
        (false, false) => format!("{path}?{query}"),
    }
}

/// The caller's drive.
async fn my_drive(api: &Api) -> Value {
    get_ok(api, "/me/drive").await
}

/// The id of the user who owns the caller's drive (the caller).
async fn my_user_id(api: &Api) -> String {
    let d = my_drive(api).await;
    d["owner"]["user"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no owner.user.id: {d}"))
        .to_string()
}

/// `quota.used` of a drive.
async fn quota_used(api: &Api, drive: &str) -> i64 {
    let d = get_ok(api, &format!("/drives/{drive}")).await;
    d["quota"]["used"]
        .as_i64()
        .unwrap_or_else(|| panic!("no quota.used: {d}"))
}

/// Uploads `bytes` to `{drive_prefix}/root:/{path}:/content` (e.g. `/me/drive`, `/drives/{id}`).
async fn put_file(api: &Api, drive_prefix: &str, path: &str, bytes: &[u8]) -> Value {
    let r = api
        .put(
            &format!("{drive_prefix}/root:/{path}:/content"),
            bytes.to_vec(),
        )
        .await;
    assert!(
        r.status == 201 || r.status == 200,
        "upload {path} failed: {} {}",
        r.status,
        r.text()
    );
    r.json()
}

/// Creates the folders (parents first) and files of a tree under `{drive_prefix}/root:`.
async fn build_tree(api: &Api, drive_prefix: &str, folders: &[&str], files: &[(String, Vec<u8>)]) {
    for f in folders {
        let (parent, name) = match f.rsplit_once('/') {
            Some((p, n)) => (format!("{drive_prefix}/root:/{p}:"), n),
            None => (format!("{drive_prefix}/root"), *f),
        };
        api.mkdir(&parent, name).await;
    }
    // One at a time: concurrent uploads are not what these tests are about.
    for (path, bytes) in files {
        put_file(api, drive_prefix, path, bytes).await;
    }
}

// --- copy requests and the monitor -----------------------------------------------------------

/// POSTs a copy request with a JSON content type.
async fn post_copy(api: &Api, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    api.send(Method::POST, path, &all, Some(body.to_vec()))
        .await
}

/// Starts a copy that must be accepted: `202`, an empty body and an absolute `Location` on this
/// server. Returns the monitor URL.
async fn start_copy(api: &Api, path: &str, headers: &[(&str, &str)], body: &[u8]) -> String {
    let r = post_copy(api, path, headers, body).await;
    assert_eq!(
        r.status,
        202,
        "POST {path} {} must be accepted; got body {}",
        String::from_utf8_lossy(body),
        r.text()
    );
    assert!(
        r.body.is_empty(),
        "POST {path}: a 202 has an empty body, got {:?}",
        r.text()
    );
    let location = r
        .header("location")
        .unwrap_or_else(|| panic!("POST {path}: 202 without Location: {:?}", r.headers));
    assert!(
        location.starts_with(&format!("{}/", api.server)),
        "POST {path}: Location must be an absolute URL on the server: {location}"
    );
    location
}

/// What watching a monitor saw.
struct Watched {
    /// The final report (`completed` or `failed`).
    last: Value,
    /// How many polls found the job still running.
    running_polls: usize,
    /// Every `percentageComplete` seen, in order.
    percentages: Vec<f64>,
}

/// Polls a monitor URL without a token until the job completes or fails. Every running poll is
/// `202` with `Retry-After`, the final one `200`; never `303`; `percentageComplete` is a number
/// in 0..=100 that never decreases, below 100 while running and 100 once completed.
async fn watch(server_url: &str, location: &str) -> Watched {
    let anon = Api::new(server_url, None);
    let deadline = Instant::now() + COPY_DEADLINE;
    let mut last_pct = f64::MIN;
    let mut running_polls = 0;
    let mut percentages = vec![];
    loop {
        let r = anon.get(location).await;
        assert_ne!(
            r.status, 303,
            "the monitor must not redirect: {:?}",
            r.headers
        );
        assert!(
            r.status == 200 || r.status == 202,
            "monitor {location} answered {}: {}",
            r.status,
            r.text()
        );
        let v = r.json();
        assert_eq!(v["operation"], "ItemCopy", "monitor report: {v}");
        let pct = v["percentageComplete"]
            .as_f64()
            .unwrap_or_else(|| panic!("percentageComplete is not a number: {v}"));
        assert!(
            (0.0..=100.0).contains(&pct),
            "percentageComplete out of range: {v}"
        );
        assert!(
            pct >= last_pct,
            "percentageComplete went down from {last_pct} to {pct}: {v}"
        );
        last_pct = pct;
        percentages.push(pct);
        let status = v["status"]
            .as_str()
            .unwrap_or_else(|| panic!("no status: {v}"));
        match status {
            "completed" | "failed" => {
                assert_eq!(r.status, 200, "a finished job answers 200: {v}");
                if status == "completed" {
                    assert_eq!(pct, 100.0, "a completed copy is 100% done: {v}");
                }
                return Watched {
                    last: v,
                    running_polls,
                    percentages,
                };
            }
            "notStarted" | "inProgress" | "waiting" => {
                assert_eq!(r.status, 202, "a running job answers 202: {v}");
                let retry = r
                    .header("retry-after")
                    .unwrap_or_else(|| panic!("202 from the monitor without Retry-After: {v}"));
                assert!(
                    retry.trim().parse::<u64>().is_ok_and(|s| s >= 1),
                    "Retry-After must be a number of seconds: {retry:?}"
                );
                assert!(pct < 100.0, "100% while still {status}: {v}");
                running_polls += 1;
            }
            other => panic!("unexpected monitor status {other:?}: {v}"),
        }
        assert!(
            Instant::now() < deadline,
            "the copy behind {location} did not finish within {COPY_DEADLINE:?}; last report {v}"
        );
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// POSTs `body` to `path` (with `query`), checks the 202, and polls the monitor without a token
/// until the copy finishes. Returns the monitor URL and the final report.
async fn copy_and_wait(api: &Api, path: &str, body: &Value, query: &str) -> (String, Value) {
    copy_and_wait_with(api, path, &[], body.to_string().as_bytes(), query).await
}

/// [`copy_and_wait`] with extra request headers and a raw body.
async fn copy_and_wait_with(
    api: &Api,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    query: &str,
) -> (String, Value) {
    let location = start_copy(api, &with_query(path, query), headers, body).await;
    let watched = watch(&api.server, &location).await;
    (location, watched.last)
}

/// Checks a completed report (`resourceId`, absolute `resourceLocation`) and fetches the copy
/// through `resourceLocation` with the caller's token.
async fn completed_item(api: &Api, report: &Value) -> Value {
    assert_eq!(report["status"], "completed", "the copy failed: {report}");
    assert_eq!(report["percentageComplete"], 100.0, "{report}");
    let resource = text(report, "resourceId");
    let location = text(report, "resourceLocation");
    assert!(
        location.starts_with(&format!("{}/", api.server)),
        "resourceLocation must be an absolute URL on the server: {location}"
    );
    assert!(
        location.contains(&resource),
        "resourceLocation names the new item: {report}"
    );
    let item = get_ok(api, &location).await;
    assert_eq!(item["id"], resource.as_str(), "{item}");
    item
}

/// A copy that must complete; returns the new item.
async fn copy_ok(api: &Api, path: &str, body: &Value, query: &str) -> Value {
    let (_, report) = copy_and_wait(api, path, body, query).await;
    completed_item(api, &report).await
}

/// [`copy_ok`] with extra headers and a raw body.
async fn copy_ok_with(
    api: &Api,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    query: &str,
) -> Value {
    let (_, report) = copy_and_wait_with(api, path, headers, body, query).await;
    completed_item(api, &report).await
}

// --- walking trees ---------------------------------------------------------------------------

/// One item of a tree, as compared between a source and its copy.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    /// The path below the walked folder, `/`-separated.
    path: String,
    is_folder: bool,
    size: i64,
    sha1: String,
    quick_xor: String,
    sha256: String,
    /// `folder.childCount` of a folder.
    child_count: Option<i64>,
}

/// Every child of a folder, following `@odata.nextLink` (pages of 20).
async fn list_children(api: &Api, drive: &str, folder: &str) -> Vec<Value> {
    let mut url = format!("/drives/{drive}/items/{folder}/children?$top=20");
    let mut all = vec![];
    for _ in 0..10_000 {
        let page = get_ok(api, &url).await;
        all.extend(
            page["value"]
                .as_array()
                .unwrap_or_else(|| panic!("no value array: {page}"))
                .iter()
                .cloned(),
        );
        match page.get("@odata.nextLink").and_then(Value::as_str) {
            None => return all,
            Some(next) => {
                assert!(
                    next.starts_with(&format!("{}/", api.server)),
                    "nextLink must be absolute: {next}"
                );
                url = next.to_string();
            }
        }
    }
    panic!("paging through {folder} did not end");
}

/// Walks the tree below a folder through the API; returns every item (sorted) with its id. Also
/// checks, folder by folder, that `childCount` is the number of children listed and `size` the
/// total of their sizes.
async fn walk_ids(api: &Api, drive: &str, folder: &str) -> Vec<(Entry, String)> {
    let mut out = vec![];
    let mut pending = vec![(folder.to_string(), String::new())];
    while let Some((fid, prefix)) = pending.pop() {
        let me = get_ok(api, &format!("/drives/{drive}/items/{fid}")).await;
        let children = list_children(api, drive, &fid).await;
        assert_eq!(
            me["folder"]["childCount"].as_i64(),
            Some(children.len() as i64),
            "childCount of {prefix:?} and its listing disagree: {me}"
        );
        let total: i64 = children
            .iter()
            .map(|c| c["size"].as_i64().unwrap_or_else(|| panic!("no size: {c}")))
            .sum();
        assert_eq!(
            me["size"].as_i64(),
            Some(total),
            "the size of folder {prefix:?} is the total of its children: {me}"
        );
        let mut seen = HashSet::new();
        for c in children {
            let name = text(&c, "name");
            assert!(
                seen.insert(name.to_lowercase()),
                "two children named {name:?} in {prefix:?}"
            );
            let path = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let is_folder = c["folder"].is_object();
            let hash = |k: &str| -> String {
                if is_folder {
                    return String::new();
                }
                let h = c["file"]["hashes"][k].as_str().unwrap_or_default();
                assert!(!h.is_empty(), "file {path:?} has no {k}: {c}");
                h.to_string()
            };
            let entry = Entry {
                path: path.clone(),
                is_folder,
                size: c["size"].as_i64().expect("size"),
                sha1: hash("sha1Hash"),
                quick_xor: hash("quickXorHash"),
                sha256: hash("sha256Hash"),
                child_count: c["folder"]["childCount"].as_i64(),
            };
            if is_folder {
                pending.push((id(&c), path));
            }
            out.push((entry, id(&c)));
        }
    }
    out.sort();
    out
}

/// [`walk_ids`] without the ids: what a source and its copy must share.
async fn walk(api: &Api, drive: &str, folder: &str) -> Vec<Entry> {
    walk_ids(api, drive, folder)
        .await
        .into_iter()
        .map(|(e, _)| e)
        .collect()
}

/// The whole drive, for "nothing changed" checks.
async fn snapshot(api: &Api, drive: &str) -> (Vec<Entry>, i64) {
    let root = get_ok(api, &format!("/drives/{drive}/root")).await;
    (
        walk(api, drive, &id(&root)).await,
        quota_used(api, drive).await,
    )
}

/// Downloads every file of `expected` (path below the folder → bytes) from the folder.
async fn assert_contents(
    api: &Api,
    drive: &str,
    folder: &str,
    expected: &BTreeMap<String, Vec<u8>>,
) {
    let ids: BTreeMap<String, String> = walk_ids(api, drive, folder)
        .await
        .into_iter()
        .filter(|(e, _)| !e.is_folder)
        .map(|(e, i)| (e.path, i))
        .collect();
    let paths: Vec<&String> = ids.keys().collect();
    let want: Vec<&String> = expected.keys().collect();
    assert_eq!(paths, want, "the files of the folder");
    for (path, bytes) in expected {
        let got = api
            .download(&format!("/drives/{drive}/items/{}/content", ids[path]))
            .await;
        assert!(
            got == *bytes,
            "content of {path:?}: {} bytes, expected {} bytes",
            got.len(),
            bytes.len()
        );
    }
}

/// The names of a folder's children, sorted.
async fn child_names(api: &Api, drive: &str, folder: &str) -> Vec<String> {
    let mut n: Vec<String> = list_children(api, drive, folder)
        .await
        .iter()
        .map(|c| text(c, "name"))
        .collect();
    n.sort();
    n
}

/// What a copied file must look like.
struct Expected<'a> {
    name: &'a str,
    dest_id: &'a str,
    dest_path: &'a str,
    drive: &'a str,
    author: &'a str,
}

/// A copied file: a new item with the source's size, hashes and type, new tags, made by the
/// caller, in the destination.
#[track_caller]
fn assert_copied_file(copy: &Value, source: &Value, bytes: &[u8], want: &Expected, ctx: &str) {
    assert_ne!(copy["id"], source["id"], "{ctx}: the copy has a new id");
    assert_eq!(copy["name"], want.name, "{ctx}: name of {copy}");
    assert_eq!(copy["size"], bytes.len(), "{ctx}: size of {copy}");
    assert_hashes(copy, bytes);
    assert_eq!(
        copy["file"]["mimeType"], source["file"]["mimeType"],
        "{ctx}: mimeType"
    );
    assert!(copy["eTag"].is_string(), "{ctx}: eTag of {copy}");
    assert_ne!(
        copy["eTag"], source["eTag"],
        "{ctx}: the copy has a new eTag"
    );
    assert_ne!(
        copy["cTag"], source["cTag"],
        "{ctx}: the copy has a new cTag"
    );
    assert_eq!(
        copy["createdBy"]["user"]["id"], want.author,
        "{ctx}: createdBy of {copy}"
    );
    assert_eq!(
        copy["lastModifiedBy"]["user"]["id"], want.author,
        "{ctx}: lastModifiedBy of {copy}"
    );
    let parent = &copy["parentReference"];
    assert_eq!(parent["id"], want.dest_id, "{ctx}: parent of {copy}");
    assert_eq!(parent["driveId"], want.drive, "{ctx}: drive of {copy}");
    assert_eq!(
        parent["path"], want.dest_path,
        "{ctx}: parent path of {copy}"
    );
}

// ---------------------------------------------------------------------------------------------
// 1. File copies: every destination form, every source form and spelling
// ---------------------------------------------------------------------------------------------

async fn file_copy_destination_forms(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let drive = text(&my_drive(&alice).await, "id");
    let me = my_user_id(&alice).await;
    let root_id = id(&get_ok(&alice, "/me/drive/root").await);
    let bytes = pattern(70_001, 1);
    let src = alice.upload("src/a.txt", bytes.clone()).await;
    let src_id = id(&src);
    let src_folder = id(&get_ok(&alice, "/me/drive/root:/src").await);

    let mut dest = BTreeMap::new();
    for n in 1..=13 {
        let name = format!("d{n:02}");
        let f = alice.mkdir("/me/drive/root", &name).await;
        dest.insert(name, id(&f));
    }
    let d = |n: &str| dest[n].clone();
    let inner = alice
        .mkdir(&format!("/me/drive/items/{}", d("d11")), "inner space")
        .await;
    let probe = alice
        .mkdir(&format!("/me/drive/items/{}", id(&inner)), "probe")
        .await;
    // The path a client reads off an item is a destination it may send back.
    let inner_path = text(&probe["parentReference"], "path");
    assert_eq!(inner_path, "/drive/root:/d11/inner%20space");

    // (body, destination id, destination path, name of the copy)
    let cases: Vec<(Value, String, String, &str)> = vec![
        (
            json!({ "parentReference": { "id": d("d01") } }),
            d("d01"),
            "/drive/root:/d01".into(),
            "a.txt",
        ),
        (
            json!({ "parentReference": { "path": "/drive/root:/d02" } }),
            d("d02"),
            "/drive/root:/d02".into(),
            "a.txt",
        ),
        (
            json!({ "parentReference": { "path": "/drive/root:/d03/" } }),
            d("d03"),
            "/drive/root:/d03".into(),
            "a.txt",
        ),
        (
            json!({ "parentReference": { "path": "/drive/root:/d04:" } }),
            d("d04"),
            "/drive/root:/d04".into(),
            "a.txt",
        ),
        (
            json!({ "parentReference": { "path": format!("/drives/{drive}/root:/d05") } }),
            d("d05"),
            "/drive/root:/d05".into(),
            "a.txt",
        ),
        (
            json!({ "parentReference": { "path": "/drive/root:%2Fd06:" } }),
            d("d06"),
            "/drive/root:/d06".into(),
            "a.txt",
        ),
        (
            json!({ "parentReference": { "path": format!("/drive/items/{}", d("d07")) } }),
            d("d07"),
            "/drive/root:/d07".into(),
            "a.txt",
        ),
        (
            json!({ "parentReference": { "path": "/drive/root:" }, "name": "at root.txt" }),
            root_id.clone(),
            "/drive/root:".into(),
            "at root.txt",
        ),
        (
            json!({ "parentReference": { "driveId": drive, "id": d("d09") } }),
            d("d09"),
            "/drive/root:/d09".into(),
            "a.txt",
        ),
        (
            json!({ "parentReference": { "id": d("d10") }, "name": "renamed copy.txt" }),
            d("d10"),
            "/drive/root:/d10".into(),
            "renamed copy.txt",
        ),
        (
            json!({ "parentReference": { "path": inner_path } }),
            id(&inner),
            "/drive/root:/d11/inner%20space".into(),
            "a.txt",
        ),
        (
            json!({
                "parentReference": { "id": d("d12"), "path": "/drive/root:/d12" },
                "name": "both.txt"
            }),
            d("d12"),
            "/drive/root:/d12".into(),
            "both.txt",
        ),
        (
            json!({
                "parentReference": { "driveId": drive, "path": "/drive/root:/d13" },
                "name": "x.bin"
            }),
            d("d13"),
            "/drive/root:/d13".into(),
            "x.bin",
        ),
    ];
    let copy_path = format!("/me/drive/items/{src_id}/copy");
    let mut copies = vec![];
    for (body, dest_id, dest_path, name) in &cases {
        let before: Vec<String> = child_names(&alice, &drive, dest_id).await;
        let copy = copy_ok(&alice, &copy_path, body, "").await;
        let want = Expected {
            name,
            dest_id,
            dest_path,
            drive: &drive,
            author: &me,
        };
        assert_copied_file(&copy, &src, &bytes, &want, &body.to_string());
        // Fetched by id too, the copy is the same item.
        let again = get_ok(&alice, &format!("/me/drive/items/{}", id(&copy))).await;
        assert_eq!(again["name"], *name, "{body}");
        let mut after = before.clone();
        after.push(name.to_string());
        after.sort();
        assert_eq!(
            child_names(&alice, &drive, dest_id).await,
            after,
            "{body}: the destination gained exactly the copy"
        );
        assert_eq!(
            alice
                .download(&format!("/me/drive/items/{}/content", id(&copy)))
                .await,
            bytes,
            "{body}: the copy's content"
        );
        copies.push(id(&copy));
    }
    let unique: HashSet<&String> = copies.iter().collect();
    assert_eq!(unique.len(), cases.len(), "every copy is a new item");

    // The source is unchanged.
    let src_after = get_ok(&alice, &format!("/me/drive/items/{src_id}")).await;
    assert_eq!(src_after["eTag"], src["eTag"]);
    assert_eq!(src_after["name"], "a.txt");
    assert_eq!(src_after["parentReference"]["id"], src_folder.as_str());
    assert_hashes(&src_after, &bytes);
    assert_eq!(
        child_names(&alice, &drive, &src_folder).await,
        vec!["a.txt"]
    );
    let n = (cases.len() + 1) as i64;
    assert_eq!(quota_used(&alice, &drive).await, n * bytes.len() as i64);
    assert_eq!(
        totals(&alice, "/me/drive/root").await.0,
        n * bytes.len() as i64
    );
    server.assert_store_consistent().await;
}

/// A source form: request path, extra headers, and the name sent (`None`: keep the source's).
type SourceCase<'a> = (String, Vec<(&'a str, &'a str)>, Option<&'a str>);

async fn file_copy_source_forms_and_spellings(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let drive = text(&my_drive(&alice).await, "id");
    let drive_enc = drive.replace('!', "%21");
    let me = my_user_id(&alice).await;
    let bytes = pattern(4321, 2);
    let src = alice.upload("src/a.txt", bytes.clone()).await;
    let src_id = id(&src);
    let src_folder = id(&get_ok(&alice, "/me/drive/root:/src").await);

    let odata_body = |dest: &str| {
        json!({
            "@odata.type": "#microsoft.graph.driveItem",
            "parentReference": {
                "@odata.type": "#microsoft.graph.itemReference",
                "id": dest,
                "driveType": "business",
                "siteId": "contoso.sharepoint.com,1,2",
                "name": "whatever"
            },
            "name": "odata.txt",
            "includeAllVersionHistory": true,
            "description": "not a copy parameter",
            "somethingNew": { "nested": [1, 2, 3] },
            "@microsoft.graph.sourceUrl": null
        })
    };
    let cases: Vec<SourceCase> = vec![
        (format!("/me/drive/items/{src_id}/copy"), vec![], None),
        ("/me/drive/root:/src/a.txt:/copy".into(), vec![], None),
        (
            "/me/drive/root:/src/a.txt:/copy".into(),
            vec![],
            Some("by path.txt"),
        ),
        (format!("/drives/{drive}/items/{src_id}/copy"), vec![], None),
        (
            format!("/drives/{drive_enc}/items/{src_id}/copy"),
            vec![],
            Some("enc.txt"),
        ),
        (
            format!("/drives/{drive}/root:/src/a.txt:/copy"),
            vec![],
            None,
        ),
        (
            format!("/users/alice/drive/items/{src_id}/copy"),
            vec![],
            None,
        ),
        (
            format!("/me/drive/items/{src_folder}:/a.txt:/copy"),
            vec![],
            Some("relative.txt"),
        ),
        (format!("/drive/items/{src_id}/copy"), vec![], None),
        (
            format!("/me/drive/items/{src_id}/microsoft.graph.copy"),
            vec![],
            None,
        ),
        (
            "/me/drive/root:/src/a.txt:/microsoft.graph.copy".into(),
            vec![],
            Some("spelled.txt"),
        ),
        (
            format!("/me/drive/items/{src_id}/copy"),
            vec![("prefer", "respond-async")],
            None,
        ),
        (
            format!("/me/drive/items/{src_id}/microsoft.graph.copy"),
            vec![("prefer", "respond-async")],
            Some("async.txt"),
        ),
    ];
    let mut made = 0;
    for (i, (path, headers, name)) in cases.iter().enumerate() {
        let folder_name = format!("s{i:02}");
        let dest = id(&alice.mkdir("/me/drive/root", &folder_name).await);
        let mut body = json!({ "parentReference": { "id": dest } });
        if let Some(n) = name {
            body["name"] = json!(n);
        }
        let copy = copy_ok_with(&alice, path, headers, body.to_string().as_bytes(), "").await;
        let dest_path = format!("/drive/root:/{folder_name}");
        let want = Expected {
            name: name.unwrap_or("a.txt"),
            dest_id: &dest,
            dest_path: &dest_path,
            drive: &drive,
            author: &me,
        };
        assert_copied_file(&copy, &src, &bytes, &want, &format!("POST {path}"));
        assert_eq!(
            child_names(&alice, &drive, &dest).await,
            vec![want.name.to_string()],
            "POST {path}"
        );
        made += 1;
    }

    // Unknown members and `@odata.type` annotations are ignored.
    let dest = id(&alice.mkdir("/me/drive/root", "odata").await);
    let copy = copy_ok(
        &alice,
        &format!("/me/drive/items/{src_id}/copy"),
        &odata_body(&dest),
        "",
    )
    .await;
    let want = Expected {
        name: "odata.txt",
        dest_id: &dest,
        dest_path: "/drive/root:/odata",
        drive: &drive,
        author: &me,
    };
    assert_copied_file(&copy, &src, &bytes, &want, "body with unknown members");
    made += 1;

    // The source is unchanged and alone in its folder.
    let src_after = get_ok(&alice, &format!("/me/drive/items/{src_id}")).await;
    assert_eq!(src_after["eTag"], src["eTag"]);
    assert_eq!(
        child_names(&alice, &drive, &src_folder).await,
        vec!["a.txt"]
    );
    assert_eq!(
        quota_used(&alice, &drive).await,
        (made + 1) * bytes.len() as i64
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Folder trees
// ---------------------------------------------------------------------------------------------

/// A tree about four levels deep with files of several sizes, an empty file, an empty folder
/// and names with spaces and non-ASCII characters. Paths are relative to `top`.
fn sample_tree(top: &str) -> (Vec<String>, Vec<(String, Vec<u8>)>) {
    let folders = [
        "",
        "Ünïcødé ✓",
        "Ünïcødé ✓/日本語 フォルダ",
        "Ünïcødé ✓/日本語 フォルダ/level four",
        "empty folder",
        "src",
        "src/lib",
    ];
    let files: [(&str, usize); 11] = [
        ("read me.txt", 0),
        ("big.bin", 300_000),
        ("Ünïcødé ✓/notes 1.md", 1),
        ("Ünïcødé ✓/日本語 フォルダ/deep file.txt", 70_000),
        ("Ünïcødé ✓/日本語 フォルダ/another.txt", 12_345),
        ("Ünïcødé ✓/日本語 フォルダ/level four/leaf.dat", 1024),
        ("Ünïcødé ✓/日本語 フォルダ/level four/empty too.txt", 0),
        ("Ünïcødé ✓/日本語 フォルダ/level four/café.txt", 333),
        ("src/main.rs", 4096),
        ("src/lib/mod.rs", 99),
        ("src/lib/Ω omega.txt", 20_000),
    ];
    let folders = folders
        .iter()
        .map(|f| {
            if f.is_empty() {
                top.to_string()
            } else {
                format!("{top}/{f}")
            }
        })
        .collect();
    let files = files
        .iter()
        .enumerate()
        .map(|(i, (p, n))| (format!("{top}/{p}"), pattern(*n, i as u32 + 10)))
        .collect();
    (folders, files)
}

async fn folder_tree_copy_matches_source(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let drive = text(&my_drive(&alice).await, "id");
    let me = my_user_id(&alice).await;
    let (folders, files) = sample_tree("proj");
    let folder_refs: Vec<&str> = folders.iter().map(String::as_str).collect();
    build_tree(&alice, "/me/drive", &folder_refs, &files).await;
    let tree_size: i64 = files.iter().map(|(_, b)| b.len() as i64).sum();
    put_file(&alice, "/me/drive", "dest/existing.txt", &pattern(10, 3)).await;
    let dest = get_ok(&alice, "/me/drive/root:/dest").await;
    let dest_id = id(&dest);
    let proj = get_ok(&alice, "/me/drive/root:/proj").await;
    let proj_id = id(&proj);
    assert_eq!(proj["size"], tree_size);
    let source_tree = walk(&alice, &drive, &proj_id).await;
    assert_eq!(source_tree.len(), folders.len() - 1 + files.len());
    let expected: BTreeMap<String, Vec<u8>> = files
        .iter()
        .map(|(p, b)| (p.trim_start_matches("proj/").to_string(), b.clone()))
        .collect();

    let (dest_size, dest_count) = totals(&alice, "/me/drive/root:/dest").await;
    let (root_size, root_count) = totals(&alice, "/me/drive/root").await;
    let used = quota_used(&alice, &drive).await;
    assert_eq!(used, root_size);

    let copy = copy_ok(
        &alice,
        &format!("/me/drive/items/{proj_id}/copy"),
        &json!({ "parentReference": { "id": dest_id } }),
        "",
    )
    .await;
    assert_ne!(id(&copy), proj_id);
    assert_eq!(copy["name"], "proj");
    assert_eq!(copy["size"], proj["size"], "folder size of the copy");
    assert_eq!(
        copy["folder"]["childCount"], proj["folder"]["childCount"],
        "childCount of the copy"
    );
    assert_eq!(copy["parentReference"]["id"], dest_id.as_str());
    assert_eq!(copy["parentReference"]["path"], "/drive/root:/dest");
    assert_eq!(copy["createdBy"]["user"]["id"], me.as_str());
    assert_ne!(copy["eTag"], proj["eTag"]);

    let copied = walk_ids(&alice, &drive, &id(&copy)).await;
    let copied_tree: Vec<Entry> = copied.iter().map(|(e, _)| e.clone()).collect();
    assert_eq!(copied_tree, source_tree, "the copy matches the source");
    let source_ids: HashSet<String> = walk_ids(&alice, &drive, &proj_id)
        .await
        .into_iter()
        .map(|(_, i)| i)
        .collect();
    for (e, i) in &copied {
        assert!(
            !source_ids.contains(i),
            "{:?} in the copy is a source item",
            e.path
        );
    }
    assert_contents(&alice, &drive, &id(&copy), &expected).await;
    // Deep items of the copy are made by the caller.
    let leaf = get_ok(
        &alice,
        "/me/drive/root:/dest/proj/Ünïcødé ✓/日本語 フォルダ/level four/leaf.dat",
    )
    .await;
    assert_eq!(leaf["createdBy"]["user"]["id"], me.as_str());
    assert_eq!(
        leaf["parentReference"]["path"],
        "/drive/root:/dest/proj/%C3%9Cn%C3%AFc%C3%B8d%C3%A9%20%E2%9C%93/%E6%97%A5%E6%9C%AC%E8%AA%9E%20%E3%83%95%E3%82%A9%E3%83%AB%E3%83%80/level%20four"
    );

    // Totals: the destination, the root and the quota grew by the tree.
    assert_eq!(
        totals(&alice, "/me/drive/root:/dest").await,
        (dest_size + tree_size, dest_count + 1)
    );
    assert_eq!(
        totals(&alice, "/me/drive/root").await,
        (root_size + tree_size, root_count)
    );
    assert_eq!(quota_used(&alice, &drive).await, used + tree_size);

    // The source is unchanged.
    assert_eq!(walk(&alice, &drive, &proj_id).await, source_tree);
    let proj_after = get_ok(&alice, &format!("/me/drive/items/{proj_id}")).await;
    assert_eq!(proj_after["eTag"], proj["eTag"]);
    assert_eq!(proj_after["parentReference"], proj["parentReference"]);
    assert_contents(&alice, &drive, &proj_id, &expected).await;

    // A second copy under a new name, next to the first.
    let renamed = copy_ok(
        &alice,
        "/me/drive/root:/proj:/copy",
        &json!({ "parentReference": { "path": "/drive/root:/dest" }, "name": "proj (copy) ✓" }),
        "",
    )
    .await;
    assert_eq!(renamed["name"], "proj (copy) ✓");
    assert_eq!(walk(&alice, &drive, &id(&renamed)).await, source_tree);
    assert_eq!(
        totals(&alice, "/me/drive/root:/dest").await,
        (dest_size + 2 * tree_size, dest_count + 2)
    );
    assert_eq!(quota_used(&alice, &drive).await, used + 2 * tree_size);
    assert_eq!(
        child_names(&alice, &drive, &dest_id).await,
        vec!["existing.txt", "proj", "proj (copy) ✓"]
    );
    server.assert_store_consistent().await;
}

// ---------------------------------------------------------------------------------------------
// 3. No parentReference: the copy goes next to its source
// ---------------------------------------------------------------------------------------------

async fn copy_without_parent_reference(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let drive = text(&my_drive(&alice).await, "id");
    let me = my_user_id(&alice).await;
    let bytes = pattern(2500, 4);
    let report = alice.upload("docs/report.txt", bytes.clone()).await;
    alice.upload("docs/Folder/inner.txt", pattern(40, 5)).await;
    alice
        .upload("docs/Folder/sub/deeper.txt", pattern(41, 6))
        .await;
    let docs = id(&get_ok(&alice, "/me/drive/root:/docs").await);
    let folder = get_ok(&alice, "/me/drive/root:/docs/Folder").await;
    let folder_tree = walk(&alice, &drive, &id(&folder)).await;
    let snap = snapshot(&alice, &drive).await;

    // Same folder, same name, default behaviour: a clash, reported at once.
    for (body, query) in [
        (Some(json!({})), ""),
        (None, ""),
        (Some(json!({})), FAIL),
        (Some(json!({ "parentReference": null })), ""),
    ] {
        let path = with_query("/me/drive/root:/docs/report.txt:/copy", query);
        let r = match &body {
            Some(b) => alice.post(&path, b).await,
            None => alice.send(Method::POST, &path, &[], None).await,
        };
        r.expect_error(409, "nameAlreadyExists");
    }
    alice
        .post("/me/drive/root:/docs/Folder:/copy", &json!({}))
        .await
        .expect_error(409, "nameAlreadyExists");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(snapshot(&alice, &drive).await, snap, "nothing was created");

    // With rename: `report 1.txt`, then `report 2.txt`, in the source's folder.
    for (n, body) in [(1, json!({})), (2, json!({ "parentReference": {} }))] {
        let copy = copy_ok(
            &alice,
            &format!("/me/drive/items/{}/copy", id(&report)),
            &body,
            RENAME,
        )
        .await;
        let name = format!("report {n}.txt");
        let want = Expected {
            name: &name,
            dest_id: &docs,
            dest_path: "/drive/root:/docs",
            drive: &drive,
            author: &me,
        };
        assert_copied_file(&copy, &report, &bytes, &want, &format!("rename #{n}"));
    }

    // A new name and no parentReference: next to the source, under that name.
    let copy = copy_ok(
        &alice,
        "/me/drive/root:/docs/report.txt:/copy",
        &json!({ "name": "summary.txt" }),
        "",
    )
    .await;
    let want = Expected {
        name: "summary.txt",
        dest_id: &docs,
        dest_path: "/drive/root:/docs",
        drive: &drive,
        author: &me,
    };
    assert_copied_file(&copy, &report, &bytes, &want, "new name in place");

    // A folder: `Folder 1`, with the same contents.
    let copy = copy_ok(
        &alice,
        "/me/drive/root:/docs/Folder:/copy",
        &json!({}),
        RENAME,
    )
    .await;
    assert_eq!(copy["name"], "Folder 1");
    assert_eq!(copy["parentReference"]["id"], docs.as_str());
    assert_eq!(walk(&alice, &drive, &id(&copy)).await, folder_tree);
    let copy = copy_ok(
        &alice,
        "/me/drive/root:/docs/Folder:/copy",
        &json!({}),
        RENAME,
    )
    .await;
    assert_eq!(copy["name"], "Folder 2");
    assert_eq!(walk(&alice, &drive, &id(&copy)).await, folder_tree);

    assert_eq!(
        child_names(&alice, &drive, &docs).await,
        vec![
            "Folder",
            "Folder 1",
            "Folder 2",
            "report 1.txt",
            "report 2.txt",
            "report.txt",
            "summary.txt"
        ]
    );
    // Nothing went anywhere else.
    assert_eq!(
        child_names(&alice, &drive, &id(&get_ok(&alice, "/me/drive/root").await)).await,
        vec!["docs"]
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Conflicts at the top level
// ---------------------------------------------------------------------------------------------

async fn top_level_conflicts(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let drive = text(&my_drive(&alice).await, "id");
    let me = my_user_id(&alice).await;
    let a_bytes = pattern(3000, 7);
    let b_bytes = pattern(100, 8);
    let a = alice.upload("src/a.txt", a_bytes.clone()).await;
    alice.upload("src/F/f.txt", pattern(5, 9)).await;
    alice.upload("src/clash", pattern(6, 10)).await;
    alice.upload("src/G/g.txt", pattern(7, 11)).await;
    let old = alice.upload("dest/a.txt", b_bytes.clone()).await;
    alice.upload("dest/F", pattern(8, 12)).await;
    alice.upload("dest/clash/inside.txt", pattern(9, 13)).await;
    alice.upload("dest/G/other.txt", pattern(10, 14)).await;
    let a_id = id(&a);
    let dest = id(&get_ok(&alice, "/me/drive/root:/dest").await);
    let to_dest = json!({ "parentReference": { "id": dest } });
    let copy_a = format!("/me/drive/items/{a_id}/copy");

    // fail (the default, in the query, in the body): 409 at once, nothing created.
    let snap = snapshot(&alice, &drive).await;
    alice
        .post(&copy_a, &to_dest)
        .await
        .expect_error(409, "nameAlreadyExists");
    alice
        .post(&with_query(&copy_a, FAIL), &to_dest)
        .await
        .expect_error(409, "nameAlreadyExists");
    alice
        .post(
            &copy_a,
            &json!({ "parentReference": { "id": dest }, "@microsoft.graph.conflictBehavior": "fail" }),
        )
        .await
        .expect_error(409, "nameAlreadyExists");
    // Names clash without regard to case.
    alice
        .post(
            &copy_a,
            &json!({ "parentReference": { "id": dest }, "name": "A.TXT" }),
        )
        .await
        .expect_error(409, "nameAlreadyExists");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(snapshot(&alice, &drive).await, snap, "nothing was created");

    let used = quota_used(&alice, &drive).await;
    let dest_path = "/drive/root:/dest";
    // rename in the query.
    let copy = copy_ok(&alice, &copy_a, &to_dest, RENAME).await;
    let want = Expected {
        name: "a 1.txt",
        dest_id: &dest,
        dest_path,
        drive: &drive,
        author: &me,
    };
    assert_copied_file(&copy, &a, &a_bytes, &want, "rename in the query");
    // rename in the body.
    let copy = copy_ok(
        &alice,
        &copy_a,
        &json!({ "parentReference": { "id": dest }, "@microsoft.graph.conflictBehavior": "rename" }),
        "",
    )
    .await;
    let want = Expected {
        name: "a 2.txt",
        ..want
    };
    assert_copied_file(&copy, &a, &a_bytes, &want, "rename in the body");

    // replace a file: same name, the source's content.
    let copy = copy_ok(&alice, &copy_a, &to_dest, REPLACE).await;
    let want = Expected {
        name: "a.txt",
        ..want
    };
    assert_copied_file(&copy, &a, &a_bytes, &want, "replace");
    let now = get_ok(&alice, "/me/drive/root:/dest/a.txt").await;
    assert_eq!(now["id"], copy["id"]);
    assert_hashes(&now, &a_bytes);
    assert_ne!(now["eTag"], old["eTag"]);
    assert_eq!(
        alice.download("/me/drive/root:/dest/a.txt:/content").await,
        a_bytes
    );
    assert_eq!(
        child_names(&alice, &drive, &dest).await,
        vec!["F", "G", "a 1.txt", "a 2.txt", "a.txt", "clash"]
    );
    let grown = 3 * a_bytes.len() as i64 - b_bytes.len() as i64;
    // The replaced file waits in the recycle bin, which counts as used.
    assert_eq!(
        quota_used(&alice, &drive).await,
        used + grown + b_bytes.len() as i64
    );
    // Folder totals stay right (walk checks every folder's size and childCount).
    walk(&alice, &drive, &dest).await;
    assert_eq!(totals(&alice, "/me/drive/root").await.0, used + grown);

    // replace where a folder is involved: 409.
    let snap = snapshot(&alice, &drive).await;
    for (source, why) in [
        ("/me/drive/root:/src/F:/copy", "the source is a folder"),
        (
            "/me/drive/root:/src/clash:/copy",
            "the existing item is a folder",
        ),
        ("/me/drive/root:/src/G:/copy", "both are folders"),
    ] {
        let r = alice.post(&with_query(source, REPLACE), &to_dest).await;
        assert_eq!(r.status, 409, "replace when {why}: {}", r.text());
        r.expect_error(409, "nameAlreadyExists");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(snapshot(&alice, &drive).await, snap, "nothing was replaced");

    // replace without a clash is a plain copy, for folders too.
    let fresh = id(&alice.mkdir("/me/drive/root", "fresh").await);
    let copy = copy_ok(
        &alice,
        "/me/drive/root:/src/F:/copy",
        &json!({ "parentReference": { "id": fresh } }),
        REPLACE,
    )
    .await;
    assert_eq!(copy["name"], "F");
    assert_eq!(
        walk(&alice, &drive, &id(&copy)).await,
        walk(
            &alice,
            &drive,
            &id(&get_ok(&alice, "/me/drive/root:/src/F").await)
        )
        .await
    );
    server.assert_store_consistent().await;
}

// ---------------------------------------------------------------------------------------------
// 5. Synchronous rejections
// ---------------------------------------------------------------------------------------------

/// Asserts a 400 `invalidRequest` whose message mentions `about` (case-insensitive).
#[track_caller]
fn invalid(r: Resp, about: &str, what: &str) {
    assert_eq!(r.status, 400, "{what}: {}", r.text());
    let body = r.expect_error(400, "invalidRequest");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.to_lowercase().contains(&about.to_lowercase()),
        "{what}: the message should mention {about:?}: {body}"
    );
}

async fn synchronous_rejections(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let drive = text(&my_drive(&alice).await, "id");
    alice.upload("src/a.txt", pattern(10, 1)).await;
    alice.upload("src/sub/b.txt", pattern(11, 2)).await;
    let file = alice.upload("file.txt", pattern(12, 3)).await;
    let other = id(&alice.mkdir("/me/drive/root", "other").await);
    let src = id(&get_ok(&alice, "/me/drive/root:/src").await);
    let sub = id(&get_ok(&alice, "/me/drive/root:/src/sub").await);
    let a = id(&get_ok(&alice, "/me/drive/root:/src/a.txt").await);
    let to_other = json!({ "parentReference": { "id": other } });
    let snap = snapshot(&alice, &drive).await;

    // The root, without childrenOnly.
    for path in [
        "/me/drive/root/copy",
        "/me/drive/items/root/copy",
        "/me/drive/root:/:/copy",
        "/me/drive/root/microsoft.graph.copy",
    ] {
        invalid(alice.post(path, &to_other).await, "root", path);
        invalid(
            alice
                .post(
                    path,
                    &json!({ "parentReference": { "id": other }, "childrenOnly": false }),
                )
                .await,
            "root",
            path,
        );
    }
    // childrenOnly on a file; childrenOnly with a name.
    invalid(
        alice
            .post(
                &format!("/me/drive/items/{a}/copy"),
                &json!({ "parentReference": { "id": other }, "childrenOnly": true }),
            )
            .await,
        "childrenOnly",
        "childrenOnly on a file",
    );
    invalid(
        alice
            .post(
                &format!("/me/drive/items/{src}/copy"),
                &json!({ "parentReference": { "id": other }, "childrenOnly": true, "name": "x" }),
            )
            .await,
        "name",
        "childrenOnly with name",
    );
    // The destination is a file.
    for body in [
        json!({ "parentReference": { "id": id(&file) } }),
        json!({ "parentReference": { "path": "/drive/root:/file.txt" } }),
    ] {
        invalid(
            alice
                .post(&format!("/me/drive/items/{a}/copy"), &body)
                .await,
            "file",
            &format!("destination is a file: {body}"),
        );
    }
    // The destination is the folder being copied, or inside it.
    for body in [
        json!({ "parentReference": { "id": src } }),
        json!({ "parentReference": { "path": "/drive/root:/src" } }),
        json!({ "parentReference": { "id": sub } }),
        json!({ "parentReference": { "path": "/drive/root:/src/sub" } }),
    ] {
        let r = alice
            .post(&format!("/me/drive/items/{src}/copy"), &body)
            .await;
        assert_eq!(r.status, 400, "copy into itself: {body}: {}", r.text());
        r.expect_error(400, "invalidRequest");
    }
    // Names the drive cannot hold.
    for name in [
        "a/b",
        "CON",
        "x:y",
        "bad|pipe",
        "trailing ",
        "",
        "..",
        "q?.txt",
    ] {
        let r = alice
            .post(
                &format!("/me/drive/items/{a}/copy"),
                &json!({ "parentReference": { "id": other }, "name": name }),
            )
            .await;
        assert_eq!(r.status, 400, "name {name:?}: {}", r.text());
        r.expect_error(400, "invalidRequest");
    }
    // id and path naming different folders.
    invalid(
        alice
            .post(
                &format!("/me/drive/items/{a}/copy"),
                &json!({ "parentReference": { "id": other, "path": "/drive/root:/src/sub" } }),
            )
            .await,
        "parentReference",
        "id and path disagree",
    );
    // driveId disagreeing with the drive in the path.
    let r = alice
        .post(
            &format!("/me/drive/items/{a}/copy"),
            &json!({ "parentReference": {
                "driveId": drive,
                "path": "/drives/b!c29tZXRoaW5nIGVsc2U/root:/other"
            } }),
        )
        .await;
    assert_eq!(r.status, 400, "driveId vs path: {}", r.text());
    r.expect_error(400, "invalidRequest");

    // Unknown sources and destinations.
    for path in [
        "/me/drive/items/00000000000FFFFF/copy".to_string(),
        "/me/drive/items/not-an-id/copy".to_string(),
        "/me/drive/root:/nope.txt:/copy".to_string(),
        "/me/drive/root:/src/nope/a.txt:/copy".to_string(),
        format!("/me/drive/items/{src}:/nope.txt:/copy"),
    ] {
        alice
            .post(&path, &to_other)
            .await
            .expect_error(404, "itemNotFound");
    }
    for parent in [
        json!({ "id": "00000000000FFFFF" }),
        json!({ "id": "not-an-id" }),
        json!({ "path": "/drive/root:/nope" }),
        json!({ "path": "/drive/root:/src/nope" }),
        json!({ "path": "/drive/items/00000000000FFFFF" }),
    ] {
        let r = alice
            .post(
                &format!("/me/drive/items/{a}/copy"),
                &json!({ "parentReference": parent }),
            )
            .await;
        assert_eq!(r.status, 404, "unknown destination {parent}: {}", r.text());
        r.expect_error(404, "itemNotFound");
    }

    // Tokens: read-only → 403, none → 401, junk → 401.
    let reader = server.client(&server.user_token("alice", &["Files.Read"]));
    reader
        .post(&format!("/me/drive/items/{a}/copy"), &to_other)
        .await
        .expect_error(403, "accessDenied");
    for api in [
        server.anonymous(),
        Api::new(&server.url, Some("junk".into())),
    ] {
        let r = api
            .post(&format!("/me/drive/items/{a}/copy"), &to_other)
            .await;
        assert!(
            r.header("www-authenticate").is_some(),
            "401 carries WWW-Authenticate: {:?}",
            r.headers
        );
        r.expect_error(401, "InvalidAuthenticationToken");
    }

    // Bodies that are not a copy request.
    for body in [
        &b"{\"parentReference\": "[..],
        b"{not json}",
        b"[1, 2]",
        b"\"text\"",
        b"{\"name\": 5}",
        b"{\"childrenOnly\": \"yes\"}",
        b"{\"parentReference\": \"/drive/root:/other\"}",
    ] {
        let r = post_copy(&alice, &format!("/me/drive/items/{a}/copy"), &[], body).await;
        assert_eq!(
            r.status,
            400,
            "body {}: {}",
            String::from_utf8_lossy(body),
            r.text()
        );
        r.expect_error(400, "invalidRequest");
    }
    // An unknown conflict behaviour.
    alice
        .post(
            &format!("/me/drive/items/{a}/copy?@microsoft.graph.conflictBehavior=bogus"),
            &to_other,
        )
        .await
        .expect_error(400, "invalidRequest");

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        snapshot(&alice, &drive).await,
        snap,
        "no rejected copy created anything"
    );
}

// ---------------------------------------------------------------------------------------------
// 6. childrenOnly
// ---------------------------------------------------------------------------------------------

async fn children_only_copies(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let drive = text(&my_drive(&alice).await, "id");
    let files = [
        ("P/c1.txt", pattern(100, 1)),
        ("P/c2.bin", pattern(2000, 2)),
        ("P/sub/x.txt", pattern(5, 3)),
        ("P/sub/deeper/y.txt", pattern(7, 4)),
    ];
    for (p, b) in &files {
        alice.upload(p, b.clone()).await;
    }
    let p = get_ok(&alice, "/me/drive/root:/P").await;
    let p_id = id(&p);
    let p_tree = walk(&alice, &drive, &p_id).await;
    let p_size = p["size"].as_i64().expect("size");
    let d = id(&alice.mkdir("/me/drive/root", "D").await);
    let used = quota_used(&alice, &drive).await;

    // The children land in D; the monitor's resource is D itself.
    let (_, report) = copy_and_wait(
        &alice,
        &format!("/me/drive/items/{p_id}/copy"),
        &json!({ "parentReference": { "id": d }, "childrenOnly": true }),
        "",
    )
    .await;
    let item = completed_item(&alice, &report).await;
    assert_eq!(report["resourceId"], d.as_str(), "{report}");
    assert_eq!(item["id"], d.as_str());
    assert_eq!(walk(&alice, &drive, &d).await, p_tree);
    assert_eq!(
        child_names(&alice, &drive, &d).await,
        vec!["c1.txt", "c2.bin", "sub"]
    );
    assert_eq!(totals(&alice, "/me/drive/root:/D").await, (p_size, 3));
    assert_eq!(quota_used(&alice, &drive).await, used + p_size);
    let expected: BTreeMap<String, Vec<u8>> = files
        .iter()
        .map(|(p, b)| (p.trim_start_matches("P/").to_string(), b.clone()))
        .collect();
    assert_contents(&alice, &drive, &d, &expected).await;
    assert_eq!(
        walk(&alice, &drive, &p_id).await,
        p_tree,
        "source unchanged"
    );

    // A clash of any child fails the whole request at once, by default.
    alice.upload("D2/c1.txt", pattern(9, 9)).await;
    alice.upload("D3/sub/keep.txt", pattern(8, 8)).await;
    let d2 = id(&get_ok(&alice, "/me/drive/root:/D2").await);
    let d3 = id(&get_ok(&alice, "/me/drive/root:/D3").await);
    let snap = snapshot(&alice, &drive).await;
    for dest in [&d2, &d3] {
        alice
            .post(
                &format!("/me/drive/items/{p_id}/copy"),
                &json!({ "parentReference": { "id": dest }, "childrenOnly": true }),
            )
            .await
            .expect_error(409, "nameAlreadyExists");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(snapshot(&alice, &drive).await, snap, "nothing was created");

    // With rename the clashing child is renamed; the others are copied as they are.
    let (_, report) = copy_and_wait(
        &alice,
        &format!("/me/drive/items/{p_id}/copy"),
        &json!({ "parentReference": { "id": d2 }, "childrenOnly": true }),
        RENAME,
    )
    .await;
    completed_item(&alice, &report).await;
    assert_eq!(report["resourceId"], d2.as_str());
    assert_eq!(
        child_names(&alice, &drive, &d2).await,
        vec!["c1 1.txt", "c1.txt", "c2.bin", "sub"]
    );
    assert_hashes(
        &get_ok(&alice, "/me/drive/root:/D2/c1 1.txt").await,
        &files[0].1,
    );
    assert_hashes(
        &get_ok(&alice, "/me/drive/root:/D2/c1.txt").await,
        &pattern(9, 9),
    );
    let sub_tree = walk(
        &alice,
        &drive,
        &id(&get_ok(&alice, "/me/drive/root:/P/sub").await),
    )
    .await;
    assert_eq!(
        walk(
            &alice,
            &drive,
            &id(&get_ok(&alice, "/me/drive/root:/D2/sub").await)
        )
        .await,
        sub_tree
    );

    let (_, report) = copy_and_wait(
        &alice,
        &format!("/me/drive/items/{p_id}/copy"),
        &json!({ "parentReference": { "path": "/drive/root:/D3" }, "childrenOnly": true }),
        RENAME,
    )
    .await;
    completed_item(&alice, &report).await;
    assert_eq!(report["resourceId"], d3.as_str());
    assert_eq!(
        child_names(&alice, &drive, &d3).await,
        vec!["c1.txt", "c2.bin", "sub", "sub 1"]
    );
    assert_eq!(
        walk(
            &alice,
            &drive,
            &id(&get_ok(&alice, "/me/drive/root:/D3/sub 1").await)
        )
        .await,
        sub_tree
    );
    assert_eq!(
        child_names(
            &alice,
            &drive,
            &id(&get_ok(&alice, "/me/drive/root:/D3/sub").await)
        )
        .await,
        vec!["keep.txt"],
        "the existing folder is untouched"
    );

    // replace settles a clashing file child.
    alice.upload("D4/c1.txt", pattern(9, 9)).await;
    let d4 = id(&get_ok(&alice, "/me/drive/root:/D4").await);
    let (_, report) = copy_and_wait(
        &alice,
        &format!("/me/drive/items/{p_id}/copy"),
        &json!({ "parentReference": { "id": d4 }, "childrenOnly": true }),
        REPLACE,
    )
    .await;
    completed_item(&alice, &report).await;
    assert_eq!(walk(&alice, &drive, &d4).await, p_tree);

    // An empty folder's children: nothing to copy, still a completed job.
    let empty = id(&alice.mkdir("/me/drive/root", "Empty").await);
    let d5 = id(&alice.mkdir("/me/drive/root", "D5").await);
    let (_, report) = copy_and_wait(
        &alice,
        &format!("/me/drive/items/{empty}/copy"),
        &json!({ "parentReference": { "id": d5 }, "childrenOnly": true }),
        "",
    )
    .await;
    completed_item(&alice, &report).await;
    assert_eq!(report["resourceId"], d5.as_str());
    assert!(child_names(&alice, &drive, &d5).await.is_empty());
    // Totals everywhere are consistent.
    walk(&alice, &drive, &id(&get_ok(&alice, "/me/drive/root").await)).await;
    server.assert_store_consistent().await;
}

// ---------------------------------------------------------------------------------------------
// 7. Across drives
// ---------------------------------------------------------------------------------------------

async fn cross_drive_copies(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let bob = server.new_user("bob");
    let alice_me = my_user_id(&alice).await;
    let alice_drive = text(&my_drive(&alice).await, "id");
    let bob_drive = text(&my_drive(&bob).await, "id");
    let (folders, files) = sample_tree("proj");
    let folder_refs: Vec<&str> = folders.iter().map(String::as_str).collect();
    build_tree(&alice, "/me/drive", &folder_refs, &files).await;
    let tree_size: i64 = files.iter().map(|(_, b)| b.len() as i64).sum();
    let proj = id(&get_ok(&alice, "/me/drive/root:/proj").await);
    let proj_tree = walk(&alice, &alice_drive, &proj).await;
    let bob_file = bob.upload("mine.txt", pattern(77, 1)).await;
    let bob_root = id(&get_ok(&bob, "/me/drive/root").await);

    let gid = server.cli(&["group", "add", "team", "--member", "alice"]);
    let gd = text(&get_ok(&alice, &format!("/groups/{gid}/drive")).await, "id");
    let inbox = id(&alice
        .mkdir(&format!("/groups/{gid}/drive/root"), "inbox")
        .await);
    let alice_used = quota_used(&alice, &alice_drive).await;
    let group_used = quota_used(&alice, &gd).await;

    // Into a folder of the group drive, by driveId + id.
    let (_, report) = copy_and_wait(
        &alice,
        &format!("/me/drive/items/{proj}/copy"),
        &json!({ "parentReference": { "driveId": gd, "id": inbox } }),
        "",
    )
    .await;
    let copy = completed_item(&alice, &report).await;
    assert!(
        text(&report, "resourceLocation").contains(&gd),
        "resourceLocation names the group drive: {report}"
    );
    assert_eq!(copy["name"], "proj");
    assert_eq!(copy["parentReference"]["driveId"], gd.as_str());
    assert_eq!(copy["parentReference"]["id"], inbox.as_str());
    assert_eq!(copy["createdBy"]["user"]["id"], alice_me.as_str());
    get_ok(&alice, &format!("/drives/{gd}/items/{}", id(&copy))).await;
    alice
        .get(&format!("/me/drive/items/{}", id(&copy)))
        .await
        .expect_error(404, "itemNotFound");
    assert_eq!(walk(&alice, &gd, &id(&copy)).await, proj_tree);
    let expected: BTreeMap<String, Vec<u8>> = files
        .iter()
        .map(|(p, b)| (p.trim_start_matches("proj/").to_string(), b.clone()))
        .collect();
    assert_contents(&alice, &gd, &id(&copy), &expected).await;
    assert_eq!(quota_used(&alice, &gd).await, group_used + tree_size);
    assert_eq!(quota_used(&alice, &alice_drive).await, alice_used);

    // Into the group drive's root, by driveId + path.
    let (_, report) = copy_and_wait(
        &alice,
        "/me/drive/root:/proj:/copy",
        &json!({ "parentReference": { "driveId": gd, "path": "/drive/root:" } }),
        "",
    )
    .await;
    let copy = completed_item(&alice, &report).await;
    assert!(text(&report, "resourceLocation").contains(&gd), "{report}");
    assert_eq!(copy["parentReference"]["driveId"], gd.as_str());
    assert_eq!(copy["parentReference"]["path"], "/drive/root:");
    assert_eq!(walk(&alice, &gd, &id(&copy)).await, proj_tree);
    // And by a path that names the drive.
    let copy = copy_ok(
        &alice,
        &format!("/me/drive/items/{proj}/copy"),
        &json!({ "parentReference": { "path": format!("/drives/{gd}/root:/inbox") }, "name": "proj2" }),
        "",
    )
    .await;
    assert_eq!(copy["parentReference"]["driveId"], gd.as_str());
    assert_eq!(copy["parentReference"]["id"], inbox.as_str());
    assert_eq!(walk(&alice, &gd, &id(&copy)).await, proj_tree);
    assert_eq!(quota_used(&alice, &gd).await, group_used + 3 * tree_size);
    let group_root = id(&get_ok(&alice, &format!("/drives/{gd}/root")).await);
    assert_eq!(
        child_names(&alice, &gd, &group_root).await,
        vec!["inbox", "proj"]
    );

    // Back from the group drive into Alice's own.
    let copy = copy_ok(
        &alice,
        &format!("/groups/{gid}/drive/root:/inbox/proj2:/copy"),
        &json!({ "parentReference": { "driveId": alice_drive, "path": "/drive/root:" }, "name": "back" }),
        "",
    )
    .await;
    assert_eq!(copy["parentReference"]["driveId"], alice_drive.as_str());
    assert_eq!(walk(&alice, &alice_drive, &id(&copy)).await, proj_tree);

    // The root's children (the root itself cannot be copied) into a group folder.
    let alice_root = id(&get_ok(&alice, "/me/drive/root").await);
    let root_tree = walk(&alice, &alice_drive, &alice_root).await;
    let backup = id(&alice.mkdir(&format!("/drives/{gd}/root"), "backup").await);
    let (_, report) = copy_and_wait(
        &alice,
        "/me/drive/root/copy",
        &json!({ "parentReference": { "driveId": gd, "id": backup }, "childrenOnly": true }),
        "",
    )
    .await;
    completed_item(&alice, &report).await;
    assert_eq!(report["resourceId"], backup.as_str());
    assert_eq!(walk(&alice, &gd, &backup).await, root_tree);

    // An item id means nothing in another drive: not found, never a copy elsewhere.
    for (path, body) in [
        (
            format!("/drives/{gd}/items/{proj}/copy"),
            json!({ "parentReference": { "driveId": gd, "id": inbox } }),
        ),
        (
            format!("/me/drive/items/{proj}/copy"),
            json!({ "parentReference": { "id": inbox } }),
        ),
        (
            format!("/me/drive/items/{proj}/copy"),
            json!({ "parentReference": { "driveId": gd, "id": alice_root } }),
        ),
    ] {
        let r = alice.post(&path, &body).await;
        assert_eq!(r.status, 404, "POST {path} {body}: {}", r.text());
        r.expect_error(404, "itemNotFound");
    }
    let r = bob
        .post(
            &format!("/me/drive/items/{}/copy", id(&bob_file)),
            &json!({ "parentReference": { "id": alice_root } }),
        )
        .await;
    assert_eq!(r.status, 404, "bob into alice's root by id: {}", r.text());

    // Bob is not a member, and does not reach Alice's drive.
    let bob_snap = snapshot(&bob, &bob_drive).await;
    let alice_snap = snapshot(&alice, &alice_drive).await;
    let group_snap = snapshot(&alice, &gd).await;
    for (path, body) in [
        (
            format!("/drives/{alice_drive}/items/{proj}/copy"),
            json!({ "parentReference": { "driveId": bob_drive, "id": bob_root } }),
        ),
        (
            format!("/drives/{alice_drive}/items/{proj}/copy"),
            json!({}),
        ),
        (
            format!("/users/alice/drive/items/{proj}/copy"),
            json!({ "parentReference": { "driveId": bob_drive, "path": "/drive/root:" } }),
        ),
        (
            format!("/me/drive/items/{}/copy", id(&bob_file)),
            json!({ "parentReference": { "driveId": gd, "id": inbox } }),
        ),
        (
            format!("/me/drive/items/{}/copy", id(&bob_file)),
            json!({ "parentReference": { "driveId": gd, "path": "/drive/root:" } }),
        ),
        (
            format!("/me/drive/items/{}/copy", id(&bob_file)),
            json!({ "parentReference": { "path": format!("/drives/{gd}/root:/inbox") } }),
        ),
    ] {
        let r = bob.post(&path, &body).await;
        assert_eq!(r.status, 403, "bob: POST {path} {body}: {}", r.text());
        r.expect_error(403, "accessDenied");
    }
    // Alice cannot write into Bob's drive.
    for body in [
        json!({ "parentReference": { "driveId": bob_drive, "path": "/drive/root:" } }),
        json!({ "parentReference": { "driveId": bob_drive, "id": bob_root } }),
        json!({ "parentReference": { "path": format!("/drives/{bob_drive}/root:") } }),
    ] {
        let r = alice
            .post(&format!("/me/drive/items/{proj}/copy"), &body)
            .await;
        assert_eq!(
            r.status,
            403,
            "alice into bob's drive: {body}: {}",
            r.text()
        );
        r.expect_error(403, "accessDenied");
    }
    // An application that may only read copies nothing.
    let reader = server.client(&server.token(&["--app", "auditor"], &["Files.Read.All"]));
    reader
        .post(
            &format!("/drives/{alice_drive}/items/{proj}/copy"),
            &json!({ "parentReference": { "driveId": bob_drive, "id": bob_root } }),
        )
        .await
        .expect_error(403, "accessDenied");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(snapshot(&bob, &bob_drive).await, bob_snap);
    assert_eq!(snapshot(&alice, &alice_drive).await, alice_snap);
    assert_eq!(snapshot(&alice, &gd).await, group_snap);

    // An application with Files.ReadWrite.All copies from Alice's drive into Bob's.
    let app = server.client(&server.token(&["--app", "backup"], &["Files.ReadWrite.All"]));
    let (_, report) = copy_and_wait(
        &app,
        &format!("/drives/{alice_drive}/items/{proj}/copy"),
        &json!({ "parentReference": { "driveId": bob_drive, "path": "/drive/root:" } }),
        "",
    )
    .await;
    let copy = completed_item(&app, &report).await;
    assert!(text(&report, "resourceLocation").contains(&bob_drive));
    assert_eq!(copy["parentReference"]["driveId"], bob_drive.as_str());
    assert_eq!(copy["parentReference"]["id"], bob_root.as_str());
    assert_eq!(
        copy["createdBy"]["application"]["displayName"], "backup",
        "an application's copy is attributed to it: {copy}"
    );
    assert_eq!(walk(&bob, &bob_drive, &id(&copy)).await, proj_tree);
    assert_contents(&bob, &bob_drive, &id(&copy), &expected).await;
    assert_eq!(quota_used(&bob, &bob_drive).await, bob_snap.1 + tree_size);
    assert_eq!(
        child_names(&bob, &bob_drive, &bob_root).await,
        vec!["mine.txt", "proj"]
    );
    assert_eq!(snapshot(&alice, &alice_drive).await, alice_snap);
    server.assert_store_consistent().await;
}

// ---------------------------------------------------------------------------------------------
// 8. The monitor
// ---------------------------------------------------------------------------------------------

/// The job id at the end of a monitor URL.
fn job_id(location: &str) -> String {
    let path = location.split(['?', '#']).next().unwrap_or(location);
    path.rsplit('/').next().unwrap_or_default().to_string()
}

async fn monitor_contract(backend: Backend) {
    // One item per batch and a pause between batches: a copy of 13 items takes over a second.
    let server = TestServer::start_with(
        backend,
        &["--copy-batch-size", "1", "--copy-batch-pause-ms", "120"],
    )
    .await;
    let alice = server.new_user("alice");
    let drive = text(&my_drive(&alice).await, "id");
    for i in 0..12 {
        alice
            .upload(&format!("m/f{i:02}.txt"), pattern(100 + i, i as u32))
            .await;
    }
    let m = id(&get_ok(&alice, "/me/drive/root:/m").await);
    let m_tree = walk(&alice, &drive, &m).await;
    let dest = id(&alice.mkdir("/me/drive/root", "dest").await);

    let location = start_copy(
        &alice,
        &format!("/me/drive/items/{m}/copy"),
        &[],
        json!({ "parentReference": { "id": dest } })
            .to_string()
            .as_bytes(),
    )
    .await;
    // While it runs: no token, a junk token and a real token all get the report.
    let anon = server.anonymous();
    for headers in [
        vec![],
        vec![("authorization", "Bearer junk")],
        vec![("authorization", "Bearer")],
    ] {
        let r = anon.send(Method::GET, &location, &headers, None).await;
        assert!(
            r.status == 202 || r.status == 200,
            "monitor with {headers:?}: {} {}",
            r.status,
            r.text()
        );
        assert_eq!(r.json()["operation"], "ItemCopy");
    }
    let r = alice.get(&location).await;
    assert!(r.status == 202 || r.status == 200, "{}", r.text());

    let watched = watch(&server.url, &location).await;
    assert!(
        watched.running_polls >= 1,
        "a copy of 13 items in batches of one was never seen running"
    );
    assert!(
        watched.percentages.iter().any(|&p| p > 0.0 && p < 100.0),
        "progress between 0 and 100 was reported while running: {:?}",
        watched.percentages
    );
    let report = watched.last;
    assert_eq!(report["operation"], "ItemCopy");
    assert_eq!(report["percentageComplete"], 100.0);
    let copy = completed_item(&alice, &report).await;
    assert_eq!(walk(&alice, &drive, &id(&copy)).await, m_tree);

    // Finished: still reachable, with or without a stray token, and unchanged.
    let real = format!("Bearer {}", alice.token.clone().expect("token"));
    for headers in [
        vec![],
        vec![("authorization", "Bearer junk")],
        vec![("authorization", real.as_str())],
    ] {
        let r = anon.send(Method::GET, &location, &headers, None).await;
        assert_eq!(r.status, 200, "monitor with {headers:?}: {}", r.text());
        let v = r.json();
        assert_eq!(v["status"], "completed");
        assert_eq!(v["resourceId"], report["resourceId"]);
        assert_eq!(v["percentageComplete"], 100.0);
        assert_eq!(v["operation"], "ItemCopy");
    }

    // The URL is unguessable and differs per copy.
    let job = job_id(&location);
    assert!(
        job.len() >= 22
            && job
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "the monitor id must be ≥ 22 URL-safe characters: {job:?} in {location}"
    );
    let mut seen = HashSet::from([location.clone()]);
    for n in 0..3 {
        let other = start_copy(
            &alice,
            &format!("/me/drive/items/{m}/copy"),
            &[],
            json!({ "parentReference": { "id": dest }, "name": format!("m{n}") })
                .to_string()
                .as_bytes(),
        )
        .await;
        assert!(seen.insert(other.clone()), "Location reused: {other}");
        let j = job_id(&other);
        assert!(j.len() >= 22, "{other}");
        assert_ne!(j, job);
        let done = watch(&server.url, &other).await;
        assert_eq!(done.last["status"], "completed", "{}", done.last);
    }

    // Unknown monitors: 404.
    let mut mutated: Vec<char> = job.chars().collect();
    let last = mutated.len() - 1;
    mutated[last] = if mutated[last] == 'A' { 'B' } else { 'A' };
    let mutated: String = mutated.into_iter().collect();
    let base = location.trim_end_matches(&job).to_string();
    for url in [
        format!("{base}{mutated}"),
        format!("{base}AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        format!("{}/monitor/nope", server.url),
    ] {
        for headers in [vec![], vec![("authorization", "Bearer junk")]] {
            let r = anon.send(Method::GET, &url, &headers, None).await;
            assert_eq!(r.status, 404, "GET {url}: {}", r.text());
            let v = r.json();
            let code = v["error"]["code"].as_str().unwrap_or_default();
            assert!(
                code == "itemNotFound" || code == "operationNotFound",
                "unknown monitor error: {v}"
            );
        }
    }
}

async fn monitor_reports_failures(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        &["--copy-batch-size", "1", "--copy-batch-pause-ms", "120"],
    )
    .await;
    let alice = server.new_user("alice");
    let drive = text(&my_drive(&alice).await, "id");
    for i in 0..12 {
        alice
            .upload(&format!("m/f{i:02}.txt"), pattern(50 + i, i as u32))
            .await;
    }
    let m = id(&get_ok(&alice, "/me/drive/root:/m").await);
    let dest = id(&alice.mkdir("/me/drive/root", "dest").await);
    let doomed = id(&alice.mkdir("/me/drive/root", "doomed").await);
    let snap = snapshot(&alice, &drive).await;

    // The name is taken while the copy runs: the job fails with nameAlreadyExists.
    let location = start_copy(
        &alice,
        &format!("/me/drive/items/{m}/copy"),
        &[],
        json!({ "parentReference": { "id": dest } })
            .to_string()
            .as_bytes(),
    )
    .await;
    let squatter = alice.upload("dest/m", b"squatter".to_vec()).await;
    let watched = watch(&server.url, &location).await;
    let report = watched.last;
    assert_eq!(report["status"], "failed", "{report}");
    assert_eq!(report["error"]["code"], "nameAlreadyExists", "{report}");
    assert!(
        report["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{report}"
    );
    assert!(
        report.get("resourceId").is_none_or(Value::is_null),
        "{report}"
    );
    assert_eq!(
        child_names(&alice, &drive, &dest).await,
        vec!["m"],
        "only the squatter is there"
    );
    assert_eq!(
        get_ok(&alice, "/me/drive/root:/dest/m").await["id"],
        squatter["id"]
    );
    // The failure stays reported.
    let again = server.anonymous().get(&location).await.expect(200).json();
    assert_eq!(again["status"], "failed");

    // The destination is deleted while the copy runs: the job fails, nothing is left behind.
    let location = start_copy(
        &alice,
        &format!("/me/drive/items/{m}/copy"),
        &[],
        json!({ "parentReference": { "id": doomed } })
            .to_string()
            .as_bytes(),
    )
    .await;
    alice
        .delete(&format!("/me/drive/items/{doomed}"))
        .await
        .expect(204);
    let report = watch(&server.url, &location).await.last;
    assert_eq!(report["status"], "failed", "{report}");
    assert!(
        report["error"]["code"].is_string(),
        "a failed job says why: {report}"
    );
    assert!(
        report.get("resourceId").is_none_or(Value::is_null),
        "{report}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (tree, used) = snapshot(&alice, &drive).await;
    // Only the squatter was added and the doomed folder removed.
    let squatter_size = b"squatter".len() as i64;
    assert_eq!(used, snap.1 + squatter_size, "no copied bytes remain");
    let paths: Vec<&str> = tree.iter().map(|e| e.path.as_str()).collect();
    let mut want: Vec<String> = snap
        .0
        .iter()
        .map(|e| e.path.clone())
        .filter(|p| p != "doomed")
        .collect();
    want.push("dest/m".into());
    want.sort();
    assert_eq!(paths, want);
}

// ---------------------------------------------------------------------------------------------
// 9. Idempotent retries
// ---------------------------------------------------------------------------------------------

async fn idempotent_retries(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let bob = server.new_user("bob");
    let drive = text(&my_drive(&alice).await, "id");
    let bob_drive = text(&my_drive(&bob).await, "id");
    let bytes = pattern(1234, 5);
    let a = id(&alice.upload("src/a.txt", bytes.clone()).await);
    let dest = id(&alice.mkdir("/me/drive/root", "dest").await);
    let body = json!({ "parentReference": { "id": dest } })
        .to_string()
        .into_bytes();
    let path = format!("/me/drive/items/{a}/copy");
    let crid = uuid::Uuid::new_v4().to_string();

    // The same client-request-id twice: one job.
    let first = start_copy(&alice, &path, &[("client-request-id", &crid)], &body).await;
    let second = start_copy(&alice, &path, &[("client-request-id", &crid)], &body).await;
    assert_eq!(first, second, "a retried request returns the first monitor");
    let report = watch(&server.url, &first).await.last;
    let copy = completed_item(&alice, &report).await;
    assert_eq!(copy["name"], "a.txt");
    // Again after completion, within the window: still the same job, no clash, no new copy.
    let third = start_copy(&alice, &path, &[("client-request-id", &crid)], &body).await;
    assert_eq!(first, third);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(child_names(&alice, &drive, &dest).await, vec!["a.txt"]);

    // A different client-request-id is a new request.
    let other = uuid::Uuid::new_v4().to_string();
    let (fourth, report) = copy_and_wait_with(
        &alice,
        &path,
        &[("client-request-id", &other)],
        &body,
        RENAME,
    )
    .await;
    assert_ne!(fourth, first);
    assert_eq!(completed_item(&alice, &report).await["name"], "a 1.txt");
    assert_eq!(
        child_names(&alice, &drive, &dest).await,
        vec!["a 1.txt", "a.txt"]
    );

    // Another caller's request id is not Alice's: Bob gets a job of his own.
    let b = id(&bob.upload("b.txt", pattern(10, 1)).await);
    let bob_dest = id(&bob.mkdir("/me/drive/root", "dest").await);
    let (bob_location, report) = copy_and_wait_with(
        &bob,
        &format!("/me/drive/items/{b}/copy"),
        &[("client-request-id", &crid)],
        json!({ "parentReference": { "id": bob_dest } })
            .to_string()
            .as_bytes(),
        "",
    )
    .await;
    assert_ne!(bob_location, first, "Bob must not get Alice's monitor");
    let bob_copy = completed_item(&bob, &report).await;
    assert_eq!(bob_copy["parentReference"]["driveId"], bob_drive.as_str());
    assert_eq!(bob_copy["name"], "b.txt");
    assert_eq!(
        child_names(&alice, &drive, &dest).await,
        vec!["a 1.txt", "a.txt"]
    );
}

/// Sets up `src/a.txt` and an empty `dest` for the retry scenarios.
async fn retry_setup(alice: &Api) -> (String, String, Vec<u8>) {
    let a = id(&alice.upload("src/a.txt", pattern(1234, 5)).await);
    let dest = id(&alice.mkdir("/me/drive/root", "dest").await);
    let body = json!({ "parentReference": { "id": dest } })
        .to_string()
        .into_bytes();
    (format!("/me/drive/items/{a}/copy"), dest, body)
}

async fn concurrent_retries_make_one_copy(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let drive = text(&my_drive(&alice).await, "id");
    let (path, dest, body) = retry_setup(&alice).await;
    // A client retrying before its first attempt answered: the attempts overlap.
    let crid = uuid::Uuid::new_v4().to_string();
    let posts = (0..4).map(|_| {
        let (alice, path, crid, body) = (&alice, &path, &crid, &body);
        async move { start_copy(alice, path, &[("client-request-id", crid)], body).await }
    });
    let locations: Vec<String> = futures::future::join_all(posts).await;
    let distinct: HashSet<&String> = locations.iter().collect();
    let mut finals = vec![];
    for l in &distinct {
        finals.push(watch(&server.url, l).await.last["status"].clone());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        distinct.len(),
        1,
        "concurrent retries with one client-request-id started several jobs: {locations:?}, \
         which ended {finals:?}"
    );
    assert_eq!(finals, vec![json!("completed")]);
    assert_eq!(child_names(&alice, &drive, &dest).await, vec!["a.txt"]);
}

async fn reused_request_id_is_not_a_retry(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let drive = text(&my_drive(&alice).await, "id");
    let (path, dest, body) = retry_setup(&alice).await;
    let crid = uuid::Uuid::new_v4().to_string();
    let first = start_copy(&alice, &path, &[("client-request-id", &crid)], &body).await;
    let report = watch(&server.url, &first).await.last;
    assert_eq!(completed_item(&alice, &report).await["name"], "a.txt");

    // Another copy (another source) under the same client-request-id is not a retry of the
    // first: it must not answer with the first copy's monitor — either a copy of its own, or a
    // refusal.
    let other_src = alice.upload("src/other.txt", pattern(99, 6)).await;
    let r = post_copy(
        &alice,
        &format!("/me/drive/items/{}/copy", id(&other_src)),
        &[("client-request-id", &crid)],
        &body,
    )
    .await;
    if r.status == 202 {
        let l = r.header("location").expect("Location");
        assert_ne!(
            l, first,
            "a different copy request under a reused client-request-id got the first copy's \
             monitor, and nothing was copied"
        );
        let copy = completed_item(&alice, &watch(&server.url, &l).await.last).await;
        assert_eq!(copy["name"], "other.txt");
        assert_eq!(
            child_names(&alice, &drive, &dest).await,
            vec!["a.txt", "other.txt"]
        );
    } else {
        assert!(
            [400, 409, 422].contains(&r.status.as_u16()),
            "reused client-request-id: {} {}",
            r.status,
            r.text()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(child_names(&alice, &drive, &dest).await, vec!["a.txt"]);
    }
}

// ---------------------------------------------------------------------------------------------
// 10. A tree larger than a batch
// ---------------------------------------------------------------------------------------------

async fn big_tree_in_small_batches(backend: Backend) {
    let server = TestServer::start_with(backend, &["--copy-batch-size", "7"]).await;
    let alice = server.new_user("alice");
    let drive = text(&my_drive(&alice).await, "id");
    // big/
    //   top0..top4 (5 files)
    //   wide/ w00..w49 (50 files)
    //   d0..d4/ (5 folders) each: e0..e4 (5 files) and s0..s3/ (4 folders) of 10 files each
    let mut folders = vec!["big".to_string(), "big/wide".to_string()];
    let mut files: Vec<(String, Vec<u8>)> = vec![];
    let mut seed = 0u32;
    let mut file = |path: String, files: &mut Vec<(String, Vec<u8>)>| {
        seed += 1;
        files.push((path, pattern((seed as usize * 37) % 400, seed)));
    };
    for i in 0..5 {
        file(format!("big/top{i}.txt"), &mut files);
    }
    for i in 0..50 {
        file(format!("big/wide/w{i:02}.bin"), &mut files);
    }
    for d in 0..5 {
        folders.push(format!("big/d{d}"));
        for e in 0..5 {
            file(format!("big/d{d}/e{e}.txt"), &mut files);
        }
        for s in 0..4 {
            folders.push(format!("big/d{d}/s{s}"));
            for f in 0..10 {
                file(format!("big/d{d}/s{s}/f{f}.dat"), &mut files);
            }
        }
    }
    let folder_refs: Vec<&str> = folders.iter().map(String::as_str).collect();
    build_tree(&alice, "/me/drive", &folder_refs, &files).await;
    let items = folders.len() - 1 + files.len();
    assert!(items >= 300, "{items} items");
    let tree_size: i64 = files.iter().map(|(_, b)| b.len() as i64).sum();
    let big = get_ok(&alice, "/me/drive/root:/big").await;
    let big_tree = walk(&alice, &drive, &id(&big)).await;
    assert_eq!(big_tree.len(), items);
    let used = quota_used(&alice, &drive).await;

    let copy = copy_ok(
        &alice,
        &format!("/me/drive/items/{}/copy", id(&big)),
        &json!({ "parentReference": { "path": "/drive/root:" }, "name": "big copy" }),
        "",
    )
    .await;
    assert_eq!(copy["name"], "big copy");
    assert_eq!(copy["size"], big["size"]);
    assert_eq!(copy["folder"]["childCount"], big["folder"]["childCount"]);
    let copied = walk(&alice, &drive, &id(&copy)).await;
    assert_eq!(copied.len(), items, "every item was copied");
    assert_eq!(copied, big_tree, "the copy matches the source");
    // Spot-check the contents of the wide folder and of one deep folder.
    for sub in ["wide", "d3/s2"] {
        let prefix = format!("big/{sub}/");
        let folder = id(&get_ok(&alice, &format!("/me/drive/root:/big copy/{sub}")).await);
        let want: BTreeMap<String, Vec<u8>> = files
            .iter()
            .filter_map(|(p, b)| Some((p.strip_prefix(&prefix)?.to_string(), b.clone())))
            .filter(|(p, _)| !p.contains('/'))
            .collect();
        assert_contents(&alice, &drive, &folder, &want).await;
    }
    assert_eq!(quota_used(&alice, &drive).await, used + tree_size);

    // The 50 children of one folder, more than a batch, as a children-only copy.
    let wide = get_ok(&alice, "/me/drive/root:/big/wide").await;
    let flat = id(&alice.mkdir("/me/drive/root", "flat").await);
    let (_, report) = copy_and_wait(
        &alice,
        &format!("/me/drive/items/{}/copy", id(&wide)),
        &json!({ "parentReference": { "id": flat }, "childrenOnly": true }),
        "",
    )
    .await;
    completed_item(&alice, &report).await;
    assert_eq!(report["resourceId"], flat.as_str());
    assert_eq!(
        walk(&alice, &drive, &flat).await,
        walk(&alice, &drive, &id(&wide)).await
    );
    assert_eq!(
        totals(&alice, "/me/drive/root:/flat").await,
        (wide["size"].as_i64().unwrap(), 50)
    );
    assert_eq!(
        quota_used(&alice, &drive).await,
        used + tree_size + wide["size"].as_i64().unwrap()
    );
    // The source is unchanged.
    assert_eq!(walk(&alice, &drive, &id(&big)).await, big_tree);
}
