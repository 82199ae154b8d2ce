//! The server-rendered pages of sign-in: plain HTML forms that work without scripts, each
//! carrying a CSRF token that must match the cookie it was sent with.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

pub const CSRF_COOKIE: &str = "graphdrive_csrf";
pub const CSRF_FIELD: &str = "csrf";

/// Text made safe for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem;color:#222}\
h1{font-size:1.4rem}label{display:block;margin-top:1rem}input[type=text],input[type=password]\
{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}button{margin-top:1.5rem;padding:.5rem 1.5rem;font-size:1rem}\
.error{color:#a00;margin-top:1rem}.note{color:#555;font-size:.9rem}";

/// A whole page.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        escape(title)
    )
}

/// A hidden field.
pub fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        escape(name),
        escape(value)
    )
}

/// The sign-in fields every form has.
pub fn credential_fields(username: &str) -> String {
    format!(
        "<label for=\"username\">Username</label>\
         <input type=\"text\" id=\"username\" name=\"username\" value=\"{}\" autocomplete=\"username\" required autofocus>\
         <label for=\"password\">Password</label>\
         <input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>",
        escape(username)
    )
}

pub fn error_line(message: Option<&str>) -> String {
    match message {
        Some(m) => format!("<p class=\"error\" role=\"alert\">{}</p>", escape(m)),
        None => String::new(),
    }
}

/// A page answered with its status, never cached, never framed.
pub fn respond(status: StatusCode, html: String, csrf: Option<&Csrf>) -> Response {
    let mut res = (status, Html(html)).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action *; frame-ancestors 'none'",
        ),
    );
    if let Some(c) = csrf
        && c.fresh
        && let Ok(v) = HeaderValue::from_str(&c.cookie())
    {
        h.append(header::SET_COOKIE, v);
    }
    res
}

/// A message page (an error that cannot go back to the app, or a confirmation).
pub fn message(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!("<h1>{}</h1><p>{}</p>", escape(title), escape(text));
    respond(status, page(title, &body), None)
}

/// The CSRF token of a browser: the one its cookie holds, or a new one to set.
pub struct Csrf {
    pub token: String,
    fresh: bool,
    secure: bool,
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| {
            v.len() >= 20
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

impl Csrf {
    /// For a page with a form: the browser's token, or a new one.
    pub fn for_form(headers: &HeaderMap, secure: bool) -> Self {
        match cookie_value(headers, CSRF_COOKIE) {
            Some(token) => Self {
                token,
                fresh: false,
                secure,
            },
            None => Self {
                token: graphdrive_drive::tokens::random_token(24),
                fresh: true,
                secure,
            },
        }
    }

    /// Whether a submitted form carries the token its browser's cookie holds.
    pub fn check(headers: &HeaderMap, submitted: Option<&str>) -> bool {
        match (cookie_value(headers, CSRF_COOKIE), submitted) {
            (Some(cookie), Some(field)) => {
                cookie.len() == field.len()
                    && cookie
                        .bytes()
                        .zip(field.bytes())
                        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                        == 0
            }
            _ => false,
        }
    }

    fn cookie(&self) -> String {
        format!(
            "{CSRF_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax{}",
            self.token,
            if self.secure { "; Secure" } else { "" }
        )
    }

    pub fn field(&self) -> String {
        hidden(CSRF_FIELD, &self.token)
    }
}

/// The cookie header that forgets the CSRF token (at logout).
pub fn clear_csrf_cookie() -> HeaderValue {
    HeaderValue::from_static("graphdrive_csrf=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")
}

/// The status a sign-in form is answered with when the sign-in failed (the form again).
pub fn failure_status(e: &graphdrive_drive::signin::SignInFailure) -> StatusCode {
    use graphdrive_drive::signin::SignInFailure;
    match e {
        SignInFailure::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
        SignInFailure::Server(_) => StatusCode::SERVICE_UNAVAILABLE,
        SignInFailure::WrongCredentials | SignInFailure::Disabled => StatusCode::OK,
    }
}
