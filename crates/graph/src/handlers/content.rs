//! File contents: simple upload, the download redirect, and the pre-authenticated download URL.

use std::ops::Range;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use graphdrive_drive::names::ConflictBehavior;
use graphdrive_drive::service::ItemRef;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::items::{conflict, item_json};
use super::{GraphRequest, json_response, not_modified};
use crate::SharedState;
use crate::error::{GraphError, GraphResult};

/// `GET …/content`: a `302` to the file's pre-authenticated download URL.
pub(super) async fn get(req: GraphRequest, at: ItemRef) -> GraphResult<Response> {
    let service = &req.state.service;
    if let Some(tag) = req.header(header::IF_NONE_MATCH) {
        let view = service.get_item(&req.caller, &req.drive, &at).await?;
        if graphdrive_drive::ids::tag_matches(tag, &view.record) {
            return Ok(not_modified());
        }
    }
    let token = service.download_link(&req.caller, &req.drive, &at).await?;
    let location = format!("{}/dl/{token}", req.state.public_url);
    Ok((StatusCode::FOUND, [(header::LOCATION, location)]).into_response())
}

/// `PUT …/content`: stores the body as the file's content (default conflict behaviour: replace).
pub(super) async fn put(req: GraphRequest, at: ItemRef, body: Body) -> GraphResult<Response> {
    let conflict = conflict(&req, &[], ConflictBehavior::Replace)?;
    let if_match = req.header(header::IF_MATCH).map(str::to_string);
    let (view, created) = req
        .state
        .service
        .upload_content(
            &req.caller,
            &req.drive,
            &at,
            conflict,
            if_match.as_deref(),
            body.into_data_stream(),
        )
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(status, &item_json(&req.state, &view)))
}

/// `GET /dl/{token}`: the bytes, with `Range` support. The token is the credential.
pub(crate) async fn download(
    State(state): State<SharedState>,
    method: Method,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    match serve_download(state, method, token, headers).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn serve_download(
    state: SharedState,
    method: Method,
    token: String,
    headers: HeaderMap,
) -> GraphResult<Response> {
    if method != Method::GET && method != Method::HEAD {
        return Err(GraphError::method_not_allowed("GET, HEAD"));
    }
    let service = &state.service;
    let grant = service.open_download(&token)?;
    let disposition = format!(
        "attachment; filename*=UTF-8''{}",
        utf8_percent_encode(&grant.name, NON_ALPHANUMERIC)
    );
    if method == Method::GET
        && let Some(url) = service.direct_download(&grant, &disposition).await?
    {
        // The bucket serves the bytes (and any `Range`) itself.
        return Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, url)
            .header(header::CACHE_CONTROL, "no-store")
            .body(Body::empty())
            .map_err(|e| GraphError::invalid_request(e.to_string()));
    }
    let size = grant.size as u64;
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(h) => match parse_range(h, size) {
            RangeRequest::Whole => None,
            RangeRequest::Part(r) => Some(r),
            RangeRequest::Unsatisfiable => {
                let mut res = GraphError::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "invalidRange",
                    "The requested range is not satisfiable.",
                )
                .into_response();
                res.headers_mut().insert(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes */{size}")).unwrap(),
                );
                return Ok(res);
            }
        },
    };
    let (status, len) = match &range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r.end - r.start),
        None => (StatusCode::OK, size),
    };
    let body = if method == Method::HEAD || len == 0 {
        Body::empty()
    } else {
        let bytes = metrics::counter!("graphdrive_download_bytes_total");
        let stream = service.read_content(&grant, range.clone()).await?;
        Body::from_stream(stream.inspect(move |chunk| {
            if let Ok(c) = chunk {
                bytes.increment(c.len() as u64);
            }
        }))
    };
    let mut res = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, &grant.mime)
        .header(header::CONTENT_LENGTH, len)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_DISPOSITION, disposition);
    if let Some(r) = &range {
        res = res.header(
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{size}", r.start, r.end - 1),
        );
    }
    res.body(body)
        .map_err(|e| GraphError::invalid_request(e.to_string()))
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RangeRequest {
    Whole,
    Part(Range<u64>),
    Unsatisfiable,
}

/// A single `bytes=` range; anything else (several ranges, other units) is served whole.
pub(crate) fn parse_range(h: &str, size: u64) -> RangeRequest {
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return RangeRequest::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    let parsed = match (a.is_empty(), b.is_empty()) {
        (true, false) => b
            .parse::<u64>()
            .ok()
            .map(|n| size.saturating_sub(n)..size)
            .filter(|_| size > 0),
        (false, _) => a.parse::<u64>().ok().and_then(|start| {
            let end = if b.is_empty() {
                Some(size)
            } else {
                b.parse::<u64>().ok().map(|e| e.saturating_add(1).min(size))
            }?;
            (start < size && start < end).then_some(start..end)
        }),
        (true, true) => return RangeRequest::Whole,
    };
    match parsed {
        Some(r) if !r.is_empty() => RangeRequest::Part(r),
        _ => RangeRequest::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), RangeRequest::Part(0..10));
        assert_eq!(parse_range("bytes=90-", 100), RangeRequest::Part(90..100));
        assert_eq!(parse_range("bytes=-10", 100), RangeRequest::Part(90..100));
        assert_eq!(
            parse_range("bytes=50-500", 100),
            RangeRequest::Part(50..100)
        );
        assert_eq!(parse_range("bytes=100-", 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range("bytes=5-2", 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), RangeRequest::Whole);
        assert_eq!(parse_range("items=0-1", 100), RangeRequest::Whole);
    }
}
