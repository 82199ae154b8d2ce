//! The recycle bin: `GET …/recycleBin/items`, `POST …/restore`, `POST …/permanentDelete`.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use graphdrive_drive::names::ConflictBehavior;
use graphdrive_drive::recycle::{BinItemView, RestoreTarget};
use graphdrive_drive::service::ItemRef;
use serde::Deserialize;
use serde_json::{Value, json};

use super::items::{ItemReference, conflict, item_json};
use super::{GraphRequest, json_response, read_json};
use crate::error::GraphResult;
use crate::json as shapes;

/// `GET …/recycleBin/items`: what was deleted, newest first, a page at a time.
pub(super) async fn list(req: GraphRequest) -> GraphResult<Response> {
    let page = req
        .state
        .service
        .recycle_bin(
            &req.caller,
            &req.drive,
            req.query.skip_token.as_deref(),
            req.query.page_size(),
        )
        .await?;
    let select = req.query.select.as_deref();
    let value: Vec<Value> = page
        .items
        .iter()
        .map(|i| shapes::select(bin_item(i), select))
        .collect();
    let mut body = json!({ "value": value });
    if let Some(token) = &page.next {
        body["@odata.nextLink"] = json!(super::items::next_link(&req, token));
    }
    Ok(json_response(StatusCode::OK, &body))
}

/// A `recycleBinItem`.
fn bin_item(i: &BinItemView) -> Value {
    let r = &i.record;
    let names: Vec<String> = i
        .entry
        .from_path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let mut v = json!({
        "@odata.type": "#microsoft.graph.recycleBinItem",
        "id": graphdrive_drive::ids::item_id(r.id),
        "name": r.name,
        "title": r.name,
        "size": r.size,
        "createdDateTime": shapes::time(r.created_at),
        "lastModifiedDateTime": shapes::time(r.modified_at),
        "deletedDateTime": shapes::time(i.entry.deleted_at),
        "deletedFromLocation": shapes::drive_path(&names),
        "deletedBy": shapes::identity_set(
            &i.entry.deleted_by,
            i.deleted_by_name.as_deref(),
            i.deleted_by_kind.as_deref(),
        ),
    });
    let facet = if r.is_folder() { "folder" } else { "file" };
    v[facet] = if r.is_folder() {
        json!({ "childCount": r.child_count })
    } else {
        json!({ "mimeType": r.mime_type })
    };
    v
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RestoreBody {
    parent_reference: Option<ItemReference>,
    name: Option<String>,
    #[serde(rename = "@microsoft.graph.conflictBehavior")]
    conflict: Option<String>,
}

/// `POST …/items/{id}/restore`: puts a deleted item back, where it was or where asked.
pub(super) async fn restore(req: GraphRequest, at: ItemRef, body: Body) -> GraphResult<Response> {
    let b: RestoreBody = read_json(body).await?;
    let parent = match &b.parent_reference {
        Some(r) => {
            let t = r.target()?;
            (t.id.is_some() || t.path.is_some()).then_some(t)
        }
        None => None,
    };
    let conflict = conflict(&req, &[b.conflict.as_deref()], ConflictBehavior::Fail)?;
    let target = RestoreTarget {
        parent,
        name: b.name,
    };
    let view = req
        .state
        .service
        .restore_item(&req.caller, &req.drive, &at, target, conflict)
        .await?;
    Ok(json_response(StatusCode::OK, &item_json(&req.state, &view)))
}

/// `POST …/items/{id}/permanentDelete`: deletes an item without the recycle bin.
pub(super) async fn permanent_delete(req: GraphRequest, at: ItemRef) -> GraphResult<Response> {
    let if_match = req.header(header::IF_MATCH).map(str::to_string);
    req.state
        .service
        .permanent_delete(&req.caller, &req.drive, &at, if_match.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
