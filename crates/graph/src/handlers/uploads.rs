//! Upload sessions: `createUploadSession`, and the pre-authenticated upload URL that takes the
//! fragments (`PUT`), reports progress (`GET`) and cancels (`DELETE`).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use graphdrive_drive::service::ItemRef;
use graphdrive_drive::uploads::{FragmentOutcome, FragmentRange, SessionRequest};
use serde::Deserialize;

use super::items::{FileSystemInfo, conflict, item_json};
use super::{GraphRequest, json_response, read_json};
use crate::SharedState;
use crate::error::{GraphError, GraphResult};
use crate::json;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct CreateSessionBody {
    item: Option<SessionItem>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionItem {
    #[serde(rename = "@microsoft.graph.conflictBehavior")]
    conflict: Option<String>,
    name: Option<String>,
    file_size: Option<i64>,
    file_system_info: Option<FileSystemInfo>,
}

#[cfg(fuzzing)]
impl CreateSessionBody {
    /// What [`create`] derives from the body before it calls the domain.
    pub(crate) fn check(&self) {
        if let Some(item) = &self.item {
            let _ = (&item.conflict, &item.name, item.file_size);
            let _ = item.file_system_info.as_ref().map(FileSystemInfo::times);
        }
    }
}

/// `POST …/createUploadSession`
pub(super) async fn create(req: GraphRequest, at: ItemRef, body: Body) -> GraphResult<Response> {
    let b: CreateSessionBody = read_json(body).await?;
    let item = b.item.unwrap_or_default();
    if let (Some(name), Some(last)) = (&item.name, at.path.last())
        && name != last
    {
        return Err(GraphError::invalid_request(
            "item.name must match the name in the request path.",
        ));
    }
    let request = SessionRequest {
        conflict: match (req.query.conflict, item.conflict.as_deref()) {
            (None, None) => None,
            _ => Some(conflict(
                &req,
                &[item.conflict.as_deref()],
                graphdrive_drive::names::ConflictBehavior::Fail,
            )?),
        },
        if_match: req.header(header::IF_MATCH).map(str::to_string),
        if_none_match: req.header(header::IF_NONE_MATCH).map(str::to_string),
        file_size: item.file_size,
        fs: item
            .file_system_info
            .as_ref()
            .map(FileSystemInfo::times)
            .transpose()?
            .unwrap_or_default(),
    };
    let status = req
        .state
        .service
        .create_upload_session(&req.caller, &req.drive, &at, request)
        .await?;
    let url = format!("{}/upload/{}", req.state.public_url, status.id);
    Ok(json_response(
        StatusCode::OK,
        &json::upload_status(&status, Some(url)),
    ))
}

/// The upload URL. It needs no token, and ignores one if sent.
pub(crate) async fn session_url(
    State(state): State<SharedState>,
    method: Method,
    Path(session): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !super::is_url_token(&session) {
        return GraphError::not_found("The upload session does not exist or has expired.")
            .into_response();
    }
    let result = match method {
        Method::PUT => put_fragment(&state, &session, &headers, body).await,
        Method::GET => state
            .service
            .upload_session_status(&session)
            .await
            .map(|s| json_response(StatusCode::OK, &json::upload_status(&s, None)))
            .map_err(Into::into),
        Method::DELETE => state
            .service
            .cancel_upload_session(&session)
            .await
            .map(|_| StatusCode::NO_CONTENT.into_response())
            .map_err(Into::into),
        _ => Err(GraphError::method_not_allowed("GET, PUT, DELETE")),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn put_fragment(
    state: &SharedState,
    session: &str,
    headers: &HeaderMap,
    body: Body,
) -> GraphResult<Response> {
    let range = headers
        .get(header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_content_range)
        .ok_or_else(|| {
            GraphError::invalid_request(
                "A fragment needs a Content-Range header: bytes start-end/total.",
            )
        })?;
    match state
        .service
        .upload_fragment(session, range, body.into_data_stream())
        .await?
    {
        FragmentOutcome::Accepted(s) => Ok(json_response(
            StatusCode::ACCEPTED,
            &json::upload_status(&s, None),
        )),
        FragmentOutcome::Completed(view, created) => {
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(json_response(status, &item_json(state, &view)))
        }
    }
}

/// `bytes start-end/total`
pub(crate) fn parse_content_range(h: &str) -> Option<FragmentRange> {
    let spec = h.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = spec.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    Some(FragmentRange {
        start: start.trim().parse().ok()?,
        end: end.trim().parse().ok()?,
        total: total.trim().parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        assert_eq!(
            parse_content_range("bytes 0-25/128"),
            Some(FragmentRange {
                start: 0,
                end: 25,
                total: 128
            })
        );
        assert_eq!(parse_content_range("bytes */128"), None);
        assert_eq!(parse_content_range("0-25/128"), None);
    }
}
