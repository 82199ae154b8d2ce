//! The Graph client the scenarios talk through, its responses, and helpers on top of them.

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::process::Output;

/// A Graph client: paths are relative to `/v1.0`; absolute URLs are used as they are.
#[derive(Clone)]
pub struct Api {
    pub server: String,
    pub token: Option<String>,
    http: reqwest::Client,
}

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// Asserts the status; shows the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text()
        );
        self
    }

    /// Asserts a Graph error with this status and code.
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Value {
        let body = self.expect(status).json();
        assert_eq!(body["error"]["code"], code, "unexpected error: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "no message: {body}"
        );
        assert!(
            body["error"]["innerError"]["request-id"].is_string(),
            "no request-id: {body}"
        );
        body
    }
}

impl Api {
    pub fn new(server: &str, token: Option<String>) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            server: server.to_string(),
            token,
            http,
        }
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}/v1.0{}", self.server, path)
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Resp {
        let mut rb = self.http.request(method, self.url(path));
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.body(b);
        }
        let res = rb.send().await.expect("request");
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.bytes().await.expect("body").to_vec();
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, &[], None).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, &[], None).await
    }

    pub async fn put(&self, path: &str, bytes: impl Into<Vec<u8>>) -> Resp {
        self.send(Method::PUT, path, &[], Some(bytes.into())).await
    }

    pub async fn post(&self, path: &str, json: &Value) -> Resp {
        self.send(
            Method::POST,
            path,
            &[("content-type", "application/json")],
            Some(json.to_string().into_bytes()),
        )
        .await
    }

    pub async fn patch(&self, path: &str, json: &Value) -> Resp {
        self.send(
            Method::PATCH,
            path,
            &[("content-type", "application/json")],
            Some(json.to_string().into_bytes()),
        )
        .await
    }

    /// Creates a folder under the folder at `parent` (an item path such as `/me/drive/root`).
    pub async fn mkdir(&self, parent: &str, name: &str) -> Value {
        self.post(
            &format!("{parent}/children"),
            &serde_json::json!({ "name": name, "folder": {} }),
        )
        .await
        .expect(201)
        .json()
    }

    /// Uploads bytes to `/me/drive/root:/{path}:/content`.
    pub async fn upload(&self, path: &str, bytes: impl Into<Vec<u8>>) -> Value {
        let r = self
            .put(&format!("/me/drive/root:/{path}:/content"), bytes)
            .await;
        assert!(
            r.status == 201 || r.status == 200,
            "upload failed: {} {}",
            r.status,
            r.text()
        );
        r.json()
    }

    /// Follows a download (`GET …/content` → 302) without sending the token to the target.
    pub async fn download(&self, path: &str) -> Vec<u8> {
        let r = self.get(path).await.expect(302);
        let location = r.header("location").expect("Location");
        let anon = Api::new(&self.server, None);
        anon.get(&location).await.expect(200).body
    }
}

/// The hashes Graph reports, computed here independently of the server.
pub fn hashes(bytes: &[u8]) -> (String, String, String) {
    use base64::Engine;
    use sha1::Digest;
    let sha1 = hex::encode_upper(sha1::Sha1::digest(bytes));
    let sha256 = hex::encode_upper(sha2::Sha256::digest(bytes));
    let mut q = quickxorhash::QuickXorHash::new();
    q.update(bytes);
    let qx = base64::engine::general_purpose::STANDARD.encode(q.finalize());
    (sha1, sha256, qx)
}

/// PUTs `bytes[start..end]` of a file of `bytes.len()` bytes to an upload URL, with the matching
/// `Content-Range`.
pub async fn put_fragment(client: &Api, url: &str, bytes: &[u8], start: usize, end: usize) -> Resp {
    let range = format!("bytes {start}-{}/{}", end - 1, bytes.len());
    client
        .send(
            Method::PUT,
            url,
            &[("content-range", &range)],
            Some(bytes[start..end].to_vec()),
        )
        .await
}

/// Polls a copy's monitor (without a token) until the job ends; returns its last status.
pub async fn wait_for_copy(monitor: &str) -> Value {
    let anon = Api::new("http://unused", None);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let s = anon.get(monitor).await.json();
        if s["status"] == "completed" || s["status"] == "failed" {
            return s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "copy did not finish: {s}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// GET that must answer 200; returns the JSON.
pub async fn get_ok(api: &Api, path: &str) -> Value {
    let r = api.get(path).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r.json()
}

/// A folder's `size` and `folder.childCount`.
pub async fn totals(api: &Api, path: &str) -> (i64, i64) {
    let v = get_ok(api, path).await;
    let size = v["size"].as_i64().unwrap_or_else(|| panic!("no size: {v}"));
    let count = v["folder"]["childCount"]
        .as_i64()
        .unwrap_or_else(|| panic!("no folder.childCount: {v}"));
    (size, count)
}

/// Asserts the `file.hashes` of an item match `bytes`.
#[track_caller]
pub fn assert_hashes(item: &Value, bytes: &[u8]) {
    let (sha1, sha256, qx) = hashes(bytes);
    let h = &item["file"]["hashes"];
    assert_eq!(h["sha1Hash"], sha1, "sha1Hash of {item}");
    assert_eq!(h["sha256Hash"], sha256, "sha256Hash of {item}");
    assert_eq!(h["quickXorHash"], qx, "quickXorHash of {item}");
}

/// The trimmed stdout of a command that must have succeeded.
pub fn succeeded(args: &[&str], out: Output) -> String {
    assert!(
        out.status.success(),
        "graphdrive {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `len` bytes that differ with `seed`, for files whose content matters.
pub fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 7) as u8)
        .collect()
}

/// Polls `check` every 100 ms until it holds, for `secs` at most.
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < until {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen within {secs} s");
}

/// A folder `t{rounds}` of 2^rounds files in 2^(rounds+1) - 2 folders, built by copies that
/// double it; returns its id.
pub async fn doubled_tree(api: &Api, rounds: usize) -> String {
    let id_of = |path: String| async move {
        let v = api
            .get(&format!("/me/drive/root:/{path}"))
            .await
            .expect(200)
            .json();
        v["id"].as_str().unwrap().to_string()
    };
    api.upload("t0/f", "x").await;
    for n in 0..rounds {
        let next = api.mkdir("/me/drive/root", &format!("t{}", n + 1)).await;
        let next = next["id"].as_str().unwrap();
        let prev = id_of(format!("t{n}")).await;
        let r = api
            .post(
                &format!("/me/drive/items/{prev}/copy"),
                &serde_json::json!({ "parentReference": { "id": next }, "name": "l" }),
            )
            .await
            .expect(202);
        let s = wait_for_copy(&r.header("location").unwrap()).await;
        assert_eq!(s["status"], "completed", "{s}");
        api.patch(
            &format!("/me/drive/items/{prev}"),
            &serde_json::json!({ "parentReference": { "id": next }, "name": "r" }),
        )
        .await
        .expect(200);
    }
    id_of(format!("t{rounds}")).await
}
