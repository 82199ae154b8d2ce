//! Runs the HTTP server and its background upkeep.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use graphdrive_drive::DriveService;
use graphdrive_graph::AppState;

use crate::cli::ServeArgs;
use crate::net;

pub async fn serve(service: DriveService, args: ServeArgs) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let public_url = args
        .public_url
        .unwrap_or_else(|| format!("http://{addr}"))
        .trim_end_matches('/')
        .to_string();
    tokio::spawn(upkeep(
        service.clone(),
        Duration::from_millis(args.upkeep_interval_ms),
    ));
    service.start_copy_runner();
    let app = graphdrive_graph::router(Arc::new(AppState {
        service,
        public_url: public_url.clone(),
    }));
    println!("graphdrive listening on http://{addr} (public URL {public_url})");
    let limits = net::Limits {
        header_timeout: Duration::from_secs(args.header_timeout_secs),
        body_idle_timeout: Duration::from_secs(args.body_timeout_secs),
        min_body_rate: args.min_body_rate,
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
        shutdown_grace: Duration::from_secs(30),
    };
    net::serve(listener, app, limits, shutdown()).await;
    Ok(())
}

async fn upkeep(service: DriveService, every: Duration) {
    let mut tick = tokio::time::interval(every);
    // A slow round (a big collection) delays the next one instead of running the missed ones.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = service.collect_garbage().await {
            tracing::warn!(error = %e, "upkeep failed");
        }
    }
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
