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

/// `GET /me/drives`
pub(super) async fn list(req: GraphRequest) -> GraphResult<Response> {
    let views = req.state.service.my_drives(&req.caller).await?;
    let select = req.query.select.as_deref();
    let value: Vec<_> = views
        .iter()
        .map(|v| json::select(json::drive(v, &req.state.public_url), select))
        .collect();
    let body = serde_json::json!({
        "@odata.context": format!("{}/v1.0/$metadata#drives", req.state.public_url),
        "value": value,
    });
    Ok(json_response(StatusCode::OK, &body))
}
