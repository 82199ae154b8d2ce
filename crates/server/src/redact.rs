//! Keeps passwords out of what the server prints: a database URL such as
//! `postgres://app:s3cret@db/graphdrive` is shown as `postgres://app:***@db/graphdrive`, also
//! inside an error message that quotes it.

/// `text` with the password of every `scheme://user:password@host` in it masked.
pub fn secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        // The authority ends at the first '/', '?', '#' or blank; its userinfo at the last '@'.
        let end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(userinfo_end) => {
                let userinfo = &authority[..userinfo_end];
                match userinfo.split_once(':') {
                    Some((user, _password)) => {
                        out.push_str(user);
                        out.push_str(":***");
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[userinfo_end..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::secrets;

    #[test]
    fn masks_passwords_in_urls() {
        for (given, shown) in [
            (
                "postgres://app:s3cret@db:5432/graphdrive",
                "postgres://app:***@db:5432/graphdrive",
            ),
            (
                "cannot open postgres://a:p@ss:w@host/db: refused",
                "cannot open postgres://a:***@host/db: refused",
            ),
            (
                "postgres://postgres@127.0.0.1/x",
                "postgres://postgres@127.0.0.1/x",
            ),
            ("sqlite:///tmp/a.db?mode=rwc", "sqlite:///tmp/a.db?mode=rwc"),
            (
                "two: postgres://u:1@h/a and postgresql://v:2@k",
                "two: postgres://u:***@h/a and postgresql://v:***@k",
            ),
            ("no url here", "no url here"),
        ] {
            assert_eq!(secrets(given), shown, "{given}");
        }
    }
}
