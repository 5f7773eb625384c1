//! A reverse proxy with nothing but hyper: its HTTP/1 server in front, its pooled client
//! behind, each request's URI pointed at the engine — no routes, guards, log or metrics.
//!
//! `proxy-bench` measures it beside nginx and Murmur, in the same run: what it adds is the
//! floor for any proxy built on hyper (as Murmur is), so the bench can tell what Murmur's own
//! work costs from what its HTTP library does.

use std::convert::Infallible;

use anyhow::{Context, Result};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// Listen on a free loopback port and return its `http://127.0.0.1:<port>` with the task
/// that serves it, forwarding every request to `upstream` (`http://host:port`).
pub async fn start(upstream: &str) -> Result<(String, tokio::task::JoinHandle<()>)> {
    let authority: http::uri::Authority = upstream
        .trim_start_matches("http://")
        .parse()
        .context("the upstream's host:port")?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Incoming> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(64)
        .build(connector);
    let serving = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let (client, authority) = (client.clone(), authority.clone());
            let forward = hyper::service::service_fn(move |request: http::Request<Incoming>| {
                let (client, authority) = (client.clone(), authority.clone());
                async move { Ok::<_, Infallible>(forward(&client, authority, request).await) }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), forward),
            );
        }
    });
    Ok((base, serving))
}

async fn forward(
    client: &Client<HttpConnector, Incoming>,
    authority: http::uri::Authority,
    request: http::Request<Incoming>,
) -> http::Response<http_body_util::Either<Incoming, String>> {
    let (mut parts, body) = request.into_parts();
    let mut uri = http::uri::Parts::default();
    uri.scheme = Some(http::uri::Scheme::HTTP);
    uri.authority = Some(authority);
    uri.path_and_query = parts.uri.path_and_query().cloned();
    let answer = match http::Uri::from_parts(uri) {
        Ok(uri) => {
            parts.uri = uri;
            client
                .request(http::Request::from_parts(parts, body))
                .await
                .map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    };
    match answer {
        Ok(response) => response.map(http_body_util::Either::Left),
        Err(e) => {
            let mut response = http::Response::new(http_body_util::Either::Right(e));
            *response.status_mut() = http::StatusCode::BAD_GATEWAY;
            response
        }
    }
}
