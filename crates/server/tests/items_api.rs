//! The driveItem API over real HTTP: every addressing form, listing and paging, folder creation,
//! simple upload, download with ranges, update (rename, move, times), conditional requests and
//! delete — with the folder totals and drive quota that follow them.

mod common;

use std::collections::HashSet;

use common::raw_http::{exchange, raw_request};
use common::{Api, Backend, TestServer, assert_hashes, get_ok, totals};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::net::TcpStream;

on_every_backend!(
    addressing_reaches_the_same_item,
    addressing_root_case_and_missing_items,
    listing_pages_through_next_links,
    listing_orders_selects_and_expands,
    create_folder_and_conflict_behaviors,
    simple_upload_create_replace_and_conflicts,
    simple_upload_by_path_empty_and_by_id,
    rejected_uploads_leave_the_connection_usable,
    download_redirect_and_ranges,
    update_renames_and_moves,
    update_rejects_bad_moves_and_sets_times,
    moves_keep_folder_totals_right,
    conditional_requests,
    delete_items_and_subtrees,
);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The `id` of a driveItem.
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

/// The names of the items in a listing page, in order.
fn names(page: &Value) -> Vec<String> {
    page["value"]
        .as_array()
        .unwrap_or_else(|| panic!("no value array in {page}"))
        .iter()
        .map(|v| text(v, "name"))
        .collect()
}

/// Deterministic bytes of a given length.
fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(31).wrapping_add(seed * 7) % 251) as u8)
        .collect()
}

/// The caller's drive.
async fn my_drive(api: &Api) -> Value {
    get_ok(api, "/me/drive").await
}

/// `quota.used` of the caller's drive.
async fn quota_used(api: &Api) -> i64 {
    my_drive(api).await["quota"]["used"]
        .as_i64()
        .expect("quota.used")
}

/// `quota.deleted` of the caller's drive: what its recycle bin holds.
async fn quota_deleted(api: &Api) -> i64 {
    my_drive(api).await["quota"]["deleted"]
        .as_i64()
        .expect("quota.deleted")
}

/// `quota.fileCount` of the caller's drive.
async fn file_count(api: &Api) -> i64 {
    my_drive(api).await["quota"]["fileCount"]
        .as_i64()
        .expect("quota.fileCount")
}

/// PUT with extra headers.
async fn put_with(api: &Api, path: &str, headers: &[(&str, &str)], bytes: &[u8]) -> common::Resp {
    api.send(Method::PUT, path, headers, Some(bytes.to_vec()))
        .await
}

/// PATCH with extra headers.
async fn patch_with(api: &Api, path: &str, headers: &[(&str, &str)], body: &Value) -> common::Resp {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    api.send(
        Method::PATCH,
        path,
        &all,
        Some(body.to_string().into_bytes()),
    )
    .await
}

/// Follows a download redirect and fetches the target with a `Range` header, without a token.
async fn ranged(api: &Api, server: &TestServer, item_id: &str, range: &str) -> common::Resp {
    let r = api
        .get(&format!("/me/drive/items/{item_id}/content"))
        .await
        .expect(302);
    let location = r.header("location").expect("Location");
    server
        .anonymous()
        .send(Method::GET, &location, &[("range", range)], None)
        .await
}

// ---------------------------------------------------------------------------------------------
// 1. Addressing
// ---------------------------------------------------------------------------------------------

async fn addressing_reaches_the_same_item(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let bytes = b"hello, addressing".to_vec();
    let file = alice.upload("a/b.txt", bytes.clone()).await;
    let file_id = id(&file);
    let folder = get_ok(&alice, "/me/drive/root:/a").await;
    let folder_id = id(&folder);
    let drive = text(&my_drive(&alice).await, "id");
    assert!(
        drive.contains('!'),
        "drive ids look like b!…, this one is {drive}"
    );
    let drive_enc = drive.replace('!', "%21");

    let relative = [
        format!("/me/drive/items/{file_id}"),
        "/me/drive/root:/a/b.txt".to_string(),
        "/me/drive/root:/a/b.txt:".to_string(),
        "/drive/root:/a/b.txt".to_string(),
        "/drive/root:/a/b.txt:".to_string(),
        format!("/drives/{drive}/items/{file_id}"),
        format!("/drives/{drive_enc}/items/{file_id}"),
        format!("/drives/{drive}/root:/a/b.txt"),
        "/users/alice/drive/root:/a/b.txt".to_string(),
        format!("/me/drive/items/{folder_id}:/b.txt:"),
        format!("/me/drive/items/{folder_id}:/b.txt"),
        format!("/me/drive/items/{folder_id}/children/b.txt"),
        format!("/drives/{drive}/items/root%3A%2Fa%2Fb.txt%3A"),
        format!("/drives/{drive_enc}/items/root%3A%2Fa%2Fb.txt%3A"),
        "/me//drive/root:/a//b.txt".to_string(),
    ];
    let absolute = [
        format!("{}/v2.0/me/drive/items/{file_id}", server.url),
        format!("{}/v2.0/drive/root:/a/b.txt", server.url),
        format!("{}/_api/v2.0/drives/{drive}/items/{file_id}", server.url),
        format!("{}/_api/v2.0/me/drive/root:/a/b.txt:", server.url),
        format!("{}/_api/v2.0/drives/{drive_enc}/root:/a/b.txt", server.url),
    ];
    for path in relative.iter().chain(absolute.iter()) {
        let r = alice.send(Method::GET, path, &[], None).await;
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        let v = r.json();
        assert_eq!(v["id"], file_id.as_str(), "GET {path} → {v}");
        assert_eq!(v["name"], "b.txt", "GET {path}");
        assert_eq!(v["size"], bytes.len(), "GET {path}");
        assert_eq!(v["parentReference"]["id"], folder_id.as_str(), "GET {path}");
        assert_eq!(v["parentReference"]["path"], "/drive/root:/a", "GET {path}");
        assert_eq!(
            v["parentReference"]["driveId"],
            drive.as_str(),
            "GET {path}"
        );
    }

    // The content is reachable through the relative-path and children forms too.
    for path in [
        format!("/me/drive/items/{folder_id}:/b.txt:/content"),
        format!("/me/drive/items/{folder_id}/children/b.txt/content"),
        "/me/drive/root:/a/b.txt:/content".to_string(),
        format!("/drives/{drive_enc}/items/{file_id}/content"),
    ] {
        assert_eq!(alice.download(&path).await, bytes, "download {path}");
    }

    // The folder by its path and the children listing by a path address.
    let by_path = get_ok(&alice, "/me/drive/root:/a:").await;
    assert_eq!(by_path["id"], folder_id.as_str());
    let listing = get_ok(&alice, "/me/drive/root:/a:/children").await;
    assert_eq!(names(&listing), vec!["b.txt"]);
    assert_eq!(listing["value"][0]["id"], file_id.as_str());
}

async fn addressing_root_case_and_missing_items(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let file = alice.upload("a/b.txt", b"case".to_vec()).await;
    let file_id = id(&file);

    // The root, by every name.
    let root = get_ok(&alice, "/me/drive/root").await;
    let root_id = id(&root);
    assert!(root["root"].is_object(), "root facet missing: {root}");
    assert!(root["folder"].is_object(), "root is a folder: {root}");
    for path in [
        "/me/drive/items/root".to_string(),
        "/me/drive/root:".to_string(),
        format!("/me/drive/items/{root_id}"),
    ] {
        let v = get_ok(&alice, &path).await;
        assert_eq!(v["id"], root_id.as_str(), "GET {path}");
        assert!(v["root"].is_object(), "GET {path}: {v}");
    }
    let a = get_ok(&alice, "/me/drive/root:/a").await;
    assert_eq!(a["parentReference"]["id"], root_id.as_str());
    assert_eq!(a["parentReference"]["path"], "/drive/root:");
    let a_by_root_alias = get_ok(&alice, "/me/drive/items/root:/a:").await;
    assert_eq!(a_by_root_alias["id"], a["id"]);

    // Names match without regard to case, and keep the case they were written in.
    for path in [
        "/me/drive/root:/A/B.TXT",
        "/me/drive/root:/a/B.txt:",
        "/me/drive/root:/A/b.TXT:",
    ] {
        let v = get_ok(&alice, path).await;
        assert_eq!(v["id"], file_id.as_str(), "GET {path}");
        assert_eq!(v["name"], "b.txt", "GET {path}");
    }
    assert_eq!(get_ok(&alice, "/me/drive/root:/A").await["name"], "a");

    // Missing items.
    for path in [
        "/me/drive/root:/a/nope.txt".to_string(),
        "/me/drive/root:/nope/b.txt".to_string(),
        "/me/drive/root:/a/b.txt/c".to_string(),
        "/me/drive/items/00000000000FFFFF".to_string(),
        "/me/drive/items/not-an-id".to_string(),
        format!("/me/drive/items/{}:/zzz:", id(&a)),
    ] {
        alice.get(&path).await.expect_error(404, "itemNotFound");
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Listing
// ---------------------------------------------------------------------------------------------

/// Creates `/list` with 25 small files `f00.txt` … `f24.txt` (uploaded out of order).
async fn twenty_five_files(api: &Api) -> Vec<String> {
    let mut expected: Vec<String> = (0..25).map(|i| format!("f{i:02}.txt")).collect();
    for i in (0..25).rev() {
        api.upload(&format!("list/f{i:02}.txt"), vec![b'x'; i + 1])
            .await;
    }
    expected.sort();
    expected
}

/// Follows `@odata.nextLink` from `first` to the end; returns the names and the page sizes.
async fn follow_pages(api: &Api, server: &TestServer, first: &str) -> (Vec<String>, Vec<usize>) {
    let mut all = vec![];
    let mut sizes = vec![];
    let mut url = first.to_string();
    for _ in 0..20 {
        let page = get_ok(api, &url).await;
        let n = names(&page);
        sizes.push(n.len());
        all.extend(n);
        match page.get("@odata.nextLink") {
            None | Some(Value::Null) => return (all, sizes),
            Some(link) => {
                let link = link.as_str().expect("nextLink is a string");
                assert!(
                    link.starts_with(&format!("{}/", server.url)),
                    "nextLink must be an absolute URL on the server: {link}"
                );
                url = link.to_string();
            }
        }
    }
    panic!("paging did not end after 20 pages");
}

async fn listing_pages_through_next_links(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let expected = twenty_five_files(&alice).await;

    let first = get_ok(&alice, "/me/drive/root:/list:/children?$top=10").await;
    assert_eq!(names(&first), expected[..10].to_vec());
    let link = first["@odata.nextLink"]
        .as_str()
        .unwrap_or_else(|| panic!("a first page of 10 of 25 has a nextLink: {first}"));
    assert!(
        link.starts_with(&format!("{}/", server.url)),
        "nextLink must be absolute: {link}"
    );

    let (all, sizes) =
        follow_pages(&alice, &server, "/me/drive/root:/list:/children?$top=10").await;
    assert_eq!(sizes, vec![10, 10, 5]);
    assert_eq!(all, expected, "every child once, in name order");
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), 25);

    // `%24top` is `$top`, and so is `top`.
    for q in ["%24top=10", "top=10"] {
        let path = format!("/me/drive/root:/list:/children?{q}");
        let page = get_ok(&alice, &path).await;
        assert_eq!(names(&page), expected[..10].to_vec(), "{q}");
        assert!(page["@odata.nextLink"].is_string(), "{q}: {page}");
        let (all, sizes) = follow_pages(&alice, &server, &path).await;
        assert_eq!(all, expected, "{q}");
        assert_eq!(sizes, vec![10, 10, 5], "{q}");
    }

    // By id as well, and without $top everything fits in one page.
    let list_id = id(&get_ok(&alice, "/me/drive/root:/list").await);
    let whole = get_ok(&alice, &format!("/me/drive/items/{list_id}/children")).await;
    assert_eq!(names(&whole), expected);
    assert!(whole.get("@odata.nextLink").is_none_or(Value::is_null));
}

async fn listing_orders_selects_and_expands(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let expected = twenty_five_files(&alice).await;
    let mut reversed = expected.clone();
    reversed.reverse();

    let desc = get_ok(
        &alice,
        "/me/drive/root:/list:/children?$orderby=name%20desc",
    )
    .await;
    assert_eq!(names(&desc), reversed);
    let asc = get_ok(&alice, "/me/drive/root:/list:/children?$orderby=name%20asc").await;
    assert_eq!(names(&asc), expected);
    let (paged, sizes) = follow_pages(
        &alice,
        &server,
        "/me/drive/root:/list:/children?$orderby=name%20desc&$top=10",
    )
    .await;
    assert_eq!(paged, reversed, "paging keeps the descending order");
    assert_eq!(sizes, vec![10, 10, 5]);

    // $select keeps only what was asked for (and id).
    let selected = get_ok(&alice, "/me/drive/root:/list:/children?$select=id,name").await;
    let items = selected["value"].as_array().expect("value");
    assert_eq!(items.len(), 25);
    for item in items {
        let keys: HashSet<&str> = item
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, HashSet::from(["id", "name"]), "{item}");
    }
    let only_name = get_ok(&alice, "/me/drive/root:/list:/children?$select=name&$top=3").await;
    for item in only_name["value"].as_array().expect("value") {
        let keys: HashSet<&str> = item
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, HashSet::from(["id", "name"]), "{item}");
    }

    // The nextLink keeps $select (and $top) for the following pages.
    let mut url = "/me/drive/root:/list:/children?$select=id,name&$top=10".to_string();
    let mut seen = vec![];
    for _ in 0..5 {
        let page = get_ok(&alice, &url).await;
        for item in page["value"].as_array().expect("value") {
            let keys: HashSet<&str> = item
                .as_object()
                .expect("object")
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(keys, HashSet::from(["id", "name"]), "{url}: {item}");
        }
        seen.extend(names(&page));
        match page["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, expected);

    // $expand=children embeds them in the item.
    let folder = get_ok(&alice, "/me/drive/root:/list?$expand=children").await;
    assert_eq!(folder["name"], "list");
    assert_eq!(folder["folder"]["childCount"], 25);
    let children = folder["children"]
        .as_array()
        .unwrap_or_else(|| panic!("no children: {folder}"));
    let child_names: Vec<String> = children.iter().map(|c| text(c, "name")).collect();
    assert_eq!(child_names, expected);
    assert!(children.iter().all(|c| c["file"].is_object()));

    // A file has no children to list.
    let file = get_ok(&alice, "/me/drive/root:/list/f00.txt").await;
    alice
        .get("/me/drive/root:/list/f00.txt:/children")
        .await
        .expect_error(400, "invalidRequest");
    alice
        .get(&format!("/me/drive/items/{}/children", id(&file)))
        .await
        .expect_error(400, "invalidRequest");
}

// ---------------------------------------------------------------------------------------------
// 3. Create folder
// ---------------------------------------------------------------------------------------------

async fn create_folder_and_conflict_behaviors(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let drive = text(&my_drive(&alice).await, "id");
    let root_id = id(&get_ok(&alice, "/me/drive/root").await);

    let created = alice
        .post(
            "/me/drive/root/children",
            &json!({ "name": "Reports", "folder": {} }),
        )
        .await
        .expect(201)
        .json();
    assert_eq!(created["name"], "Reports");
    assert_eq!(created["folder"]["childCount"], 0);
    assert_eq!(created["size"], 0);
    assert!(created.get("file").is_none(), "{created}");
    assert_eq!(created["parentReference"]["id"], root_id.as_str());
    assert_eq!(created["parentReference"]["driveId"], drive.as_str());
    assert_eq!(created["parentReference"]["path"], "/drive/root:");
    let fetched = get_ok(&alice, "/me/drive/root:/Reports").await;
    assert_eq!(fetched["id"], created["id"]);
    assert_eq!(
        get_ok(&alice, "/me/drive/root").await["folder"]["childCount"],
        1
    );

    // Nested, by a path address of the parent.
    let nested = alice
        .post(
            "/me/drive/root:/Reports:/children",
            &json!({ "name": "2024", "folder": {} }),
        )
        .await
        .expect(201)
        .json();
    assert_eq!(nested["parentReference"]["id"], created["id"]);
    assert_eq!(nested["parentReference"]["path"], "/drive/root:/Reports");
    assert_eq!(totals(&alice, "/me/drive/root:/Reports").await, (0, 1));

    // Default conflict behaviour: fail (and an explicit fail too).
    alice
        .post(
            "/me/drive/root/children",
            &json!({ "name": "Reports", "folder": {} }),
        )
        .await
        .expect_error(409, "nameAlreadyExists");
    alice
        .post(
            "/me/drive/root/children",
            &json!({ "name": "reports", "folder": {}, "@microsoft.graph.conflictBehavior": "fail" }),
        )
        .await
        .expect_error(409, "nameAlreadyExists");

    // rename, asked three ways, each in a parent of its own: `Docs` → `Docs 1` → `Docs 2`.
    for (parent, query, body_key) in [
        ("body", "", Some("@microsoft.graph.conflictBehavior")),
        ("legacy", "", Some("@name.conflictBehavior")),
        ("query", "?@microsoft.graph.conflictBehavior=rename", None),
    ] {
        alice.mkdir("/me/drive/root", parent).await;
        let url = format!("/me/drive/root:/{parent}:/children{query}");
        let mut body = json!({ "name": "Docs", "folder": {} });
        let first = alice.post(&url, &body).await.expect(201).json();
        assert_eq!(first["name"], "Docs", "{parent}");
        if let Some(key) = body_key {
            body[key] = json!("rename");
        }
        for n in 1..=2 {
            let r = alice.post(&url, &body).await;
            assert_eq!(r.status, 201, "{parent} rename #{n}: {}", r.text());
            let v = r.json();
            assert_eq!(v["name"], format!("Docs {n}"), "{parent}");
            assert_eq!(v["folder"]["childCount"], 0);
        }
        assert_eq!(
            totals(&alice, &format!("/me/drive/root:/{parent}")).await,
            (0, 3),
            "{parent}"
        );
    }

    // The query wins over the body, both ways.
    let won = alice
        .post(
            "/me/drive/root:/query:/children?@microsoft.graph.conflictBehavior=rename",
            &json!({ "name": "Docs", "folder": {}, "@microsoft.graph.conflictBehavior": "fail" }),
        )
        .await
        .expect(201)
        .json();
    assert_eq!(won["name"], "Docs 3");
    alice
        .post(
            "/me/drive/root:/body:/children?@microsoft.graph.conflictBehavior=fail",
            &json!({ "name": "Docs", "folder": {}, "@microsoft.graph.conflictBehavior": "rename" }),
        )
        .await
        .expect_error(409, "nameAlreadyExists");
    assert_eq!(totals(&alice, "/me/drive/root:/body").await, (0, 3));
    server.assert_store_consistent().await;
}

// ---------------------------------------------------------------------------------------------
// 4. Simple upload
// ---------------------------------------------------------------------------------------------

async fn simple_upload_create_replace_and_conflicts(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let url = "/me/drive/root:/docs/report.txt:/content";

    let v1 = b"first version".to_vec();
    let created = alice.put(url, v1.clone()).await.expect(201).json();
    assert_eq!(created["name"], "report.txt");
    assert_eq!(created["size"], v1.len());
    assert_hashes(&created, &v1);
    let file_id = id(&created);

    // Replacing is the default: 200, the same item, new content, new eTag and cTag.
    let v2 = b"the second, longer version".to_vec();
    let replaced = alice.put(url, v2.clone()).await.expect(200).json();
    assert_eq!(replaced["id"], file_id.as_str());
    assert_eq!(replaced["size"], v2.len());
    assert_hashes(&replaced, &v2);
    assert_ne!(
        replaced["eTag"], created["eTag"],
        "eTag changes with content"
    );
    assert_ne!(
        replaced["cTag"], created["cTag"],
        "cTag changes with content"
    );
    assert_eq!(
        alice
            .download(&format!("/me/drive/items/{file_id}/content"))
            .await,
        v2
    );
    assert_eq!(
        totals(&alice, "/me/drive/root:/docs").await.0,
        v2.len() as i64
    );

    // fail: 409 and nothing changes.
    alice
        .put(
            "/me/drive/root:/docs/report.txt:/content?@microsoft.graph.conflictBehavior=fail",
            b"should not land".to_vec(),
        )
        .await
        .expect_error(409, "nameAlreadyExists");
    assert_eq!(
        alice
            .download(&format!("/me/drive/items/{file_id}/content"))
            .await,
        v2
    );

    // rename: a new file next to it.
    let v3 = b"renamed copy".to_vec();
    let renamed = alice
        .put(
            "/me/drive/root:/docs/report.txt:/content?@microsoft.graph.conflictBehavior=rename",
            v3.clone(),
        )
        .await
        .expect(201)
        .json();
    assert_eq!(renamed["name"], "report 1.txt");
    assert_ne!(renamed["id"], file_id.as_str());
    assert_eq!(renamed["parentReference"]["path"], "/drive/root:/docs");
    assert_hashes(&renamed, &v3);
    assert_eq!(
        alice
            .download("/me/drive/root:/docs/report 1.txt:/content")
            .await,
        v3
    );
    assert_eq!(
        totals(&alice, "/me/drive/root:/docs").await,
        ((v2.len() + v3.len()) as i64, 2)
    );

    // An explicit replace is the same as the default.
    let v4 = b"v4".to_vec();
    let again = alice
        .put(
            "/me/drive/root:/docs/report.txt:/content?@microsoft.graph.conflictBehavior=replace",
            v4.clone(),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(again["id"], file_id.as_str());
    assert_eq!(again["size"], 2);
    assert_eq!(quota_used(&alice).await, (v4.len() + v3.len()) as i64);
    server.assert_store_consistent().await;
}

async fn simple_upload_by_path_empty_and_by_id(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");

    // Missing folders on the way are created.
    let bytes = pattern(5_000, 1);
    let deep = alice
        .put("/me/drive/root:/x/y/z/deep.bin:/content", bytes.clone())
        .await
        .expect(201)
        .json();
    assert_eq!(deep["parentReference"]["path"], "/drive/root:/x/y/z");
    for folder in [
        "/me/drive/root:/x",
        "/me/drive/root:/x/y",
        "/me/drive/root:/x/y/z",
    ] {
        assert_eq!(totals(&alice, folder).await, (5_000, 1), "{folder}");
    }
    let z = get_ok(&alice, "/me/drive/root:/x/y/z").await;
    assert_eq!(deep["parentReference"]["id"], z["id"]);

    // Relative to a folder id.
    let rel = alice
        .put(
            &format!("/me/drive/items/{}:/rel.txt:/content", id(&z)),
            b"relative".to_vec(),
        )
        .await
        .expect(201)
        .json();
    assert_eq!(rel["parentReference"]["id"], z["id"]);
    assert_eq!(totals(&alice, "/me/drive/root:/x").await, (5_008, 1));

    // An empty file.
    let empty = alice
        .put("/me/drive/root:/empty.txt:/content", Vec::new())
        .await
        .expect(201)
        .json();
    assert_eq!(empty["size"], 0);
    assert!(empty["file"].is_object(), "{empty}");
    assert_hashes(&empty, b"");
    assert_eq!(
        alice
            .download(&format!("/me/drive/items/{}/content", id(&empty)))
            .await,
        Vec::<u8>::new()
    );

    // PUT …/items/{id}/content replaces that file.
    let new_bytes = pattern(1_234, 9);
    let by_id = alice
        .put(
            &format!("/me/drive/items/{}/content", id(&deep)),
            new_bytes.clone(),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(by_id["id"], deep["id"]);
    assert_eq!(by_id["name"], "deep.bin");
    assert_eq!(by_id["size"], 1_234);
    assert_hashes(&by_id, &new_bytes);
    assert_eq!(
        alice
            .download(&format!("/me/drive/items/{}/content", id(&deep)))
            .await,
        new_bytes
    );
    assert_eq!(totals(&alice, "/me/drive/root:/x/y").await, (1_242, 1));
    assert_eq!(quota_used(&alice).await, 1_242);

    // A folder has no content to put.
    alice
        .put("/me/drive/root:/x/y:/content", b"nope".to_vec())
        .await
        .expect_error(400, "invalidRequest");
    alice
        .put(
            &format!("/me/drive/items/{}/content", id(&z)),
            b"nope".to_vec(),
        )
        .await
        .expect_error(400, "invalidRequest");
    assert_eq!(totals(&alice, "/me/drive/root:/x/y/z").await, (1_242, 2));
    server.assert_store_consistent().await;
}

/// A rejected simple upload of a real-sized body must come back as a readable error, and the
/// connection must then serve the next request — or the response must say `Connection: close`.
async fn rejected_uploads_leave_the_connection_usable(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let file = alice.upload("big/file.bin", pattern(10, 1)).await;
    let stale = text(&file, "eTag");
    alice
        .put(
            &format!("/me/drive/items/{}/content", id(&file)),
            pattern(20, 2),
        )
        .await
        .expect(200);
    let auth = format!("Bearer {}", alice.token.clone().expect("token"));
    let host = server.url.trim_start_matches("http://").to_string();
    let mut conn = TcpStream::connect(&host).await.expect("connect");
    let body = pattern(1_000_000, 3);
    let file_content = format!("/v1.0/me/drive/items/{}/content", id(&file));
    let attempts = [
        // Onto a folder: 400.
        ("/v1.0/me/drive/root:/big:/content", None, 400),
        // With a stale eTag: 412.
        (file_content.as_str(), Some(stale.as_str()), 412),
    ];
    for (path, if_match, expected) in attempts {
        let mut headers = vec![("Authorization", auth.as_str())];
        if let Some(tag) = if_match {
            headers.push(("If-Match", tag));
        }
        let put = raw_request("PUT", path, &host, &headers, &body);
        let r = exchange(&mut conn, &put)
            .await
            .unwrap_or_else(|e| panic!("PUT {path}: no readable answer: {e}"));
        assert_eq!(
            r.status,
            expected,
            "PUT {path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        if r.header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"))
        {
            conn = TcpStream::connect(&host).await.expect("reconnect");
        }
        let get = raw_request(
            "GET",
            "/v1.0/me/drive/root:/big/file.bin",
            &host,
            &[("Authorization", &auth)],
            b"",
        );
        let r = exchange(&mut conn, &get).await.unwrap_or_else(|e| {
            panic!(
                "after the {expected} for PUT {path} (sent without `Connection: close`) the \
                 connection did not serve the next request: {e}"
            )
        });
        assert_eq!(r.status, 200);
        let v: Value = serde_json::from_slice(&r.body).expect("JSON item");
        assert_eq!(v["size"], 20, "the rejected upload changed nothing");
    }
    assert_eq!(totals(&alice, "/me/drive/root:/big").await, (20, 1));
}

// ---------------------------------------------------------------------------------------------
// 5. Download
// ---------------------------------------------------------------------------------------------

async fn download_redirect_and_ranges(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let bytes = pattern(1_000, 3);
    let n = bytes.len();
    let item = alice.upload("dl/data.bin", bytes.clone()).await;
    let item_id = id(&item);

    for path in [
        format!("/me/drive/items/{item_id}/content"),
        "/me/drive/root:/dl/data.bin:/content".to_string(),
    ] {
        let r = alice.get(&path).await.expect(302);
        let location = r.header("location").expect("Location");
        assert!(location.starts_with("http://"), "absolute: {location}");
        let full = server.anonymous().get(&location).await.expect(200);
        assert_eq!(full.body, bytes, "{path}");
        assert_eq!(full.header("content-length"), Some(n.to_string()));
        assert_eq!(full.header("accept-ranges").as_deref(), Some("bytes"));
    }

    let part = ranged(&alice, &server, &item_id, "bytes=10-19")
        .await
        .expect(206);
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 10-19/{n}"))
    );
    assert_eq!(part.header("content-length").as_deref(), Some("10"));
    assert_eq!(part.body, bytes[10..20].to_vec());

    let tail = ranged(&alice, &server, &item_id, "bytes=-5")
        .await
        .expect(206);
    assert_eq!(tail.body, bytes[n - 5..].to_vec());
    assert_eq!(
        tail.header("content-range"),
        Some(format!("bytes {}-{}/{n}", n - 5, n - 1))
    );

    let open = ranged(&alice, &server, &item_id, "bytes=990-")
        .await
        .expect(206);
    assert_eq!(open.body, bytes[990..].to_vec());

    for beyond in [format!("bytes={n}-"), format!("bytes={}-", n + 500)] {
        let r = ranged(&alice, &server, &item_id, &beyond).await;
        assert_eq!(r.status, 416, "{beyond}: {}", r.text());
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes */{n}")),
            "{beyond}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Update
// ---------------------------------------------------------------------------------------------

async fn update_renames_and_moves(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let bytes = pattern(100, 5);
    let file = alice.upload("src/one.txt", bytes.clone()).await;
    let file_id = id(&file);
    let item_url = format!("/me/drive/items/{file_id}");
    let src = get_ok(&alice, "/me/drive/root:/src").await;
    let dest = alice.mkdir("/me/drive/root", "dest").await;
    let dest_id = id(&dest);

    // Rename.
    let renamed = alice
        .patch(&item_url, &json!({ "name": "uno.txt" }))
        .await
        .expect(200)
        .json();
    assert_eq!(renamed["id"], file_id.as_str());
    assert_eq!(renamed["name"], "uno.txt");
    assert_eq!(renamed["cTag"], file["cTag"], "a rename keeps the cTag");
    assert_ne!(renamed["eTag"], file["eTag"], "a rename changes the eTag");
    alice
        .get("/me/drive/root:/src/one.txt")
        .await
        .expect_error(404, "itemNotFound");
    assert_eq!(
        get_ok(&alice, "/me/drive/root:/src/uno.txt").await["id"],
        file_id.as_str()
    );

    // Move by parentReference.id.
    let moved = alice
        .patch(&item_url, &json!({ "parentReference": { "id": dest_id } }))
        .await
        .expect(200)
        .json();
    assert_eq!(moved["parentReference"]["id"], dest_id.as_str());
    assert_eq!(moved["parentReference"]["path"], "/drive/root:/dest");
    assert_eq!(moved["name"], "uno.txt");
    assert_eq!(
        get_ok(&alice, "/me/drive/root:/dest/uno.txt").await["id"],
        file_id.as_str()
    );
    alice
        .get("/me/drive/root:/src/uno.txt")
        .await
        .expect_error(404, "itemNotFound");

    // Move by parentReference.path.
    let back = alice
        .patch(
            &item_url,
            &json!({ "parentReference": { "path": "/drive/root:/src" } }),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(back["parentReference"]["id"], src["id"]);
    assert_eq!(back["parentReference"]["path"], "/drive/root:/src");

    // Move by a path into a nested folder (by its path in the body).
    alice.mkdir("/me/drive/root:/dest:", "inner").await;
    let nested = alice
        .patch(
            &item_url,
            &json!({ "parentReference": { "path": "/drive/root:/dest/inner" } }),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(nested["parentReference"]["path"], "/drive/root:/dest/inner");

    // rclone's body: empty path and driveType, with a new name.
    let rclone = alice
        .patch(
            &item_url,
            &json!({
                "parentReference": { "id": dest_id, "path": "", "driveType": "" },
                "name": "x.txt"
            }),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(rclone["name"], "x.txt");
    assert_eq!(rclone["parentReference"]["id"], dest_id.as_str());
    assert_eq!(rclone["parentReference"]["path"], "/drive/root:/dest");
    assert_eq!(
        alice.download("/me/drive/root:/dest/x.txt:/content").await,
        bytes,
        "content follows the item"
    );

    // Rename and move by a path address of the item itself.
    let by_path = alice
        .patch(
            "/me/drive/root:/dest/x.txt:",
            &json!({ "name": "y.txt", "parentReference": { "id": id(&src) } }),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(by_path["id"], file_id.as_str());
    assert_eq!(by_path["parentReference"]["path"], "/drive/root:/src");
    assert_eq!(
        get_ok(&alice, "/me/drive/root:/src/y.txt").await["id"],
        file_id.as_str()
    );
    server.assert_store_consistent().await;
}

async fn update_rejects_bad_moves_and_sets_times(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    alice.upload("top/mid/low/f.txt", b"f".to_vec()).await;
    let top = get_ok(&alice, "/me/drive/root:/top").await;
    let mid = get_ok(&alice, "/me/drive/root:/top/mid").await;
    let low = get_ok(&alice, "/me/drive/root:/top/mid/low").await;
    let top_url = format!("/me/drive/items/{}", id(&top));

    // Into itself or below itself.
    for target in [&top, &mid, &low] {
        alice
            .patch(
                &top_url,
                &json!({ "parentReference": { "id": id(target) } }),
            )
            .await
            .expect_error(400, "invalidRequest");
    }
    alice
        .patch(
            &top_url,
            &json!({ "parentReference": { "path": "/drive/root:/top/mid/low" } }),
        )
        .await
        .expect_error(400, "invalidRequest");
    let still = get_ok(&alice, "/me/drive/root:/top/mid/low").await;
    assert_eq!(still["id"], low["id"], "nothing moved");
    assert_eq!(still["parentReference"]["id"], mid["id"]);

    // Onto a sibling's name (names match without regard to case).
    let a = alice.upload("names/a.txt", b"a".to_vec()).await;
    alice.upload("names/b.txt", b"b".to_vec()).await;
    alice.upload("other/a.txt", b"other a".to_vec()).await;
    let a_url = format!("/me/drive/items/{}", id(&a));
    alice
        .patch(&a_url, &json!({ "name": "b.txt" }))
        .await
        .expect_error(409, "nameAlreadyExists");
    alice
        .patch(&a_url, &json!({ "name": "B.TXT" }))
        .await
        .expect_error(409, "nameAlreadyExists");
    let other = get_ok(&alice, "/me/drive/root:/other").await;
    alice
        .patch(&a_url, &json!({ "parentReference": { "id": id(&other) } }))
        .await
        .expect_error(409, "nameAlreadyExists");
    let a_now = get_ok(&alice, &a_url).await;
    assert_eq!(a_now["name"], "a.txt");
    assert_eq!(a_now["parentReference"]["path"], "/drive/root:/names");
    // A change of case only is a rename of the item onto itself, which is fine.
    let cased = alice
        .patch(&a_url, &json!({ "name": "A.txt" }))
        .await
        .expect(200)
        .json();
    assert_eq!(cased["name"], "A.txt");

    // The root cannot be renamed or moved.
    alice
        .patch("/me/drive/root", &json!({ "name": "newroot" }))
        .await
        .expect_error(400, "invalidRequest");

    // fileSystemInfo.
    let created = "2019-03-04T05:06:07Z";
    let modified = "2020-01-02T03:04:05Z";
    let patched = alice
        .patch(
            &a_url,
            &json!({ "fileSystemInfo": { "createdDateTime": created, "lastModifiedDateTime": modified } }),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(patched["fileSystemInfo"]["createdDateTime"], created);
    assert_eq!(patched["fileSystemInfo"]["lastModifiedDateTime"], modified);
    let read = get_ok(&alice, &a_url).await;
    assert_eq!(read["fileSystemInfo"]["createdDateTime"], created);
    assert_eq!(read["fileSystemInfo"]["lastModifiedDateTime"], modified);
    assert_eq!(read["name"], "A.txt");
    // Only one of them: the other stays.
    let later = "2022-12-31T23:59:58Z";
    alice
        .patch(
            &a_url,
            &json!({ "fileSystemInfo": { "lastModifiedDateTime": later } }),
        )
        .await
        .expect(200);
    let read = get_ok(&alice, &a_url).await;
    assert_eq!(read["fileSystemInfo"]["createdDateTime"], created);
    assert_eq!(read["fileSystemInfo"]["lastModifiedDateTime"], later);
    // On a folder too.
    let folder_times = alice
        .patch(
            &top_url,
            &json!({ "fileSystemInfo": { "createdDateTime": created, "lastModifiedDateTime": modified } }),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(
        folder_times["fileSystemInfo"]["lastModifiedDateTime"],
        modified
    );
    assert_eq!(
        get_ok(&alice, &top_url).await["fileSystemInfo"]["createdDateTime"],
        created
    );
    server.assert_store_consistent().await;
}

async fn moves_keep_folder_totals_right(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    // root
    //   t1/ t1a/{f1 100, f2 50}, g 10
    //   t2/ t2a/{h 7}
    alice.upload("t1/t1a/f1.bin", pattern(100, 1)).await;
    alice.upload("t1/t1a/f2.bin", pattern(50, 2)).await;
    alice.upload("t1/g.bin", pattern(10, 3)).await;
    alice.upload("t2/t2a/h.bin", pattern(7, 4)).await;
    assert_eq!(totals(&alice, "/me/drive/root").await, (167, 2));
    assert_eq!(totals(&alice, "/me/drive/root:/t1").await, (160, 2));
    assert_eq!(totals(&alice, "/me/drive/root:/t1/t1a").await, (150, 2));
    assert_eq!(totals(&alice, "/me/drive/root:/t2").await, (7, 1));
    assert_eq!(totals(&alice, "/me/drive/root:/t2/t2a").await, (7, 1));

    // Move the folder t1a into t2/t2a.
    let t1a = get_ok(&alice, "/me/drive/root:/t1/t1a").await;
    let t2a = get_ok(&alice, "/me/drive/root:/t2/t2a").await;
    alice
        .patch(
            &format!("/me/drive/items/{}", id(&t1a)),
            &json!({ "parentReference": { "id": id(&t2a) } }),
        )
        .await
        .expect(200);
    assert_eq!(totals(&alice, "/me/drive/root:/t1").await, (10, 1));
    assert_eq!(totals(&alice, "/me/drive/root:/t2/t2a").await, (157, 2));
    assert_eq!(totals(&alice, "/me/drive/root:/t2").await, (157, 1));
    assert_eq!(totals(&alice, "/me/drive/root:/t2/t2a/t1a").await, (150, 2));
    assert_eq!(totals(&alice, "/me/drive/root").await, (167, 2));
    let f1 = get_ok(&alice, "/me/drive/root:/t2/t2a/t1a/f1.bin").await;
    assert_eq!(f1["parentReference"]["path"], "/drive/root:/t2/t2a/t1a");

    // Move one file from deep inside t2 back up to t1, by path.
    alice
        .patch(
            &format!("/me/drive/items/{}", id(&f1)),
            &json!({ "parentReference": { "path": "/drive/root:/t1" } }),
        )
        .await
        .expect(200);
    assert_eq!(totals(&alice, "/me/drive/root:/t1").await, (110, 2));
    assert_eq!(totals(&alice, "/me/drive/root:/t2").await, (57, 1));
    assert_eq!(totals(&alice, "/me/drive/root:/t2/t2a").await, (57, 2));
    assert_eq!(totals(&alice, "/me/drive/root:/t2/t2a/t1a").await, (50, 1));
    assert_eq!(totals(&alice, "/me/drive/root").await, (167, 2));

    // Move t2 as a whole under t1, renaming it: the root loses a child.
    let t2 = get_ok(&alice, "/me/drive/root:/t2").await;
    alice
        .patch(
            &format!("/me/drive/items/{}", id(&t2)),
            &json!({ "parentReference": { "path": "/drive/root:/t1" }, "name": "t2moved" }),
        )
        .await
        .expect(200);
    assert_eq!(totals(&alice, "/me/drive/root").await, (167, 1));
    assert_eq!(totals(&alice, "/me/drive/root:/t1").await, (167, 3));
    assert_eq!(
        totals(&alice, "/me/drive/root:/t1/t2moved/t2a").await,
        (57, 2)
    );
    assert_eq!(quota_used(&alice).await, 167);

    // A rename in place changes no totals.
    alice
        .patch(
            &format!("/me/drive/items/{}", id(&t2)),
            &json!({ "name": "t2renamed" }),
        )
        .await
        .expect(200);
    assert_eq!(totals(&alice, "/me/drive/root:/t1").await, (167, 3));
    assert_eq!(
        totals(&alice, "/me/drive/root:/t1/t2renamed").await,
        (57, 1)
    );
    assert_eq!(file_count(&alice).await, 4, "moves change no file count");
    server.assert_store_consistent().await;
}

// ---------------------------------------------------------------------------------------------
// 7. Conditional requests
// ---------------------------------------------------------------------------------------------

async fn conditional_requests(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let first = alice.upload("c/file.txt", b"one".to_vec()).await;
    let url = format!("/me/drive/items/{}", id(&first));
    let stale = text(&first, "eTag");
    let current_bytes = b"two, current".to_vec();
    let current = alice
        .put(&format!("{url}/content"), current_bytes.clone())
        .await
        .expect(200)
        .json();
    let current_tag = text(&current, "eTag");
    assert_ne!(stale, current_tag);

    // A stale eTag: 412, nothing changes.
    patch_with(
        &alice,
        &url,
        &[("if-match", &stale)],
        &json!({ "name": "renamed.txt" }),
    )
    .await
    .expect_error(412, "resourceModified");
    alice
        .send(Method::DELETE, &url, &[("if-match", &stale)], None)
        .await
        .expect_error(412, "resourceModified");
    put_with(
        &alice,
        &format!("{url}/content"),
        &[("if-match", &stale)],
        b"must not land",
    )
    .await
    .expect_error(412, "resourceModified");
    put_with(
        &alice,
        "/me/drive/root:/c/file.txt:/content",
        &[("if-match", &stale)],
        b"must not land either",
    )
    .await
    .expect_error(412, "resourceModified");
    let unchanged = get_ok(&alice, &url).await;
    assert_eq!(unchanged["name"], "file.txt");
    assert_eq!(unchanged["eTag"], current_tag.as_str());
    assert_eq!(unchanged["size"], current_bytes.len());
    assert_eq!(
        alice.download(&format!("{url}/content")).await,
        current_bytes
    );

    // If-None-Match: 304 with the current tag, 200 with a stale one.
    let r = alice
        .send(Method::GET, &url, &[("if-none-match", &current_tag)], None)
        .await
        .expect(304);
    assert!(r.body.is_empty(), "a 304 has no body");
    let r = alice
        .send(Method::GET, &url, &[("if-none-match", &stale)], None)
        .await
        .expect(200);
    assert_eq!(r.json()["id"], first["id"]);

    // The current eTag: each succeeds, and each change makes a new eTag.
    let patched = patch_with(
        &alice,
        &url,
        &[("if-match", &current_tag)],
        &json!({ "name": "renamed.txt" }),
    )
    .await
    .expect(200)
    .json();
    assert_eq!(patched["name"], "renamed.txt");
    let tag = text(&patched, "eTag");
    assert_ne!(tag, current_tag);
    let new_bytes = b"three".to_vec();
    let put = put_with(
        &alice,
        &format!("{url}/content"),
        &[("if-match", &tag)],
        &new_bytes,
    )
    .await
    .expect(200)
    .json();
    assert_eq!(put["size"], 5);
    let tag = text(&put, "eTag");
    // The old eTag of a renamed item no longer deletes it; the current one does.
    alice
        .send(Method::DELETE, &url, &[("if-match", &current_tag)], None)
        .await
        .expect_error(412, "resourceModified");
    alice
        .send(Method::DELETE, &url, &[("if-match", &tag)], None)
        .await
        .expect(204);
    alice.get(&url).await.expect_error(404, "itemNotFound");
}

// ---------------------------------------------------------------------------------------------
// 8. Delete
// ---------------------------------------------------------------------------------------------

async fn delete_items_and_subtrees(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    let keep = alice.upload("keep.txt", pattern(5, 1)).await;
    alice.upload("tree/a.txt", pattern(10, 2)).await;
    alice.upload("tree/sub/b.txt", pattern(20, 3)).await;
    let c = alice.upload("tree/sub/deeper/c.txt", pattern(30, 4)).await;
    let sub = get_ok(&alice, "/me/drive/root:/tree/sub").await;
    let deeper = get_ok(&alice, "/me/drive/root:/tree/sub/deeper").await;
    assert_eq!(quota_used(&alice).await, 65);
    assert_eq!(file_count(&alice).await, 4);
    assert_eq!(totals(&alice, "/me/drive/root").await, (65, 2));

    // A file.
    let keep_url = format!("/me/drive/items/{}", id(&keep));
    alice.delete(&keep_url).await.expect(204);
    alice.get(&keep_url).await.expect_error(404, "itemNotFound");
    alice
        .get("/me/drive/root:/keep.txt")
        .await
        .expect_error(404, "itemNotFound");
    assert_eq!(totals(&alice, "/me/drive/root").await, (60, 1));
    // What is deleted waits in the recycle bin, which counts as used.
    assert_eq!(quota_used(&alice).await, 65);
    assert_eq!(quota_deleted(&alice).await, 5);
    assert_eq!(file_count(&alice).await, 3);
    alice
        .delete(&keep_url)
        .await
        .expect_error(404, "itemNotFound");

    // A folder, by its path: everything below goes.
    alice.delete("/me/drive/root:/tree/sub").await.expect(204);
    for gone in [
        "/me/drive/root:/tree/sub".to_string(),
        "/me/drive/root:/tree/sub/b.txt".to_string(),
        "/me/drive/root:/tree/sub/deeper".to_string(),
        "/me/drive/root:/tree/sub/deeper/c.txt".to_string(),
        format!("/me/drive/items/{}", id(&sub)),
        format!("/me/drive/items/{}", id(&deeper)),
        format!("/me/drive/items/{}", id(&c)),
    ] {
        alice.get(&gone).await.expect_error(404, "itemNotFound");
    }
    alice
        .get(&format!("/me/drive/items/{}/content", id(&c)))
        .await
        .expect_error(404, "itemNotFound");
    assert_eq!(totals(&alice, "/me/drive/root:/tree").await, (10, 1));
    assert_eq!(totals(&alice, "/me/drive/root").await, (10, 1));
    assert_eq!(quota_used(&alice).await, 65);
    assert_eq!(quota_deleted(&alice).await, 55);
    assert_eq!(
        file_count(&alice).await,
        1,
        "the files below a deleted folder are gone"
    );
    let listing = get_ok(&alice, "/me/drive/root:/tree:/children").await;
    assert_eq!(names(&listing), vec!["a.txt"]);

    // The rest, by id.
    let tree = get_ok(&alice, "/me/drive/root:/tree").await;
    alice
        .delete(&format!("/me/drive/items/{}", id(&tree)))
        .await
        .expect(204);
    alice
        .get("/me/drive/root:/tree/a.txt")
        .await
        .expect_error(404, "itemNotFound");
    assert_eq!(totals(&alice, "/me/drive/root").await, (0, 0));
    assert_eq!(quota_used(&alice).await, quota_deleted(&alice).await);
    assert_eq!(file_count(&alice).await, 0);

    // The root stays.
    let root_id = id(&get_ok(&alice, "/me/drive/root").await);
    alice
        .delete("/me/drive/root")
        .await
        .expect_error(400, "invalidRequest");
    alice
        .delete(&format!("/me/drive/items/{root_id}"))
        .await
        .expect_error(400, "invalidRequest");
    alice
        .delete("/me/drive/items/root")
        .await
        .expect_error(400, "invalidRequest");
    assert_eq!(
        get_ok(&alice, "/me/drive/root").await["id"],
        root_id.as_str()
    );
    server.assert_store_consistent().await;
}
