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
    Item {
        at: ItemRef,
        action: Action,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    None,
    Children,
    Content,
    Copy,
    CreateUploadSession,
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
    while let Some(seg) = cursor.segment() {
        if action != Action::None {
            return Err(unknown(&rest));
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
            _ => return Err(unknown(&rest)),
        };
    }
    Ok(Address {
        drive,
        target: Target::Item {
            at: ItemRef { base, path },
            action,
        },
    })
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

    fn item(path: &str) -> (DriveSelector, ItemRef, Action) {
        match parse(path).unwrap() {
            Address {
                drive,
                target: Target::Item { at, action },
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
