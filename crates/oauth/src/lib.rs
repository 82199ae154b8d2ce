//! Sign-in over HTTP, at the paths Entra ID uses under its authority
//! (`{public-url}/{tenant}/…`): OpenID discovery, the signing keys, the authorization endpoint
//! with its sign-in page, the token and device-code endpoints, the device sign-in page and
//! logout. The grants themselves are the drive domain's (`graphdrive_drive::signin`).

mod authorize;
mod device;
mod discovery;
mod error;
mod form;
mod pages;
mod token;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use graphdrive_drive::DriveService;

pub use error::OAuthResponse;

/// What the sign-in handlers share.
pub struct OAuthState {
    pub service: DriveService,
}

pub type SharedState = Arc<OAuthState>;

/// The device sign-in page (Entra's is `microsoft.com/devicelogin`).
pub const DEVICE_PAGE: &str = "/devicelogin";

pub fn router(state: SharedState) -> Router {
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(discovery::keys))
        .route("/common/userrealm/{user}", get(discovery::user_realm))
        .route(
            "/{tenant}/oauth2/v2.0/authorize",
            get(authorize::show).post(authorize::submit),
        )
        .route(
            "/{tenant}/oauth2/v2.0/token",
            axum::routing::post(token::token),
        )
        .route(
            "/{tenant}/oauth2/v2.0/devicecode",
            axum::routing::post(token::device_code),
        )
        .route(
            "/{tenant}/oauth2/v2.0/logout",
            get(authorize::logout).post(authorize::logout),
        )
        .route(DEVICE_PAGE, get(device::show).post(device::submit))
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// A method the endpoint does not take: OAuth's error shape, not an empty body.
async fn method_not_allowed() -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut res = OAuthResponse(graphdrive_drive::signin::OAuthError::new(
        graphdrive_drive::signin::OAuthCode::InvalidRequest,
        None,
        "The HTTP method is not allowed on this endpoint.",
    ))
    .into_response();
    *res.status_mut() = axum::http::StatusCode::METHOD_NOT_ALLOWED;
    res
}
