//! The web drive: a page served at `/` that signs in as the built-in public client
//! (authorization code with PKCE) and then talks only to the public Graph API, as any other
//! client does. Its files are plain ES modules, with no build step, embedded in the binary.
//!
//! The page names its files under `/web/{version}/`, where the version is a digest of every
//! file: they are cached for good, and a new binary's page asks for new URLs.

use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use sha2::{Digest, Sha256};

#[derive(rust_embed::Embed)]
#[folder = "assets/"]
struct Assets;

/// Only the server's own files; the page reaches nothing but its own origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

const PAGE: &str = "index.html";
/// Where the page's HTML names its files' folder.
const ASSETS_MARK: &str = "{{assets}}";

pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/web/{version}/{*path}", get(asset))
}

/// A digest of every embedded file, which names the folder the page loads them from.
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut names: Vec<_> = Assets::iter().collect();
        names.sort();
        let mut h = Sha256::new();
        for name in names {
            let file = Assets::get(&name).expect("an embedded file");
            h.update(name.as_bytes());
            h.update(file.metadata.sha256_hash());
        }
        hex::encode(&h.finalize()[..8])
    })
}

async fn index(headers: HeaderMap) -> Response {
    static PAGE_HTML: OnceLock<(String, String)> = OnceLock::new();
    let (html, etag) = PAGE_HTML.get_or_init(|| {
        let file = Assets::get(PAGE).expect("the page is embedded");
        let text = String::from_utf8_lossy(&file.data)
            .replace(ASSETS_MARK, &format!("/web/{}", version()));
        (text, format!("\"{}\"", version()))
    });
    // The page is asked for again each time (it is small); its files are not.
    respond(
        &headers,
        etag,
        "text/html; charset=utf-8",
        "no-cache",
        html.clone().into(),
    )
}

async fn asset(Path((wanted, path)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let Some(file) = Assets::get(&path).filter(|_| path != PAGE) else {
        return not_found(&path);
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..12]));
    // A page from another binary (a node not yet upgraded) may ask under its own version: it
    // gets this binary's file, which it must not keep.
    let cache = match wanted == version() {
        true => "public, max-age=31536000, immutable",
        false => "no-cache",
    };
    let mime = file.metadata.mimetype().to_string();
    respond(
        &headers,
        &etag,
        &mime,
        cache,
        Body::from(file.data.into_owned()),
    )
}

fn respond(headers: &HeaderMap, etag: &str, mime: &str, cache: &str, body: Body) -> Response {
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut res = match fresh {
        true => Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty()),
        false => Response::builder()
            .header(header::CONTENT_TYPE, mime)
            .body(body),
    }
    .expect("a valid response");
    let h = res.headers_mut();
    h.insert(header::ETAG, value(etag));
    h.insert(header::CACHE_CONTROL, value(cache));
    secure(h);
    res
}

/// The headers every web drive response carries.
fn secure(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The sign-in's code arrives in the page's query: it is never sent on as a referrer.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

fn value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The error envelope the rest of the server answers with.
fn not_found(path: &str) -> Response {
    let body = serde_json::json!({ "error": {
        "code": "itemNotFound",
        "message": format!("The web drive has no file named \"{path}\"."),
    }})
    .to_string();
    let mut res = Response::builder()
        .status(StatusCode::NOT_FOUND)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from(body))
        .expect("a valid response");
    secure(res.headers_mut());
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_its_files_under_the_version() {
        let page = Assets::get(PAGE).expect("embedded");
        assert!(String::from_utf8_lossy(&page.data).contains(ASSETS_MARK));
        assert_eq!(version().len(), 16);
    }

    #[test]
    fn every_module_the_page_imports_is_embedded() {
        for name in Assets::iter().filter(|n| n.ends_with(".js")) {
            let text = String::from_utf8(Assets::get(&name).unwrap().data.into_owned()).unwrap();
            for line in text.lines().filter(|l| l.starts_with("import ")) {
                let Some(spec) = line.split(['"', '\'']).nth(1) else {
                    continue;
                };
                let target = spec.trim_start_matches("./");
                assert!(Assets::get(target).is_some(), "{name} imports {spec}");
            }
        }
    }
}
