//! Rows as the metadata store reads and writes them. Times are milliseconds since the Unix epoch.

use sqlx::FromRow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrincipalKind {
    User,
    Group,
    App,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Group => "group",
            PrincipalKind::App => "app",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(PrincipalKind::User),
            "group" => Some(PrincipalKind::Group),
            "app" => Some(PrincipalKind::App),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, FromRow)]
pub struct PrincipalRecord {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub display_name: String,
    pub created_at: i64,
    /// When an operator disabled the principal; `None` while it is enabled.
    pub disabled_at: Option<i64>,
}

impl PrincipalRecord {
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}

#[derive(Clone, Debug, FromRow)]
pub struct DriveRecord {
    pub id: String,
    pub owner_id: String,
    pub drive_type: String,
    pub name: String,
    pub root_id: i64,
    pub quota_total: i64,
    pub created_at: i64,
}

/// An item row joined with its blob's hashes and the display names of its authors.
#[derive(Clone, Debug, FromRow)]
pub struct ItemRecord {
    pub id: i64,
    pub drive_id: String,
    pub parent_id: Option<i64>,
    pub name: String,
    pub is_folder: i64,
    pub size: i64,
    pub child_count: i64,
    pub descendants: i64,
    /// Files at every depth below a folder.
    pub descendant_files: i64,
    pub blob_hash: Option<String>,
    pub mime_type: Option<String>,
    pub created_at: i64,
    pub modified_at: i64,
    pub created_by: String,
    pub modified_by: String,
    pub fs_created_at: i64,
    pub fs_modified_at: i64,
    pub etag_rev: i64,
    pub ctag_rev: i64,
    pub sha1: Option<String>,
    pub quickxor: Option<String>,
    pub created_by_name: Option<String>,
    pub created_by_kind: Option<String>,
    pub modified_by_name: Option<String>,
    pub modified_by_kind: Option<String>,
}

impl ItemRecord {
    pub fn is_folder(&self) -> bool {
        self.is_folder != 0
    }

    /// What this item, with everything below it, adds to the totals of the folder holding it.
    pub fn totals_in_parent(&self) -> ContentTotals {
        ContentTotals {
            size: self.size,
            items: 1 + self.descendants,
            files: self.descendant_files + i64::from(!self.is_folder()),
            children: 1,
        }
    }
}

/// Totals of what a folder holds, or a change to them: bytes and items and files at every depth,
/// and direct children.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContentTotals {
    pub size: i64,
    pub items: i64,
    pub files: i64,
    pub children: i64,
}

impl std::ops::Neg for ContentTotals {
    type Output = Self;

    fn neg(self) -> Self {
        Self {
            size: -self.size,
            items: -self.items,
            files: -self.files,
            children: -self.children,
        }
    }
}

/// What a new item is made of.
#[derive(Clone, Debug)]
pub struct NewItem {
    pub drive_id: String,
    pub parent_id: i64,
    pub name: String,
    pub name_key: String,
    pub file: Option<FileContent>,
    pub author: String,
    pub now: i64,
    pub fs_created_at: i64,
    pub fs_modified_at: i64,
}

/// The content of a file: its blob and how it is served.
#[derive(Clone, Debug)]
pub struct FileContent {
    pub blob_hash: String,
    pub size: i64,
    pub mime_type: String,
}

#[derive(Clone, Debug, FromRow)]
pub struct UploadSessionRecord {
    pub id: String,
    pub drive_id: String,
    pub parent_id: i64,
    pub name: String,
    pub conflict: String,
    pub if_match: Option<String>,
    pub file_size: i64,
    pub received: i64,
    pub principal_id: String,
    pub fs_created_at: Option<i64>,
    pub fs_modified_at: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Sort orders for listing a folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildOrder {
    NameAsc,
    NameDesc,
}
