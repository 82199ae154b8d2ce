//! The JSON shapes of Graph resources: driveItem, drive, identitySet, upload session status.

use chrono::{DateTime, SecondsFormat};
use graphdrive_drive::drives::DriveView;
use graphdrive_drive::service::ItemView;
use graphdrive_drive::uploads::SessionStatus;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
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

fn identity_set(id: &str, name: Option<&str>, kind: Option<&str>) -> Value {
    let who = json!({ "id": id, "displayName": name.unwrap_or(id) });
    match kind {
        Some("app") => json!({ "application": who }),
        Some("group") => json!({ "group": who }),
        _ => json!({ "user": who }),
    }
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

/// A driveItem. `download_url` is the pre-authenticated link of a file, when one is wanted.
pub fn item(v: &ItemView, base_url: &str, download_url: Option<String>) -> Value {
    let r = &v.record;
    let id = v.id();
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.insert(
        "name".into(),
        json!(if r.parent_id.is_none() {
            "root"
        } else {
            r.name.as_str()
        }),
    );
    m.insert("eTag".into(), json!(v.etag()));
    m.insert("cTag".into(), json!(v.ctag()));
    m.insert("size".into(), json!(r.size));
    m.insert("createdDateTime".into(), json!(time(r.created_at)));
    m.insert("lastModifiedDateTime".into(), json!(time(r.modified_at)));
    m.insert(
        "createdBy".into(),
        identity_set(
            &r.created_by,
            r.created_by_name.as_deref(),
            r.created_by_kind.as_deref(),
        ),
    );
    m.insert(
        "lastModifiedBy".into(),
        identity_set(
            &r.modified_by,
            r.modified_by_name.as_deref(),
            r.modified_by_kind.as_deref(),
        ),
    );
    m.insert(
        "webUrl".into(),
        json!(format!("{base_url}/v1.0/drives/{}/items/{id}", v.drive_id)),
    );
    let mut parent = json!({ "driveId": v.drive_id, "driveType": v.drive_type });
    if let (Some(pid), Some(path)) = (r.parent_id, &v.parent_path) {
        parent["id"] = json!(graphdrive_drive::ids::item_id(pid));
        parent["path"] = json!(drive_path(path));
    }
    m.insert("parentReference".into(), parent);
    m.insert(
        "fileSystemInfo".into(),
        json!({ "createdDateTime": time(r.fs_created_at), "lastModifiedDateTime": time(r.fs_modified_at) }),
    );
    if r.is_folder() {
        m.insert("folder".into(), json!({ "childCount": r.child_count }));
        if r.parent_id.is_none() {
            m.insert("root".into(), json!({}));
        }
    } else {
        let mut hashes =
            json!({ "sha256Hash": r.blob_hash.as_deref().unwrap_or_default().to_uppercase() });
        if let Some(q) = &r.quickxor {
            hashes["quickXorHash"] = json!(q);
        }
        if let Some(s) = &r.sha1 {
            hashes["sha1Hash"] = json!(s);
        }
        m.insert(
            "file".into(),
            json!({ "mimeType": r.mime_type.as_deref().unwrap_or("application/octet-stream"), "hashes": hashes }),
        );
        if let Some(url) = download_url {
            m.insert("@microsoft.graph.downloadUrl".into(), json!(url));
        }
    }
    Value::Object(m)
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
            "deleted": 0,
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
