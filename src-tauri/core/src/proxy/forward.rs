//! Forwarding one request to the engine and streaming its answer back.
//!
//! The response body is relayed frame by frame ([`Relay`]): nothing is buffered beyond the
//! chunk in hand. A relay that fails (the engine dies mid-stream, the size cap is hit, the
//! deadline passes) returns an error to hyper, which then aborts the client's connection, so a
//! truncated body can never look complete. When the client goes away, hyper drops the relay,
//! and with it the upstream response, which closes the engine connection: the engine stops
//! working for nobody.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName};
use http::{Request, StatusCode, Uri};
use http_body::Body as _;
use http_body::{Frame, SizeHint};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Sleep};

use super::ProxyState;
use super::driven::{EngineBody, SendError};
use super::transcode::AudioPlan;
use crate::api_error::{ApiError, Code};
use crate::audio::AudioError;
use crate::backend::Upstream;

/// How to treat one forwarded exchange.
pub struct Exchange {
    /// A 200 must carry a body: wait for its first chunk before answering, and turn an empty
    /// one into a 502 (a known failure of local engines).
    pub expect_body: bool,
    /// The concurrency-gate permit, held until the response body is finished.
    pub permit: Option<OwnedSemaphorePermit>,
    /// A speech answer: what the engine sends and what the client gets.
    pub audio: Option<AudioPlan>,
    /// Use a connection of its own, closed afterwards: for requests whose handling by the
    /// engine Murmur does not know (an engine may answer before reading the body, leaving it
    /// in the connection for the next request to trip over).
    pub own_connection: bool,
}

/// Send `request` to `upstream` and stream the response back.
pub async fn forward(
    state: &ProxyState,
    upstream: &Upstream,
    mut request: Request<Body>,
    exchange: Exchange,
) -> Result<Response, ApiError> {
    let settings = &state.settings;
    let timeout = Duration::from_secs(settings.upstream_timeout_secs);
    let deadline = crate::time::later_tokio(Instant::now(), timeout);
    // Murmur's own key is never passed on, and a managed engine (which no client configured)
    // never sees a client's credentials; an external one only when the user says so.
    let managed = state.engine_id() != crate::config::EngineId::External;
    let pass_credentials =
        !managed && settings.api_key.is_none() && state.live().get().engine.forward_authorization;
    to_upstream(&mut request, upstream, !pass_credentials)?;
    if exchange.own_connection {
        request
            .headers_mut()
            .insert(header::CONNECTION, http::HeaderValue::from_static("close"));
    }

    // A managed engine that gives a speech request no audio for this long is stuck (its
    // inference died while its HTTP side answers): the supervisor restarts it.
    let first_audio =
        (exchange.audio.is_some() && managed && settings.first_audio_timeout_secs > 0)
            .then(|| Duration::from_secs(settings.first_audio_timeout_secs));
    let first_deadline = first_audio.map_or(deadline, |wait| {
        crate::time::later_tokio(Instant::now(), wait).min(deadline)
    });
    let stuck = |waited: Duration| {
        tracing::warn!(
            waited_secs = waited.as_secs(),
            "a speech request got no audio: the engine is stuck"
        );
        state.speech().backend.report_hung(upstream, waited);
        ApiError::hung(waited)
    };

    // One timer for the whole exchange, the relay's too (each costs a request a registration
    // in tokio's timer wheel); a second only for a speech request's first audio.
    let mut whole = Box::pin(tokio::time::sleep_until(deadline));
    let answered = if first_deadline < deadline {
        tokio::time::timeout_at(first_deadline, send(state, upstream, request))
            .await
            .ok()
    } else {
        tokio::select! {
            biased;
            answered = send(state, upstream, request) => Some(answered),
            () = whole.as_mut() => None,
        }
    };
    let response = match answered {
        None => {
            return Err(match first_audio {
                Some(wait) if first_deadline < deadline => stuck(wait),
                _ => ApiError::timeout(timeout),
            });
        }
        Some(Err(e)) if e.is_connect() => {
            state.speech().backend.report_unreachable(upstream);
            return Err(ApiError::unreachable(crate::http_client::describe(&e)));
        }
        Some(Err(e)) => {
            state.speech().backend.report_unreachable(upstream);
            tracing::warn!(error = %crate::http_client::describe(&e), "engine request failed");
            return Err(ApiError::bad_gateway(
                Code::EngineFailed,
                "the engine closed the connection without an answer",
            ));
        }
        Some(Ok(response)) => response,
    };

    let (mut parts, incoming) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    strip_cors(&mut parts.headers);
    let mut relay = Relay {
        inner: incoming,
        first: None,
        sent: 0,
        limit: settings.max_response_bytes,
        deadline: whole,
        timeout,
        _permit: exchange.permit,
        metrics: state.metrics(),
    };
    if exchange.expect_body && parts.status == StatusCode::OK {
        let first = match tokio::time::timeout_at(first_deadline, relay.first_chunk()).await {
            Ok(first) => first,
            Err(_elapsed) => Err(match first_audio {
                Some(wait) => stuck(wait),
                None => ApiError::timeout(timeout),
            }),
        }
        .inspect_err(|e| {
            if e.is_replayable() {
                state.speech().backend.report_unreachable(upstream);
            }
        })?;
        if let Some(plan) = exchange.audio {
            return super::transcode::transcoded(parts, relay, first, plan);
        }
        relay.first = Some(first);
    }
    Ok(Response::from_parts(parts, Body::new(relay)))
}

/// Send `request` to the engine: on a connection of the pool that this request drives, or,
/// over TLS, through the shared client. Not an `async fn`: it would hold a copy of the request
/// beside the one each way of sending holds.
fn send<'a>(
    state: &'a ProxyState,
    upstream: &'a Upstream,
    request: Request<Body>,
) -> impl Future<Output = Result<http::Response<EngineBody>, SendError>> + 'a {
    use futures_util::future::{Either, TryFutureExt};
    if upstream.tls {
        Either::Left(
            state
                .client
                .request(request)
                .map_ok(|response| response.map(EngineBody::shared))
                .map_err(SendError::Shared),
        )
    } else {
        Either::Right(state.engines_pool.send(&upstream.authority, request))
    }
}

/// Make `request` the request the engine should see: same method, path, query and body;
/// hop-by-hop headers dropped; `Host` set to the engine; cookies always dropped (a browser's
/// cookies for `127.0.0.1` are shared by every local port: none of them are the engine's); the
/// client's `Authorization` dropped when `strip_auth`. In place: the request is ~240 bytes,
/// and each move of it is a copy.
fn to_upstream(
    request: &mut Request<Body>,
    upstream: &Upstream,
    strip_auth: bool,
) -> Result<(), ApiError> {
    let path_and_query = request
        .uri()
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"));
    // The pool writes the URI as it is (origin form); the shared client wants it absolute.
    *request.uri_mut() = if upstream.tls {
        let mut uri = http::uri::Parts::default();
        uri.scheme = Some(upstream.scheme());
        uri.authority = Some(upstream.authority.clone());
        uri.path_and_query = Some(path_and_query);
        Uri::from_parts(uri).map_err(|e| {
            ApiError::bad_gateway(Code::BadUpstream, format!("cannot address the engine: {e}"))
        })?
    } else {
        Uri::from(path_and_query)
    };
    *request.version_mut() = http::Version::HTTP_11;
    let headers = request.headers_mut();
    strip_hop_by_hop(headers);
    headers.remove(header::COOKIE);
    if strip_auth {
        headers.remove(header::AUTHORIZATION);
    }
    headers.insert(header::HOST, upstream.host().clone());
    Ok(())
}

const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Remove the headers that belong to one connection, including those `Connection` names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most requests and answers carry none: one look at each name, no hashing, says so (a
    // removal hashes its name; nine of them were a tenth of a forwarded GET's instructions).
    if !headers.keys().any(|name| HOP_BY_HOP.contains(name)) {
        return;
    }
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(&named) {
        headers.remove(name);
    }
}

/// CORS is Murmur's decision, never the engine's (mlx-audio allows every origin).
fn strip_cors(headers: &mut HeaderMap) {
    let cors: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("access-control-"))
        .cloned()
        .collect();
    for name in cors {
        headers.remove(name);
    }
}

/// The engine's response body on its way to the client.
pub(super) struct Relay {
    inner: EngineBody,
    /// A chunk read ahead (see [`Exchange::expect_body`]), sent first.
    first: Option<Bytes>,
    sent: u64,
    limit: u64,
    deadline: Pin<Box<Sleep>>,
    timeout: Duration,
    _permit: Option<OwnedSemaphorePermit>,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
}

/// Why a relay stopped early. Returned to hyper, which aborts the client connection.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("the engine's response exceeded {limit} bytes (proxy.max_response_bytes)")]
    TooLarge { limit: u64 },
    #[error("the engine's response did not finish within {} s", .0.as_secs())]
    Timeout(Duration),
    #[error("the engine's response broke off: {0}")]
    Upstream(#[source] super::driven::BodyError),
    #[error(transparent)]
    Audio(AudioError),
}

impl Relay {
    /// Read up to the first non-empty data chunk. An end before it is an empty response.
    async fn first_chunk(&mut self) -> Result<Bytes, ApiError> {
        loop {
            let frame = std::future::poll_fn(|cx| Pin::new(&mut *self).poll_upstream(cx)).await;
            match frame {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) if !data.is_empty() => return Ok(data),
                    _ => continue,
                },
                Some(Err(RelayError::Timeout(after))) => return Err(ApiError::timeout(after)),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "engine response failed before its first byte");
                    return Err(ApiError::bad_gateway(Code::EngineFailed, e.to_string()));
                }
                None => {
                    tracing::warn!("engine answered 200 with an empty body");
                    return Err(ApiError::bad_gateway(
                        Code::EmptyResponse,
                        "the engine answered 200 with an empty body",
                    ));
                }
            }
        }
    }

    fn poll_upstream(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, RelayError>>> {
        let this = self.get_mut();
        if this.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(RelayError::Timeout(this.timeout))));
        }
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        Poll::Ready(frame.map(|result| {
            let frame = result.map_err(RelayError::Upstream)?;
            if let Some(data) = frame.data_ref() {
                this.sent += data.len() as u64;
                this.metrics.sent(data.len() as u64);
                if this.sent > this.limit {
                    return Err(RelayError::TooLarge { limit: this.limit });
                }
            }
            Ok(frame)
        }))
    }
}

impl http_body::Body for Relay {
    type Data = Bytes;
    type Error = RelayError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, RelayError>>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        let frame = ready!(self.as_mut().poll_upstream(cx));
        if let Some(Err(e)) = &frame {
            tracing::warn!(error = %e, bytes = self.sent, "aborting the client connection");
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.first.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let mut hint = self.inner.size_hint();
        if let Some(first) = &self.first {
            let extra = first.len() as u64;
            // Raise the upper bound first: set_lower asserts lower <= upper.
            if let Some(upper) = hint.upper() {
                hint.set_upper(upper + extra);
            }
            hint.set_lower(hint.lower() + extra);
        }
        hint
    }
}
