//! The operator's endpoints: liveness and readiness for load balancers, and Prometheus metrics.
//! None needs a token; none tells more than whether the node works and how busy it is.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use graphdrive_drive::DriveService;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::json;

/// How long a readiness check waits for a store to answer.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct Ops {
    pub service: DriveService,
    /// `None` with `--no-metrics`.
    pub metrics: Option<PrometheusHandle>,
}

/// Installs the process's metrics recorder (once) and describes every metric.
pub fn install_metrics() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("graphdrive_http_request_duration_seconds".into()),
            &[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 30.0,
            ],
        )?
        .install_recorder()?;
    describe();
    Ok(handle)
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "graphdrive_http_requests_total",
        "Requests answered, by route family, method and status"
    );
    describe_histogram!(
        "graphdrive_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time from a request's arrival to its response's headers, by route family"
    );
    describe_counter!(
        "graphdrive_upload_bytes_total",
        metrics::Unit::Bytes,
        "File content received (simple uploads and upload-session fragments)"
    );
    describe_counter!(
        "graphdrive_download_bytes_total",
        metrics::Unit::Bytes,
        "File content sent from download URLs"
    );
    describe_counter!("graphdrive_copy_jobs_accepted_total", "Copy jobs accepted");
    describe_counter!(
        "graphdrive_copy_jobs_completed_total",
        "Copy jobs this node completed"
    );
    describe_counter!(
        "graphdrive_copy_jobs_failed_total",
        "Copy jobs that failed or were cancelled"
    );
    describe_counter!(
        "graphdrive_copy_items_total",
        "Items copied by this node's copy jobs"
    );
    describe_gauge!(
        "graphdrive_copy_jobs_running",
        "Copy jobs this node runs now"
    );
    describe_gauge!(
        "graphdrive_upload_sessions_open",
        "Upload sessions not yet expired"
    );
    describe_gauge!(
        "graphdrive_db_connections",
        "Database connections in this node's pool"
    );
    describe_gauge!(
        "graphdrive_db_connections_in_use",
        "Database connections in use"
    );
    describe_counter!(
        "graphdrive_blob_gc_runs_total",
        "Rounds of upkeep that collected content"
    );
    describe_counter!(
        "graphdrive_blob_gc_blobs_removed_total",
        "Unreferenced contents removed"
    );
    describe_counter!(
        "graphdrive_blob_gc_freed_bytes_total",
        metrics::Unit::Bytes,
        "Bytes of unreferenced content removed"
    );
}

pub fn router(ops: Arc<Ops>) -> Router {
    let router = Router::new()
        .route("/health", get(live))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready));
    match ops.metrics {
        Some(_) => router.route("/metrics", get(metrics)),
        None => router,
    }
    .with_state(ops)
}

/// The process answers.
async fn live() -> Response {
    json_response(StatusCode::OK, &json!({ "status": "ok" }))
}

/// The metadata store answers a query and the blob store a stat; otherwise 503, naming what
/// failed.
async fn ready(State(ops): State<Arc<Ops>>) -> Response {
    let (metadata, blobs) = tokio::join!(
        check(ops.service.check_metadata()),
        check(ops.service.check_blobs())
    );
    let ok = metadata.is_none() && blobs.is_none();
    let part = |failure: Option<String>| match failure {
        None => json!({ "status": "ok" }),
        Some(e) => json!({ "status": "failing", "error": e }),
    };
    let body = json!({
        "status": if ok { "ready" } else { "unavailable" },
        "checks": { "metadata": part(metadata.clone()), "blobs": part(blobs.clone()) },
    });
    if !ok {
        tracing::warn!(
            metadata = metadata.as_deref().unwrap_or("ok"),
            blobs = blobs.as_deref().unwrap_or("ok"),
            "not ready"
        );
    }
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_response(status, &body)
}

/// `None` when the check passed in time, else why not.
async fn check(
    f: impl std::future::Future<Output = graphdrive_drive::Result<()>>,
) -> Option<String> {
    match tokio::time::timeout(CHECK_TIMEOUT, f).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(crate::redact::secrets(&e.to_string())),
        Err(_) => Some(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
    }
}

async fn metrics(State(ops): State<Arc<Ops>>) -> Response {
    match tokio::time::timeout(CHECK_TIMEOUT, ops.service.gauges()).await {
        Ok(Ok(g)) => {
            metrics::gauge!("graphdrive_upload_sessions_open").set(g.open_upload_sessions as f64);
            metrics::gauge!("graphdrive_db_connections").set(g.pool_connections);
            metrics::gauge!("graphdrive_db_connections_in_use").set(g.pool_in_use);
            metrics::gauge!("graphdrive_copy_jobs_running").set(g.running_copies as f64);
        }
        // The counters are still worth having when the database is away.
        Ok(Err(e)) => tracing::warn!(error = %e, "could not read the gauges"),
        Err(_) => tracing::warn!("could not read the gauges in time"),
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        ops.metrics.as_ref().map(|m| m.render()).unwrap_or_default(),
    )
        .into_response()
}

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}
