//! The authorization endpoint: the sign-in page for a client's request, its form, and the
//! redirect back to the client with a code (or an error). Also logout.

use std::net::SocketAddr;

use axum::Extension;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use graphdrive_drive::signin::{
    AuthorizeError, AuthorizeRequest, OAuthError, ResponseMode, ValidAuthorize,
};

use crate::SharedState;
use crate::form::Fields;
use crate::pages::{self, Csrf, escape, hidden};

/// The authorization request's parameters, carried by the sign-in form from page to post.
const CARRIED: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "prompt",
];

fn request_of(f: &Fields) -> AuthorizeRequest {
    AuthorizeRequest {
        client_id: f.get("client_id"),
        redirect_uri: f.get("redirect_uri"),
        response_type: f.get("response_type"),
        response_mode: f.get("response_mode"),
        scope: f.get("scope"),
        state: f.get("state"),
        code_challenge: f.get("code_challenge"),
        code_challenge_method: f.get("code_challenge_method"),
        nonce: f.get("nonce"),
        prompt: f
            .get("prompt")
            .filter(|p| p != "login" && p != "select_account"),
    }
}

fn tenant_page(state: &SharedState, tenant: &str) -> Option<Response> {
    (!state.service.is_own_tenant(tenant)).then(|| {
        pages::message(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            &crate::error::unknown_tenant(tenant).description,
        )
    })
}

pub async fn show(
    State(state): State<SharedState>,
    Path(tenant): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Some(page) = tenant_page(&state, &tenant) {
        return page;
    }
    let fields = match Fields::from_query(query.as_deref()) {
        Ok(f) => f,
        Err(e) => return pages::message(StatusCode::BAD_REQUEST, "Sign-in failed", &e.description),
    };
    let req = request_of(&fields);
    match state.service.validate_authorize(&req).await {
        Ok(v) => {
            let login_hint = fields.get("login_hint").unwrap_or_default();
            sign_in_page(
                &state,
                &headers,
                &fields,
                &v,
                &login_hint,
                None,
                StatusCode::OK,
            )
        }
        Err(e) => authorize_error(e),
    }
}

fn sign_in_page(
    state: &SharedState,
    headers: &HeaderMap,
    fields: &Fields,
    v: &ValidAuthorize,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let csrf = Csrf::for_form(headers, state.service.public_url().starts_with("https:"));
    let carried: String = CARRIED
        .iter()
        .filter_map(|k| fields.get(k).map(|v| hidden(k, &v)))
        .collect();
    let body = format!(
        "<h1>Sign in</h1><p>to continue to <strong>{app}</strong></p>{error}\
         <form method=\"post\">{carried}{csrf}{creds}<button type=\"submit\">Sign in</button></form>\
         <p class=\"note\">You will be returned to {to}.</p>",
        app = escape(&v.client.name),
        error = pages::error_line(error),
        csrf = csrf.field(),
        creds = pages::credential_fields(username),
        to = escape(&v.redirect_uri),
    );
    pages::respond(status, pages::page("Sign in", &body), Some(&csrf))
}

pub async fn submit(
    State(state): State<SharedState>,
    Path(tenant): Path<String>,
    remote: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(page) = tenant_page(&state, &tenant) {
        return page;
    }
    let fields = match Fields::parse(&headers, &body) {
        Ok(f) => f,
        Err(e) => return pages::message(StatusCode::BAD_REQUEST, "Sign-in failed", &e.description),
    };
    if !Csrf::check(&headers, fields.get(pages::CSRF_FIELD).as_deref()) {
        return pages::message(
            StatusCode::FORBIDDEN,
            "Sign-in failed",
            "The sign-in form has expired or was not sent from this server's page. Go back to the app and sign in again.",
        );
    }
    let v = match state.service.validate_authorize(&request_of(&fields)).await {
        Ok(v) => v,
        Err(e) => return authorize_error(e),
    };
    let username = fields.get("username").unwrap_or_default();
    let password = fields.get("password").unwrap_or_default();
    let remote = remote.map(|Extension(ConnectInfo(a))| a.ip());
    let user = match state
        .service
        .check_password(&username, &password, remote)
        .await
    {
        Ok(u) => u,
        Err(e) => {
            let status = pages::failure_status(&e);
            let msg = e.to_string();
            return sign_in_page(&state, &headers, &fields, &v, &username, Some(&msg), status);
        }
    };
    match state.service.issue_code(&v, &user).await {
        Ok(code) => back_to_client(
            &v.redirect_uri,
            v.response_mode,
            &[("code", Some(code.as_str())), ("state", v.state.as_deref())],
        ),
        Err(e) => back_with_error(&v.redirect_uri, v.response_mode, v.state.as_deref(), &e),
    }
}

fn authorize_error(e: AuthorizeError) -> Response {
    match e {
        AuthorizeError::Shown(message) => {
            pages::message(StatusCode::BAD_REQUEST, "Sign-in failed", &message)
        }
        AuthorizeError::Redirect {
            redirect_uri,
            response_mode,
            state,
            error,
        } => back_with_error(&redirect_uri, response_mode, state.as_deref(), &error),
    }
}

fn back_with_error(
    redirect_uri: &str,
    mode: ResponseMode,
    state: Option<&str>,
    e: &OAuthError,
) -> Response {
    back_to_client(
        redirect_uri,
        mode,
        &[
            ("error", Some(e.code.as_str())),
            ("error_description", Some(e.description.as_str())),
            ("state", state),
        ],
    )
}

/// Sends the browser back to the client: a redirect with the parameters in the query, or a
/// form posted by the page (`response_mode=form_post`).
fn back_to_client(
    redirect_uri: &str,
    mode: ResponseMode,
    params: &[(&str, Option<&str>)],
) -> Response {
    let params: Vec<(&str, &str)> = params
        .iter()
        .filter_map(|(k, v)| v.map(|v| (*k, v)))
        .collect();
    match mode {
        ResponseMode::Query => {
            let mut url = match url::Url::parse(redirect_uri) {
                Ok(u) => u,
                Err(_) => {
                    return pages::message(
                        StatusCode::BAD_REQUEST,
                        "Sign-in failed",
                        "The redirect URI is not a URL.",
                    );
                }
            };
            url.query_pairs_mut().extend_pairs(params);
            let mut res = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(url.as_str()) {
                res.headers_mut().insert(header::LOCATION, v);
            }
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        ResponseMode::FormPost => {
            let fields: String = params.iter().map(|(k, v)| hidden(k, v)).collect();
            let body = format!(
                "<form method=\"post\" action=\"{}\" id=\"back\">{fields}<noscript><button type=\"submit\">Continue</button></noscript></form>\
                 <script>document.getElementById('back').submit()</script>",
                escape(redirect_uri)
            );
            let mut res = pages::respond(StatusCode::OK, pages::page("Signing in", &body), None);
            res.headers_mut().insert(
                "content-security-policy",
                HeaderValue::from_static(
                    "default-src 'none'; script-src 'unsafe-inline'; form-action *",
                ),
            );
            res
        }
    }
}

/// `…/oauth2/v2.0/logout`: forgets the browser's sign-in form state and goes back to the app
/// when it names one of its redirect URIs.
pub async fn logout(
    State(state): State<SharedState>,
    Path(tenant): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(page) = tenant_page(&state, &tenant) {
        return page;
    }
    let fields = Fields::from_query(query.as_deref()).ok();
    let target = fields
        .as_ref()
        .and_then(|f| f.get("post_logout_redirect_uri"));
    let registered = match &target {
        Some(uri) => state
            .service
            .apps()
            .await
            .map(|apps| apps.iter().any(|a| a.allows_redirect(uri)))
            .unwrap_or(false),
        None => false,
    };
    let mut res = match (target, registered) {
        (Some(uri), true) => {
            let st = fields.as_ref().and_then(|f| f.get("state"));
            back_to_client(&uri, ResponseMode::Query, &[("state", st.as_deref())])
        }
        _ => pages::message(
            StatusCode::OK,
            "Signed out",
            "You have signed out. You can close this window.",
        ),
    };
    res.headers_mut()
        .append(header::SET_COOKIE, pages::clear_csrf_cookie());
    res
}
