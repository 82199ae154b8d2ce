//! Command-line interface. Every setting also reads from a `GRAPHDRIVE_*` environment variable.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use graphdrive_drive::DriveConfig;
use graphdrive_drive::service::DAY_MILLIS;
use graphdrive_drive::signin::SignInConfig;

use crate::admin::{self, DriveCommand, GroupCommand, TokenArgs, UserCommand};
use crate::admin_signin::{self, AppCommand, KeysCommand};
use crate::{server, startup};

#[derive(Parser)]
#[command(
    name = "graphdrive",
    version,
    about = "A file-storage server that speaks the Microsoft Graph drive API"
)]
pub struct Cli {
    #[command(flatten)]
    pub storage: StorageArgs,
    /// How logs (on stderr) are written: `text` for people, `json` for log shippers.
    #[arg(long, global = true, env = "GRAPHDRIVE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Print what the user, group and drive commands show as JSON, for scripts.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args)]
pub struct StorageArgs {
    /// Where the embedded metadata database and file contents live.
    #[arg(
        long,
        global = true,
        env = "GRAPHDRIVE_DATA_DIR",
        default_value = "./graphdrive-data"
    )]
    pub data_dir: PathBuf,
    /// Metadata database URL: `sqlite://PATH` or `postgres://…` (default: SQLite in the data dir).
    #[arg(long, global = true, env = "GRAPHDRIVE_METADATA")]
    pub metadata: Option<String>,
    /// Bytes of disk an upload must leave free, so that the database (and a delete, which frees
    /// space) still has room when uploads are refused with 507.
    #[arg(
        long,
        global = true,
        env = "GRAPHDRIVE_MIN_FREE_SPACE",
        default_value_t = 64 << 20
    )]
    pub min_free_space: u64,
    /// Where file contents live: `file://DIR` (default: `blobs` in the data dir) or
    /// `s3://BUCKET[/PREFIX]`, with the region and credentials from `AWS_REGION`,
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    #[arg(long, global = true, env = "GRAPHDRIVE_BLOBS")]
    pub blobs: Option<String>,
    /// The S3 server's URL, for a self-hosted S3 (addressed path-style; default: AWS).
    #[arg(long, global = true, env = "GRAPHDRIVE_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
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
    /// Manage drives.
    #[command(subcommand)]
    Drive(DriveCommand),
    /// Register and manage applications (OAuth clients).
    #[command(subcommand)]
    App(AppCommand),
    /// Manage the keys tokens are signed with.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Print this server's tenant id (the `{tenant}` of its sign-in URLs, besides `common`).
    Tenant,
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
    /// Days a deleted item stays in the recycle bin before upkeep purges it (0: at the next
    /// round of upkeep).
    #[arg(long, env = "GRAPHDRIVE_RECYCLE_BIN_DAYS", default_value_t = 93,
          value_parser = clap::value_parser!(u32).range(0..=36_500))]
    pub recycle_bin_days: u32,
    /// Send downloads to a URL the S3 bucket signs and serves, so that file contents need not
    /// pass through a node (the bucket's endpoint must be reachable by clients).
    #[arg(long, env = "GRAPHDRIVE_DOWNLOADS_FROM_S3")]
    pub downloads_from_s3: bool,
    /// Versions kept per file, the current one included; the oldest go first (1: none kept).
    #[arg(long, env = "GRAPHDRIVE_MAX_VERSIONS", default_value_t = 500,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_versions: u32,
    /// Days the change journal keeps a change: a delta token older than that starts over
    /// (`410 resyncRequired`).
    #[arg(long, env = "GRAPHDRIVE_DELTA_RETENTION_DAYS", default_value_t = 93,
          value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub delta_retention_days: u32,
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
    /// Seconds a shutdown (SIGTERM, SIGINT) waits for requests in flight and for running copy
    /// jobs to reach a batch boundary before it closes what is left.
    #[arg(long, env = "GRAPHDRIVE_SHUTDOWN_TIMEOUT", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_timeout: u64,
    /// Keep no metrics and serve no `/metrics` (to measure what they cost).
    #[arg(long, env = "GRAPHDRIVE_NO_METRICS")]
    pub no_metrics: bool,
    #[command(flatten)]
    pub sign_in: SignInArgs,
}

#[derive(Args)]
pub struct SignInArgs {
    /// Serve HTTPS with this PEM certificate chain (with `--tls-key`).
    #[arg(long, env = "GRAPHDRIVE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `--tls-cert`.
    #[arg(long, env = "GRAPHDRIVE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Accept the resource-owner password grant (Entra's ROPC), for scripts and tests.
    #[arg(long, env = "GRAPHDRIVE_ALLOW_PASSWORD_GRANT")]
    pub allow_password_grant: bool,
    /// Accept access tokens of this OpenID Connect issuer (its `iss`; repeat for more). Its
    /// keys are found through its `/.well-known/openid-configuration`.
    #[arg(
        long = "trusted-issuer",
        env = "GRAPHDRIVE_TRUSTED_ISSUERS",
        value_delimiter = ','
    )]
    pub trusted_issuers: Vec<String>,
    /// An audience (`aud`) accepted in access tokens besides Graph's and the public URL
    /// (repeat for more).
    #[arg(long = "audience", env = "GRAPHDRIVE_AUDIENCES", value_delimiter = ',')]
    pub audiences: Vec<String>,
    /// Seconds an access token (and ID token) lasts.
    #[arg(long, env = "GRAPHDRIVE_ACCESS_TOKEN_LIFETIME", default_value_t = 3600,
          value_parser = clap::value_parser!(i64).range(1..=86_400))]
    pub access_token_lifetime: i64,
    /// Seconds a refresh token lasts unused; every use renews it (default 90 days).
    #[arg(long, env = "GRAPHDRIVE_REFRESH_TOKEN_LIFETIME", default_value_t = 90 * 86_400,
          value_parser = clap::value_parser!(i64).range(60..))]
    pub refresh_token_lifetime: i64,
    /// Seconds a device must wait between polls in the device-code flow.
    #[arg(long, env = "GRAPHDRIVE_DEVICE_CODE_INTERVAL", default_value_t = 5,
          value_parser = clap::value_parser!(i64).range(1..=60))]
    pub device_code_interval: i64,
}

impl SignInArgs {
    pub fn config(&self) -> SignInConfig {
        SignInConfig {
            access_token_ttl_secs: self.access_token_lifetime,
            refresh_token_ttl_secs: self.refresh_token_lifetime,
            device_poll_interval_secs: self.device_code_interval,
            allow_password_grant: self.allow_password_grant,
            trusted_issuers: self.trusted_issuers.clone(),
            extra_audiences: self.audiences.clone(),
            ..SignInConfig::default()
        }
    }
}

impl Cli {
    pub fn log_format(&self) -> LogFormat {
        self.log_format
    }

    pub async fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Serve(args) => {
                let _lock = startup::lock_data_dir(&self.storage.data_dir)?;
                let _single = startup::lock_single_node(&self.storage)?;
                if args.downloads_from_s3
                    && !matches!(
                        startup::blobs_config(&self.storage)?,
                        graphdrive_storage::BlobsConfig::S3(_)
                    )
                {
                    anyhow::bail!(
                        "--downloads-from-s3 sends downloads to the bucket: it needs --blobs s3://BUCKET"
                    );
                }
                let config = DriveConfig {
                    max_simple_upload: args.max_upload_size,
                    copy_batch_items: args.copy_batch_size,
                    copy_batch_pause_ms: args.copy_batch_pause_ms,
                    max_concurrent_copies: args.max_concurrent_copies.max(1),
                    blob_grace_millis: i64::try_from(args.blob_grace_secs.saturating_mul(1000))
                        .unwrap_or(i64::MAX),
                    node_id: startup::node_id(&self.storage.data_dir)?,
                    sign_in: args.sign_in.config(),
                    max_versions: args.max_versions,
                    recycle_bin_millis: i64::from(args.recycle_bin_days) * DAY_MILLIS,
                    journal_millis: i64::from(args.delta_retention_days) * DAY_MILLIS,
                    downloads_from_bucket: args.downloads_from_s3,
                    ..DriveConfig::default()
                };
                let service = startup::open_service(&self.storage, config, true).await?;
                server::serve(service, args, &self.storage).await
            }
            command => {
                let service =
                    startup::open_service(&self.storage, DriveConfig::default(), false).await?;
                let out = admin::Output { json: self.json };
                match command {
                    Command::User(c) => admin::user(&service, c, out).await,
                    Command::Group(c) => admin::group(&service, c, out).await,
                    Command::Drive(c) => admin::drive(&service, c, out).await,
                    Command::App(c) => admin_signin::app(&service, c, out).await,
                    Command::Keys(c) => admin_signin::keys(&service, c, out).await,
                    Command::Tenant => {
                        println!("{}", service.tenant_id());
                        Ok(())
                    }
                    Command::Token(t) => admin::token(&service, t).await,
                    Command::Serve(_) => unreachable!("handled above"),
                }
            }
        }
    }
}
