//! `POST /v1/audio/transcriptions` and `/v1/audio/translations`: the whole upload first
//! (every refusal then reaches the client as a response, never a reset), the form, a place in
//! the transcription gate (its own: a long transcription never holds speech up; uploads wait
//! in its bounded queue as the compressed bytes they arrived as), the audio decoded off the
//! async workers, the transcription engine made ready (its own single-flight start), then the
//! audio sent to it one piece of at most ten minutes at a time ([`decode::Decoded::pieces`]),
//! its segments stitched into one transcript and written in the client's format — or as
//! server-sent events while they arrive.

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

mod pieces;
use pieces::{Asker, stitch};

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
    let Some(engine) = state.transcription() else {
        return Err(ApiError::not_found(
            "transcription is off ([transcription] engine = \"off\")",
        ));
    };
    let backend = engine.backend.clone();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let request = form::parse(content_type, bytes, task).await?;
    let activity = backend.activity();
    // Decoded audio is ~8× the size of a compressed upload: it is made only once this request
    // may use the engine, so uploads waiting their turn hold their compressed bytes alone.
    let permit = engine
        .gate
        .enter()
        .await
        .map_err(|_| ApiError::busy(state.settings.max_queue))?;
    let decoded = decode_off_workers(request.file.clone(), settings.max_audio_secs).await?;
    tracing::debug!(
        format = decoded.format,
        seconds = decoded.seconds,
        file = request.file_name.as_deref().unwrap_or("-"),
        "transcription upload decoded"
    );
    let transcribed = crate::metrics::TranscribedAudio {
        audio_secs: decoded.seconds,
        audio_format: decoded.format,
    };
    let held = Held {
        _activity: activity,
        _permit: permit,
    };
    let answered = answer(state, &backend, held, decoded, &request, &settings).await;
    let mut response = respond(answered);
    response.extensions_mut().insert(transcribed);
    Ok(response)
}

/// `bytes` decoded on a blocking thread; every failure the client's 4xx.
pub async fn decode_off_workers(
    bytes: bytes::Bytes,
    max_secs: u64,
) -> Result<decode::Decoded, ApiError> {
    tokio::task::spawn_blocking(move || decode::decode(bytes, max_secs))
        .await
        .map_err(|_| ApiError::bad_gateway(Code::DecodeFailed, "decoding the audio failed"))?
        .map_err(decode_error)
}

/// What a transcription holds until its last segment is out: the engine kept from idling, and
/// its place in the gate.
struct Held {
    _activity: crate::backend::Activity,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

/// The engine's answer for decoded audio, in the client's format or as events.
async fn answer(
    state: &ProxyState,
    backend: &std::sync::Arc<dyn crate::backend::Backend>,
    held: Held,
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
        ..Options::default()
    };
    let seconds = decoded.seconds;
    let (lines, asked) = engine_lines(state, backend, decoded, &options).await?;
    let speed = Speed {
        metrics: state.metrics.clone(),
        model: settings
            .effective_model()
            .unwrap_or_else(|| settings.engine.as_str().to_string()),
        audio_secs: seconds,
        asked,
    };
    if request.stream {
        return Ok(sse(lines, held, speed));
    }
    let transcript = collect(lines, seconds).await?;
    drop(held);
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

use crate::transcription::engine::Lines;

/// The transcription engine's lines for `decoded`, and when it was asked: the engine made
/// ready (the single-flight start), then asked the way it is asked (Murmur's PCM route or
/// OpenAI's), one piece at a time. The first piece's refusal (a language the model lacks) is
/// the client's error; a later piece's failure ends the lines with an error.
async fn engine_lines(
    state: &ProxyState,
    backend: &std::sync::Arc<dyn crate::backend::Backend>,
    decoded: decode::Decoded,
    options: &Options,
) -> Result<(Lines, std::time::Instant), ApiError> {
    let settings = state.live().get().transcription.clone();
    let route = match crate::engine::transcription_engine(settings.engine).transcribes_with() {
        crate::engine::Transcribes::MurmurPcm => engine::Route::MurmurPcm,
        crate::engine::Transcribes::OpenAi => engine::Route::OpenAi {
            model: settings.effective_model(),
        },
    };
    let upstream = backend.ensure_ready().await.map_err(ApiError::not_ready)?;
    let asker = Asker {
        client: state.client.clone(),
        backend: backend.clone(),
        upstream,
        route,
        timeout: Duration::from_secs(state.settings.upstream_timeout_secs),
    };
    let asked = std::time::Instant::now();
    let pieces = decoded.pieces();
    let first = asker.ask(&decoded, pieces[0].clone(), options).await?;
    if pieces.len() == 1 {
        return Ok((first, asked));
    }
    let (lines, sent) = tokio::sync::mpsc::channel(4);
    tokio::spawn(stitch(
        asker,
        decoded,
        pieces,
        options.clone(),
        first,
        lines,
    ));
    let stitched = futures_util::stream::unfold(sent, |mut sent| async move {
        sent.recv().await.map(|line| (line, sent))
    });
    Ok((stitched.boxed(), asked))
}

/// Transcribe audio another front door decoded (Wyoming): the same gate, start and engine
/// as an HTTP request, the whole transcript back. `language` unset: the configured one, else
/// detected.
pub async fn transcribe_decoded(
    state: &ProxyState,
    decoded: decode::Decoded,
    language: Option<String>,
) -> Result<Transcript, ApiError> {
    let options = Options {
        task: Some(Task::Transcribe),
        language,
        ..Options::default()
    };
    transcribe_with(state, decoded, options).await
}

/// [`transcribe_decoded`] with every option the engine takes (a live turn's prefix and
/// hotwords); `options.language` unset: the configured one, else detected.
pub async fn transcribe_with(
    state: &ProxyState,
    decoded: decode::Decoded,
    mut options: Options,
) -> Result<Transcript, ApiError> {
    let Some(engine) = state.transcription() else {
        return Err(ApiError::not_found(
            "transcription is off ([transcription] engine = \"off\")",
        ));
    };
    let backend = engine.backend.clone();
    let activity = backend.activity();
    if options.language.is_none() {
        options.language = state.live().get().transcription.language.clone();
    }
    let _permit = engine
        .gate
        .enter()
        .await
        .map_err(|_| ApiError::busy(state.settings.max_queue))?;
    let seconds = decoded.seconds;
    let (lines, _) = engine_lines(state, &backend, decoded, &options).await?;
    let transcript = collect(lines, seconds).await;
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
        DecodeError::Unsupported { .. } => {
            ApiError::invalid("file", Code::UnsupportedAudio, e.to_string())
        }
        _ => ApiError::invalid("file", Code::InvalidAudio, e.to_string()),
    }
}

/// The whole transcript, once the engine is done.
async fn collect(mut lines: Lines, seconds: f64) -> Result<Transcript, ApiError> {
    let mut transcript = Transcript {
        duration: seconds,
        ..Transcript::default()
    };
    while let Some(line) = lines.next().await {
        match line.map_err(|e| ApiError::bad_gateway(Code::EngineFailed, e.to_string()))? {
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

/// The language the engine transcribed (or was told).
pub const LANGUAGE_HEADER: &str = "x-murmur-language";

/// OpenAI's transcription stream: `transcript.text.delta` per segment as the engine decides
/// it, then `transcript.text.done` with the whole text. A failure after the first event can
/// only be said in the stream: an `error` event ends it.
fn sse(lines: Lines, held: Held, speed: Speed) -> Response {
    let events = futures_util::stream::unfold(
        Some((lines, Transcript::default(), (held, speed))),
        move |state| async move {
            let (mut lines, mut transcript, (held, speed)) = state?;
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
                        drop(held);
                        speed.record();
                        return Some((Ok::<_, std::io::Error>(frame(&done)), None));
                    }
                    Some(Ok(EngineLine::Error { message })) => {
                        return Some((Ok(error_event(&message)), None));
                    }
                    Some(Err(e)) => return Some((Ok(error_event(&e.to_string())), None)),
                    None => return Some((Ok(error_event(STOPPED_EARLY)), None)),
                };
                return Some((Ok(frame(&event)), Some((lines, transcript, (held, speed)))));
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
