//! The `graphdrive` command: runs the server and manages its users, groups, drives and tokens.

mod admin;
mod admin_signin;
mod cli;
mod net;
mod observe;
mod ops;
mod redact;
mod server;
mod startup;
mod tls;

use std::io::IsTerminal;

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    // Fail points a test arms through FAILPOINTS (none otherwise).
    let _fail_points = fail::FailScenario::setup();
    init_logging(cli.log_format());
    match cli.run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` gives the whole chain of causes on one line; no password is printed.
            eprintln!("error: {}", redact::secrets(&format!("{e:#}")));
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr, as text (coloured only on a terminal) or as one JSON object a line.
fn init_logging(format: cli::LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GRAPHDRIVE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        cli::LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        cli::LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}
