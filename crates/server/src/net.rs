//! The HTTP listener: every connection is served by hyper under limits that keep a slow or
//! stalled client from holding the server: a cap on open connections, a deadline for a
//! request's headers (which also closes idle keep-alive connections), and a guard on request
//! bodies that stall or trickle (see [`GuardedBody`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::Sleep;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// The limits a connection is served under.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// From the moment a connection waits for a request (new, or idle after a response), its
    /// headers must have arrived within this; so it is also the keep-alive idle timeout.
    pub header_timeout: Duration,
    /// Longest a request body may send nothing while the server waits for it.
    pub body_idle_timeout: Duration,
    /// Slowest average a request body may arrive at (bytes/s), once it has been waited for
    /// longer than [`BODY_RATE_GRACE`].
    pub min_body_rate: u64,
    /// Connections open at once; past it, new ones wait in the listen queue.
    pub max_connections: usize,
    /// How long a shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
}

/// How long a body is waited for before its rate is judged.
pub const BODY_RATE_GRACE: Duration = Duration::from_secs(5);

/// Serves `app` on `listener` until `shutdown` resolves, then lets requests in flight finish
/// (for [`Limits::shutdown_grace`] at most) and returns what `shutdown` gave.
pub async fn serve<T>(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = T>,
) -> T {
    let app = app.layer(axum::middleware::map_request(move |req: Request| async move {
        req.map(|body| Body::new(GuardedBody::new(body, limits)))
    }));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    let stopped = loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            stopped = &mut shutdown => break stopped,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait for some to be freed.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            stopped = &mut shutdown => break stopped,
        };
        let _ = stream.set_nodelay(true);
        // Handlers that limit by client address (sign-in) find it as axum's `ConnectInfo`.
        let service = app
            .clone()
            .map_request(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            });
        let (http, watcher, tls) = (http.clone(), graceful.watcher(), tls.clone());
        tokio::spawn(async move {
            let service = TowerToHyperService::new(service);
            let served = match tls {
                None => {
                    let conn = http.serve_connection(TokioIo::new(stream), service);
                    watcher.watch(conn).await
                }
                Some(acceptor) => {
                    // The handshake counts against the header deadline, like a request would.
                    let stream =
                        match tokio::time::timeout(limits.header_timeout, acceptor.accept(stream))
                            .await
                        {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                tracing::debug!(error = %e, "TLS handshake failed");
                                return drop(slot);
                            }
                            Err(_) => return drop(slot),
                        };
                    let conn = http.serve_connection(TokioIo::new(stream), service);
                    watcher.watch(conn).await
                }
            };
            if let Err(e) = served {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    };
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown: requests still in flight at the timeout; closing them");
    } else {
        tracing::info!("shutdown: requests in flight finished");
    }
    stopped
}

/// A request body that fails (as a client abort) when the client stalls, sending nothing for
/// the idle timeout, or trickles, averaging less than the minimum rate. Only time spent waiting
/// for the client counts: a handler that reads slowly (waiting for a lock, writing to disk) is
/// not the client's fault.
pub struct GuardedBody {
    inner: Body,
    limits: Limits,
    received: u64,
    waited: Duration,
    /// When the current wait for the client began, while one is going on.
    waiting_since: Option<Instant>,
    deadline: Pin<Box<Sleep>>,
    failed: Option<&'static str>,
}

impl GuardedBody {
    fn new(inner: Body, limits: Limits) -> Self {
        Self {
            inner,
            limits,
            received: 0,
            waited: Duration::ZERO,
            waiting_since: None,
            deadline: Box::pin(tokio::time::sleep(limits.body_idle_timeout)),
            failed: None,
        }
    }

    fn fail(&mut self, why: &'static str) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        self.failed = Some(why);
        Poll::Ready(Some(Err(axum::Error::new(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            why,
        )))))
    }
}

impl http_body::Body for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if let Some(why) = this.failed {
            return this.fail(why);
        }
        let since = *this.waiting_since.get_or_insert_with(|| {
            let now = Instant::now();
            this.deadline
                .as_mut()
                .reset((now + this.limits.body_idle_timeout).into());
            now
        });
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_ready() {
                    return this.fail("the request body sent nothing for too long");
                }
                Poll::Pending
            }
            Poll::Ready(frame) => {
                this.waiting_since = None;
                this.waited += since.elapsed();
                if let Some(Ok(f)) = &frame
                    && let Some(data) = f.data_ref()
                {
                    this.received += data.len() as u64;
                }
                let floor = this.limits.min_body_rate as f64 * this.waited.as_secs_f64();
                if this.waited > BODY_RATE_GRACE && (this.received as f64) < floor {
                    return this.fail("the request body arrives too slowly");
                }
                Poll::Ready(frame)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
