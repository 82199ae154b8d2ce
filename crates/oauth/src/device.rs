//! The device sign-in page: the user enters the code their device shows, with their user name
//! and password, and the device's next poll gets its tokens.

use std::net::SocketAddr;

use axum::Extension;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;

use crate::SharedState;
use crate::form::Fields;
use crate::pages::{self, Csrf, escape};

fn device_page(
    state: &SharedState,
    headers: &HeaderMap,
    code: &str,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let csrf = Csrf::for_form(headers, state.service.public_url().starts_with("https:"));
    let body = format!(
        "<h1>Sign in on a device</h1><p>Enter the code your device shows, then sign in.</p>{error}\
         <form method=\"post\">{csrf}\
         <label for=\"user_code\">Code</label>\
         <input type=\"text\" id=\"user_code\" name=\"user_code\" value=\"{code}\" autocomplete=\"off\" required>\
         {creds}<button type=\"submit\">Sign in</button></form>",
        error = pages::error_line(error),
        csrf = csrf.field(),
        code = escape(code),
        creds = pages::credential_fields(username),
    );
    pages::respond(
        status,
        pages::page("Sign in on a device", &body),
        Some(&csrf),
    )
}

pub async fn show(
    State(state): State<SharedState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let code = Fields::from_query(query.as_deref())
        .ok()
        .and_then(|f| f.get("user_code").or(f.get("otc")))
        .unwrap_or_default();
    device_page(&state, &headers, &code, "", None, StatusCode::OK)
}

pub async fn submit(
    State(state): State<SharedState>,
    remote: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(f) = Fields::parse(&headers, &body) else {
        return pages::message(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "The form could not be read.",
        );
    };
    if !Csrf::check(&headers, f.get(pages::CSRF_FIELD).as_deref()) {
        return pages::message(
            StatusCode::FORBIDDEN,
            "Sign-in failed",
            "The sign-in form has expired or was not sent from this server's page. Open the page again.",
        );
    }
    let code = f.get("user_code").unwrap_or_default();
    let username = f.get("username").unwrap_or_default();
    let password = f.get("password").unwrap_or_default();
    let remote = remote.map(|Extension(ConnectInfo(a))| a.ip());
    let again =
        |msg: &str, status| device_page(&state, &headers, &code, &username, Some(msg), status);
    let user = match state
        .service
        .check_password(&username, &password, remote)
        .await
    {
        Ok(u) => u,
        Err(e) => return again(&e.to_string(), pages::failure_status(&e)),
    };
    match state.service.approve_device(&code, &user).await {
        Ok(app) => pages::message(
            StatusCode::OK,
            "You are signed in",
            &format!("You have signed in to {app} on your device. You may now close this window."),
        ),
        Err(e) => again(&e.to_string(), StatusCode::OK),
    }
}
