//! The rules for item names, as OneDrive and SharePoint apply them.

use crate::error::{DriveError, Result};

/// Longest decoded path (folders and file name) a drive holds.
pub const MAX_PATH_CHARS: usize = 400;

const RESERVED: &[&str] = &[".lock", "desktop.ini", "con", "prn", "aux", "nul"];

/// Checks that `name` can name an item.
pub fn validate(name: &str) -> Result<()> {
    let invalid = |why: &str| DriveError::InvalidName {
        message: format!("The name \"{}\" is invalid: {why}.", name.escape_debug()),
        detail: "invalidPath",
    };
    if name.is_empty() {
        return Err(invalid("it is empty"));
    }
    if name == "." || name == ".." {
        return Err(invalid("it is reserved"));
    }
    if let Some(c) = name.chars().find(|c| {
        matches!(c, '/' | '\\' | '*' | '<' | '>' | '?' | ':' | '|' | '"') || c.is_control()
    }) {
        return Err(invalid(&format!("it contains the character {:?}", c)));
    }
    if name.starts_with(' ') || name.ends_with(' ') {
        return Err(invalid("it starts or ends with a space"));
    }
    let lower = name.to_lowercase();
    let stem = lower.split('.').next().unwrap_or("");
    let device = (stem.len() == 4)
        && (stem.starts_with("com") || stem.starts_with("lpt"))
        && stem.as_bytes()[3].is_ascii_digit();
    if RESERVED.contains(&lower.as_str()) || RESERVED.contains(&stem) || device {
        return Err(invalid("it is a reserved name"));
    }
    if lower.contains("_vti_") {
        return Err(invalid("it contains \"_vti_\""));
    }
    if name.chars().count() > MAX_PATH_CHARS {
        return Err(path_too_long());
    }
    Ok(())
}

pub fn path_too_long() -> DriveError {
    DriveError::InvalidName {
        message: format!("The path is longer than {MAX_PATH_CHARS} characters."),
        detail: "pathIsTooLong",
    }
}

/// Checks the length of a whole path of names.
pub fn validate_path_length<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<()> {
    let chars: usize = names.into_iter().map(|n| n.chars().count() + 1).sum();
    if chars > MAX_PATH_CHARS {
        return Err(path_too_long());
    }
    Ok(())
}

/// Names are matched case-insensitively and stored as written.
pub fn key(name: &str) -> String {
    name.to_lowercase()
}

/// The `n`th alternative to a taken name: `report.txt` → `report 1.txt`, `Folder` → `Folder 1`.
pub fn numbered(name: &str, n: u64, is_folder: bool) -> String {
    match name.rfind('.') {
        Some(dot) if !is_folder && dot > 0 => format!("{} {n}{}", &name[..dot], &name[dot..]),
        _ => format!("{name} {n}"),
    }
}

/// How to settle a clash with an existing name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConflictBehavior {
    Fail,
    Replace,
    Rename,
}

impl ConflictBehavior {
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "fail" => Ok(Self::Fail),
            "replace" => Ok(Self::Replace),
            "rename" => Ok(Self::Rename),
            _ => Err(DriveError::InvalidRequest(format!(
                "Invalid conflict behavior \"{s}\": expected fail, replace or rename."
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fail => "fail",
            Self::Replace => "replace",
            Self::Rename => "rename",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for n in [
            "a",
            "report.txt",
            "Ryan's Files",
            "doc (1).docx",
            "saved_game[1].bin",
            "été",
            ".hidden",
        ] {
            validate(n).unwrap();
        }
    }

    #[test]
    fn rejects_invalid_names() {
        for n in [
            "",
            ".",
            "..",
            "a/b",
            "a\\b",
            "a*",
            "a<",
            "a>",
            "a?",
            "a:b",
            "a|b",
            "a\"b",
            " a",
            "a ",
            "a\u{1}",
            "CON",
            "con.txt",
            "LPT1",
            "com9.log",
            "desktop.ini",
            ".lock",
            "x_vti_y",
        ] {
            assert!(validate(n).is_err(), "{n:?} should be rejected");
        }
        assert!(validate(&"x".repeat(401)).is_err());
    }

    #[test]
    fn numbers_names_before_the_extension() {
        assert_eq!(numbered("test.txt", 1, false), "test 1.txt");
        assert_eq!(numbered("My Folder", 2, true), "My Folder 2");
        assert_eq!(numbered("v1.0", 1, true), "v1.0 1");
        assert_eq!(numbered(".bashrc", 1, false), ".bashrc 1");
        assert_eq!(numbered("noext", 3, false), "noext 3");
    }
}
