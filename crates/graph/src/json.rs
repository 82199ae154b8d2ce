//! The JSON shapes of Graph resources: driveItem, drive, identitySet, upload session status.

use chrono::{DateTime, SecondsFormat};
use graphdrive_drive::drives::DriveView;
use graphdrive_drive::service::ItemView;
use graphdrive_drive::uploads::SessionStatus;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// Characters a path segment in `parentReference.path` keeps encoded.
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/');

/// RFC 3339 in UTC, with fractions of a second only when there are any.
pub fn time(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Parses an RFC 3339 time into milliseconds.
pub fn parse_time(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// An identitySet: who, filed under what they are.
#[derive(Serialize)]
pub(crate) struct IdentitySet<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<Identity<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    application: Option<Identity<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<Identity<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Identity<'a> {
    id: &'a str,
    display_name: &'a str,
}

pub(crate) fn identity_set<'a>(
    id: &'a str,
    name: Option<&'a str>,
    kind: Option<&str>,
) -> IdentitySet<'a> {
    let who = Some(Identity {
        id,
        display_name: name.unwrap_or(id),
    });
    let mut set = IdentitySet {
        user: None,
        application: None,
        group: None,
    };
    match kind {
        Some("app") => set.application = who,
        Some("group") => set.group = who,
        _ => set.user = who,
    }
    set
}

/// `/drive/root:` followed by the encoded path of the folder.
pub fn drive_path(names: &[String]) -> String {
    let mut p = String::from("/drive/root:");
    for n in names {
        p.push('/');
        p.extend(utf8_percent_encode(n, PATH_SEGMENT));
    }
    p
}

/// A driveItem, serialized straight from the item's record (a listing writes a thousand).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DriveItem<'a> {
    id: String,
    name: &'a str,
    e_tag: String,
    c_tag: String,
    size: i64,
    created_date_time: String,
    last_modified_date_time: String,
    created_by: IdentitySet<'a>,
    last_modified_by: IdentitySet<'a>,
    web_url: String,
    parent_reference: ParentReference<'a>,
    file_system_info: FileSystemInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    folder: Option<FolderFacet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    root: Option<Empty>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<FileFacet<'a>>,
    #[serde(
        rename = "@microsoft.graph.downloadUrl",
        skip_serializing_if = "Option::is_none"
    )]
    download_url: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ParentReference<'a> {
    drive_id: &'a str,
    drive_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FileSystemInfo {
    created_date_time: String,
    last_modified_date_time: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FolderFacet {
    child_count: i64,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FileFacet<'a> {
    mime_type: &'a str,
    hashes: Hashes<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Hashes<'a> {
    sha256_hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    quick_xor_hash: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha1_hash: Option<&'a str>,
}

/// A driveItem. `download_url` is the pre-authenticated link of a file, when one is wanted.
pub fn drive_item<'a>(
    v: &'a ItemView,
    base_url: &str,
    download_url: Option<String>,
) -> DriveItem<'a> {
    let r = &v.record;
    let id = v.id();
    let is_root = r.parent_id.is_none();
    // Delta leaves the path out (its views carry none); the parent's id stays.
    let (parent_id, parent_path) = match r.parent_id {
        Some(pid) => (
            Some(graphdrive_drive::ids::item_id(pid)),
            v.parent_path.as_deref().map(drive_path),
        ),
        None => (None, None),
    };
    let file = (!r.is_folder()).then(|| FileFacet {
        mime_type: r.mime_type.as_deref().unwrap_or("application/octet-stream"),
        hashes: Hashes {
            sha256_hash: r.blob_hash.as_deref().unwrap_or_default().to_uppercase(),
            quick_xor_hash: r.quickxor.as_deref(),
            sha1_hash: r.sha1.as_deref(),
        },
    });
    DriveItem {
        web_url: format!("{base_url}/v1.0/drives/{}/items/{id}", v.drive_id),
        id,
        name: if is_root { "root" } else { &r.name },
        e_tag: v.etag(),
        c_tag: v.ctag(),
        size: r.size,
        created_date_time: time(r.created_at),
        last_modified_date_time: time(r.modified_at),
        created_by: identity_set(
            &r.created_by,
            r.created_by_name.as_deref(),
            r.created_by_kind.as_deref(),
        ),
        last_modified_by: identity_set(
            &r.modified_by,
            r.modified_by_name.as_deref(),
            r.modified_by_kind.as_deref(),
        ),
        parent_reference: ParentReference {
            drive_id: &v.drive_id,
            drive_type: &v.drive_type,
            id: parent_id,
            path: parent_path,
        },
        file_system_info: FileSystemInfo {
            created_date_time: time(r.fs_created_at),
            last_modified_date_time: time(r.fs_modified_at),
        },
        folder: r.is_folder().then_some(FolderFacet {
            child_count: r.child_count,
        }),
        root: is_root.then_some(Empty {}),
        download_url: if file.is_some() { download_url } else { None },
        file,
    }
}

/// Keeps only the selected properties (`$select`); `id` always stays, as Graph does.
pub fn select(value: Value, fields: Option<&[String]>) -> Value {
    let (Some(fields), Value::Object(m)) = (fields, &value) else {
        return value;
    };
    let kept: Map<String, Value> = m
        .iter()
        .filter(|(k, _)| {
            k.as_str() == "id"
                || k.starts_with("@odata")
                || fields.iter().any(|f| f.eq_ignore_ascii_case(k))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(kept)
}

pub fn drive(d: &DriveView, base_url: &str) -> Value {
    let r = &d.drive.record;
    let owner = &d.drive.owner;
    let total = r.quota_total;
    let remaining = (total - d.used).max(0);
    let state = match remaining {
        0 => "exceeded",
        x if x * 100 < total => "critical",
        x if x * 10 < total => "nearing",
        _ => "normal",
    };
    json!({
        "id": r.id,
        "driveType": r.drive_type,
        "name": r.name,
        "description": "",
        "createdDateTime": time(r.created_at),
        "lastModifiedDateTime": time(r.created_at),
        "createdBy": identity_set(&owner.id, Some(&owner.display_name), Some(&owner.kind)),
        "owner": identity_set(&owner.id, Some(&owner.display_name), Some(&owner.kind)),
        "quota": {
            "total": total,
            "used": d.used,
            "remaining": remaining,
            "deleted": d.deleted,
            "fileCount": d.file_count,
            "state": state,
        },
        "webUrl": format!("{base_url}/v1.0/drives/{}", r.id),
    })
}

pub fn upload_status(s: &SessionStatus, upload_url: Option<String>) -> Value {
    let mut v = json!({
        "expirationDateTime": time(s.expires_at),
        "nextExpectedRanges": [format!("{}-", s.next_expected)],
    });
    if let Some(url) = upload_url {
        v["uploadUrl"] = json!(url);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_encoded_per_segment() {
        assert_eq!(drive_path(&[]), "/drive/root:");
        assert_eq!(
            drive_path(&["a b".into(), "c#d".into(), "Ryan's (1)".into()]),
            "/drive/root:/a%20b/c%23d/Ryan's%20(1)"
        );
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(time(0), "1970-01-01T00:00:00Z");
        assert_eq!(time(1_500), "1970-01-01T00:00:01.500Z");
        assert_eq!(
            parse_time("2024-05-01T10:00:00.250Z"),
            Some(1_714_557_600_250)
        );
    }
}
