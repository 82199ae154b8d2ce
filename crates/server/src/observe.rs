//! What every request leaves behind for the operator: a `tracing` span that carries its id (so
//! every line it causes names it), one `info` line when it is answered, and its metrics.

use std::time::Instant;

use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use graphdrive_graph::{Principal, RequestId, RouteFamily};
use tracing::Instrument;

/// Longest `client-request-id` logged; clients send GUIDs.
const MAX_CLIENT_ID: usize = 128;

pub async fn observe(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let client_id = req
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(MAX_CLIENT_ID).collect::<String>());
    let method = req.method().clone();
    let path = redact(req.uri().path());
    let span = tracing::info_span!(
        "request",
        id = %request_id,
        client_id = client_id.as_deref().unwrap_or("-"),
        method = %method,
        path = %path,
    );
    req.extensions_mut().insert(RequestId(request_id));
    let res = next.run(req).instrument(span.clone()).await;
    let status = res.status().as_u16();
    let family = res
        .extensions()
        .get::<RouteFamily>()
        .map_or_else(|| family_of_path(&path), |f| f.0);
    let principal = res.extensions().get::<Principal>().map(|p| p.0.as_str());
    let elapsed = started.elapsed();
    span.in_scope(|| {
        tracing::info!(
            status,
            latency_ms = (elapsed.as_secs_f64() * 1e6).round() / 1e3,
            principal = principal.unwrap_or("-"),
            route = family,
            "request"
        )
    });
    let status = status.to_string();
    metrics::counter!(
        "graphdrive_http_requests_total",
        "route" => family,
        "method" => method_label(&method),
        "status" => status,
    )
    .increment(1);
    metrics::histogram!("graphdrive_http_request_duration_seconds", "route" => family)
        .record(elapsed.as_secs_f64());
    res
}

/// The path as logs show it: the secrets of pre-authenticated URLs (download links, upload
/// sessions, copy monitors) replaced by their first characters.
pub fn redact(path: &str) -> String {
    for prefix in ["/dl/", "/upload/", "/monitor/"] {
        if let Some(secret) = path.strip_prefix(prefix) {
            let shown: String = secret.chars().take(4).collect();
            return format!("{prefix}{shown}…");
        }
    }
    path.to_string()
}

/// The route family of a path the Graph router did not name (its own routes do).
fn family_of_path(path: &str) -> &'static str {
    match path {
        "/health" | "/health/live" | "/health/ready" => "health",
        "/metrics" => "metrics",
        "/openapi.json" => "openapi",
        p if p.starts_with("/dl/") => "download",
        p if p.starts_with("/upload/") => "uploadSession",
        p if p.starts_with("/monitor/") => "monitor",
        "/" => "webDrive",
        p if p.starts_with("/web/") => "webDrive",
        _ => "other",
    }
}

/// Methods as metric labels: the known ones by name, anything else as `other`, so that no
/// client can grow the number of series.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_of_preauthenticated_urls_are_not_logged() {
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJncmFwaGRyaXZlLWRvd25sb2FkIn0.c2lnbmF0dXJl";
        assert_eq!(redact(&format!("/dl/{token}")), "/dl/eyJh…");
        assert_eq!(redact("/upload/AbCdEfGh1234"), "/upload/AbCd…");
        assert_eq!(redact("/monitor/x"), "/monitor/x…");
        assert_eq!(redact("/v1.0/me/drive/root"), "/v1.0/me/drive/root");
    }
}
