//! Serving connections: hyper's HTTP/1 (with upgrades, for the live WebSocket) under the
//! connection cap and header timeout ([`Limits`]), and the graceful drain on shutdown.

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;

use super::pace::{Pace, Paced};

/// What a client connection may take: headers must arrive within `header_timeout` (and a
/// kept-alive connection that sends nothing for that long is closed), and at most
/// `max_connections` are served at once; more wait in the OS's accept queue.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub max_connections: usize,
}

impl Limits {
    pub fn from_settings(proxy: &crate::config::ProxySettings) -> Self {
        Self {
            header_timeout: Duration::from_secs(proxy.header_timeout_secs),
            max_connections: proxy.max_connections as usize,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::from_settings(&crate::config::ProxySettings::default())
    }
}

/// Serve `app` on `listener` until `shutdown` resolves, then drain for at most `within`: the
/// requests in flight and what else holds `drain` (live sessions) finish first. Returns
/// whether everything finished in time.
///
/// Each connection is served by hyper's HTTP/1 server with a header-read timeout (which also
/// closes idle keep-alive connections), under a cap on open connections: a slow or stalled
/// client costs one connection slot for a bounded time, never the server.
pub async fn serve(
    listener: TcpListener,
    app: super::Front,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: crate::drain::Drain,
    within: Duration,
    limits: Limits,
) -> std::io::Result<bool> {
    use hyper_util::rt::TokioIo;

    // The header timeout is the connection's pace, not hyper's (see `pace`).
    let mut http = hyper::server::conn::http1::Builder::new();
    http.keep_alive(true);
    let mut acceptor = crate::accept::Acceptor::new("http", limits.max_connections);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _, slot) = tokio::select! {
            accepted = acceptor.accept(&listener) => accepted,
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // With upgrades: `/v1/realtime` becomes a WebSocket.
        let pace = Pace::new();
        let paced = Paced {
            front: app.clone(),
            pace: pace.clone(),
        };
        let mut connection = http
            .serve_connection(TokioIo::new(stream), paced)
            .with_upgrades();
        let header_timeout = limits.header_timeout;
        // Each connection holds the drain open until it is done.
        let held = drain.hold();
        let mut lifeline = drain.lifeline();
        tokio::spawn(async move {
            let mut connection = std::pin::Pin::new(&mut connection);
            let result = tokio::select! {
                // The connection first: a head that has arrived is a request before the pace
                // looks.
                biased;
                result = connection.as_mut() => result,
                () = pace.expired(header_timeout) => {
                    tracing::debug!("connection closed: no request within the header timeout");
                    Ok(())
                }
                () = lifeline.stopped() => {
                    // Finish the request in flight, take no other.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                tracing::debug!("connection closed: {e}");
            }
            drop(slot);
            drop(held);
        });
    }
    drop(listener);
    tracing::info!(
        drain_secs = within.as_secs(),
        "shutting down: no new connections, finishing requests and live sessions in flight"
    );
    let finished = drain.stop(within).await;
    if !finished {
        tracing::warn!(
            "requests still in flight after {} s; closing them",
            within.as_secs()
        );
    }
    Ok(finished)
}
