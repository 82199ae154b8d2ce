//! `GET /openapi.json` describes the routes the server answers, no more and no fewer: every
//! documented operation reaches a handler (never `405` or an unknown-resource error), and every
//! method an item address does not document is `405`.

mod common;

use common::{Backend, TestServer};
use reqwest::Method;
use serde_json::Value;

on_every_backend!(document_matches_the_router);

const METHODS: [&str; 6] = ["get", "head", "post", "put", "patch", "delete"];

async fn document_matches_the_router(backend: Backend) {
    let server = TestServer::start(backend).await;
    let api = server.new_user("alice");
    server.cli(&["group", "add", "team", "--member", "alice"]);
    let drive = api.get("/me/drive").await.expect(200).json();
    let drive_id = drive["id"].as_str().unwrap().to_string();
    let doc: Value = server
        .anonymous()
        .get(&format!("{}/openapi.json", server.url))
        .await
        .expect(200)
        .json();
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() > 80, "{} paths", paths.len());
    let mut checked = 0;
    for (template, item) in paths {
        // Absent things are enough: the router must hand the request to a handler, which
        // answers 404 (or 400, 401) for them, not 405 or "unknown resource".
        let path = template
            .replace("{drive-id}", &drive_id)
            .replace("{user-id}", "alice")
            .replace("{group-id}", "team")
            .replace("{item-id}", "00000000000fffff")
            .replace("{item-path}", "missing/file.txt")
            .replace("{token}", "no-such-token")
            .replace("{session}", "no-such-session")
            .replace("{job}", "no-such-job");
        let url = format!("{}{path}", server.url);
        for method in METHODS {
            let documented = item.get(method).is_some();
            // Only item addresses list what they do not take; the rest are fixed routes.
            if !documented && !template.starts_with("/v1.0") {
                continue;
            }
            let m = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            let r = api.send(m, &url, &[], None).await;
            let code = serde_json::from_slice::<Value>(&r.body)
                .ok()
                .and_then(|v| v["error"]["innerError"]["code"].as_str().map(String::from));
            if documented {
                assert_ne!(
                    r.status, 405,
                    "{method} {template} is documented but not routed"
                );
                assert_ne!(
                    code.as_deref(),
                    Some("invalidResource"),
                    "{method} {template} is documented but not routed"
                );
                assert!(r.status.as_u16() < 500, "{method} {template}: {}", r.status);
            } else {
                assert_eq!(
                    r.status, 405,
                    "{method} {template} is routed but not documented"
                );
                assert!(r.header("allow").is_some());
            }
            checked += 1;
        }
    }
    assert!(checked > 300, "{checked} requests");
}
