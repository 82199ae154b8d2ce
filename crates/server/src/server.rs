//! Runs the HTTP server and its background work, and stops them in order on SIGTERM/SIGINT.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use graphdrive_drive::DriveService;
use graphdrive_graph::AppState;
use tokio::sync::watch;
use tracing::Instrument;

use crate::cli::{ServeArgs, StorageArgs};
use crate::ops::{self, Ops};
use crate::{net, observe, redact, startup, tls};

pub async fn serve(
    service: DriveService,
    args: ServeArgs,
    storage: &StorageArgs,
) -> anyhow::Result<()> {
    let metrics = match args.no_metrics {
        true => None,
        false => Some(ops::install_metrics().context("cannot set up metrics")?),
    };
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let tls = match (&args.sign_in.tls_cert, &args.sign_in.tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let public_url = args
        .public_url
        .unwrap_or_else(|| format!("{scheme}://{addr}"))
        .trim_end_matches('/')
        .to_string();
    service
        .set_public_url(&public_url)
        .await
        .context("cannot record the public URL")?;
    let (stop, must_exit) = watch::channel(false);
    let upkeep = tokio::spawn(upkeep(
        service.clone(),
        Duration::from_millis(args.upkeep_interval_ms),
        must_exit.clone(),
    ));
    if let Some(handle) = &metrics {
        tokio::spawn(metrics_upkeep(handle.clone(), must_exit));
    }
    service.start_copy_runner();
    let app = graphdrive_graph::router(Arc::new(AppState {
        service: service.clone(),
        public_url: public_url.clone(),
    }))
    .merge(graphdrive_oauth::router(Arc::new(
        graphdrive_oauth::OAuthState {
            service: service.clone(),
        },
    )))
    .merge(graphdrive_web::router())
    .merge(ops::router(Arc::new(Ops {
        service: service.clone(),
        metrics,
    })))
    .layer(axum::middleware::from_fn(observe::observe));
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        metadata = service.metadata_backend(),
        metadata_url = %redact::secrets(&startup::metadata_url(storage)),
        blobs = %service.blob_store(),
        data_dir = %storage.data_dir.display(),
        listen = %addr,
        public_url = %public_url,
        node = %service.config().node_id,
        tenant = %service.tenant_id(),
        "graphdrive started"
    );
    if service.metadata_backend() == "postgres" && !service.blobs_shared() {
        tracing::info!(
            blobs = %service.blob_store(),
            "file contents are on this node's disk: other nodes on this database cannot read them \
             unless the directory is shared; give every node --blobs s3://BUCKET to run several"
        );
    }
    // The banner on stdout is what scripts wait for.
    println!("graphdrive listening on {scheme}://{addr} (public URL {public_url})");
    let grace = Duration::from_secs(args.shutdown_timeout);
    let limits = net::Limits {
        header_timeout: Duration::from_secs(args.header_timeout_secs),
        body_idle_timeout: Duration::from_secs(args.body_timeout_secs),
        min_body_rate: args.min_body_rate,
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
        shutdown_grace: grace,
    };
    let stopping = service.clone();
    let on_signal = async move {
        shutdown_signal().await;
        tracing::info!(
            timeout_secs = grace.as_secs(),
            "shutdown: stopped accepting connections; finishing requests and copy batches in flight"
        );
        let _ = stop.send(true);
        // Copy jobs stop at their next batch boundary and are given back while requests drain.
        let copies = tokio::spawn(async move { stopping.stop_copy_runner(grace).await });
        (copies,)
    };
    let (copies,) = net::serve(listener, app, limits, tls, on_signal).await;
    match copies.await {
        Ok(0) => tracing::info!("shutdown: copy jobs stopped and given back"),
        Ok(n) => tracing::warn!(
            jobs = n,
            "shutdown: copy batches still running at the timeout; their jobs are taken over when their heartbeat is stale"
        ),
        Err(e) => tracing::warn!(error = %e, "shutdown: the copy runner failed to stop"),
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), upkeep).await;
    if tokio::time::timeout(Duration::from_secs(5), service.close())
        .await
        .is_err()
    {
        tracing::warn!("shutdown: database connections still busy; closing anyway");
    }
    tracing::info!("shutdown: done");
    Ok(())
}

async fn upkeep(service: DriveService, every: Duration, mut must_exit: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    // A slow round (a big collection) delays the next one instead of running the missed ones.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let span = tracing::info_span!("upkeep");
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = must_exit.changed() => return,
        }
        if let Err(e) = service.collect_garbage().instrument(span.clone()).await {
            span.in_scope(|| tracing::warn!(error = %e, "upkeep failed"));
        }
    }
}

/// The Prometheus recorder keeps histograms in buckets it must drain now and then.
async fn metrics_upkeep(
    handle: metrics_exporter_prometheus::PrometheusHandle,
    mut must_exit: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = tick.tick() => handle.run_upkeep(),
            _ = must_exit.changed() => return,
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler");
        tokio::select! {
            _ = ctrl_c => tracing::info!("shutdown: SIGINT received"),
            _ = term.recv() => tracing::info!("shutdown: SIGTERM received"),
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
