//! The HTTP/1 client Murmur uses to talk to engines: pooled keep-alive connections,
//! streaming bodies both ways; plain HTTP to the engines it runs on loopback, TLS (the system's
//! trust store) to an external server at an `https://` URL. Forwarded requests to a
//! plain-HTTP engine (the proxy's hot path) drive connections of their own instead
//! (`proxy/driven.rs`).

use std::time::Duration;

use axum::body::Body;
use http_body_util::BodyExt;
use hyper_tls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub type HttpClient = Client<HttpsConnector<HttpConnector>, Body>;

/// A client tuned for a local engine.
pub fn new() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(5)));
    // `https://` URIs go over TLS; `http://` ones stay plain.
    connector.enforce_http(false);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build(HttpsConnector::new_with_connector(connector))
}

/// The outcome of a readiness probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// 200: the engine answers.
    Ok,
    /// It answered, but not with 200.
    Status(http::StatusCode),
    /// No answer: refused, reset, or timed out. The text says which.
    Unreachable(String),
    /// Something answered, but the port is held by a process that is not the engine (a local
    /// program that took the port first, to receive users' speech): never trusted.
    Foreign(String),
}

/// `GET url` with a timeout; the body is read and dropped so the connection can be reused.
pub async fn probe(client: &HttpClient, url: &str, timeout: Duration) -> Probe {
    let request = match http::Request::get(url).body(Body::empty()) {
        Ok(request) => request,
        Err(e) => return Probe::Unreachable(format!("bad probe URL {url}: {e}")),
    };
    let exchange = async {
        let response = client.request(request).await?;
        let status = response.status();
        let _ = response.into_body().collect().await;
        Ok::<_, hyper_util::client::legacy::Error>(status)
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(status)) if status == http::StatusCode::OK => Probe::Ok,
        Ok(Ok(status)) => Probe::Status(status),
        Ok(Err(e)) => Probe::Unreachable(describe(&e)),
        Err(_) => Probe::Unreachable(format!("no answer within {} s", timeout.as_secs_f32())),
    }
}

/// The one client every download uses (indexes, listings, voices, models, uv): connections
/// kept and shared; a connection that takes more than 5 s is given up. Each request sets how
/// long it may take, or stall.
pub fn downloads() -> reqwest::Client {
    static CLIENT: std::sync::LazyLock<reqwest::Client> = std::sync::LazyLock::new(|| {
        reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .unwrap_or_default()
    });
    CLIENT.clone()
}

/// A client error in words, including its innermost cause ("connection refused").
pub fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

/// A download's failure as people read it: a machine that cannot reach `url`'s host is told
/// so in one sentence ("Murmur could not reach huggingface.co — is this computer offline?");
/// the whole chain of causes goes to the log. Other failures name the URL and their causes.
pub fn download_failure(url: &str, error: &reqwest::Error) -> String {
    let chain = describe(error);
    if error.is_connect() || error.is_timeout() {
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(String::from))
            .unwrap_or_else(|| url.to_string());
        tracing::warn!(url, "download failed: {chain}");
        let why = if error.is_timeout() {
            "it did not answer in time"
        } else {
            "is this computer offline?"
        };
        format!("Murmur could not reach {host} — {why}")
    } else {
        format!("{url}: {chain}")
    }
}

/// Why an engine asked to speak gave no audio.
#[derive(Debug, thiserror::Error)]
pub enum NoAudio {
    #[error("bad speech URL {url}: {source}")]
    BadUrl { url: String, source: http::Error },
    /// The request did not get an answer (with every cause, as [`describe`] words it).
    #[error("{}", describe(.0))]
    Unreachable(#[source] hyper_util::client::legacy::Error),
    #[error("the answer broke off: {}", describe(.0))]
    BrokeOff(#[source] hyper::Error),
    /// It answered something other than 200; the start of its body says why.
    #[error("it answered {status}: {text}")]
    Refused {
        status: http::StatusCode,
        text: String,
    },
    #[error("it answered 200 with {0} bytes, not audio")]
    TooShort(usize),
    #[error("no audio within {} s", .0.as_secs())]
    TimedOut(Duration),
    /// Another program holds the engine's port (the words say which): not asked at all.
    #[error("{0}")]
    Foreign(String),
}

/// `POST url` with a JSON speech request, as a client would send it; `Ok(bytes of audio)`
/// when the engine answers 200 with a body of at least `min_bytes` within `timeout`. Used to
/// check that an engine which answers its probe can also speak.
pub async fn ask_for_speech(
    client: &HttpClient,
    url: &str,
    body: bytes::Bytes,
    min_bytes: usize,
    timeout: Duration,
) -> Result<usize, NoAudio> {
    let request = http::Request::post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .map_err(|source| NoAudio::BadUrl {
            url: url.to_string(),
            source,
        })?;
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(NoAudio::Unreachable)?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(NoAudio::BrokeOff)?
            .to_bytes();
        if status != http::StatusCode::OK {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
            return Err(NoAudio::Refused {
                status,
                text: text.trim().to_string(),
            });
        }
        if body.len() < min_bytes {
            return Err(NoAudio::TooShort(body.len()));
        }
        Ok(body.len())
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or(Err(NoAudio::TimedOut(timeout)))
}
