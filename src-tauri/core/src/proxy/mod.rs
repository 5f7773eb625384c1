//! The OpenAI-compatible proxy: `fn router(state) -> Router`.
//!
//! The guards (Host/Origin, CORS, API key) and the request log wrap it in
//! `server::app`, together with Murmur's own routes (`control`).
//! Speech, models and voices wait for the engine ([`Backend::ensure_ready`]); speech requests
//! are validated and completed from settings ([`speech`]); requests that make the engine work
//! (every method but GET/HEAD/OPTIONS) pass the engine's concurrency [`crate::gate`]; everything else is
//! forwarded as is ([`forward`]). `/murmur/…` is Murmur's own and never forwarded.

mod body;
mod discovery;
mod driven;
mod forward;
mod replay;
pub mod speech;
mod transcode;
mod transcriptions;
mod voices;

pub use transcriptions::{
    ENGINE_MS_HEADER, decode_error, transcribe_decoded, transcribe_with, transcriptions,
};

/// The speech engine's installed voices with their languages (made ready first), or `None`
/// when it does not list them.
pub async fn installed_voices(
    state: &ProxyState,
) -> Result<Option<Arc<Vec<crate::language::Voice>>>, ApiError> {
    voices::installed(state).await
}

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::{get, post};
use http::{Method, header};

use forward::{Exchange, forward};
use replay::{Replayable, enter_gate, send_replayable};
use transcode::AudioPlan;

use crate::api_error::ApiError;
use crate::config::{LiveSettings, ProxySettings};
use crate::engines::{Capability, Engine, Engines};
use crate::http_client::HttpClient;
use crate::metrics::Metrics;

/// Everything the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct ProxyState(Arc<Inner>);

pub struct Inner {
    /// The engines, by capability: speech always, transcription unless it is off.
    engines: Engines,
    engine_id: crate::config::EngineId,
    metrics: Arc<Metrics>,
    client: HttpClient,
    /// Connections to the engines, driven by the requests forwarded on them.
    engines_pool: driven::Pool,
    settings: ProxySettings,
    /// The effective settings, followed live: request defaults come from here.
    live: LiveSettings,
    /// The engine's voices, for the engine process at that address, as of that count of
    /// voice changes.
    voices: std::sync::Mutex<Option<(VoicesKey, Arc<Vec<crate::language::Voice>>)>>,
    /// Bumped by the voice catalog on every install and removal.
    voices_changed: Arc<std::sync::atomic::AtomicU64>,
    /// Live sessions hold shutdown's drain open and hear when it begins.
    lifeline: crate::drain::Lifeline,
}

/// Which engine process, and how many voice changes, a voice list is for.
type VoicesKey = (http::uri::Authority, u64);

impl std::ops::Deref for ProxyState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl ProxyState {
    /// Request defaults follow `live`; the proxy's own limits are read once, here. `metrics`
    /// are the ones `engines` count their queue in.
    pub fn new(
        live: LiveSettings,
        engines: Engines,
        metrics: Arc<Metrics>,
        client: HttpClient,
        lifeline: crate::drain::Lifeline,
    ) -> Self {
        let settings = live.get();
        Self(Arc::new(Inner {
            engines,
            engine_id: settings.engine.id,
            metrics,
            client,
            engines_pool: driven::Pool::default(),
            settings: settings.proxy.clone(),
            live,
            voices: std::sync::Mutex::new(None),
            voices_changed: Arc::default(),
            lifeline,
        }))
    }

    /// The counter the voice catalog bumps when the engine's voices change.
    pub fn voices_changed(&self) -> Arc<std::sync::atomic::AtomicU64> {
        self.0.voices_changed.clone()
    }
}

impl ProxyState {
    pub fn engines(&self) -> &Engines {
        &self.0.engines
    }

    /// The speech engine.
    pub fn speech(&self) -> &Engine {
        self.0.engines.speech()
    }

    /// The transcription engine, unless transcription is off.
    pub fn transcription(&self) -> Option<&Engine> {
        self.0.engines.get(Capability::Transcription)
    }

    pub fn engine_id(&self) -> crate::config::EngineId {
        self.0.engine_id
    }

    /// The request counts, shared with the request log and the control API.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.0.metrics.clone()
    }

    /// Whether transcription is on.
    pub fn has_transcription(&self) -> bool {
        self.transcription().is_some()
    }

    /// The effective settings, live.
    pub fn live(&self) -> &LiveSettings {
        &self.0.live
    }

    /// What a live session holds while it lives: shutdown waits for it and tells it.
    pub fn lifeline(&self) -> crate::drain::Lifeline {
        self.0.lifeline.clone()
    }

    /// What a speech request leaves out is filled from the settings as they are now.
    fn defaults(&self) -> speech::Defaults {
        speech::Defaults::from_settings(&self.0.live.get())
    }
}

/// What Murmur answers itself on OpenAI's surface, by path: everything else outside
/// `/murmur/` and the live sessions' paths is the engine's, passed through. The `/v1`-less
/// twins are for a base URL set without `/v1` (OpenClaw's `baseUrl`, Open
/// WebUI's).
const ROUTES: [(&str, Route); 12] = [
    ("/v1/audio/speech", Route::Speech),
    ("/v1/models", Route::Listing),
    ("/v1/audio/voices", Route::Listing),
    ("/v1/audio/models", Route::Listing),
    ("/v1/audio/transcriptions", Route::Transcriptions),
    ("/v1/audio/translations", Route::Translations),
    ("/audio/speech", Route::Speech),
    ("/audio/transcriptions", Route::Transcriptions),
    ("/audio/translations", Route::Translations),
    ("/audio/voices", Route::Listing),
    ("/audio/models", Route::Listing),
    ("/models", Route::Listing),
];

#[derive(Clone, Copy)]
enum Route {
    Speech,
    /// Models and voices: the engine's, once it is ready.
    Listing,
    Transcriptions,
    Translations,
}

/// Whether `path` is one of the OpenAI paths Murmur answers itself (rather than passing it
/// through to the engine).
pub fn answers(path: &str) -> bool {
    ROUTES.iter().any(|&(route, _)| route == path)
}

/// Those paths with the method each takes (what the API's description lists).
pub fn routes() -> impl Iterator<Item = (&'static str, Method)> {
    ROUTES.iter().map(|&(path, route)| {
        let method = match route {
            Route::Listing => Method::GET,
            Route::Speech | Route::Transcriptions | Route::Translations => Method::POST,
        };
        (path, method)
    })
}

/// The OpenAI surface: speech, discovery, and (as the router's fallback) everything else
/// passed through to the engine.
pub fn router(state: ProxyState) -> Router {
    ROUTES
        .iter()
        .fold(Router::new(), |router, &(path, route)| {
            let handler = match route {
                Route::Speech => post(speech),
                Route::Listing => get(discovery::gated),
                Route::Transcriptions => post(transcriptions::transcriptions),
                Route::Translations => post(transcriptions::translations),
            };
            // Another method on OpenAI's own paths gets Murmur's error, in OpenAI's shape.
            let handler = if path.starts_with("/v1/") {
                handler.fallback(method_not_allowed)
            } else {
                handler
            };
            router.route(path, handler)
        })
        .fallback(
            |State(state): State<ProxyState>, request: Request| async move {
                pass_through(&state, request).await
            },
        )
        .with_state(state)
}

/// Another method on one of OpenAI's routes: Murmur's answer, not the engine's.
pub async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::method_not_allowed(request.method(), request.uri().path())
}

/// `POST /v1/audio/speech`: validate, complete, wait for the engine, pass the gate, forward.
async fn speech(State(state): State<ProxyState>, request: Request) -> Result<Response, ApiError> {
    let activity = state.speech().backend.activity();
    let (parts, body) = request.into_parts();
    let bytes = body::read(
        &parts.headers,
        body,
        (state.settings.max_request_bytes, "proxy.max_request_bytes"),
        Duration::from_secs(state.settings.body_timeout_secs),
    )
    .await?;
    let request = speech::SpeechRequest::parse(&bytes)?;
    let mut headers = parts.headers;
    headers.remove(header::CONTENT_LENGTH);
    answer_speech(&state, request, headers, activity).await
}

/// A speech request made by Murmur itself (the page's test button): the same path as a
/// client's, minus the HTTP parsing.
pub async fn synthesise(
    state: &ProxyState,
    request: speech::SpeechRequest,
) -> Result<Response, ApiError> {
    let activity = state.speech().backend.activity();
    answer_speech(state, request, http::HeaderMap::new(), activity).await
}

/// Check a speech request, fill it in, pick the voice for its language, send it to the
/// engine, and hand back its audio in the client's format.
async fn answer_speech(
    state: &ProxyState,
    request: speech::SpeechRequest,
    mut headers: http::HeaderMap,
    activity: crate::backend::Activity,
) -> Result<Response, ApiError> {
    let defaults = state.defaults();
    // A Chinese or Japanese text whose voice is Murmur's to choose needs the engine's voices.
    let voices = if request.language().is_some() && request.voice_is_murmurs() {
        voices::installed(state).await?
    } else {
        None
    };
    let checked = speech::check(request, &defaults, voices.as_deref().map(Vec::as_slice))?;
    headers.insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    let replayable = Replayable {
        method: Method::POST,
        uri: http::Uri::from_static("/v1/audio/speech"),
        headers,
        audio: Some(plan(&checked, &defaults)),
        body: checked.body.clone(),
        gated: true,
    };
    let response = send_replayable(state, replayable).await?;
    let mut response = with_format(crate::backend::hold(response, activity), checked.format);
    if let Some(voice) = checked
        .voice
        .as_deref()
        .and_then(|v| http::HeaderValue::from_str(v).ok())
    {
        response.headers_mut().insert(VOICE_HEADER, voice);
    }
    Ok(response)
}

/// The voice a speech response was made with.
pub const VOICE_HEADER: &str = "x-murmur-voice";

fn plan(checked: &speech::Checked, defaults: &speech::Defaults) -> AudioPlan {
    AudioPlan {
        source: defaults.audio,
        format: checked.format,
        sse: checked.sse,
    }
}

/// Tell the request log which format a speech response carries.
fn with_format(mut response: Response, format: crate::audio::Format) -> Response {
    response.extensions_mut().insert(format);
    response
}

/// Any other path: forwarded as is to the running engine, with no readiness wait.
pub async fn pass_through(state: &ProxyState, request: Request) -> Result<Response, ApiError> {
    if let Some(paths) = crate::engine::served_paths(state.engine_id)
        && !paths.contains(&request.uri().path())
    {
        return Err(ApiError::not_found(format!(
            "no such path: {} (the engine does not serve it)",
            request.uri().path()
        )));
    }
    let Some(upstream) = state.speech().backend.current() else {
        return Err(ApiError::not_ready(crate::problem::Problem::new(
            "the engine is not running; a speech request starts it",
        )));
    };
    let light = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    // A request without a body leaves nothing in the connection, whenever the engine answers:
    // it may share a kept-alive one. Most forwarded requests are such (GETs), and go as they
    // came: no body to read, no slot to wait for.
    if light && http_body::Body::is_end_stream(request.body()) {
        let exchange = Exchange {
            expect_body: false,
            permit: None,
            audio: None,
            own_connection: false,
        };
        return forward(state, &upstream, request, exchange).await;
    }
    // The whole body first, then a slot: a slow upload waits alone. It goes to the engine
    // with a Content-Length (engines built on Python's http.server cannot read chunks).
    let (parts, body) = request.into_parts();
    let bytes = body::read(
        &parts.headers,
        body,
        (state.settings.max_upload_bytes, "proxy.max_upload_bytes"),
        Duration::from_secs(state.settings.body_timeout_secs),
    )
    .await?;
    let permit = if light {
        None
    } else {
        Some(enter_gate(state).await?)
    };
    let exchange = Exchange {
        expect_body: false,
        permit,
        audio: None,
        own_connection: !(light && bytes.is_empty()),
    };
    let body = if bytes.is_empty() {
        Body::empty()
    } else {
        Body::from(bytes)
    };
    forward(state, &upstream, Request::from_parts(parts, body), exchange).await
}

#[cfg(test)]
mod tests;
