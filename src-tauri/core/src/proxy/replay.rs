//! Sending a request the engine may have to see twice: the readiness wait, the concurrency
//! gate, and one replay when the engine went away before answering.

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::Method;

use super::ProxyState;
use super::forward::{Exchange, forward};
use super::transcode::AudioPlan;
use crate::api_error::ApiError;
use crate::backend::Upstream;

/// An idempotent request whose body is in memory, so it can be sent again.
pub(super) struct Replayable {
    pub(super) method: Method,
    pub(super) uri: http::Uri,
    pub(super) headers: http::HeaderMap,
    pub(super) body: bytes::Bytes,
    /// Passes the concurrency gate.
    pub(super) gated: bool,
    /// A speech request: how its audio reaches the client.
    pub(super) audio: Option<AudioPlan>,
}

impl Replayable {
    fn request(&self) -> Request {
        let mut request = Request::new(Body::from(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }
}

/// Wait for the engine, pass the gate, forward. If the engine went away before a single byte
/// of its answer was sent (it crashed, or was restarted), wait for it to come back and send
/// the request once more, within the same deadline: speech is idempotent.
pub(super) async fn send_replayable(
    state: &ProxyState,
    replayable: Replayable,
) -> Result<Response, ApiError> {
    let timeout = std::time::Duration::from_secs(state.settings.upstream_timeout_secs);
    let deadline = crate::time::later_tokio(tokio::time::Instant::now(), timeout);
    let mut retried = false;
    loop {
        let upstream = tokio::time::timeout_at(deadline, ready(state))
            .await
            .map_err(|_| ApiError::timeout(timeout))??;
        let permit = if replayable.gated {
            Some(enter_gate(state).await?)
        } else {
            None
        };
        let exchange = Exchange {
            expect_body: true,
            permit,
            audio: replayable.audio,
            own_connection: false,
        };
        match forward(state, &upstream, replayable.request(), exchange).await {
            Err(error) if error.is_replayable() && !retried => {
                tracing::info!(
                    code = error.code.as_str(),
                    "the engine went away before answering; sending the request again"
                );
                retried = true;
            }
            outcome => return outcome,
        }
    }
}

pub(super) async fn enter_gate(
    state: &ProxyState,
) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    state
        .speech()
        .gate
        .enter()
        .await
        .map_err(|_| ApiError::busy(state.settings.max_queue))
}

pub(super) async fn ready(state: &ProxyState) -> Result<Upstream, ApiError> {
    state
        .speech()
        .backend
        .ensure_ready()
        .await
        .map_err(ApiError::not_ready)
}
