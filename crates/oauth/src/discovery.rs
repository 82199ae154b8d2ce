//! OpenID Connect discovery and the signing keys (JWKS), where Entra ID publishes them.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use graphdrive_drive::signin::{OAuthCode, OAuthError, TENANT_ALIASES};
use serde_json::json;

use crate::error::{OAuthResponse, unknown_tenant};
use crate::{DEVICE_PAGE, SharedState};

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
pub async fn openid_configuration(
    State(state): State<SharedState>,
    Path(tenant): Path<String>,
) -> Response {
    let service = &state.service;
    if !service.is_own_tenant(&tenant) {
        return OAuthResponse(unknown_tenant(&tenant)).into_response();
    }
    let base = service.public_url();
    let alias = TENANT_ALIASES
        .iter()
        .any(|a| a.eq_ignore_ascii_case(&tenant));
    // As Entra does: under an alias the issuer is a template, the tenant being the user's.
    let issuer = match alias {
        true => format!("{base}/{{tenantid}}/v2.0"),
        false => service.issuer(),
    };
    let at = format!("{base}/{tenant}");
    axum::Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{at}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{at}/oauth2/v2.0/token"),
        "device_authorization_endpoint": format!("{at}/oauth2/v2.0/devicecode"),
        "end_session_endpoint": format!("{at}/oauth2/v2.0/logout"),
        "jwks_uri": format!("{at}/discovery/v2.0/keys"),
        "device_verification_uri": format!("{base}{DEVICE_PAGE}"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "response_modes_supported": ["query", "form_post"],
        "response_types_supported": ["code"],
        "grant_types_supported": [
            "authorization_code", "refresh_token", "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code", "password"
        ],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256", "plain"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "nbf", "name", "preferred_username",
            "oid", "tid", "ver", "nonce"
        ],
        "request_uri_parameter_supported": false,
        "tenant_region_scope": null,
        "cloud_instance_name": url::Url::parse(&base).ok().and_then(|u| u.host_str().map(str::to_string)),
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }))
    .into_response()
}

/// `GET /{tenant}/discovery/v2.0/keys`: every key tokens may be signed with now.
pub async fn keys(State(state): State<SharedState>, Path(tenant): Path<String>) -> Response {
    if !state.service.is_own_tenant(&tenant) {
        return OAuthResponse(unknown_tenant(&tenant)).into_response();
    }
    match state.service.published_keys().await {
        Ok(keys) => {
            let issuer = state.service.issuer();
            let keys: Vec<_> = keys
                .into_iter()
                .map(|k| {
                    json!({
                        "kty": "RSA", "use": "sig", "alg": "RS256",
                        "kid": k.kid, "x5t": k.x5t, "n": k.n, "e": k.e, "issuer": issuer,
                    })
                })
                .collect();
            axum::Json(json!({ "keys": keys })).into_response()
        }
        Err(e) => OAuthResponse(OAuthError::from(e)).into_response(),
    }
}

/// `GET /common/userrealm/{user}`: what MSAL asks before a password sign-in. Every account here
/// is managed (no federation).
pub async fn user_realm(State(state): State<SharedState>, Path(user): Path<String>) -> Response {
    let domain = user.rsplit_once('@').map(|(_, d)| d.to_string());
    let host = url::Url::parse(&state.service.public_url())
        .ok()
        .and_then(|u| u.host_str().map(str::to_string));
    if user.is_empty() {
        return OAuthResponse(OAuthError::new(
            OAuthCode::InvalidRequest,
            None,
            "No user name.",
        ))
        .into_response();
    }
    axum::Json(json!({
        "ver": "1.0",
        "account_type": "Managed",
        "domain_name": domain.or(host),
        "cloud_instance_name": "graphdrive",
        "cloud_audience_urn": "urn:federation:MicrosoftOnline",
    }))
    .into_response()
}
