use axum::http::StatusCode;
use axum::response::Response;

use super::{GraphRequest, json_response};
use crate::error::GraphResult;
use crate::json;

/// `GET …/drive`
pub(super) async fn get(req: GraphRequest) -> GraphResult<Response> {
    let view = req
        .state
        .service
        .drive_view(&req.caller, &req.drive)
        .await?;
    let body = json::select(
        json::drive(&view, &req.state.public_url),
        req.query.select.as_deref(),
    );
    Ok(json_response(StatusCode::OK, &body))
}
