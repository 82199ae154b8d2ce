//! The token endpoint and the device-code endpoint.

use std::net::SocketAddr;

use axum::Extension;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use graphdrive_drive::signin::{OAuthCode, OAuthError, TokenRequest};
use serde_json::json;

use crate::error::{OAuthResponse, unknown_tenant};
use crate::form::{Fields, basic_credentials};
use crate::{DEVICE_PAGE, SharedState};

fn no_store(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// The client id and secret, from the Basic header or the form (not both, unless they agree).
fn client_credentials(
    headers: &HeaderMap,
    f: &Fields,
) -> Result<(Option<String>, Option<String>), OAuthError> {
    let basic = basic_credentials(headers)?;
    let form_id = f.get("client_id");
    match basic {
        Some((id, _)) if form_id.as_ref().is_some_and(|f| *f != id) => Err(OAuthError::new(
            OAuthCode::InvalidRequest,
            Some(900144),
            "The client_id of the form and of the Authorization header differ.",
        )),
        Some((id, secret)) => Ok((Some(id), Some(secret).filter(|s| !s.is_empty()))),
        None => Ok((form_id, f.get("client_secret"))),
    }
}

pub async fn token(
    State(state): State<SharedState>,
    Path(tenant): Path<String>,
    remote: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match token_inner(&state, &tenant, remote, &headers, &body).await {
        Ok(res) => no_store(res),
        Err(e) => OAuthResponse(e).into_response(),
    }
}

async fn token_inner(
    state: &SharedState,
    tenant: &str,
    remote: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, OAuthError> {
    if !state.service.is_own_tenant(tenant) {
        return Err(unknown_tenant(tenant));
    }
    let f = Fields::parse(headers, body)?;
    let (client_id, client_secret) = client_credentials(headers, &f)?;
    let req = TokenRequest {
        grant_type: f.get("grant_type"),
        client_id,
        client_secret,
        code: f.get("code"),
        redirect_uri: f.get("redirect_uri"),
        code_verifier: f.get("code_verifier"),
        refresh_token: f.get("refresh_token"),
        scope: f.get("scope"),
        username: f.get("username"),
        password: f.get("password"),
        device_code: f.get("device_code"),
        remote: remote.map(|Extension(ConnectInfo(a))| a.ip()),
    };
    let set = state.service.token(req).await?;
    let mut body = json!({
        "token_type": "Bearer",
        "scope": set.scope,
        "expires_in": set.expires_in,
        "ext_expires_in": set.expires_in,
        "access_token": set.access_token,
    });
    if let Some(r) = set.refresh_token {
        body["refresh_token"] = json!(r);
    }
    if let Some(id) = set.id_token {
        body["id_token"] = json!(id);
    }
    if f.get("client_info").as_deref() == Some("1") {
        body["client_info"] = json!(set.client_info);
    }
    Ok(axum::Json(body).into_response())
}

pub async fn device_code(
    State(state): State<SharedState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = async {
        if !state.service.is_own_tenant(&tenant) {
            return Err(unknown_tenant(&tenant));
        }
        let f = Fields::parse(&headers, &body)?;
        let (client_id, _) = client_credentials(&headers, &f)?;
        let client_id = client_id.ok_or_else(|| {
            OAuthError::new(
                OAuthCode::InvalidRequest,
                Some(900144),
                "The request body must contain the following parameter: 'client_id'.",
            )
        })?;
        let scope = f.get("scope").unwrap_or_default();
        let start = state
            .service
            .start_device_sign_in(&client_id, &scope)
            .await?;
        let page = format!("{}{DEVICE_PAGE}", state.service.public_url());
        Ok(json!({
            "user_code": start.user_code,
            "device_code": start.device_code,
            "verification_uri": page,
            "expires_in": start.expires_in,
            "interval": start.interval,
            "message": format!(
                "To sign in, use a web browser to open the page {page} and enter the code {} to authenticate.",
                start.user_code
            ),
        }))
    };
    match answer.await {
        Ok(body) => no_store(axum::Json(body).into_response()),
        Err(e) => OAuthResponse(e).into_response(),
    }
}
