//! Live transcription: OpenAI's Realtime transcription WebSocket,
//! `GET /v1/realtime?intent=transcription`, another front door (as Wyoming's is) onto the
//! transcription engine of [`crate::engines::Engines`] — its gate and its backend.
//!
//! The route passes the same guards as the rest of `/v1` before the upgrade (Host, Origin, the
//! API key — which a browser may send as the `openai-insecure-api-key.<key>` subprotocol), then
//! admits the session if fewer than `transcription.max_live_sessions` are open. A session
//! ([`session::Session`]) speaks GA's events or the beta's ([`protocol::Shape`]), cuts the
//! audio into turns with a VAD in Murmur ([`vad`]), and sends words while people speak
//! ([`agreement`]).

mod agreement;
mod config;
mod input;
mod protocol;
mod session;
mod vad;
mod words;

pub use config::TurnDetection;
pub use vad::{Edge as VadEdge, Vad};
pub use words::{Words, decode, engine_streams};

use std::time::{Duration, Instant};

use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::HeaderMap;

use crate::api_error::{ApiError, Code};
use crate::proxy::ProxyState;
use protocol::Shape;

/// The largest message a client may send (OpenAI's: 15 MiB per append, base64).
const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// The route, and its twin for a base URL set without `/v1`.
pub const PATHS: [&str; 2] = ["/v1/realtime", "/realtime"];

/// The live session's routes ([`PATHS`]).
pub fn router(state: ProxyState) -> axum::Router {
    use axum::routing::get;
    let [v1, bare] = PATHS;
    axum::Router::new()
        .route(v1, get(realtime).fallback(crate::proxy::method_not_allowed))
        .route(bare, get(realtime))
        .with_state(state)
}

/// The connection URL's query.
#[derive(Debug, Default, serde::Deserialize)]
pub struct RealtimeQuery {
    intent: Option<String>,
    /// Any name: the configured model serves it (LiveKit and the SDKs send one).
    model: Option<String>,
}

/// `GET /v1/realtime`: upgrade to a live transcription session.
pub async fn realtime(
    State(state): State<ProxyState>,
    Query(query): Query<RealtimeQuery>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            return ApiError::bad_request(
                Code::InvalidRequest,
                format!("/v1/realtime is a WebSocket (GET with Upgrade: websocket): {rejection}"),
            )
            .into_response();
        }
    };
    if state.transcription().is_none() {
        return ApiError::not_found(
            "live transcription needs a transcription engine ([transcription] engine = \"off\")",
        )
        .into_response();
    }
    let settings = state.live().get().transcription.clone();
    let max = usize::try_from(settings.max_live_sessions).unwrap_or(usize::MAX);
    let Some(open) = state.metrics().live.open(max) else {
        return ApiError::too_many_sessions(settings.max_live_sessions).into_response();
    };
    let shape = if beta(&headers) {
        Shape::Beta
    } else {
        Shape::Ga
    };
    let agent = headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(200)
        .collect::<String>();
    let transcription = query.intent.as_deref() == Some("transcription");
    upgrade
        .protocols(["realtime"])
        .max_message_size(MAX_MESSAGE)
        .on_upgrade(move |socket| async move {
            let started = Instant::now();
            // Shutdown waits for the session (and tells it to finish) as it does for requests.
            let mut lifeline = state.lifeline();
            let held = lifeline.hold();
            let mut session = session::Session::new(state.clone(), socket, shape, query.model);
            if !transcription {
                session.refuse_conversation().await;
                return;
            }
            let idle = Duration::from_secs(settings.live_idle_secs);
            let longest = Duration::from_secs(settings.max_live_session_secs);
            let ended = match session.run(idle, longest, &mut lifeline).await {
                Ok(()) => session::Ended::Closed,
                Err(ended) => ended,
            };
            let seconds = session.heard as f64 / f64::from(crate::transcription::decode::RATE);
            let bytes = session.bytes;
            tracing::info!(seconds, "live: a session ended: {ended}");
            session.close(&ended).await;
            finished(&state, started, &agent, seconds, bytes);
            drop(open);
            drop(held);
        })
}

/// The beta's events: `OpenAI-Beta: realtime=v1` (or the browser's subprotocol for it).
fn beta(headers: &HeaderMap) -> bool {
    let header = |name: &str, value: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|v| v.trim().eq_ignore_ascii_case(value))
    };
    header("openai-beta", "realtime=v1")
        || header("sec-websocket-protocol", "openai-beta.realtime-v1")
}

/// One line of Activity and the figures for a session that ended.
fn finished(state: &ProxyState, started: Instant, agent: &str, seconds: f64, bytes: u64) {
    let metrics = state.metrics();
    metrics.live.heard(seconds);
    let total_ms = started.elapsed().as_secs_f64() * 1000.0;
    metrics.record("/v1/realtime", 101, total_ms);
    let at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
        .saturating_sub(total_ms as u64);
    metrics.finished(crate::metrics::Recent {
        at_ms,
        method: "GET".into(),
        path: "/v1/realtime".into(),
        status: 101,
        format: None,
        agent: agent.into(),
        first_byte_ms: None,
        total_ms: (total_ms * 10.0).round() / 10.0,
        bytes,
        complete: true,
        transcribed: Some(crate::metrics::TranscribedAudio {
            audio_secs: (seconds * 1000.0).round() / 1000.0,
            audio_format: "pcm",
        }),
    });
}
