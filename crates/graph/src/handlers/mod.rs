//! Request handling: [`dispatch`] turns a Graph URL into an operation and calls its handler.

pub mod content;
pub mod copy;
mod delta;
mod drive;
pub(crate) mod items;
mod recycle;
pub mod uploads;
mod versions;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use graphdrive_drive::drives::DriveSelector;
use graphdrive_drive::{Caller, DriveError};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::address::{self, Action, Target};
use crate::error::{GraphError, GraphResult};
use crate::query::QueryOptions;
use crate::{Principal, RouteFamily, SharedState};

/// Largest JSON body accepted.
const MAX_JSON_BODY: usize = 1 << 20;

/// One Graph API request, parsed and authenticated.
pub(crate) struct GraphRequest {
    pub state: SharedState,
    pub caller: Caller,
    pub drive: DriveSelector,
    pub query: QueryOptions,
    pub headers: HeaderMap,
    pub uri: Uri,
}

impl GraphRequest {
    pub fn header(&self, name: impl header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub(crate) async fn dispatch(
    State(state): State<SharedState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut seen = Seen::default();
    let mut res = match route(state, method, uri, headers, body, &mut seen).await {
        Ok(res) => res,
        Err(e) => e.into_response(),
    };
    res.extensions_mut()
        .insert(RouteFamily(seen.family.unwrap_or("other")));
    if let Some(id) = seen.principal {
        res.extensions_mut().insert(Principal(id));
    }
    res
}

/// What routing learnt of a request, for its log line and metrics, whatever the answer.
#[derive(Default)]
struct Seen {
    family: Option<&'static str>,
    principal: Option<String>,
}

async fn route(
    state: SharedState,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
    seen: &mut Seen,
) -> GraphResult<Response> {
    let rest = address::strip_version(uri.path())
        .ok_or_else(|| GraphError::invalid_request("Invalid API version; use /v1.0 or /v2.0."))?;
    let token = bearer(&headers);
    let caller = state.service.authenticate(token.as_deref()).await?;
    seen.principal = Some(caller.id.clone());
    let addr = address::parse(rest)?;
    seen.family = Some(family(&addr.target));
    let query = QueryOptions::parse(uri.query())?;
    let req = GraphRequest {
        state,
        caller,
        drive: addr.drive,
        query,
        headers,
        uri,
    };
    match addr.target {
        Target::Drive => match method {
            Method::GET | Method::HEAD => drive::get(req).await,
            _ => Err(GraphError::method_not_allowed("GET, HEAD")),
        },
        Target::Drives => match method {
            Method::GET | Method::HEAD => drive::list(req).await,
            _ => Err(GraphError::method_not_allowed("GET, HEAD")),
        },
        Target::RecycleBin => match method {
            Method::GET | Method::HEAD => recycle::list(req).await,
            _ => Err(GraphError::method_not_allowed("GET, HEAD")),
        },
        Target::Item { at, action, arg } => match (action, method) {
            (Action::None, Method::GET | Method::HEAD) => items::get(req, at).await,
            (Action::None, Method::PATCH) => items::update(req, at, body).await,
            (Action::None, Method::DELETE) => items::delete(req, at).await,
            (Action::Children, Method::GET | Method::HEAD) => items::list(req, at).await,
            (Action::Children, Method::POST) => items::create_folder(req, at, body).await,
            (Action::Content, Method::GET | Method::HEAD) => content::get(req, at).await,
            (Action::Content, Method::PUT) => content::put(req, at, body).await,
            (Action::CreateUploadSession, Method::POST) => uploads::create(req, at, body).await,
            (Action::Copy, Method::POST) => copy::copy(req, at, body).await,
            (Action::Delta, Method::GET | Method::HEAD) => delta::get(req, at, arg).await,
            (Action::Restore, Method::POST) => recycle::restore(req, at, body).await,
            (Action::PermanentDelete, Method::POST) => recycle::permanent_delete(req, at).await,
            (Action::Versions, Method::GET | Method::HEAD) => versions::list(req, at).await,
            (Action::Version, Method::GET | Method::HEAD) => versions::get(req, at, arg).await,
            (Action::Version, Method::DELETE) => versions::delete(req, at, arg).await,
            (Action::VersionContent, Method::GET | Method::HEAD) => {
                versions::content(req, at, arg).await
            }
            (Action::RestoreVersion, Method::POST) => versions::restore(req, at, arg).await,
            (action, _) => Err(GraphError::method_not_allowed(allowed_methods(action))),
        },
    }
}

/// The route family of an address, for logs and metrics.
fn family(target: &Target) -> &'static str {
    match target {
        Target::Drive => "drive",
        Target::Drives => "drives",
        Target::RecycleBin => "recycleBin",
        Target::Item { action, .. } => match action {
            Action::None => "item",
            Action::Children => "children",
            Action::Content => "content",
            Action::CreateUploadSession => "createUploadSession",
            Action::Copy => "copy",
            Action::Delta => "delta",
            Action::Restore | Action::PermanentDelete => "recycleBin",
            Action::Versions
            | Action::Version
            | Action::VersionContent
            | Action::RestoreVersion => "versions",
        },
    }
}

/// The methods (lower case, as OpenAPI names them) an item resource takes: what [`route`]
/// dispatches, the `Allow` header of a 405, and the operations of the OpenAPI document.
pub(crate) fn item_operations(action: Action) -> &'static [&'static str] {
    match action {
        Action::None => &["get", "head", "patch", "delete"],
        Action::Children => &["get", "head", "post"],
        Action::Content => &["get", "head", "put"],
        Action::CreateUploadSession
        | Action::Copy
        | Action::Restore
        | Action::PermanentDelete
        | Action::RestoreVersion => &["post"],
        Action::Delta | Action::Versions | Action::VersionContent => &["get", "head"],
        Action::Version => &["get", "head", "delete"],
    }
}

/// The methods an item resource takes, for the `Allow` header of a 405.
fn allowed_methods(action: Action) -> String {
    item_operations(action)
        .iter()
        .map(|m| m.to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The token of an `Authorization: Bearer …` header.
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// Reads a JSON request body; an empty body reads as `T::default()`.
pub(crate) async fn read_json<T: DeserializeOwned + Default>(body: Body) -> GraphResult<T> {
    let bytes = axum::body::to_bytes(body, MAX_JSON_BODY)
        .await
        .map_err(|e| {
            if is_length_limit(&e) {
                GraphError::too_large(MAX_JSON_BODY as u64)
            } else {
                // The body broke off: the client went away, stalled or sent less than announced.
                GraphError::from(DriveError::BodyAborted(e.to_string()))
            }
        })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| GraphError::invalid_request(format!("Invalid request body: {e}.")))
}

/// True when reading a body failed because it passed the size limit (not because it broke off).
fn is_length_limit(e: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

pub(crate) fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => GraphError::from(DriveError::Internal(e.to_string())).into_response(),
    }
}

pub(crate) fn not_modified() -> Response {
    StatusCode::NOT_MODIFIED.into_response()
}

/// True for the URL-safe tokens the server hands out (upload sessions, monitors); anything else
/// cannot name one and is not looked up.
pub(crate) fn is_url_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
