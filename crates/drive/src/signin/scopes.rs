//! The scopes a sign-in asks for, as Entra ID spells them: bare (`Files.ReadWrite`), prefixed
//! with Graph's resource (`https://graph.microsoft.com/Files.ReadWrite`), `.default`, and the
//! OpenID Connect scopes.

use super::{GRAPH_APP_ID, GRAPH_RESOURCE, OAuthCode, OAuthError};
use crate::access::known_scope;

/// What a delegated `.default` grants: every file scope (a user still reaches only their own
/// drive and their groups' drives) and the profile.
const DELEGATED_DEFAULT: &[&str] = &["Files.ReadWrite.All", "User.Read"];

/// The scopes granted to one sign-in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Granted {
    /// What the access token's `scp` carries, in the order asked (OpenID scopes included, as
    /// Entra's tokens do; `offline_access` is not).
    pub scp: Vec<String>,
    /// `offline_access`: a refresh token is issued.
    pub offline: bool,
    /// `openid`: an ID token is issued.
    pub openid: bool,
}

impl Granted {
    /// The form stored with codes and refresh tokens, which the token response's `scope` says
    /// too.
    pub fn stored(&self) -> String {
        let mut all = self.scp.clone();
        if self.offline {
            all.push("offline_access".into());
        }
        all.join(" ")
    }
}

/// The scope without Graph's resource prefix, or an error for another resource's scope.
fn bare(scope: &str) -> Result<&str, OAuthError> {
    for prefix in [GRAPH_RESOURCE, GRAPH_APP_ID] {
        if let Some(rest) = scope.strip_prefix(prefix)
            && let Some(rest) = rest.strip_prefix('/')
        {
            return Ok(rest);
        }
    }
    if scope.contains('/') || scope.contains(':') {
        return Err(invalid(&format!(
            "The scope '{scope}' is for a resource this server does not serve; use Microsoft Graph's scopes."
        )));
    }
    Ok(scope)
}

fn invalid(message: &str) -> OAuthError {
    OAuthError::new(OAuthCode::InvalidScope, Some(70011), message)
}

/// The delegated scopes a `scope` parameter asks for.
pub fn delegated(requested: &str) -> Result<Granted, OAuthError> {
    let mut g = Granted::default();
    let push = |g: &mut Granted, s: &str| {
        if !g.scp.iter().any(|x| x == s) {
            g.scp.push(s.to_string());
        }
    };
    for raw in requested.split_whitespace() {
        let scope = bare(raw)?;
        if scope.eq_ignore_ascii_case(".default") {
            for s in DELEGATED_DEFAULT {
                push(&mut g, s);
            }
            continue;
        }
        let Some(known) = known_scope(scope) else {
            return Err(invalid(&format!(
                "The provided value for the input parameter 'scope' is not valid. The scope '{raw}' does not exist."
            )));
        };
        match known {
            "offline_access" => g.offline = true,
            "openid" => {
                g.openid = true;
                push(&mut g, known);
            }
            _ => push(&mut g, known),
        }
    }
    if g.scp.is_empty() {
        // Entra signs in with the profile scope when only offline_access was asked for.
        push(&mut g, "User.Read");
    }
    Ok(g)
}

/// Parses what [`Granted::stored`] wrote.
pub fn from_stored(stored: &str) -> Granted {
    delegated(stored).unwrap_or_default()
}

/// Checks a client-credentials `scope`: only `{resource}/.default` is allowed, as in Entra.
pub fn app_only(requested: &str) -> Result<(), OAuthError> {
    let mut scopes = requested.split_whitespace();
    match (scopes.next(), scopes.next()) {
        (Some(s), None) if bare(s).is_ok_and(|b| b.eq_ignore_ascii_case(".default")) => Ok(()),
        _ => Err(OAuthError::new(
            OAuthCode::InvalidScope,
            Some(1002012),
            format!(
                "The provided value for scope {requested} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        )),
    }
}

/// Whether every scope of `asked` was granted in `original` (a refresh may narrow, not widen).
pub fn within(asked: &Granted, original: &Granted) -> bool {
    asked.scp.iter().all(|s| original.scp.contains(s)) && (!asked.offline || original.offline)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_entra_spellings() {
        let g =
            delegated("https://graph.microsoft.com/Files.ReadWrite offline_access openid profile")
                .unwrap();
        assert_eq!(g.scp, ["Files.ReadWrite", "openid", "profile"]);
        assert!(g.offline && g.openid);
        let d = delegated("https://graph.microsoft.com/.default").unwrap();
        assert_eq!(d.scp, DELEGATED_DEFAULT);
        assert!(!d.offline);
        assert_eq!(delegated("files.read").unwrap().scp, ["Files.Read"]);
        assert_eq!(delegated("offline_access").unwrap().scp, ["User.Read"]);
        assert_eq!(
            delegated("Mail.Read").unwrap_err().code,
            OAuthCode::InvalidScope
        );
        assert!(delegated("https://outlook.office.com/Mail.Read").is_err());
        assert!(app_only("https://graph.microsoft.com/.default").is_ok());
        assert!(app_only("00000003-0000-0000-c000-000000000000/.default").is_ok());
        assert!(app_only("Files.ReadWrite.All").is_err());
        let stored = delegated("Files.Read offline_access").unwrap().stored();
        assert_eq!(
            from_stored(&stored),
            delegated("Files.Read offline_access").unwrap()
        );
    }
}
