//! `POST /v1/audio/transcriptions` and `/v1/audio/translations`: the whole upload first
//! (every refusal then reaches the client as a response, never a reset), the form, the audio
//! decoded off the async workers, the transcription engine made ready (its own single-flight
//! start, its own gate: a long transcription never holds speech up), then its segments
//! written in the client's format — or as server-sent events while they arrive.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use futures_util::StreamExt;
use http::{HeaderValue, header};

use super::ProxyState;
use crate::api_error::{ApiError, Code};
use crate::transcription::decode::{self, DecodeError};
use crate::transcription::engine::{self, Options};
use crate::transcription::form::{self, TranscriptionRequest};
use crate::transcription::transcript::{EngineLine, Task, Transcript};

pub async fn transcriptions(State(state): State<ProxyState>, request: Request) -> Response {
    respond(handle(&state, request, Task::Transcribe).await)
}

pub async fn translations(State(state): State<ProxyState>, request: Request) -> Response {
    respond(handle(&state, request, Task::Translate).await)
}

fn respond(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(axum::response::IntoResponse::into_response)
}

const MB: u64 = 1024 * 1024;

async fn handle(state: &ProxyState, request: Request, task: Task) -> Result<Response, ApiError> {
    let settings = state.live().get().transcription.clone();
    let (parts, body) = request.into_parts();
    // Read (and so drain) the upload before anything else, refusals included.
    let bytes = super::body::read(
        &parts.headers,
        body,
        (settings.max_upload_mb * MB, "transcription.max_upload_mb"),
        Duration::from_secs(state.settings.body_timeout_secs),
    )
    .await?;
    let Some(listener) = state.transcriber.clone() else {
        return Err(ApiError::not_found(
            "transcription is off ([transcription] engine = \"off\")",
        ));
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let request = form::parse(content_type, bytes, task).await?;
    let activity = listener.activity();
    let max_secs = settings.max_audio_secs;
    let file = request.file.clone();
    let decoded = tokio::task::spawn_blocking(move || decode::decode(file, max_secs))
        .await
        .map_err(|e| ApiError::bad_gateway(Code::DecodeFailed, e.to_string()))?
        .map_err(decode_error)?;
    tracing::debug!(
        format = decoded.format,
        seconds = decoded.seconds,
        file = request.file_name.as_deref().unwrap_or("-"),
        "transcription upload decoded"
    );
    let heard = crate::metrics::Heard {
        audio_secs: decoded.seconds,
        audio_format: decoded.format,
    };
    let answered = answer(state, &listener, activity, decoded, &request, &settings).await;
    let mut response = respond(answered);
    response.extensions_mut().insert(heard);
    Ok(response)
}

/// The engine's answer for decoded audio, in the client's format or as events.
async fn answer(
    state: &ProxyState,
    listener: &std::sync::Arc<dyn crate::backend::Backend>,
    activity: crate::backend::Activity,
    decoded: decode::Decoded,
    request: &TranscriptionRequest,
    settings: &crate::config::TranscriptionSettings,
) -> Result<Response, ApiError> {
    let task = request.task;
    let options = Options {
        task: Some(task),
        language: request.language.clone().or(match task {
            Task::Transcribe => settings.language.clone(),
            Task::Translate => None,
        }),
        prompt: request.prompt.clone(),
        temperature: request.temperature,
        words: request.words,
    };
    let _permit = state
        .listen_gate
        .enter()
        .await
        .map_err(|_| ApiError::busy(state.settings.max_queue))?;
    let (lines, asked) = engine_lines(state, listener, decoded.pcm_bytes(), &options).await?;
    let speed = Speed {
        metrics: state.metrics.clone(),
        model: settings
            .effective_model()
            .unwrap_or_else(|| settings.engine.as_str().to_string()),
        audio_secs: decoded.seconds,
        asked,
    };
    if request.stream {
        return Ok(sse(lines, activity, speed));
    }
    let transcript = collect(lines, decoded.seconds).await?;
    drop(activity);
    let engine_ms = speed.record();
    let mut response = render(&transcript, request);
    if let Ok(value) = HeaderValue::from_str(&format!("{engine_ms:.0}")) {
        response.headers_mut().insert(ENGINE_MS_HEADER, value);
    }
    Ok(response)
}

/// How long the engine took for a transcription, kept as the model's speed on this machine.
struct Speed {
    metrics: std::sync::Arc<crate::metrics::Metrics>,
    model: String,
    audio_secs: f64,
    /// When the (ready) engine was asked.
    asked: std::time::Instant,
}

impl Speed {
    /// Record the engine's time; answers it in milliseconds.
    fn record(self) -> f64 {
        let secs = self.asked.elapsed().as_secs_f64();
        self.metrics.transcribed(&self.model, self.audio_secs, secs);
        secs * 1000.0
    }
}

/// The milliseconds the engine took (from being asked to its last segment; not the upload,
/// the decoding or a cold start).
pub const ENGINE_MS_HEADER: &str = "x-murmur-engine-ms";

type Lines = futures_util::stream::BoxStream<'static, Result<EngineLine, String>>;

/// The transcription engine's lines for `pcm`, and when it was asked: the engine made ready
/// (the single-flight start), then asked the way it is asked (Murmur's PCM route or OpenAI's).
async fn engine_lines(
    state: &ProxyState,
    listener: &std::sync::Arc<dyn crate::backend::Backend>,
    pcm: Vec<u8>,
    options: &Options,
) -> Result<(Lines, std::time::Instant), ApiError> {
    let settings = state.live().get().transcription.clone();
    let route = match crate::engine::transcriber(settings.engine).transcribes_with() {
        crate::engine::Transcribes::MurmurPcm => engine::Route::MurmurPcm,
        crate::engine::Transcribes::OpenAi => engine::Route::OpenAi {
            model: settings.effective_model(),
        },
    };
    let upstream = listener.ensure_ready().await.map_err(ApiError::not_ready)?;
    let timeout = Duration::from_secs(state.settings.upstream_timeout_secs);
    let asked = std::time::Instant::now();
    match engine::transcribe(&state.client, &upstream, &route, pcm, options, timeout).await {
        Err(e) if e.code == Code::EngineUnreachable => {
            listener.report_unreachable(&upstream);
            Err(e)
        }
        other => other.map(|lines| (lines, asked)),
    }
}

/// Transcribe audio another front door decoded (Wyoming): the same gate, start and engine
/// as an HTTP request, the whole transcript back. `language` unset: the configured one, else
/// detected.
pub async fn transcribe_decoded(
    state: &ProxyState,
    decoded: &decode::Decoded,
    language: Option<String>,
) -> Result<Transcript, ApiError> {
    let Some(listener) = state.transcriber.clone() else {
        return Err(ApiError::not_found(
            "transcription is off ([transcription] engine = \"off\")",
        ));
    };
    let activity = listener.activity();
    let options = Options {
        task: Some(Task::Transcribe),
        language: language.or(state.live().get().transcription.language.clone()),
        ..Options::default()
    };
    let _permit = state
        .listen_gate
        .enter()
        .await
        .map_err(|_| ApiError::busy(state.settings.max_queue))?;
    let (lines, _) = engine_lines(state, &listener, decoded.pcm_bytes(), &options).await?;
    let transcript = collect(lines, decoded.seconds).await;
    drop(activity);
    transcript
}

/// Why audio could not be decoded, as the client's error.
pub fn decode_error(e: DecodeError) -> ApiError {
    match e {
        DecodeError::TooLong { .. } => {
            ApiError::content_too_large(Code::AudioTooLong, e.to_string())
        }
        DecodeError::Empty => ApiError::invalid("file", Code::EmptyFile, e.to_string()),
        DecodeError::TooShort { .. } => {
            ApiError::invalid("file", Code::AudioTooShort, e.to_string())
        }
        _ => ApiError::invalid("file", Code::InvalidAudio, e.to_string()),
    }
}

/// The whole transcript, once the engine is done.
async fn collect(
    mut lines: futures_util::stream::BoxStream<'static, Result<EngineLine, String>>,
    seconds: f64,
) -> Result<Transcript, ApiError> {
    let mut transcript = Transcript {
        duration: seconds,
        ..Transcript::default()
    };
    while let Some(line) = lines.next().await {
        match line.map_err(|e| ApiError::bad_gateway(Code::EngineFailed, e))? {
            EngineLine::Info { language, .. } => transcript.language = language,
            EngineLine::Segment(segment) => transcript.push(segment),
            EngineLine::Done => return Ok(transcript),
            EngineLine::Error { message } => {
                return Err(ApiError::bad_gateway(
                    Code::EngineFailed,
                    format!("the transcription engine failed: {message}"),
                ));
            }
        }
    }
    Err(ApiError::bad_gateway(Code::EngineFailed, STOPPED_EARLY))
}

fn render(transcript: &Transcript, request: &TranscriptionRequest) -> Response {
    let body = transcript.render(request.format, request.task, request.words);
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(request.format.content_type()),
    );
    if let Ok(language) = HeaderValue::from_str(&transcript.language) {
        response.headers_mut().insert(LANGUAGE_HEADER, language);
    }
    response
}

const STOPPED_EARLY: &str = "the transcription engine stopped before it was done";

/// The language the engine heard (or was told).
pub const LANGUAGE_HEADER: &str = "x-murmur-language";

/// OpenAI's transcription stream: `transcript.text.delta` per segment as the engine decides
/// it, then `transcript.text.done` with the whole text. A failure after the first event can
/// only be said in the stream: an `error` event ends it.
fn sse(
    lines: futures_util::stream::BoxStream<'static, Result<EngineLine, String>>,
    activity: crate::backend::Activity,
    speed: Speed,
) -> Response {
    let events = futures_util::stream::unfold(
        Some((lines, Transcript::default(), (activity, speed))),
        move |state| async move {
            let (mut lines, mut transcript, (activity, speed)) = state?;
            loop {
                let event = match lines.next().await {
                    Some(Ok(EngineLine::Info { language, .. })) => {
                        transcript.language = language;
                        continue;
                    }
                    Some(Ok(EngineLine::Segment(segment))) => {
                        let first = transcript.text().is_empty();
                        let text = segment.text.trim().to_string();
                        transcript.segments.push(segment);
                        if text.is_empty() {
                            continue;
                        }
                        let delta = if first { text } else { format!(" {text}") };
                        serde_json::json!({ "type": "transcript.text.delta", "delta": delta })
                    }
                    Some(Ok(EngineLine::Done)) => {
                        let done = serde_json::json!({
                            "type": "transcript.text.done",
                            "text": transcript.text(),
                        });
                        drop(activity);
                        speed.record();
                        return Some((Ok::<_, std::io::Error>(frame(&done)), None));
                    }
                    Some(Ok(EngineLine::Error { message })) | Some(Err(message)) => {
                        return Some((Ok(error_event(&message)), None));
                    }
                    None => return Some((Ok(error_event(STOPPED_EARLY)), None)),
                };
                return Some((
                    Ok(frame(&event)),
                    Some((lines, transcript, (activity, speed))),
                ));
            }
        },
    );
    let mut response = Response::new(Body::from_stream(events));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The event that ends a stream the engine could not finish.
fn error_event(message: &str) -> bytes::Bytes {
    frame(&serde_json::json!({
        "type": "error",
        "error": { "message": message, "type": "server_error", "code": "engine_failed" },
    }))
}

fn frame(event: &serde_json::Value) -> bytes::Bytes {
    bytes::Bytes::from(format!("data: {event}\n\n"))
}
