//! Who is calling and what their token lets them do.

use crate::error::{DriveError, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallerKind {
    /// A signed-in user (delegated token).
    User,
    /// An application acting as itself (application token).
    App,
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub id: String,
    pub kind: CallerKind,
    pub display_name: String,
    pub scopes: Scopes,
    /// The application the token was issued to (`azp`), when the token says.
    pub client_id: Option<String>,
}

/// What a token's scopes grant. `*.ReadWrite*` implies read. `.All` widens reach only for
/// applications: a user reaches their own drive and their groups' drives, whatever the scopes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scopes {
    pub read: bool,
    pub write: bool,
    pub all: bool,
}

/// The scopes a token can carry, as Entra ID spells them. The last five are the sign-in scopes
/// that clients ask for besides the file scopes; they grant no access to drives.
pub const KNOWN_SCOPES: &[&str] = &[
    "Files.Read",
    "Files.ReadWrite",
    "Files.Read.All",
    "Files.ReadWrite.All",
    "Sites.Read.All",
    "Sites.ReadWrite.All",
    "Sites.Manage.All",
    "Sites.FullControl.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "User.Read",
    "openid",
    "profile",
    "email",
    "offline_access",
];

/// The known spelling of a scope (matched without regard to case), or `None`.
pub fn known_scope(scope: &str) -> Option<&'static str> {
    KNOWN_SCOPES
        .iter()
        .copied()
        .find(|k| k.eq_ignore_ascii_case(scope))
}

impl Scopes {
    pub fn parse(scp: &str) -> Self {
        let mut s = Scopes::default();
        for scope in scp.split_whitespace() {
            match scope.to_ascii_lowercase().as_str() {
                "files.read" => s.read = true,
                "files.readwrite" => (s.read, s.write) = (true, true),
                "files.read.all" | "sites.read.all" | "group.read.all" => {
                    (s.read, s.all) = (true, true)
                }
                "files.readwrite.all"
                | "sites.readwrite.all"
                | "sites.manage.all"
                | "sites.fullcontrol.all"
                | "group.readwrite.all" => (s.read, s.write, s.all) = (true, true, true),
                _ => {}
            }
        }
        s
    }
}

/// What an operation needs from the caller's scopes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    Read,
    Write,
}

impl Caller {
    /// Fails with `403 accessDenied` unless the scopes allow `need`.
    pub fn require(&self, need: Need) -> Result<()> {
        let ok = match need {
            Need::Read => self.scopes.read,
            Need::Write => self.scopes.write,
        };
        if ok {
            Ok(())
        } else {
            Err(DriveError::AccessDenied(format!(
                "Access denied: the token's scopes do not allow this {} operation.",
                match need {
                    Need::Read => "read",
                    Need::Write => "write",
                }
            )))
        }
    }
}

pub(crate) fn denied() -> DriveError {
    DriveError::AccessDenied("Access denied: the caller cannot reach this drive.".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scopes() {
        assert_eq!(
            Scopes::parse("Files.Read"),
            Scopes {
                read: true,
                write: false,
                all: false
            }
        );
        assert_eq!(
            Scopes::parse("files.readwrite"),
            Scopes {
                read: true,
                write: true,
                all: false
            }
        );
        assert_eq!(
            Scopes::parse("Files.ReadWrite.All"),
            Scopes {
                read: true,
                write: true,
                all: true
            }
        );
        assert_eq!(Scopes::parse("User.Read openid"), Scopes::default());
    }
}
