//! Command-line interface. Every setting also reads from a `GRAPHDRIVE_*` environment variable.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use graphdrive_drive::{CallerKind, DriveConfig, DriveService};
use graphdrive_storage::{BlobStore, MetadataStore};

use crate::server;

#[derive(Parser)]
#[command(
    name = "graphdrive",
    version,
    about = "A file-storage server that speaks the Microsoft Graph drive API"
)]
pub struct Cli {
    #[command(flatten)]
    storage: StorageArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct StorageArgs {
    /// Where the embedded metadata database and file contents live.
    #[arg(
        long,
        global = true,
        env = "GRAPHDRIVE_DATA_DIR",
        default_value = "./graphdrive-data"
    )]
    data_dir: PathBuf,
    /// Metadata database URL: `sqlite://PATH` or `postgres://…` (default: SQLite in the data dir).
    #[arg(long, global = true, env = "GRAPHDRIVE_METADATA")]
    metadata: Option<String>,
    /// Bytes of disk an upload must leave free, so that the database (and a delete, which frees
    /// space) still has room when uploads are refused with 507.
    #[arg(
        long,
        global = true,
        env = "GRAPHDRIVE_MIN_FREE_SPACE",
        default_value_t = 64 << 20
    )]
    min_free_space: u64,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage groups.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Print a bearer token (and nothing else).
    Token(TokenArgs),
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "GRAPHDRIVE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The URL clients reach the server at (default: http:// and the listening address).
    #[arg(long, env = "GRAPHDRIVE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Largest simple upload (`PUT …/content`), in bytes.
    #[arg(
        long,
        env = "GRAPHDRIVE_MAX_UPLOAD_SIZE",
        default_value_t = 250_000_000
    )]
    pub max_upload_size: u64,
    /// Items one copy batch (one database transaction) copies at most.
    #[arg(long, env = "GRAPHDRIVE_COPY_BATCH_SIZE", default_value_t = 20_000)]
    pub copy_batch_size: i64,
    /// Pause between two batches of a copy, in milliseconds, to leave room to other work.
    #[arg(long, env = "GRAPHDRIVE_COPY_BATCH_PAUSE_MS", default_value_t = 0)]
    pub copy_batch_pause_ms: u64,
    /// Copy jobs this node runs at once.
    #[arg(long, env = "GRAPHDRIVE_MAX_CONCURRENT_COPIES", default_value_t = 2)]
    pub max_concurrent_copies: usize,
    /// Seconds content no item references any more is kept before its bytes are removed.
    #[arg(long, env = "GRAPHDRIVE_BLOB_GRACE_SECS", default_value_t = 3600)]
    pub blob_grace_secs: u64,
    /// Milliseconds between two rounds of upkeep (expired upload sessions, unreferenced content,
    /// finished copy monitors).
    #[arg(long, env = "GRAPHDRIVE_UPKEEP_INTERVAL_MS", default_value_t = 60_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub upkeep_interval_ms: u64,
    /// Seconds a connection may take to send a request's headers, counted from when it is ready
    /// for a request: this also closes keep-alive connections idle for that long.
    #[arg(long, env = "GRAPHDRIVE_HEADER_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub header_timeout_secs: u64,
    /// Seconds a request body may send nothing before the request is aborted.
    #[arg(long, env = "GRAPHDRIVE_BODY_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub body_timeout_secs: u64,
    /// Slowest average rate (bytes/s) a request body may arrive at, after its first 5 seconds.
    #[arg(long, env = "GRAPHDRIVE_MIN_BODY_RATE", default_value_t = 240)]
    pub min_body_rate: u64,
    /// Connections served at once; more wait until one closes.
    #[arg(long, env = "GRAPHDRIVE_MAX_CONNECTIONS", default_value_t = 1024,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user.
    Add {
        name: String,
        #[arg(long)]
        display_name: Option<String>,
    },
}

#[derive(Subcommand)]
enum GroupCommand {
    /// Add a group (or members to it); prints the group's id.
    Add {
        name: String,
        #[arg(long = "member")]
        members: Vec<String>,
    },
}

#[derive(Args)]
struct TokenArgs {
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

impl Cli {
    pub async fn run(self) -> anyhow::Result<()> {
        let config = match &self.command {
            Command::Serve(args) => DriveConfig {
                max_simple_upload: args.max_upload_size,
                copy_batch_items: args.copy_batch_size,
                copy_batch_pause_ms: args.copy_batch_pause_ms,
                max_concurrent_copies: args.max_concurrent_copies.max(1),
                blob_grace_millis: i64::try_from(args.blob_grace_secs.saturating_mul(1000))
                    .unwrap_or(i64::MAX),
                node_id: node_id(&self.storage.data_dir)?,
                ..DriveConfig::default()
            },
            _ => DriveConfig::default(),
        };
        let service = open_service(&self.storage, config).await;
        match self.command {
            Command::Serve(args) => server::serve(service?, args).await,
            Command::User(UserCommand::Add { name, display_name }) => {
                let user = service?.add_user(&name, display_name.as_deref()).await?;
                println!("{}", user.id);
                Ok(())
            }
            Command::Group(GroupCommand::Add { name, members }) => {
                let group = service?.add_group(&name, &members).await?;
                println!("{}", group.id);
                Ok(())
            }
            Command::Token(t) => {
                let (kind, name) = match (t.user, t.app) {
                    (Some(u), _) => (CallerKind::User, u),
                    (None, Some(a)) => (CallerKind::App, a),
                    (None, None) => unreachable!("clap requires --user or --app"),
                };
                println!(
                    "{}",
                    service?.issue_token(kind, &name, &t.scopes, t.ttl).await?
                );
                Ok(())
            }
        }
    }
}

async fn open_service(storage: &StorageArgs, config: DriveConfig) -> anyhow::Result<DriveService> {
    std::fs::create_dir_all(&storage.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            storage.data_dir.display()
        )
    })?;
    let url = match &storage.metadata {
        Some(url) => url.clone(),
        None => format!(
            "sqlite://{}?mode=rwc",
            storage.data_dir.join("metadata.db").display()
        ),
    };
    let store = MetadataStore::open(&url)
        .await
        .with_context(|| format!("cannot open the metadata store {url}"))?;
    let blobs = BlobStore::local(&storage.data_dir.join("blobs"), storage.min_free_space)?;
    Ok(DriveService::new(store, blobs, config).await?)
}

/// This node's name, kept in the data directory so that after a restart the node takes back its
/// own unfinished copy jobs at once.
fn node_id(data_dir: &std::path::Path) -> anyhow::Result<String> {
    std::fs::create_dir_all(data_dir)?;
    let path = data_dir.join("node-id");
    if let Ok(id) = std::fs::read_to_string(&path)
        && !id.trim().is_empty()
    {
        return Ok(id.trim().to_string());
    }
    let id = graphdrive_drive::tokens::random_token(12);
    std::fs::write(&path, &id)?;
    Ok(id)
}
