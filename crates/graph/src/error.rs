//! Graph's error envelope: one place that decides status, code and message.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use graphdrive_drive::DriveError;

/// Seconds a client is asked to wait before retrying a request refused because storage could
/// not be reached.
const RETRY_UNAVAILABLE_SECS: u64 = 2;

/// An error as the wire shows it. Its body is written by the request-context middleware, which
/// knows the request ids that `innerError` carries.
#[derive(Clone, Debug)]
pub struct GraphError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// A more specific code, nested in `innerError`.
    pub inner_code: Option<&'static str>,
    /// Headers the answer carries besides the body: `Allow` with a 405, `Location` with a 410.
    pub headers: Vec<(header::HeaderName, String)>,
}

impl GraphError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            inner_code: None,
            headers: vec![],
        }
    }

    pub fn with_header(mut self, name: header::HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn with_inner(mut self, inner: &'static str) -> Self {
        self.inner_code = Some(inner);
        self
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalidRequest", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "itemNotFound", message)
    }

    pub fn not_supported(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_IMPLEMENTED, "notSupported", message)
    }

    /// A method the resource does not take; `allow` lists those it does (`"GET, HEAD"`).
    pub fn method_not_allowed(allow: impl Into<String>) -> Self {
        Self {
            headers: vec![(header::ALLOW, allow.into())],
            ..Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "notAllowed",
                "The HTTP method is not allowed on this resource.",
            )
        }
    }

    pub fn too_large(limit: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalidRequest",
            format!("The request body exceeds the maximum allowed size of {limit} bytes."),
        )
        .with_inner("maxFileSizeExceeded")
    }
}

impl From<DriveError> for GraphError {
    fn from(e: DriveError) -> Self {
        use DriveError::*;
        let message = e.to_string();
        match e {
            Unauthenticated(_) => GraphError::new(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                message,
            ),
            AccessDenied(_) => GraphError::new(StatusCode::FORBIDDEN, "accessDenied", message),
            NotFound(_) => GraphError::not_found(message),
            NameConflict(_) => GraphError::new(StatusCode::CONFLICT, "nameAlreadyExists", message),
            InvalidRequest(_) => GraphError::invalid_request(message),
            InvalidName { detail, .. } => GraphError::invalid_request(message).with_inner(detail),
            PreconditionFailed => {
                GraphError::new(StatusCode::PRECONDITION_FAILED, "resourceModified", message)
                    .with_inner("entityTagDoesNotMatch")
            }
            TooLarge(limit) => GraphError::too_large(limit),
            InvalidRange { detail, .. } => {
                GraphError::new(StatusCode::RANGE_NOT_SATISFIABLE, "invalidRange", message)
                    .with_inner(detail)
            }
            QuotaExceeded => GraphError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "quotaLimitReached",
                message,
            ),
            InsufficientStorage => {
                tracing::warn!("storage is full: a write was refused");
                GraphError::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    "insufficientStorage",
                    message,
                )
            }
            BodyAborted(why) => {
                tracing::info!(%why, "client aborted the request body");
                GraphError::invalid_request(message).with_inner("requestBodyIncomplete")
            }
            ResyncRequired => GraphError::new(StatusCode::GONE, "resyncRequired", message)
                .with_inner("resyncRequired"),
            Unavailable(detail) => {
                tracing::warn!(%detail, "storage unavailable: a request was refused with 503");
                GraphError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "serviceNotAvailable",
                    message,
                )
                .with_header(header::RETRY_AFTER, RETRY_UNAVAILABLE_SECS.to_string())
            }
            Internal(detail) => {
                tracing::error!(%detail, "internal error");
                GraphError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "generalException",
                    "An unexpected error occurred while processing the request.",
                )
            }
        }
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let mut res = self.status.into_response();
        for (name, value) in &self.headers {
            if let Ok(v) = HeaderValue::from_str(value) {
                res.headers_mut().insert(name.clone(), v);
            }
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
                ),
            );
        }
        res.extensions_mut().insert(self);
        res
    }
}

pub type GraphResult<T> = Result<T, GraphError>;
