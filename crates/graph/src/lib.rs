//! The Microsoft Graph drive API over HTTP: routing, item addressing, OData query options, JSON
//! shapes and the error envelope. Handlers parse, call the drive domain, and shape the response.

pub mod address;
pub mod error;
#[cfg(fuzzing)]
pub mod fuzzing;
mod handlers;
pub mod json;
pub mod openapi;
pub mod query;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::any;
use futures::StreamExt;
use graphdrive_drive::DriveService;
use serde_json::json;

pub use error::GraphError;

/// What every handler shares.
pub struct AppState {
    pub service: DriveService,
    /// The absolute URL clients reach the server at, without a trailing slash; monitor, download
    /// and upload URLs are built on it.
    pub public_url: String,
}

pub type SharedState = Arc<AppState>;

/// The id of a request, put into its extensions by whoever logs it (a new one is made when no
/// one did); the error envelope's `innerError` and the `request-id` header carry it.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Put into a response's extensions: the kind of operation answered (`item`, `children`,
/// `content`, `copy`, …), a short fixed name fit for a metrics label.
#[derive(Clone, Copy, Debug)]
pub struct RouteFamily(pub &'static str);

/// Put into a response's extensions: the id of the authenticated caller.
#[derive(Clone, Debug)]
pub struct Principal(pub String);

/// The whole HTTP surface.
pub fn router(state: SharedState) -> Router {
    Router::new()
        .route("/openapi.json", axum::routing::get(openapi_document))
        .route("/dl/{token}", any(handlers::content::download))
        .route("/upload/{session}", any(handlers::uploads::session_url))
        .route("/monitor/{job}", any(handlers::copy::monitor))
        .fallback(handlers::dispatch)
        .with_state(state)
        .layer(middleware::from_fn(drain_rejected_body))
        .layer(middleware::from_fn(request_context))
}

async fn openapi_document() -> Response {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let body = DOCUMENT.get_or_init(|| openapi::document().to_string());
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.as_str()))
        .expect("a static response")
}

/// Gives every response its `request-id` (and echoes `client-request-id`), and writes the Graph
/// error envelope for errors, whose `innerError` carries those ids.
async fn request_context(mut req: Request, next: Next) -> Response {
    let request_id = match req.extensions().get::<RequestId>() {
        Some(id) => id.0.clone(),
        None => {
            let id = uuid::Uuid::new_v4().to_string();
            req.extensions_mut().insert(RequestId(id.clone()));
            id
        }
    };
    let client_request_id = req
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut res = next.run(req).await;
    if let Some(err) = res.extensions_mut().remove::<GraphError>() {
        let mut inner = json!({
            "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
            "request-id": request_id,
            "client-request-id": client_request_id.as_deref().unwrap_or(&request_id),
        });
        if let Some(code) = err.inner_code {
            inner["code"] = json!(code);
        }
        let body =
            json!({ "error": { "code": err.code, "message": err.message, "innerError": inner } });
        *res.body_mut() = Body::from(body.to_string());
        let headers = res.headers_mut();
        headers.remove(header::CONTENT_LENGTH);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert("request-id", v);
    }
    if let Some(v) = client_request_id.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert("client-request-id", v);
    }
    res
}

/// Most of a rejected request's body read (and dropped) so the connection can be reused.
const DRAIN_LIMIT: usize = 64 << 20;
const DRAIN_TIME: Duration = Duration::from_secs(30);

/// When a request with a body is rejected before its body was read (a fragment that overlaps,
/// an upload onto a folder), reads the rest of the body before answering: the client is still
/// sending it, and closing on it would break its connection. Past the limit, the connection is
/// closed instead (`Connection: close`).
async fn drain_rejected_body(req: Request, next: Next) -> Response {
    let headers = req.headers();
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0");
    if !has_body {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let shared = Arc::new(tokio::sync::Mutex::new(body.into_data_stream()));
    let reader = shared.clone();
    let stream = futures::stream::unfold(reader, |r| async move {
        let item = r.lock().await.next().await;
        item.map(|i| (i, r))
    });
    let mut res = next
        .run(Request::from_parts(parts, Body::from_stream(stream)))
        .await;
    if res.status().is_client_error() || res.status().is_server_error() {
        let drained = tokio::time::timeout(DRAIN_TIME, async {
            let mut rest = shared.lock().await;
            let mut read = 0usize;
            while let Some(chunk) = rest.next().await {
                match chunk {
                    Ok(c) => read += c.len(),
                    Err(_) => return false,
                }
                if read > DRAIN_LIMIT {
                    return false;
                }
            }
            true
        })
        .await;
        if !matches!(drained, Ok(true)) {
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
    }
    res
}
