//! OAuth's error shape (`{"error":"invalid_grant","error_description":…}`, with Entra's
//! `error_codes`, `timestamp`, `trace_id` and `correlation_id`), and the HTML page shown when a
//! sign-in cannot go back to its app.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use graphdrive_drive::signin::{OAuthCode, OAuthError};
use serde_json::json;

/// An OAuth error answered as JSON.
pub struct OAuthResponse(pub OAuthError);

impl From<OAuthError> for OAuthResponse {
    fn from(e: OAuthError) -> Self {
        Self(e)
    }
}

fn status(code: OAuthCode) -> StatusCode {
    match code {
        OAuthCode::InvalidClient => StatusCode::UNAUTHORIZED,
        OAuthCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        OAuthCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

impl IntoResponse for OAuthResponse {
    fn into_response(self) -> Response {
        let e = self.0;
        let trace = uuid::Uuid::new_v4().to_string();
        let body = json!({
            "error": e.code.as_str(),
            "error_description": e.description,
            "error_codes": e.aadsts.map(|n| vec![n]).unwrap_or_default(),
            "timestamp": chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string(),
            "trace_id": trace,
            "correlation_id": trace,
        });
        let mut res = (status(e.code), axum::Json(body)).into_response();
        let headers = res.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if e.code == OAuthCode::InvalidClient {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"graphdrive\""),
            );
        }
        res
    }
}

/// The error for a tenant segment that names neither an alias nor this server's tenant.
pub fn unknown_tenant(tenant: &str) -> OAuthError {
    OAuthError::new(
        OAuthCode::InvalidTenant,
        Some(90002),
        format!(
            "Tenant '{tenant}' not found. Use common, organizations, consumers or this server's tenant id (graphdrive tenant)."
        ),
    )
}
