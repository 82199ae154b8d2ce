//! The operator's sign-in commands: applications (OAuth clients), signing keys, the tenant id,
//! and reading a password.

use std::io::{BufRead, IsTerminal};

use clap::Subcommand;
use graphdrive_drive::DriveService;
use graphdrive_drive::signin::Client;
use serde_json::{Value, json};

use crate::admin::{Output, print_table};

#[derive(Subcommand)]
pub enum AppCommand {
    /// Register an application; prints its client id and, for a confidential client, its
    /// secret (shown only now).
    Add {
        name: String,
        /// A redirect URI the authorization code flow may return to (repeat for more).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// A public client (a native or command-line program): no secret, PKCE required.
        #[arg(long)]
        public: bool,
        /// An application permission its app-only tokens carry, e.g. Files.ReadWrite.All
        /// (repeat for more).
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// List registered applications, and the clients known out of the box.
    List,
    /// Remove an application: its tokens stop working at once.
    Remove { name: String },
    /// Manage an application's secret.
    #[command(subcommand)]
    Secret(SecretCommand),
}

#[derive(Subcommand)]
pub enum SecretCommand {
    /// Give the app a new secret (printed); the old one stops working.
    Reset { name: String },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// List the token-signing keys.
    List,
    /// Make a new signing key. The old keys keep being accepted (and published) for `--keep`
    /// seconds, the lifetime of the tokens they signed, then they retire.
    Rotate {
        #[arg(long, default_value_t = 3600 + 300)]
        keep: i64,
    },
    /// Retire a key now (a leaked key): tokens it signed are refused from the next key reload,
    /// within seconds, on every node.
    Retire { kid: String },
}

/// A password from standard input: its first line, or asked for twice without echo on a
/// terminal when `prompt` is set.
pub fn read_password(prompt: bool) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if prompt && stdin.is_terminal() {
        let first = rpassword::prompt_password("New password: ")?;
        let again = rpassword::prompt_password("Again: ")?;
        anyhow::ensure!(first == again, "the two passwords differ");
        return Ok(first);
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    anyhow::ensure!(!password.is_empty(), "no password on standard input");
    Ok(password)
}

fn app_json(c: &Client) -> Value {
    json!({
        "name": c.name, "client_id": c.id,
        "type": if c.is_public { "public" } else { "confidential" },
        "redirect_uris": c.redirect_uris, "roles": c.roles, "builtin": c.builtin,
    })
}

pub async fn app(service: &DriveService, c: AppCommand, out: Output) -> anyhow::Result<()> {
    match c {
        AppCommand::Add {
            name,
            redirect_uris,
            public,
            roles,
        } => {
            let app = service
                .add_app(&name, &redirect_uris, public, &roles)
                .await?;
            if out.json {
                let mut v = app_json(&app.client);
                v["client_secret"] = json!(app.secret);
                println!("{v}");
            } else {
                println!("client_id: {}", app.client.id);
                if let Some(secret) = app.secret {
                    println!("client_secret: {secret}");
                }
            }
        }
        AppCommand::List => {
            let apps = service.apps().await?;
            if out.json {
                println!("{}", Value::Array(apps.iter().map(app_json).collect()));
                return Ok(());
            }
            let mut table = vec![
                ["NAME", "CLIENT ID", "TYPE", "REDIRECT URIS", "ROLES"]
                    .map(String::from)
                    .to_vec(),
            ];
            for a in &apps {
                let kind = match (a.builtin, a.is_public) {
                    (true, _) => "public (built in)",
                    (false, true) => "public",
                    (false, false) => "confidential",
                };
                table.push(vec![
                    a.name.clone(),
                    a.id.clone(),
                    kind.into(),
                    a.redirect_uris.join(","),
                    a.roles.join(","),
                ]);
            }
            print_table(&table);
        }
        AppCommand::Remove { name } => {
            service.remove_app(&name).await?;
            eprintln!("Removed the app {name}.");
        }
        AppCommand::Secret(SecretCommand::Reset { name }) => {
            println!("{}", service.reset_app_secret(&name).await?);
        }
    }
    Ok(())
}

fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

pub async fn keys(service: &DriveService, c: KeysCommand, out: Output) -> anyhow::Result<()> {
    match c {
        KeysCommand::List => {
            let keys = service.signing_keys().await?;
            let now = chrono::Utc::now().timestamp_millis();
            let state = |r: Option<i64>| match r {
                None => "signing",
                Some(t) if t > now => "retiring",
                Some(_) => "retired",
            };
            if out.json {
                let all: Vec<Value> = keys
                    .iter()
                    .map(|k| json!({ "kid": k.kid, "created": time(k.created_at), "retire_at": k.retire_at.map(time), "state": state(k.retire_at) }))
                    .collect();
                println!("{}", Value::Array(all));
                return Ok(());
            }
            let mut table = vec![
                ["KID", "CREATED", "STATE", "RETIRES"]
                    .map(String::from)
                    .to_vec(),
            ];
            for k in &keys {
                table.push(vec![
                    k.kid.clone(),
                    time(k.created_at),
                    state(k.retire_at).into(),
                    k.retire_at.map(time).unwrap_or_default(),
                ]);
            }
            print_table(&table);
        }
        KeysCommand::Rotate { keep } => println!("{}", service.rotate_keys(keep).await?),
        KeysCommand::Retire { kid } => {
            service.retire_key(&kid).await?;
            eprintln!("Retired the key {kid}.");
        }
    }
    Ok(())
}
