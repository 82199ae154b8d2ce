//! Items: get, list children, create folder, update (rename, move, times), delete (into the
//! recycle bin).

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use graphdrive_drive::items::{FsTimes, ItemPatch, ParentTarget};
use graphdrive_drive::names::ConflictBehavior;
use graphdrive_drive::service::{ItemRef, ItemView};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{GraphRequest, json_response, not_modified, read_json};
use crate::AppState;
use crate::address::{self, Address, Target};
use crate::error::{GraphError, GraphResult};
use crate::json as shapes;
use crate::query::DEFAULT_PAGE;

/// `fileSystemInfo` as clients send it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FileSystemInfo {
    created_date_time: Option<String>,
    last_modified_date_time: Option<String>,
}

impl FileSystemInfo {
    pub fn times(&self) -> GraphResult<FsTimes> {
        let parse = |s: &Option<String>| -> GraphResult<Option<i64>> {
            match s.as_deref() {
                None => Ok(None),
                Some(t) => shapes::parse_time(t).map(Some).ok_or_else(|| {
                    GraphError::invalid_request(format!(
                        "Invalid date-time \"{t}\" in fileSystemInfo."
                    ))
                }),
            }
        };
        Ok(FsTimes {
            created: parse(&self.created_date_time)?,
            modified: parse(&self.last_modified_date_time)?,
        })
    }
}

/// An `itemReference` as clients send it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ItemReference {
    pub drive_id: Option<String>,
    pub id: Option<String>,
    pub path: Option<String>,
}

impl ItemReference {
    /// The folder this reference names. Empty strings count as absent (rclone sends them).
    pub fn target(&self) -> GraphResult<ParentTarget> {
        let fields = [&self.drive_id, &self.id, &self.path];
        if fields.iter().any(|f| {
            f.as_deref()
                .is_some_and(|s| s.chars().any(char::is_control))
        }) {
            return Err(GraphError::invalid_request(
                "parentReference holds a control character.",
            ));
        }
        let drive_id = self.drive_id.clone().filter(|s| !s.is_empty());
        let id = self.id.clone().filter(|s| !s.is_empty());
        let path = match self.path.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(p) => Some(parse_reference_path(p)?),
        };
        if let (Some(d), Some((Some(pd), _))) = (&drive_id, &path)
            && d != pd
        {
            return Err(GraphError::invalid_request(
                "parentReference.driveId does not match the drive in its path.",
            ));
        }
        let drive_id = drive_id.or_else(|| path.as_ref().and_then(|(d, _)| d.clone()));
        Ok(ParentTarget {
            drive_id,
            id,
            path: path.map(|(_, at)| at),
        })
    }
}

/// Parses `parentReference.path`: `/drive/root:/a`, `/drive/root:`, `/drives/{id}/root:/a`,
/// `/drive/items/{id}`, encoded or not, or a bare path relative to the root.
fn parse_reference_path(p: &str) -> GraphResult<(Option<String>, ItemRef)> {
    if !p.starts_with('/') {
        let decoded = percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .to_string();
        let path = decoded
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        return Ok((
            None,
            ItemRef {
                base: graphdrive_drive::service::ItemBase::Root,
                path,
            },
        ));
    }
    let p = address::strip_version(p).unwrap_or(p);
    let invalid = || {
        GraphError::invalid_request(format!(
            "parentReference.path \"{p}\" is not a valid item path."
        ))
    };
    match address::parse(p).map_err(|_| invalid())? {
        Address {
            drive,
            target:
                Target::Item {
                    at,
                    action: address::Action::None,
                    arg: None,
                },
        } => {
            let drive_id = match drive {
                graphdrive_drive::drives::DriveSelector::Id(d) => Some(d),
                graphdrive_drive::drives::DriveSelector::Me => None,
                _ => return Err(invalid()),
            };
            Ok((drive_id, at))
        }
        _ => Err(invalid()),
    }
}

/// The conflict behaviour of a write: the query wins over the body, then the default.
pub(crate) fn conflict(
    req: &GraphRequest,
    body: &[Option<&str>],
    default: ConflictBehavior,
) -> GraphResult<ConflictBehavior> {
    if let Some(c) = req.query.conflict {
        return Ok(c);
    }
    match body.iter().flatten().next() {
        Some(s) => Ok(ConflictBehavior::parse(s)?),
        None => Ok(default),
    }
}

/// The JSON of an item, with its download link when it is a file.
pub(crate) fn drive_item<'a>(state: &AppState, v: &'a ItemView) -> shapes::DriveItem<'a> {
    let link = state
        .service
        .download_link_of(v)
        .map(|token| format!("{}/dl/{token}", state.public_url));
    shapes::drive_item(v, &state.public_url, link)
}

/// A driveItem as a JSON value, for responses that edit it further (`$select`, `$expand`).
pub(crate) fn item_json(state: &AppState, v: &ItemView) -> Value {
    serde_json::to_value(drive_item(state, v)).unwrap_or_default()
}

fn if_none_match_hits(req: &GraphRequest, v: &ItemView) -> bool {
    req.header(header::IF_NONE_MATCH)
        .is_some_and(|t| graphdrive_drive::ids::tag_matches(t, &v.record))
}

/// `GET …/items/{id}` (and every other address form).
pub(super) async fn get(req: GraphRequest, at: ItemRef) -> GraphResult<Response> {
    let service = &req.state.service;
    let view = service.get_item(&req.caller, &req.drive, &at).await?;
    if if_none_match_hits(&req, &view) {
        return Ok(not_modified());
    }
    let mut body = item_json(&req.state, &view);
    if let Some(child_select) = &req.query.expand_children
        && view.record.is_folder()
    {
        let order = req
            .query
            .order
            .unwrap_or(graphdrive_drive::items::ChildOrder::NameAsc);
        let (_, page) = service
            .list_children(&req.caller, &req.drive, &at, order, None, DEFAULT_PAGE)
            .await?;
        let children: Vec<Value> = page
            .items
            .iter()
            .map(|c| shapes::select(item_json(&req.state, c), child_select.as_deref()))
            .collect();
        body["children"] = json!(children);
    }
    let mut select = req.query.select.clone();
    if let (Some(s), Some(_)) = (&mut select, &req.query.expand_children) {
        s.push("children".into());
    }
    Ok(json_response(
        StatusCode::OK,
        &shapes::select(body, select.as_deref()),
    ))
}

/// `GET …/children`
pub(super) async fn list(req: GraphRequest, at: ItemRef) -> GraphResult<Response> {
    let order = req
        .query
        .order
        .unwrap_or(graphdrive_drive::items::ChildOrder::NameAsc);
    let (folder, page) = req
        .state
        .service
        .list_children(
            &req.caller,
            &req.drive,
            &at,
            order,
            req.query.skip_token.as_deref(),
            req.query.page_size(),
        )
        .await?;
    if if_none_match_hits(&req, &folder) {
        return Ok(not_modified());
    }
    let next_link = page.next.as_deref().map(|token| next_link(&req, token));
    let items = page.items.iter();
    // Without `$select`, the items are written straight from their records.
    Ok(match req.query.select.as_deref() {
        None => json_response(
            StatusCode::OK,
            &Page {
                value: items.map(|v| drive_item(&req.state, v)).collect(),
                next_link,
            },
        ),
        Some(fields) => json_response(
            StatusCode::OK,
            &Page {
                value: items
                    .map(|v| shapes::select(item_json(&req.state, v), Some(fields)))
                    .collect(),
                next_link,
            },
        ),
    })
}

/// One page of a listing.
#[derive(Serialize)]
struct Page<T> {
    value: Vec<T>,
    #[serde(rename = "@odata.nextLink", skip_serializing_if = "Option::is_none")]
    next_link: Option<String>,
}

/// The URL of the next page: this request's, with the new `$skiptoken`.
pub(crate) fn next_link(req: &GraphRequest, token: &str) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &req.query.pairs {
        if !k.trim_start_matches('$').eq_ignore_ascii_case("skiptoken") {
            q.append_pair(k, v);
        }
    }
    q.append_pair("$skiptoken", token);
    format!("{}{}?{}", req.state.public_url, req.uri.path(), q.finish())
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct CreateFolderBody {
    name: Option<String>,
    folder: Option<Value>,
    file: Option<Value>,
    #[serde(rename = "@microsoft.graph.conflictBehavior")]
    conflict: Option<String>,
    #[serde(rename = "@name.conflictBehavior")]
    legacy_conflict: Option<String>,
    #[serde(rename = "fileSystemInfo")]
    fs: Option<FileSystemInfo>,
}

#[cfg(fuzzing)]
impl CreateFolderBody {
    /// What [`create_folder`] derives from the body before it calls the domain.
    pub(crate) fn check(&self) {
        let _ = (
            &self.name,
            &self.folder,
            &self.file,
            &self.conflict,
            &self.legacy_conflict,
        );
        let _ = self.fs.as_ref().map(FileSystemInfo::times);
    }
}

/// `POST …/children`: creates a folder.
pub(super) async fn create_folder(
    req: GraphRequest,
    at: ItemRef,
    body: Body,
) -> GraphResult<Response> {
    let b: CreateFolderBody = read_json(body).await?;
    let name = b
        .name
        .as_deref()
        .ok_or_else(|| GraphError::invalid_request("The request body needs a name."))?;
    if b.folder.is_none() || b.file.is_some() {
        return Err(GraphError::invalid_request(
            "Only folders can be created here: give a \"folder\" facet; upload files with PUT …/content.",
        ));
    }
    let conflict = conflict(
        &req,
        &[b.conflict.as_deref(), b.legacy_conflict.as_deref()],
        ConflictBehavior::Fail,
    )?;
    let fs =
        b.fs.as_ref()
            .map(FileSystemInfo::times)
            .transpose()?
            .unwrap_or_default();
    let view = req
        .state
        .service
        .create_folder(&req.caller, &req.drive, &at, name, conflict, fs)
        .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &item_json(&req.state, &view),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateBody {
    name: Option<String>,
    parent_reference: Option<ItemReference>,
    file_system_info: Option<FileSystemInfo>,
}

#[cfg(fuzzing)]
impl UpdateBody {
    /// What [`update`] derives from the body before it calls the domain.
    pub(crate) fn check(&self) {
        let _ = &self.name;
        let _ = self.parent_reference.as_ref().map(ItemReference::target);
        let _ = self.file_system_info.as_ref().map(FileSystemInfo::times);
    }
}

/// `PATCH …/items/{id}`: renames, moves, or sets `fileSystemInfo`.
pub(super) async fn update(req: GraphRequest, at: ItemRef, body: Body) -> GraphResult<Response> {
    let b: UpdateBody = read_json(body).await?;
    let parent = match &b.parent_reference {
        Some(r) => {
            let t = r.target()?;
            (t.id.is_some() || t.path.is_some()).then_some(t)
        }
        None => None,
    };
    let patch = ItemPatch {
        name: b.name,
        parent,
        fs_times: b
            .file_system_info
            .as_ref()
            .map(FileSystemInfo::times)
            .transpose()?
            .unwrap_or_default(),
    };
    let if_match = req.header(header::IF_MATCH).map(str::to_string);
    let view = req
        .state
        .service
        .update_item(&req.caller, &req.drive, &at, patch, if_match.as_deref())
        .await?;
    Ok(json_response(StatusCode::OK, &item_json(&req.state, &view)))
}

/// `DELETE …/items/{id}`: moves the item to the recycle bin.
pub(super) async fn delete(req: GraphRequest, at: ItemRef) -> GraphResult<Response> {
    let if_match = req.header(header::IF_MATCH).map(str::to_string);
    req.state
        .service
        .delete_item(&req.caller, &req.drive, &at, if_match.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
