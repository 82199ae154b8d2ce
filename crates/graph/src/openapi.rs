//! The OpenAPI 3.0 document of every route the server answers (`GET /openapi.json`): the Graph
//! drive API in each addressing form, the pre-authenticated URLs, and the operator's endpoints.
//! Which operations each item address takes comes from the router's own table
//! ([`crate::handlers::item_operations`]), so the two cannot drift apart.

use serde_json::{Map, Value, json};

use crate::address::Action;
use crate::handlers::item_operations;

/// How a drive is named in a path, with the parameter it takes.
const DRIVES: &[(&str, Option<(&str, &str)>)] = &[
    ("/v1.0/me/drive", None),
    ("/v1.0/drive", None),
    (
        "/v1.0/drives/{drive-id}",
        Some(("drive-id", "A drive id, as `GET /me/drive` gives it.")),
    ),
    (
        "/v1.0/users/{user-id}/drive",
        Some(("user-id", "A user's id or name.")),
    ),
    (
        "/v1.0/groups/{group-id}/drive",
        Some(("group-id", "A group's id or name.")),
    ),
];

/// How an item is named below a drive, with the parameter it takes.
const ITEMS: &[(&str, Option<(&str, &str)>)] = &[
    ("/root", None),
    (
        "/items/{item-id}",
        Some(("item-id", "An item id: 16 hexadecimal digits.")),
    ),
    (
        "/root:/{item-path}:",
        Some(("item-path", "A path below the root, such as `docs/a.txt`.")),
    ),
];

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for (drive, drive_param) in DRIVES {
        let params: Vec<Value> = drive_param.iter().map(|p| path_param(*p)).collect();
        paths.insert(drive.to_string(), drive_path(&params));
        paths.insert(
            format!("{drive}/recycleBin/items"),
            recycle_bin_path(&params),
        );
        for (item, item_param) in ITEMS {
            let mut params = params.clone();
            params.extend(item_param.iter().map(|p| path_param(*p)));
            for (action, suffix) in [
                (Action::None, ""),
                (Action::Children, "/children"),
                (Action::Content, "/content"),
                (Action::CreateUploadSession, "/createUploadSession"),
                (Action::Copy, "/copy"),
                (Action::Delta, "/delta"),
                (Action::Restore, "/restore"),
                (Action::PermanentDelete, "/permanentDelete"),
                (Action::Versions, "/versions"),
                (Action::Version, "/versions/{version-id}"),
                (Action::VersionContent, "/versions/{version-id}/content"),
                (
                    Action::RestoreVersion,
                    "/versions/{version-id}/restoreVersion",
                ),
            ] {
                let mut ops = Map::new();
                for method in item_operations(action) {
                    ops.insert(method.to_string(), item_operation(action, method));
                }
                let mut params = params.clone();
                if suffix.contains("{version-id}") {
                    params.push(path_param(("version-id", "A version id, such as `2.0`.")));
                }
                ops.insert("parameters".into(), Value::Array(params));
                paths.insert(format!("{drive}{item}{suffix}"), Value::Object(ops));
            }
        }
    }
    let get = json!({
        "summary": "The drives the signed-in user reaches: their own, then their groups'",
        "responses": responses(&[("200", returns("The drives.", "DriveCollection"))]),
    });
    paths.insert(
        "/v1.0/me/drives".into(),
        json!({ "get": get.clone(), "head": head_of(get) }),
    );
    for (path, item) in unversioned_paths() {
        paths.insert(path.into(), item);
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "graphdrive",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The Microsoft Graph drive API (driveItem) as graphdrive serves it. \
                Every /v1.0 path is also served under /v2.0, /beta, /_api/v2.0 and /_api/v2.1, \
                and an item path may follow an item id (/items/{item-id}:/{item-path}:). \
                Errors are Graph's envelope: {\"error\":{\"code\",\"message\",\"innerError\"}}."
        },
        "paths": paths,
        "components": components(),
        "security": [{ "bearer": [] }],
    })
}

fn path_param((name, description): (&str, &str)) -> Value {
    json!({
        "name": name, "in": "path", "required": true, "description": description,
        "schema": { "type": "string", "minLength": 1 }
    })
}

fn query_param(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema })
}

fn header_param(name: &str, description: &str, required: bool) -> Value {
    json!({ "name": name, "in": "header", "required": required, "description": description,
            "schema": { "type": "string" } })
}

fn conflict_param() -> Value {
    query_param(
        "@microsoft.graph.conflictBehavior",
        "What to do when the name is taken.",
        json!({ "type": "string", "enum": ["fail", "replace", "rename"] }),
    )
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn json_body(schema: &str) -> Value {
    json!({ "content": { "application/json": { "schema": schema_ref(schema) } } })
}

/// A response with a JSON body of a schema.
fn returns(description: &str, schema: &str) -> Value {
    json!({ "description": description,
            "content": { "application/json": { "schema": schema_ref(schema) } } })
}

fn empty(description: &str) -> Value {
    json!({ "description": description })
}

/// Responses with the error envelope for every status not listed.
fn responses(list: &[(&str, Value)]) -> Value {
    let mut m = Map::new();
    for (status, r) in list {
        m.insert(status.to_string(), r.clone());
    }
    m.insert("default".into(), returns("A Graph error.", "Error"));
    Value::Object(m)
}

fn drive_path(params: &[Value]) -> Value {
    let get = json!({
        "summary": "Get the drive",
        "responses": responses(&[("200", returns("The drive.", "Drive"))]),
    });
    json!({ "parameters": params, "get": get.clone(), "head": head_of(get) })
}

fn recycle_bin_path(params: &[Value]) -> Value {
    let get = json!({
        "summary": "What the drive's recycle bin holds, newest first, a page at a time",
        "parameters": with(select_expand(), [
            query_param("$top", "Items a page holds at most.", json!({ "type": "integer", "minimum": 1 })),
            query_param("$skiptoken", "The cursor of the next page (from @odata.nextLink).", json!({ "type": "string" })),
        ]),
        "responses": responses(&[("200", returns("A page of deleted items.", "RecycleBinItemCollection"))]),
    });
    json!({ "parameters": params, "get": get.clone(), "head": head_of(get) })
}

/// A `HEAD` answers as its `GET`, without a body.
fn head_of(mut get: Value) -> Value {
    get["summary"] = json!(format!(
        "{} (headers only)",
        get["summary"].as_str().unwrap_or("")
    ));
    if let Some(responses) = get["responses"].as_object_mut() {
        for (status, r) in responses.iter_mut() {
            if let Some(r) = r.as_object_mut() {
                r.remove("content");
            }
            if status == "default" {
                *r = empty("An error (its envelope is not sent).");
            }
        }
    }
    get
}

fn select_expand() -> Vec<Value> {
    vec![
        query_param(
            "$select",
            "Properties to return, comma-separated.",
            json!({ "type": "string" }),
        ),
        query_param(
            "$expand",
            "`children` (with `$select=…` inside).",
            json!({ "type": "string" }),
        ),
    ]
}

fn with<const N: usize>(mut list: Vec<Value>, more: [Value; N]) -> Vec<Value> {
    list.extend(more);
    list
}

fn item_operation(action: Action, method: &str) -> Value {
    match (action, method) {
        (Action::None, "get") => json!({
            "summary": "Get an item",
            "parameters": with(select_expand(), [header_param("If-None-Match", "An eTag or cTag: 304 when it matches.", false)]),
            "responses": responses(&[
                ("200", returns("The item.", "DriveItem")),
                ("304", empty("The item matches If-None-Match.")),
            ]),
        }),
        (Action::None, "head") => head_of(item_operation(Action::None, "get")),
        (Action::None, "patch") => json!({
            "summary": "Rename or move an item, or set its fileSystemInfo",
            "parameters": [header_param("If-Match", "The eTag the item must still have.", false)],
            "requestBody": json_body("ItemUpdate"),
            "responses": responses(&[("200", returns("The updated item.", "DriveItem"))]),
        }),
        (Action::None, "delete") => json!({
            "summary": "Delete an item (a folder with all it holds)",
            "parameters": [header_param("If-Match", "The eTag the item must still have.", false)],
            "responses": responses(&[("204", empty("Deleted."))]),
        }),
        (Action::Children, "get") => json!({
            "summary": "List a folder's children, a page at a time",
            "parameters": with(select_expand(), [
                query_param("$top", "Children a page holds at most.", json!({ "type": "integer", "minimum": 1 })),
                query_param("$orderby", "`name` or `name desc`.", json!({ "type": "string", "enum": ["name", "name asc", "name desc"] })),
                query_param("$skiptoken", "The cursor of the next page (from @odata.nextLink).", json!({ "type": "string" })),
            ]),
            "responses": responses(&[("200", returns("A page of children.", "DriveItemCollection"))]),
        }),
        (Action::Children, "head") => head_of(item_operation(Action::Children, "get")),
        (Action::Children, "post") => json!({
            "summary": "Create a folder",
            "parameters": [conflict_param()],
            "requestBody": json_body("NewFolder"),
            "responses": responses(&[("201", returns("The folder.", "DriveItem"))]),
        }),
        (Action::Content, "get") => json!({
            "summary": "Download a file: a redirect to its pre-authenticated URL",
            "parameters": [header_param("If-None-Match", "An eTag or cTag: 304 when it matches.", false)],
            "responses": responses(&[
                ("302", { let mut r = empty("Redirect to the download URL."); r["headers"] = json!({ "Location": { "schema": { "type": "string" } } }); r }),
                ("304", empty("The file matches If-None-Match.")),
            ]),
        }),
        (Action::Content, "head") => head_of(item_operation(Action::Content, "get")),
        (Action::Content, "put") => json!({
            "summary": "Upload a file's content in one request (creating folders on the way)",
            "parameters": [conflict_param(), header_param("If-Match", "The eTag the file must still have.", false)],
            "requestBody": { "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } },
            "responses": responses(&[
                ("200", returns("The replaced file.", "DriveItem")),
                ("201", returns("The new file.", "DriveItem")),
            ]),
        }),
        (Action::CreateUploadSession, "post") => json!({
            "summary": "Start a resumable upload",
            "requestBody": json_body("UploadSessionRequest"),
            "responses": responses(&[("200", returns("The session.", "UploadSession"))]),
        }),
        (Action::Copy, "post") => json!({
            "summary": "Copy an item (a whole folder tree) on the server",
            "parameters": [conflict_param()],
            "requestBody": json_body("CopyRequest"),
            "responses": responses(&[("202", { let mut r = empty("Accepted; Location is the monitor URL."); r["headers"] = json!({ "Location": { "schema": { "type": "string" } } }); r })]),
        }),
        (Action::Delta, "get") => json!({
            "summary": "What changed below a folder since a token (no token: everything), a page at a time",
            "parameters": with(select_expand(), [
                query_param("token", "A token from @odata.deltaLink or @odata.nextLink, or `latest`.", json!({ "type": "string" })),
                query_param("$top", "Items a page holds at most.", json!({ "type": "integer", "minimum": 1 })),
            ]),
            "responses": responses(&[
                ("200", returns("A page of changes.", "DriveItemCollection")),
                ("410", returns("The token is too old: start over from Location.", "Error")),
            ]),
        }),
        (Action::Restore, "post") => json!({
            "summary": "Restore an item from the recycle bin",
            "parameters": [conflict_param()],
            "requestBody": json_body("RestoreRequest"),
            "responses": responses(&[("200", returns("The restored item.", "DriveItem"))]),
        }),
        (Action::PermanentDelete, "post") => json!({
            "summary": "Delete an item for good, without the recycle bin",
            "parameters": [header_param("If-Match", "The eTag the item must still have.", false)],
            "responses": responses(&[("204", empty("Deleted."))]),
        }),
        (Action::Versions, "get") => json!({
            "summary": "A file's versions, the current one first",
            "responses": responses(&[("200", returns("The versions.", "VersionCollection"))]),
        }),
        (Action::Version, "get") => json!({
            "summary": "One version of a file",
            "responses": responses(&[("200", returns("The version.", "DriveItemVersion"))]),
        }),
        (Action::Version, "delete") => json!({
            "summary": "Delete an earlier version of a file",
            "responses": responses(&[("204", empty("Deleted."))]),
        }),
        (Action::VersionContent, "get") => json!({
            "summary": "Download a version: a redirect to its pre-authenticated URL",
            "responses": responses(&[("302", empty("Redirect to the download URL."))]),
        }),
        (Action::RestoreVersion, "post") => json!({
            "summary": "Make an earlier version the current content again",
            "responses": responses(&[("204", empty("Restored."))]),
        }),
        (action, "head") if item_operations(action).contains(&"head") => {
            head_of(item_operation(action, "get"))
        }
        _ => json!({ "responses": responses(&[]) }),
    }
}

fn unversioned_paths() -> Vec<(&'static str, Value)> {
    let token = |name: &str, what: &str| {
        json!([{
            "name": name, "in": "path", "required": true, "description": what,
            "schema": { "type": "string", "minLength": 1 }
        }])
    };
    let binary = json!({ "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } });
    let download = json!({
        "summary": "The bytes of a file; the URL is the credential",
        "security": [],
        "parameters": [header_param("Range", "One `bytes=` range.", false)],
        "responses": responses(&[
            ("200", json!({ "description": "The file.", "content": binary })),
            ("206", json!({ "description": "The range.", "content": binary })),
        ]),
    });
    let session_status = json!({
        "summary": "The session's state",
        "security": [],
        "responses": responses(&[("200", returns("The session.", "UploadSession"))]),
    });
    let monitor = json!({
        "summary": "A copy's progress; the URL is the credential",
        "security": [],
        "responses": responses(&[
            ("200", returns("The copy ended.", "CopyStatus")),
            ("202", returns("The copy is running.", "CopyStatus")),
        ]),
    });
    let ops = |summary: &str, response: Value| {
        json!({ "get": {
            "summary": summary, "security": [], "responses": { "200": response, "503": response }
        }})
    };
    vec![
        (
            "/dl/{token}",
            json!({
                "parameters": token("token", "The download token."),
                "get": redirected(download.clone()), "head": head_of(download),
            }),
        ),
        (
            "/upload/{session}",
            json!({
                "parameters": token("session", "The upload session's id."),
                "put": {
                    "summary": "Upload one fragment",
                    "security": [],
                    "parameters": [header_param("Content-Range", "`bytes START-END/TOTAL`.", true)],
                    "requestBody": { "content": binary },
                    "responses": responses(&[
                        ("202", returns("More is expected.", "UploadSession")),
                        ("200", returns("The replaced file.", "DriveItem")),
                        ("201", returns("The new file.", "DriveItem")),
                    ]),
                },
                "get": session_status,
                "delete": { "summary": "Cancel the session", "security": [], "responses": responses(&[("204", empty("Cancelled."))]) },
            }),
        ),
        (
            "/monitor/{job}",
            json!({
                "parameters": token("job", "The copy's id."),
                "get": monitor, "head": head_of(monitor.clone()),
                "delete": { "summary": "Cancel the copy", "security": [], "responses": responses(&[("204", empty("Cancelled."))]) },
            }),
        ),
        (
            "/health",
            ops(
                "Liveness (as /health/live)",
                returns("The process answers.", "Health"),
            ),
        ),
        (
            "/health/live",
            ops(
                "Liveness: the process answers",
                returns("The process answers.", "Health"),
            ),
        ),
        (
            "/health/ready",
            ops(
                "Readiness: the metadata and blob stores answer",
                returns("Each check's state.", "Health"),
            ),
        ),
        (
            "/metrics",
            json!({ "get": { "summary": "Prometheus metrics", "security": [], "responses": {
                "200": { "description": "Prometheus text format.", "content": { "text/plain": { "schema": { "type": "string" } } } }
            }}}),
        ),
        (
            "/openapi.json",
            json!({ "get": { "summary": "This document", "security": [], "responses": {
                "200": { "description": "OpenAPI 3.0.", "content": { "application/json": { "schema": { "type": "object" } } } }
            }}}),
        ),
    ]
}

fn components() -> Value {
    let string = json!({ "type": "string" });
    let identity = json!({ "type": "object", "properties": {
        "user": { "type": "object" }, "application": { "type": "object" } } });
    let item_reference = json!({ "type": "object", "properties": {
        "driveId": string, "id": string, "path": string } });
    let fs_info = json!({ "type": "object", "properties": {
        "createdDateTime": { "type": "string", "format": "date-time" },
        "lastModifiedDateTime": { "type": "string", "format": "date-time" } } });
    json!({
        "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } },
        "schemas": {
            "Error": { "type": "object", "required": ["error"], "properties": { "error": {
                "type": "object", "required": ["code", "message", "innerError"], "properties": {
                    "code": string, "message": string,
                    "innerError": { "type": "object", "required": ["request-id", "date"], "properties": {
                        "request-id": string, "client-request-id": string, "date": string, "code": string } } } } } },
            "DriveItem": { "type": "object", "description": "With $select, only the properties selected.", "properties": {
                "id": string, "name": string, "eTag": string, "cTag": string,
                "size": { "type": "integer", "minimum": 0 },
                "createdDateTime": { "type": "string", "format": "date-time" },
                "lastModifiedDateTime": { "type": "string", "format": "date-time" },
                "createdBy": identity, "lastModifiedBy": identity, "webUrl": string,
                "parentReference": item_reference, "fileSystemInfo": fs_info,
                "folder": { "type": "object", "properties": { "childCount": { "type": "integer" } } },
                "root": { "type": "object" },
                "file": { "type": "object", "properties": { "mimeType": string, "hashes": { "type": "object" } } },
                "children": { "type": "array", "items": { "type": "object" } },
                "@microsoft.graph.downloadUrl": string } },
            "DriveItemCollection": { "type": "object", "required": ["value"], "properties": {
                "value": { "type": "array", "items": schema_ref("DriveItem") },
                "@odata.nextLink": string, "@odata.deltaLink": string } },
            "Drive": { "type": "object", "required": ["id", "driveType", "quota"], "properties": {
                "id": string, "driveType": string, "name": string, "owner": identity,
                "quota": { "type": "object", "properties": {
                    "total": { "type": "integer" }, "used": { "type": "integer" },
                    "remaining": { "type": "integer" }, "deleted": { "type": "integer" },
                    "fileCount": { "type": "integer" }, "state": string } } } },
            "ItemUpdate": { "type": "object", "properties": {
                "name": string, "parentReference": item_reference, "fileSystemInfo": fs_info } },
            "NewFolder": { "type": "object", "required": ["name", "folder"], "properties": {
                "name": string, "folder": { "type": "object" }, "fileSystemInfo": fs_info,
                "@microsoft.graph.conflictBehavior": { "type": "string", "enum": ["fail", "replace", "rename"] } } },
            "UploadSessionRequest": { "type": "object", "properties": {
                "item": { "type": "object", "properties": {
                    "name": string, "fileSize": { "type": "integer", "minimum": 0 }, "fileSystemInfo": fs_info,
                    "@microsoft.graph.conflictBehavior": { "type": "string", "enum": ["fail", "replace", "rename"] } } },
                "deferCommit": { "type": "boolean" } } },
            "UploadSession": { "type": "object", "required": ["expirationDateTime", "nextExpectedRanges"], "properties": {
                "uploadUrl": string, "expirationDateTime": string,
                "nextExpectedRanges": { "type": "array", "items": string } } },
            "CopyRequest": { "type": "object", "properties": {
                "name": string, "parentReference": item_reference, "childrenOnly": { "type": "boolean" },
                "@microsoft.graph.conflictBehavior": { "type": "string", "enum": ["fail", "replace", "rename"] } } },
            "CopyStatus": { "type": "object", "required": ["status"], "properties": {
                "id": string, "operation": string,
                "status": { "type": "string", "enum": ["notStarted", "inProgress", "completed", "failed"] },
                "percentageComplete": { "type": "number" }, "resourceId": string, "resourceLocation": string,
                "error": { "type": "object" }, "errorCode": string } },
            "DriveItemVersion": { "type": "object", "required": ["id"], "properties": {
                "id": string, "size": { "type": "integer" }, "lastModifiedBy": identity,
                "lastModifiedDateTime": { "type": "string", "format": "date-time" } } },
            "DriveCollection": { "type": "object", "required": ["value"], "properties": {
                "value": { "type": "array", "items": schema_ref("Drive") } } },
            "VersionCollection": { "type": "object", "required": ["value"], "properties": {
                "value": { "type": "array", "items": schema_ref("DriveItemVersion") } } },
            "RecycleBinItem": { "type": "object", "required": ["id"], "properties": {
                "id": string, "name": string, "size": { "type": "integer" }, "deletedBy": identity,
                "deletedDateTime": { "type": "string", "format": "date-time" },
                "deletedFromLocation": string } },
            "RecycleBinItemCollection": { "type": "object", "required": ["value"], "properties": {
                "value": { "type": "array", "items": schema_ref("RecycleBinItem") },
                "@odata.nextLink": string } },
            "RestoreRequest": { "type": "object", "properties": {
                "name": string, "parentReference": item_reference } },
            "Health": { "type": "object", "required": ["status"], "properties": {
                "status": string, "checks": { "type": "object" } } },
        }
    })
}

/// A download that may be sent to the bucket instead (`serve --downloads-from-s3`).
fn redirected(mut op: Value) -> Value {
    op["responses"]["302"] = json!({
        "description": "With `--downloads-from-s3`: the bytes (and any range) are at `Location`, \
                        a URL the S3 bucket signs and serves.",
        "headers": { "Location": { "schema": { "type": "string" } } },
    });
    op
}
