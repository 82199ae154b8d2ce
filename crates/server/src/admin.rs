//! The operator's commands: users, groups, drive quotas and tokens (apps, keys and the tenant are
//! in `admin_signin`). They work on the metadata
//! store directly, also while servers run on it, and print tables (or JSON with `--json`).

use clap::{Args, Subcommand};
use graphdrive_drive::admin::{DriveUsage, PrincipalSummary};
use graphdrive_drive::{CallerKind, DriveService};
use graphdrive_storage::metadata::PrincipalKind;
use serde_json::{Value, json};

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a user; prints the user's id.
    Add {
        name: String,
        #[arg(long)]
        display_name: Option<String>,
        /// Read the user's password (to sign in with) from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password: asked for on a terminal, else read from standard input. The
    /// user's refresh tokens are revoked.
    Passwd { name: String },
    /// List users with their state, drive use and groups.
    List,
    /// Show one user (by name or id).
    Show { name: String },
    /// Disable a user: their tokens stop working at once and no new ones are issued.
    Disable { name: String },
    /// Enable a disabled user again.
    Enable { name: String },
    /// Remove a user. Refused while their drive holds anything, unless `--delete-drive`.
    Remove {
        name: String,
        /// Also remove the user's drive and everything in it.
        #[arg(long)]
        delete_drive: bool,
    },
}

#[derive(Subcommand)]
pub enum GroupCommand {
    /// Add a group (or members to it); prints the group's id.
    Add {
        name: String,
        #[arg(long = "member")]
        members: Vec<String>,
    },
    /// List groups with their members and drive use.
    List,
    /// Show one group (by name or id).
    Show { name: String },
    /// Add users to a group.
    AddMember {
        group: String,
        #[arg(required = true)]
        users: Vec<String>,
    },
    /// Remove users from a group.
    RemoveMember {
        group: String,
        #[arg(required = true)]
        users: Vec<String>,
    },
}

#[derive(Subcommand)]
pub enum DriveCommand {
    /// Manage a drive's quota.
    #[command(subcommand)]
    Quota(QuotaCommand),
}

#[derive(Subcommand)]
pub enum QuotaCommand {
    /// Set the quota of the drive of a user or group (by name or id), or of a drive (by id).
    Set {
        owner: String,
        /// Bytes, or with a unit: 500MB, 2GiB, 1TB.
        #[arg(value_parser = parse_bytes)]
        bytes: i64,
    },
}

#[derive(Args)]
pub struct TokenArgs {
    /// A user's delegated token.
    #[arg(long, conflicts_with = "app", required_unless_present = "app")]
    user: Option<String>,
    /// An application's token (the application is made on first use).
    #[arg(long)]
    app: Option<String>,
    /// A scope, e.g. Files.ReadWrite (repeat for more).
    #[arg(long = "scope", required = true)]
    scopes: Vec<String>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    ttl: i64,
}

/// How results are printed.
#[derive(Clone, Copy)]
pub struct Output {
    pub json: bool,
}

impl Output {
    fn list(self, rows: &[PrincipalSummary], kind: PrincipalKind) {
        if self.json {
            let all: Vec<Value> = rows.iter().map(summary_json).collect();
            println!("{}", Value::Array(all));
            return;
        }
        let related = match kind {
            PrincipalKind::Group => "MEMBERS",
            _ => "GROUPS",
        };
        let mut table = vec![
            ["NAME", "ID", "STATE", "USED", "QUOTA", "FILES", related]
                .map(String::from)
                .to_vec(),
        ];
        for r in rows {
            let (used, quota, files) = usage_cells(r.drive.as_ref());
            table.push(vec![
                r.principal.name.clone(),
                r.principal.id.clone(),
                state(r).into(),
                used,
                quota,
                files,
                r.related.join(","),
            ]);
        }
        print_table(&table);
    }

    fn one(self, r: &PrincipalSummary) {
        if self.json {
            println!("{}", summary_json(r));
            return;
        }
        let (used, quota, files) = usage_cells(r.drive.as_ref());
        let related = related_label(r);
        let mut rows: Vec<Vec<String>> = [
            ["name", &r.principal.name],
            ["id", &r.principal.id],
            ["display name", &r.principal.display_name],
            ["state", state(r)],
        ]
        .iter()
        .map(|[k, v]| vec![k.to_string(), v.to_string()])
        .collect();
        if let Some(d) = &r.drive {
            rows.push(vec!["drive".into(), d.record.id.clone()]);
            rows.push(vec!["used".into(), format!("{used} of {quota}")]);
            rows.push(vec!["files".into(), files]);
            rows.push(vec!["reserved".into(), human_bytes(d.reserved)]);
        } else {
            rows.push(vec!["drive".into(), "(not used yet)".into()]);
        }
        rows.push(vec![related.into(), r.related.join(", ")]);
        print_table(&rows);
    }
}

pub async fn user(service: &DriveService, c: UserCommand, out: Output) -> anyhow::Result<()> {
    match c {
        UserCommand::Add {
            name,
            display_name,
            password_stdin,
        } => {
            // Read first: a password that cannot be read leaves no user behind.
            let password = match password_stdin {
                true => Some(crate::admin_signin::read_password(false)?),
                false => None,
            };
            let user = service.add_user(&name, display_name.as_deref()).await?;
            if let Some(p) = password
                && let Err(e) = service.set_password(&user.id, &p).await
            {
                service.remove_user(&user.id, false).await?;
                return Err(e.into());
            }
            println!("{}", user.id);
        }
        UserCommand::Passwd { name } => {
            let password = crate::admin_signin::read_password(true)?;
            service.set_password(&name, &password).await?;
            eprintln!("The password of {name} is set.");
        }
        UserCommand::List => out.list(
            &service.list_principals(PrincipalKind::User).await?,
            PrincipalKind::User,
        ),
        UserCommand::Show { name } => out.one(
            &service
                .principal_summary(PrincipalKind::User, &name)
                .await?,
        ),
        UserCommand::Disable { name } => {
            service.set_user_enabled(&name, false).await?;
            out.one(
                &service
                    .principal_summary(PrincipalKind::User, &name)
                    .await?,
            )
        }
        UserCommand::Enable { name } => {
            service.set_user_enabled(&name, true).await?;
            out.one(
                &service
                    .principal_summary(PrincipalKind::User, &name)
                    .await?,
            )
        }
        UserCommand::Remove { name, delete_drive } => {
            let removed = service.remove_user(&name, delete_drive).await?;
            if out.json {
                println!(
                    "{}",
                    json!({ "removed": removed.user.id, "drive": removed.drive.map(|d| d.record.id) })
                );
            } else {
                match removed.drive {
                    Some(d) => println!(
                        "removed user {} and drive {} ({} items, {})",
                        removed.user.name,
                        d.record.id,
                        d.items,
                        human_bytes(d.used)
                    ),
                    None => println!("removed user {}", removed.user.name),
                }
            }
        }
    }
    Ok(())
}

pub async fn group(service: &DriveService, c: GroupCommand, out: Output) -> anyhow::Result<()> {
    match c {
        GroupCommand::Add { name, members } => {
            let group = service.add_group(&name, &members).await?;
            println!("{}", group.id);
        }
        GroupCommand::List => out.list(
            &service.list_principals(PrincipalKind::Group).await?,
            PrincipalKind::Group,
        ),
        GroupCommand::Show { name } => out.one(
            &service
                .principal_summary(PrincipalKind::Group, &name)
                .await?,
        ),
        GroupCommand::AddMember { group, users } => {
            service.add_group(&group, &users).await?;
            out.one(
                &service
                    .principal_summary(PrincipalKind::Group, &group)
                    .await?,
            )
        }
        GroupCommand::RemoveMember { group, users } => {
            for u in &users {
                service.remove_group_member(&group, u).await?;
            }
            out.one(
                &service
                    .principal_summary(PrincipalKind::Group, &group)
                    .await?,
            )
        }
    }
    Ok(())
}

pub async fn drive(service: &DriveService, c: DriveCommand, out: Output) -> anyhow::Result<()> {
    match c {
        DriveCommand::Quota(QuotaCommand::Set { owner, bytes }) => {
            let d = service.set_quota(&owner, bytes).await?;
            if out.json {
                println!("{}", usage_json(&d));
            } else {
                println!(
                    "drive {}: quota {}, used {}",
                    d.record.id,
                    human_bytes(d.record.quota_total),
                    human_bytes(d.used)
                );
            }
        }
    }
    Ok(())
}

pub async fn token(service: &DriveService, t: TokenArgs) -> anyhow::Result<()> {
    let (kind, name) = match (t.user, t.app) {
        (Some(u), _) => (CallerKind::User, u),
        (None, Some(a)) => (CallerKind::App, a),
        (None, None) => unreachable!("clap requires --user or --app"),
    };
    println!(
        "{}",
        service.issue_token(kind, &name, &t.scopes, t.ttl).await?
    );
    Ok(())
}

fn state(r: &PrincipalSummary) -> &'static str {
    if r.principal.is_disabled() {
        "disabled"
    } else {
        "enabled"
    }
}

/// What [`PrincipalSummary::related`] names: a group's members, or a user's groups.
fn related_label(r: &PrincipalSummary) -> &'static str {
    if r.principal.kind == "group" {
        "members"
    } else {
        "groups"
    }
}

fn usage_cells(d: Option<&DriveUsage>) -> (String, String, String) {
    match d {
        Some(d) => (
            human_bytes(d.used),
            human_bytes(d.record.quota_total),
            d.files.to_string(),
        ),
        None => ("-".into(), "-".into(), "-".into()),
    }
}

fn summary_json(r: &PrincipalSummary) -> Value {
    let related = related_label(r);
    let mut v = json!({
        "id": r.principal.id,
        "name": r.principal.name,
        "displayName": r.principal.display_name,
        "kind": r.principal.kind,
        "enabled": !r.principal.is_disabled(),
        "createdAt": r.principal.created_at,
        "drive": r.drive.as_ref().map(usage_json),
    });
    v[related] = json!(r.related);
    v
}

fn usage_json(d: &DriveUsage) -> Value {
    json!({
        "id": d.record.id,
        "quota": d.record.quota_total,
        "used": d.used,
        "reserved": d.reserved,
        "files": d.files,
        "items": d.items,
    })
}

pub(crate) fn print_table(rows: &[Vec<String>]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| format!("{cell:<width$}", width = widths[i]))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
}

/// Bytes with a unit, for people: 1.5 GiB.
fn human_bytes(n: i64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v.abs() >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// `1500`, `500MB`, `2GiB`, `1.5 TB`: decimal units are powers of 1000, binary ones of 1024.
fn parse_bytes(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("\"{s}\" is not a size (e.g. 1500, 500MB, 2GiB)"))?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "tb" | "t" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "unknown unit \"{other}\" (use B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)"
            ));
        }
    };
    let bytes = (number * factor).round();
    if !(0.0..9.0e18).contains(&bytes) {
        return Err(format!("\"{s}\" is out of range"));
    }
    Ok(bytes as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        for (s, n) in [
            ("1500", 1500),
            ("3MB", 3_000_000),
            ("2GiB", 2 << 30),
            ("1.5 KB", 1500),
            ("0", 0),
        ] {
            assert_eq!(parse_bytes(s), Ok(n), "{s}");
        }
        for s in ["", "abc", "5 parsecs", "-3", "1e30"] {
            assert!(parse_bytes(s).is_err(), "{s}");
        }
        assert_eq!(human_bytes(3_000_000), "2.9 MiB");
        assert_eq!(human_bytes(512), "512 B");
    }
}
