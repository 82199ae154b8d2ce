//! File versions: `GET …/versions`, `GET …/versions/{id}`, `GET …/versions/{id}/content`,
//! `POST …/versions/{id}/restoreVersion`, `DELETE …/versions/{id}`.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use graphdrive_drive::service::ItemRef;
use graphdrive_drive::versions::VersionView;
use serde_json::{Value, json};

use super::{GraphRequest, json_response};
use crate::error::{GraphError, GraphResult};
use crate::json as shapes;

fn version_json(v: &VersionView) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.driveItemVersion",
        "id": v.id(),
        "lastModifiedDateTime": shapes::time(v.modified_at),
        "lastModifiedBy": shapes::identity_set(
            &v.modified_by,
            v.modified_by_name.as_deref(),
            v.modified_by_kind.as_deref(),
        ),
        "size": v.size,
    })
}

fn version_id(arg: Option<String>) -> GraphResult<String> {
    arg.ok_or_else(|| GraphError::invalid_request("The request names no version."))
}

/// `GET …/versions`: the current version first, then the earlier ones, newest first.
pub(super) async fn list(req: GraphRequest, at: ItemRef) -> GraphResult<Response> {
    let versions = req
        .state
        .service
        .list_versions(&req.caller, &req.drive, &at)
        .await?;
    let select = req.query.select.as_deref();
    let value: Vec<Value> = versions
        .iter()
        .map(|v| shapes::select(version_json(v), select))
        .collect();
    Ok(json_response(StatusCode::OK, &json!({ "value": value })))
}

/// `GET …/versions/{id}`
pub(super) async fn get(
    req: GraphRequest,
    at: ItemRef,
    arg: Option<String>,
) -> GraphResult<Response> {
    let id = version_id(arg)?;
    let v = req
        .state
        .service
        .get_version(&req.caller, &req.drive, &at, &id)
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &shapes::select(version_json(&v), req.query.select.as_deref()),
    ))
}

/// `GET …/versions/{id}/content`: a `302` to the version's pre-authenticated download URL.
pub(super) async fn content(
    req: GraphRequest,
    at: ItemRef,
    arg: Option<String>,
) -> GraphResult<Response> {
    let id = version_id(arg)?;
    let token = req
        .state
        .service
        .version_link(&req.caller, &req.drive, &at, &id)
        .await?;
    let location = format!("{}/dl/{token}", req.state.public_url);
    Ok((StatusCode::FOUND, [(header::LOCATION, location)]).into_response())
}

/// `POST …/versions/{id}/restoreVersion`
pub(super) async fn restore(
    req: GraphRequest,
    at: ItemRef,
    arg: Option<String>,
) -> GraphResult<Response> {
    let id = version_id(arg)?;
    let if_match = req.header(header::IF_MATCH).map(str::to_string);
    req.state
        .service
        .restore_version(&req.caller, &req.drive, &at, &id, if_match.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE …/versions/{id}`
pub(super) async fn delete(
    req: GraphRequest,
    at: ItemRef,
    arg: Option<String>,
) -> GraphResult<Response> {
    let id = version_id(arg)?;
    req.state
        .service
        .delete_version(&req.caller, &req.drive, &at, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
