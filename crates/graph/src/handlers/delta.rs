//! `GET …/delta`: a folder tree's changes since a token, a page at a time.

use axum::http::{StatusCode, header};
use axum::response::Response;
use graphdrive_drive::DriveError;
use graphdrive_drive::delta::{DeltaEntry, DeltaNext, DeltaPage};
use graphdrive_drive::service::ItemRef;
use serde_json::{Value, json};

use super::items::item_json;
use super::{GraphRequest, json_response};
use crate::error::{GraphError, GraphResult};
use crate::json as shapes;

/// `GET …/delta`, `…/delta()` and `…/delta(token='…')` (the token may also come as `?token=`).
pub(super) async fn get(
    req: GraphRequest,
    at: ItemRef,
    arg: Option<String>,
) -> GraphResult<Response> {
    let token = arg.or_else(|| query_token(&req));
    let page = req
        .state
        .service
        .delta(
            &req.caller,
            &req.drive,
            &at,
            token.as_deref(),
            req.query.top,
        )
        .await
        .map_err(|e| match e {
            DriveError::ResyncRequired => {
                GraphError::from(e).with_header(header::LOCATION, link(&req, None))
            }
            e => GraphError::from(e),
        })?;
    Ok(json_response(StatusCode::OK, &body(&req, &page)))
}

fn body(req: &GraphRequest, page: &DeltaPage) -> Value {
    let select = req.query.select.as_deref();
    let value: Vec<Value> = page
        .entries
        .iter()
        .map(|e| match e {
            DeltaEntry::Item(v) => shapes::select(item_json(&req.state, v), select),
            DeltaEntry::Deleted {
                id,
                parent_id,
                is_folder,
            } => deleted(page, *id, *parent_id, *is_folder),
        })
        .collect();
    let (key, token) = match &page.next {
        DeltaNext::NextPage(t) => ("@odata.nextLink", t),
        DeltaNext::NextRound(t) => ("@odata.deltaLink", t),
    };
    json!({ "value": value, key: link(req, Some(token)) })
}

/// An item gone from the tree: its id, where it was, and whether it was a file or a folder.
fn deleted(page: &DeltaPage, id: i64, parent_id: Option<i64>, is_folder: bool) -> Value {
    let mut v = json!({
        "id": graphdrive_drive::ids::item_id(id),
        "deleted": { "state": "deleted" },
        "parentReference": {
            "driveId": page.drive_id,
            "driveType": page.drive_type,
        },
    });
    if let Some(p) = parent_id {
        v["parentReference"]["id"] = json!(graphdrive_drive::ids::item_id(p));
    }
    let facet = if is_folder { "folder" } else { "file" };
    v[facet] = json!({});
    v
}

/// The token of a `?token=` query option.
fn query_token(req: &GraphRequest) -> Option<String> {
    req.query
        .pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("token"))
        .map(|(_, v)| v.clone())
}

/// This request's delta URL with `token` (none: a fresh start), keeping its other options
/// (`$select`, `$top`, `$expand`).
fn link(req: &GraphRequest, token: Option<&str>) -> String {
    let path = req.uri.path();
    // The last segment is the delta call, in whichever spelling; links use the plain one.
    let base = path.rfind('/').map_or(path, |i| &path[..i]);
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &req.query.pairs {
        if !k.eq_ignore_ascii_case("token") {
            q.append_pair(k, v);
        }
    }
    if let Some(t) = token {
        q.append_pair("token", t);
    }
    let query = q.finish();
    let sep = if query.is_empty() { "" } else { "?" };
    format!("{}{base}/delta{sep}{query}", req.state.public_url)
}
