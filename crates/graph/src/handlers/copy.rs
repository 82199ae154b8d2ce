//! `POST …/copy` and the monitor URL that reports (and cancels) the copy.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use graphdrive_drive::copy::{CopyRequest, CopyStatus};
use graphdrive_drive::names::ConflictBehavior;
use graphdrive_drive::service::ItemRef;
use serde::Deserialize;
use serde_json::{Value, json};

use super::items::{ItemReference, conflict};
use super::{GraphRequest, json_response, read_json};
use crate::SharedState;
use crate::error::{GraphError, GraphResult};
use crate::json::time;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CopyBody {
    parent_reference: Option<ItemReference>,
    name: Option<String>,
    children_only: Option<bool>,
    include_all_version_history: Option<bool>,
    #[serde(rename = "@microsoft.graph.conflictBehavior")]
    conflict: Option<String>,
}

#[cfg(fuzzing)]
impl CopyBody {
    /// What [`copy`] derives from the body before it calls the domain.
    pub(crate) fn check(&self) {
        let _ = (&self.name, self.children_only, &self.conflict);
        let _ = self.parent_reference.as_ref().map(ItemReference::target);
    }
}

/// `POST …/copy`: `202 Accepted` with the monitor URL in `Location`.
pub(super) async fn copy(req: GraphRequest, at: ItemRef, body: Body) -> GraphResult<Response> {
    let b: CopyBody = read_json(body).await?;
    let parent = match &b.parent_reference {
        Some(r) => Some(r.target()?),
        None => None,
    };
    let request = CopyRequest {
        parent,
        name: b.name.clone(),
        children_only: b.children_only.unwrap_or(false),
        include_versions: b.include_all_version_history.unwrap_or(false),
        conflict: conflict(&req, &[b.conflict.as_deref()], ConflictBehavior::Fail)?,
        client_request_id: req.header("client-request-id").map(str::to_string),
    };
    let job = req
        .state
        .service
        .accept_copy(&req.caller, &req.drive, &at, request)
        .await?;
    let location = monitor_url(&req.state.public_url, &job);
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)]).into_response())
}

pub(crate) fn monitor_url(public_url: &str, job: &str) -> String {
    format!("{public_url}/monitor/{job}")
}

/// The monitor URL: `GET` reports, `DELETE` cancels. The URL is the credential; an
/// `Authorization` header, if any, is ignored.
pub(crate) async fn monitor(
    State(state): State<SharedState>,
    method: Method,
    Path(job): Path<String>,
    _headers: HeaderMap,
) -> Response {
    if !super::is_url_token(&job) {
        return GraphError::not_found("The operation does not exist.")
            .with_inner("operationNotFound")
            .into_response();
    }
    let result = match method {
        Method::GET | Method::HEAD => report(&state, &job).await,
        Method::DELETE => state
            .service
            .cancel_copy(&job)
            .await
            .map(|_| StatusCode::NO_CONTENT.into_response())
            .map_err(Into::into),
        _ => Err(GraphError::method_not_allowed("GET, HEAD, DELETE")),
    };
    result.unwrap_or_else(|e| {
        if e.status == StatusCode::NOT_FOUND {
            GraphError::new(
                StatusCode::NOT_FOUND,
                "itemNotFound",
                "The operation does not exist.",
            )
            .with_inner("operationNotFound")
            .into_response()
        } else {
            e.into_response()
        }
    })
}

async fn report(state: &SharedState, job: &str) -> GraphResult<Response> {
    let status = state.service.copy_status(job).await?;
    let body = async_job_status(&status, &state.public_url);
    let running = status.status == "notStarted" || status.status == "inProgress";
    let mut res = json_response(
        if running {
            StatusCode::ACCEPTED
        } else {
            StatusCode::OK
        },
        &body,
    );
    if running {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    Ok(res)
}

/// Graph's `asyncJobStatus`, with the fields SharePoint adds and the `errorCode` rclone reads.
fn async_job_status(s: &CopyStatus, public_url: &str) -> Value {
    let mut v = json!({
        "id": s.id,
        "operation": "ItemCopy",
        "status": s.status,
        "percentageComplete": s.percentage,
        "percentComplete": s.percentage,
        "createdDateTime": time(s.created_at),
        "lastActionDateTime": time(s.updated_at),
    });
    if let Some((drive, item)) = &s.resource {
        v["resourceId"] = json!(item);
        v["resourceLocation"] = json!(format!("{public_url}/v1.0/drives/{drive}/items/{item}"));
    }
    if let Some(e) = &s.error {
        let mut detail = json!({ "code": e.code, "message": e.message });
        if let Some(t) = &e.target {
            detail["target"] = json!(t);
        }
        v["error"] = json!({ "code": e.code, "message": e.message, "details": [detail] });
        v["errorCode"] = json!(e.code);
    }
    v
}
