//! Parses a Graph drive URL path into what it addresses: a drive, an item in it (by id, by path
//! or both, in every spelling clients send) and the action on the item.
//!
//! The whole path is percent-decoded first: SDKs encode a path address into one segment
//! (`root%3A%2Fa%2Fb%3A`), and no valid name holds `/` or `:`, so decoding never merges names.

use graphdrive_drive::drives::DriveSelector;
use graphdrive_drive::service::{ItemBase, ItemRef};

use crate::error::{GraphError, GraphResult};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    pub drive: DriveSelector,
    pub target: Target,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The drive itself.
    Drive,
    /// The drives the caller reaches (`/me/drives`).
    Drives,
    /// The drive's recycle bin (`…/recycleBin/items`).
    RecycleBin,
    Item {
        at: ItemRef,
        action: Action,
        /// The action's argument: the token of `delta(token='…')`, a version id.
        arg: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    None,
    Children,
    Content,
    Copy,
    CreateUploadSession,
    Delta,
    Restore,
    PermanentDelete,
    Versions,
    Version,
    VersionContent,
    RestoreVersion,
}

/// The API version prefixes the server answers under.
const PREFIXES: &[&str] = &["/v1.0", "/v2.0", "/_api/v2.0", "/_api/v2.1", "/beta"];

/// Strips a version prefix from a raw (still encoded) request path.
pub fn strip_version(path: &str) -> Option<&str> {
    PREFIXES.iter().find_map(|p| {
        let rest = path.strip_prefix(p)?;
        (rest.is_empty() || rest.starts_with('/')).then_some(rest)
    })
}

fn unknown(path: &str) -> GraphError {
    GraphError::invalid_request(format!("Resource not found for the segment in \"{path}\"."))
        .with_inner("invalidResource")
}

/// Parses the part of a request path after the version prefix.
pub fn parse(raw: &str) -> GraphResult<Address> {
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| GraphError::invalid_request("The request path is not valid UTF-8."))?;
    if decoded.chars().any(char::is_control) {
        return Err(
            GraphError::invalid_request("The request path holds a control character.")
                .with_inner("invalidPath"),
        );
    }
    let mut rest = decoded.trim_start_matches('/').to_string();
    while rest.contains("//") {
        rest = rest.replace("//", "/");
    }
    if rest.trim_end_matches('/') == "me/drives" {
        return Ok(Address {
            drive: DriveSelector::Me,
            target: Target::Drives,
        });
    }
    let mut cursor = Cursor { rest: &rest };
    let drive = match cursor.segment() {
        Some("me") | Some("users") | Some("groups") | Some("drive") | Some("drives") => {
            parse_drive(&mut cursor, &rest)?
        }
        _ => return Err(unknown(&rest)),
    };
    if cursor.rest.is_empty() {
        return Ok(Address {
            drive,
            target: Target::Drive,
        });
    }
    if let Some(r) = cursor.rest.strip_prefix("recycleBin") {
        return match r.trim_end_matches('/') {
            "/items" => Ok(Address {
                drive,
                target: Target::RecycleBin,
            }),
            _ => Err(unknown(&rest)),
        };
    }
    let base = match cursor.segment_until_colon() {
        Some("root") => ItemBase::Root,
        Some("items") => match cursor.segment_until_colon() {
            Some(id) if id.eq_ignore_ascii_case("root") => ItemBase::Root,
            Some(id) if !id.is_empty() => ItemBase::Id(id.to_string()),
            _ => return Err(unknown(&rest)),
        },
        Some("special") => {
            return Err(GraphError::not_supported(
                "Special folders are not supported.",
            ));
        }
        _ => return Err(unknown(&rest)),
    };
    let mut path = cursor.colon_path();
    let mut action = Action::None;
    let mut arg = None;
    while let Some(seg) = cursor.segment() {
        if action != Action::None {
            return Err(unknown(&rest));
        }
        if let Some(token) = delta_call(seg) {
            action = Action::Delta;
            arg = token.map(str::to_string);
            continue;
        }
        if seg == "versions" {
            (action, arg) = version_action(&mut cursor).ok_or_else(|| unknown(&rest))?;
            continue;
        }
        action = match seg {
            "children" => match cursor.segment() {
                Some(name) => {
                    path.push(name.to_string());
                    Action::None
                }
                None => Action::Children,
            },
            "content" | "$value" => Action::Content,
            "copy" | "microsoft.graph.copy" | "action.copy" | "oneDrive.copy" => Action::Copy,
            "createUploadSession"
            | "microsoft.graph.createUploadSession"
            | "oneDrive.createUploadSession" => Action::CreateUploadSession,
            "restore" | "microsoft.graph.restore" => Action::Restore,
            "permanentDelete" | "microsoft.graph.permanentDelete" => Action::PermanentDelete,
            _ => return Err(unknown(&rest)),
        };
    }
    Ok(Address {
        drive,
        target: Target::Item {
            at: ItemRef { base, path },
            action,
            arg,
        },
    })
}

/// `delta`, `delta()` or `delta(token='…')` (each also as `microsoft.graph.delta…`): the
/// token, if the call names one. `None` when the segment is not a delta call.
fn delta_call(seg: &str) -> Option<Option<&str>> {
    let call = seg.strip_prefix("microsoft.graph.").unwrap_or(seg);
    let args = call.strip_prefix("delta")?;
    if args.is_empty() || args == "()" {
        return Some(None);
    }
    let token = args.strip_prefix("(token=")?.strip_suffix(')')?;
    let token = token
        .strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .unwrap_or(token);
    Some(Some(token))
}

/// What follows `versions`: nothing (the list), or a version id and maybe `content` or
/// `restoreVersion`.
fn version_action(cursor: &mut Cursor) -> Option<(Action, Option<String>)> {
    let Some(id) = cursor.segment() else {
        return Some((Action::Versions, None));
    };
    if id.is_empty() {
        return None;
    }
    let action = match cursor.segment() {
        None => Action::Version,
        Some("content" | "$value") => Action::VersionContent,
        Some("restoreVersion" | "microsoft.graph.restoreVersion") => Action::RestoreVersion,
        Some(_) => return None,
    };
    Some((action, Some(id.to_string())))
}

fn parse_drive(cursor: &mut Cursor, full: &str) -> GraphResult<DriveSelector> {
    let first = full.split('/').next().unwrap_or("");
    let owner = |cursor: &mut Cursor| -> GraphResult<String> {
        let id = cursor
            .segment()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| unknown(full))?
            .to_string();
        match cursor.segment() {
            Some("drive") => Ok(id),
            _ => Err(unknown(full)),
        }
    };
    Ok(match first {
        "drive" => DriveSelector::Me,
        "me" => match cursor.segment() {
            Some("drive") => DriveSelector::Me,
            _ => return Err(unknown(full)),
        },
        "drives" => DriveSelector::Id(
            cursor
                .segment()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| unknown(full))?
                .to_string(),
        ),
        "users" => DriveSelector::User(owner(cursor)?),
        "groups" => DriveSelector::Group(owner(cursor)?),
        _ => return Err(unknown(full)),
    })
}

struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    /// The next `/`-separated segment.
    fn segment(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let (seg, rest) = self.rest.split_once('/').unwrap_or((self.rest, ""));
        self.rest = rest;
        Some(seg)
    }

    /// The next segment, stopping early at a `:` that opens a path.
    fn segment_until_colon(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let end = self.rest.find(['/', ':']).unwrap_or(self.rest.len());
        let seg = &self.rest[..end];
        self.rest = &self.rest[end..];
        if let Some(r) = self.rest.strip_prefix('/') {
            self.rest = r;
        }
        Some(seg)
    }

    /// A `:/a/b:` path address, if one starts here. The closing colon is optional at the end.
    fn colon_path(&mut self) -> Vec<String> {
        let Some(after) = self.rest.strip_prefix(':') else {
            return vec![];
        };
        let (path, rest) = match after.find(':') {
            Some(i) => (&after[..i], after[i + 1..].trim_start_matches('/')),
            None => (after, ""),
        };
        self.rest = rest;
        path.split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arg(path: &str) -> Option<String> {
        match parse(path).unwrap().target {
            Target::Item { arg, .. } => arg,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn action_arguments() {
        assert_eq!(
            arg("/me/drive/root/delta(token='a-b_c')").as_deref(),
            Some("a-b_c")
        );
        assert_eq!(
            arg("/me/drive/root/delta(token=abc)").as_deref(),
            Some("abc")
        );
        assert_eq!(arg("/me/drive/root/delta()"), None);
        assert_eq!(
            arg("/me/drive/items/X/versions/3.0/restoreVersion").as_deref(),
            Some("3.0")
        );
    }

    fn item(path: &str) -> (DriveSelector, ItemRef, Action) {
        match parse(path).unwrap() {
            Address {
                drive,
                target: Target::Item { at, action, .. },
            } => (drive, at, action),
            other => panic!("{other:?}"),
        }
    }

    fn at(base: ItemBase, path: &[&str]) -> ItemRef {
        ItemRef {
            base,
            path: path.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn drives() {
        assert_eq!(parse("/me/drive").unwrap().drive, DriveSelector::Me);
        assert_eq!(parse("/drive").unwrap().drive, DriveSelector::Me);
        assert_eq!(
            parse("/drives/b%21abc").unwrap().drive,
            DriveSelector::Id("b!abc".into())
        );
        assert_eq!(
            parse("/users/alice/drive").unwrap().drive,
            DriveSelector::User("alice".into())
        );
        assert_eq!(
            parse("/groups/g1/drive/root").unwrap().drive,
            DriveSelector::Group("g1".into())
        );
        assert!(parse("/me").is_err());
        assert!(parse("/foo/drive").is_err());
    }

    #[test]
    fn item_addresses() {
        assert_eq!(
            item("/me/drive/root"),
            (DriveSelector::Me, ItemRef::root(), Action::None)
        );
        assert_eq!(
            item("/me/drive/items/ABC").1,
            at(ItemBase::Id("ABC".into()), &[])
        );
        assert_eq!(
            item("/me/drive/root:/a/b").1,
            at(ItemBase::Root, &["a", "b"])
        );
        assert_eq!(
            item("/me/drive/root:/a/b:").1,
            at(ItemBase::Root, &["a", "b"])
        );
        assert_eq!(
            item("/me/drive/root:/a/b:/children"),
            (
                DriveSelector::Me,
                at(ItemBase::Root, &["a", "b"]),
                Action::Children
            )
        );
        assert_eq!(
            item("/me/drive/items/X:/r/p:/content").1,
            at(ItemBase::Id("X".into()), &["r", "p"])
        );
        assert_eq!(item("/me/drive/items/X:/r/p:/content").2, Action::Content);
        assert_eq!(
            item("/drives/d/items/root%3A%2Ffolder%2Ffile.txt%3A").1,
            at(ItemBase::Root, &["folder", "file.txt"])
        );
        assert_eq!(
            item("/drives/d/items/X/children/n%20a/content").1,
            at(ItemBase::Id("X".into()), &["n a"])
        );
        assert_eq!(
            item("/me//drive//root:/a//b:").1,
            at(ItemBase::Root, &["a", "b"])
        );
        assert_eq!(item("/me/drive/root:").1, ItemRef::root());
        assert_eq!(
            item("/me/drive/root:/x:/microsoft.graph.copy").2,
            Action::Copy
        );
        assert_eq!(
            item("/me/drive/items/X/createUploadSession").2,
            Action::CreateUploadSession
        );
        assert_eq!(item("/me/drive/root/delta").2, Action::Delta);
        assert_eq!(item("/me/drive/root:/a:/delta()").2, Action::Delta);
        assert_eq!(
            item("/drives/d/items/X/microsoft.graph.delta(token='abc')").2,
            Action::Delta
        );
        assert_eq!(item("/me/drive/items/X/versions").2, Action::Versions);
        assert_eq!(
            item("/me/drive/items/X/versions/2.0/content").2,
            Action::VersionContent
        );
        assert_eq!(item("/me/drive/items/X/restore").2, Action::Restore);
        assert!(matches!(
            parse("/drives/d/recycleBin/items").unwrap().target,
            Target::RecycleBin
        ));
        assert!(parse("/me/drive/items/X/versions/2.0/bogus").is_err());
        assert!(parse("/me/drive/root/deltas").is_err());
        assert!(parse("/me/drive/root/bogus").is_err());
        assert!(parse("/me/drive/root/content/children").is_err());
    }

    #[test]
    fn version_prefixes() {
        assert_eq!(strip_version("/v1.0/me/drive"), Some("/me/drive"));
        assert_eq!(strip_version("/_api/v2.0/drives/x"), Some("/drives/x"));
        assert_eq!(strip_version("/v1.00/me"), None);
    }
}
