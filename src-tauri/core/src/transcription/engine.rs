//! Asking the transcription engine: 16 kHz mono audio in, a stream of [`EngineLine`]s out —
//! by Murmur's own route (PCM in, NDJSON lines out as segments are decided) or by OpenAI's
//! (`/v1/audio/transcriptions` with a WAV, `verbose_json` back, read into the same lines).

use std::time::Duration;

use axum::body::Body;
use bytes::BytesMut;
use futures_util::stream::{BoxStream, StreamExt};
use http_body_util::BodyExt;

use super::decode::RATE;
use super::transcript::{EngineLine, Task};
use crate::api_error::{ApiError, Code};
use crate::backend::Upstream;
use crate::engine::whisper::TRANSCRIBE_PATH;
use crate::http_client::{HttpClient, describe};

/// What the engine is asked besides the audio (its query string).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Options {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<Task>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Word timestamps.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub words: bool,
    /// Text the transcript is known to begin with (a live turn's words already sent): the
    /// engine continues after it and answers only what follows. Murmur's route only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Phrases to listen for (a live session's `keywords`). Murmur's route only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hotwords: Option<String>,
}

/// Which way the engine is asked.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// Murmur's own ([`TRANSCRIBE_PATH`]).
    MurmurPcm,
    /// OpenAI's, naming `model` (the configured one; servers that serve one model ignore it).
    OpenAi { model: Option<String> },
}

/// What an engine answers, line by line, as it decides them.
pub type Lines = BoxStream<'static, Result<EngineLine, LineError>>;

/// Why the engine's lines ended early.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("the engine sent a line Murmur cannot read: {0}")]
    Unreadable(#[source] serde_json::Error),
    #[error("the engine's answer ended mid-line: {0}")]
    Cut(#[source] serde_json::Error),
    #[error("the engine sent an overlong line")]
    Overlong,
    #[error("the engine's answer broke off: {}", describe(.0))]
    BrokeOff(#[source] hyper::Error),
    /// A later piece of a long upload could not be asked for.
    #[error("{}", .0.message())]
    Refused(crate::api_error::ApiError),
}

/// A line longer than this is not the engine's.
const MAX_LINE: usize = 4 * 1024 * 1024;

/// A `verbose_json` answer larger than this is not a transcript.
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// Send `samples` (16 kHz mono) to the engine at `upstream` the way `route` says; its lines
/// as they come. A 4xx from the engine (a language the model lacks) is the client's error;
/// anything else is the engine's. The request body is the one copy of the samples made.
pub async fn transcribe(
    client: &HttpClient,
    upstream: &Upstream,
    route: &Route,
    samples: &[i16],
    options: &Options,
    timeout: Duration,
) -> Result<Lines, ApiError> {
    let request = match route {
        Route::MurmurPcm => pcm_request(upstream, samples, options),
        Route::OpenAi { model } => openai_request(upstream, samples, options, model.as_deref()),
    }
    .map_err(|e| ApiError::bad_gateway(Code::EngineRequest, e.to_string()))?;
    let response = tokio::time::timeout(timeout, client.request(request))
        .await
        .map_err(|_| ApiError::timeout(timeout))?
        .map_err(|e| ApiError::unreachable(describe(&e)))?;
    let status = response.status();
    if !status.is_success() {
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(String::from))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
        if status == http::StatusCode::NOT_FOUND && options.task == Some(Task::Translate) {
            return Err(ApiError::bad_request(
                Code::UnsupportedOption,
                "the configured transcription engine does not translate",
            ));
        }
        return Err(if status.is_client_error() {
            ApiError::bad_request(Code::UnsupportedOption, message)
        } else {
            ApiError::bad_gateway(
                Code::EngineFailed,
                format!("the transcription engine answered {status}: {message}"),
            )
        });
    }
    if let Route::OpenAi { .. } = route {
        let body = http_body_util::Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| {
                ApiError::bad_gateway(
                    Code::EngineFailed,
                    format!("the transcription engine's answer broke off: {e}"),
                )
            })?
            .to_bytes();
        let lines = verbose_lines(&body, options).map_err(|e| {
            ApiError::bad_gateway(
                Code::EngineFailed,
                format!("the transcription engine's answer is not verbose_json: {e}"),
            )
        })?;
        return Ok(futures_util::stream::iter(lines.into_iter().map(Ok)).boxed());
    }
    let body = response.into_body().into_data_stream();
    Ok(futures_util::stream::unfold(Some((body, BytesMut::new())), next_line).boxed())
}

/// Little-endian bytes of `samples`, appended to `out`.
fn extend_le(out: &mut Vec<u8>, samples: &[i16]) {
    out.reserve(samples.len() * 2);
    for sample in samples {
        out.extend_from_slice(&sample.to_le_bytes());
    }
}

/// Why a request to the engine could not be made.
#[derive(Debug, thiserror::Error)]
enum RequestError {
    #[error("the options cannot be a query: {0}")]
    Query(#[from] serde_urlencoded::ser::Error),
    #[error("bad request to the engine: {0}")]
    Http(#[from] http::Error),
}

fn pcm_request(
    upstream: &Upstream,
    samples: &[i16],
    options: &Options,
) -> Result<http::Request<Body>, RequestError> {
    let mut pcm = Vec::new();
    extend_le(&mut pcm, samples);
    let query = serde_urlencoded::to_string(options)?;
    let url = format!("{}{TRANSCRIBE_PATH}?{query}", upstream.base_url());
    http::Request::post(&url)
        .header(http::header::CONTENT_TYPE, "audio/pcm")
        .header("x-audio-sample-rate", RATE.to_string())
        .body(Body::from(pcm))
        .map_err(RequestError::from)
}

type Reading = (
    http_body_util::BodyDataStream<hyper::body::Incoming>,
    BytesMut,
);

/// The next line of the engine's answer, and what is left to read (`None` after an error).
async fn next_line(
    state: Option<Reading>,
) -> Option<(Result<EngineLine, LineError>, Option<Reading>)> {
    let (mut body, mut buffer) = state?;
    loop {
        if let Some(at) = buffer.iter().position(|b| *b == b'\n') {
            let line = buffer.split_to(at + 1);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let parsed =
                serde_json::from_slice::<EngineLine>(&line[..at]).map_err(LineError::Unreadable);
            return Some((parsed, Some((body, buffer))));
        }
        if buffer.len() > MAX_LINE {
            return Some((Err(LineError::Overlong), None));
        }
        match body.next().await {
            Some(Ok(chunk)) => buffer.extend_from_slice(&chunk),
            Some(Err(e)) => return Some((Err(LineError::BrokeOff(e)), None)),
            None if buffer.iter().all(u8::is_ascii_whitespace) => return None,
            None => {
                let parsed = serde_json::from_slice::<EngineLine>(&buffer).map_err(LineError::Cut);
                return Some((parsed, None));
            }
        }
    }
}

mod openai;

use openai::{openai_request, verbose_lines};

#[cfg(test)]
mod tests;
