//! Paging a folder's children while it changes: the `$skiptoken` of a page names a place in the
//! sort order, so deleting, renaming or moving the last child of a page, or adding and moving
//! children between pages, never fails the next page nor skips or repeats a child that stayed.

mod common;

use std::collections::BTreeMap;

use common::{Api, Backend, TestServer};
use serde_json::{Value, json};

on_every_backend!(
    paging_survives_changes_between_pages,
    paging_in_descending_order,
    cursors_are_checked
);

/// One page of `url`: the names it holds and its nextLink.
async fn page(api: &Api, url: &str) -> (Vec<String>, Option<String>) {
    let v = api.get(url).await.expect(200).json();
    let names = v["value"]
        .as_array()
        .unwrap_or_else(|| panic!("no value: {v}"))
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    let next = v["@odata.nextLink"].as_str().map(str::to_string);
    (names, next)
}

async fn id_at(api: &Api, path: &str) -> String {
    let v = api.get(path).await.expect(200).json();
    v["id"].as_str().unwrap().to_string()
}

/// Makes `/p` with files `f00` … `f{n-1}` and a sibling folder `/elsewhere`.
async fn folder_of(api: &Api, n: usize) {
    for i in 0..n {
        api.upload(&format!("p/f{i:02}"), format!("{i}").into_bytes())
            .await;
    }
    api.mkdir("/me/drive/root", "elsewhere").await;
}

/// How often each name was returned, over all pages.
fn counts(pages: &[Vec<String>]) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for name in pages.iter().flatten() {
        *seen.entry(name.clone()).or_insert(0) += 1;
    }
    seen
}

async fn paging_survives_changes_between_pages(backend: Backend) {
    let server = TestServer::start(backend).await;
    let api = server.new_user("alice");
    folder_of(&api, 30).await;
    api.upload("elsewhere/f17b", b"to move in".to_vec()).await;
    let mut pages = vec![];
    let (first, next) = page(&api, "/me/drive/root:/p:/children?$top=5").await;
    assert_eq!(first, ["f00", "f01", "f02", "f03", "f04"]);
    pages.push(first);

    // The child the cursor was made from is deleted.
    api.delete("/me/drive/root:/p/f04").await.expect(204);
    let (second, next) = page(&api, &next.expect("a next page")).await;
    assert_eq!(second, ["f05", "f06", "f07", "f08", "f09"]);
    pages.push(second);

    // Renamed: the cursor's child (to a name further on), and one not yet listed (to a name
    // already passed). Added: a child further on. Moved in: a child further on. Moved out: one
    // not yet listed.
    let f09 = id_at(&api, "/me/drive/root:/p/f09").await;
    api.patch(
        &format!("/me/drive/items/{f09}"),
        &json!({ "name": "f29z" }),
    )
    .await
    .expect(200);
    api.patch("/me/drive/root:/p/f20", &json!({ "name": "a-early" }))
        .await
        .expect(200);
    api.upload("p/f15b", b"added".to_vec()).await;
    let p = id_at(&api, "/me/drive/root:/p").await;
    api.patch(
        "/me/drive/root:/elsewhere/f17b",
        &json!({ "parentReference": { "id": p } }),
    )
    .await
    .expect(200);
    let out = id_at(&api, "/me/drive/root:/elsewhere").await;
    api.patch(
        "/me/drive/root:/p/f12",
        &json!({ "parentReference": { "id": out } }),
    )
    .await
    .expect(200);

    let mut next = next;
    while let Some(url) = next {
        let (names, n) = page(&api, &url).await;
        assert!(
            !names.is_empty() || n.is_none(),
            "an empty page with a nextLink"
        );
        pages.push(names);
        next = n;
    }
    let seen = counts(&pages);
    // Every child that stayed where it was is listed exactly once.
    for i in (0..30).filter(|i| ![4, 9, 12, 20].contains(i)) {
        assert_eq!(
            seen.get(&format!("f{i:02}")),
            Some(&1),
            "f{i:02} in {seen:?}"
        );
    }
    // What arrived after the cursor is listed; what left before it was reached is not.
    for name in ["f15b", "f17b", "f29z"] {
        assert_eq!(seen.get(name), Some(&1), "{name} in {seen:?}");
    }
    for name in ["f12", "f20", "a-early"] {
        assert_eq!(seen.get(name), None, "{name} in {seen:?}");
    }
    // f09 is listed under its old name (before the rename) and its new one (after it).
    assert_eq!(seen.get("f09"), Some(&1));
}

async fn paging_in_descending_order(backend: Backend) {
    let server = TestServer::start(backend).await;
    let api = server.new_user("alice");
    folder_of(&api, 12).await;
    let (first, next) = page(
        &api,
        "/me/drive/root:/p:/children?$top=4&$orderby=name desc",
    )
    .await;
    assert_eq!(first, ["f11", "f10", "f09", "f08"]);
    api.delete("/me/drive/root:/p/f08").await.expect(204);
    api.upload("p/f00a", b"added".to_vec()).await;
    let (second, next) = page(&api, &next.unwrap()).await;
    assert_eq!(second, ["f07", "f06", "f05", "f04"]);
    let (third, next) = page(&api, &next.unwrap()).await;
    assert_eq!(third, ["f03", "f02", "f01", "f00a"]);
    let (last, next) = page(&api, &next.unwrap()).await;
    assert_eq!(last, ["f00"]);
    assert!(next.is_none());
}

async fn cursors_are_checked(backend: Backend) {
    let server = TestServer::start(backend).await;
    let api = server.new_user("alice");
    folder_of(&api, 6).await;
    let v: Value = api
        .get("/me/drive/root:/p:/children?$top=2")
        .await
        .expect(200)
        .json();
    let next = v["@odata.nextLink"].as_str().unwrap().to_string();
    let token = next.split("skiptoken=").nth(1).unwrap().to_string();
    // The ascending cursor in a descending listing, and tampered cursors, are 400s.
    for bad in [
        format!("/me/drive/root:/p:/children?$orderby=name%20desc&$skiptoken={token}"),
        format!("/me/drive/root:/p:/children?$skiptoken=x{token}"),
        "/me/drive/root:/p:/children?$skiptoken=a.%21%21".to_string(),
        "/me/drive/root:/p:/children?$skiptoken=a.".to_string(),
        // A NUL, which no name holds.
        "/me/drive/root:/p:/children?$skiptoken=a.AA".to_string(),
    ] {
        let body = api.get(&bad).await.expect_error(400, "invalidRequest");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("skiptoken")
        );
    }
    // The same cursor in another folder starts that folder's listing after the same name.
    api.upload("q/f00", b"0".to_vec()).await;
    api.upload("q/f05", b"5".to_vec()).await;
    let (names, _) = page(
        &api,
        &format!("/me/drive/root:/q:/children?$skiptoken={token}"),
    )
    .await;
    assert_eq!(names, ["f05"]);
}
